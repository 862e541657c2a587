import { configMapping, parseBytes, parseYamlConfig } from '@strata/objstore';

/**
 * Thanos' response cache configuration (`--query-range.response-cache-config(-file)`), e.g.
 * `type: IN-MEMORY` and `config: {max_size: 1GB}`; the in-memory cache's size in bytes. `max_size_items`
 * and `validity` are accepted as Thanos takes them (0: no bound on items; answers never expire by age);
 * MEMCACHED and REDIS are refused by name.
 */
export function parseResponseCacheConfig(text: string, what = 'response cache config'): { maxBytes: number } {
  const top = configMapping(parseYamlConfig(text, what), what, new Set(['type', 'config']));
  const type = String(top.type ?? '').toUpperCase();
  if (type !== 'IN-MEMORY') throw new Error(`${what}: unsupported cache type ${JSON.stringify(top.type)} (supported: IN-MEMORY)`);
  const cfg = configMapping(top.config ?? {}, `${what}: config`, new Set(['max_size', 'max_size_items', 'validity']));
  for (const field of ['max_size_items', 'validity'] as const) {
    const v = cfg[field];
    if (v === undefined || v === null || v === 0 || v === '0' || v === '0s') continue;
    throw new Error(`${what}: config.${field}: only 0 (no bound) is supported; bound the cache with max_size`);
  }
  const maxBytes = cfg.max_size === undefined || cfg.max_size === null ? DEFAULT_RESPONSE_CACHE_BYTES : parseBytes(String(cfg.max_size), `${what}: config.max_size`);
  return { maxBytes };
}

/** The in-memory cache's size when the configuration gives none. */
export const DEFAULT_RESPONSE_CACHE_BYTES = 1024 * 1024 * 1024;
