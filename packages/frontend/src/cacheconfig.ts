import { configMapping, parseBytes, parseYamlConfig } from '@strata/objstore';
import { configDuration, parseMemcachedClientConfig, type MemcachedClientConfig } from '@strata/runtime';

/** A results cache as configured: in this process' memory, or in memcached, shared by every frontend that points at it. */
export type ResponseCacheConfig = { type: 'IN-MEMORY'; maxBytes: number } | { type: 'MEMCACHED'; client: MemcachedClientConfig; expirationMs: number };

/**
 * Thanos' response cache configuration (`--query-range.response-cache-config(-file)`,
 * `--labels.response-cache-config(-file)`):
 * - `type: IN-MEMORY`, `config: {max_size: 1GB}`: `max_size_items` and `validity` are accepted as Thanos
 *   takes them (0: no bound on items; answers never expire by age);
 * - `type: MEMCACHED`, `config: {addresses: [dns+memcached:11211], …}` with the keys and defaults of
 *   Thanos' memcached client, and `expiration` (default 24h) for how long memcached keeps an answer.
 * REDIS is refused by name.
 */
export function parseResponseCacheConfig(text: string, what = 'response cache config'): ResponseCacheConfig {
  const top = configMapping(parseYamlConfig(text, what), what, new Set(['type', 'config']));
  const type = String(top.type ?? '').toUpperCase();
  if (type === 'MEMCACHED') return parseMemcached(top.config ?? {}, `${what}: config`);
  if (type !== 'IN-MEMORY') throw new Error(`${what}: unsupported cache type ${JSON.stringify(top.type)} (supported: IN-MEMORY, MEMCACHED)`);
  const cfg = configMapping(top.config ?? {}, `${what}: config`, new Set(['max_size', 'max_size_items', 'validity']));
  for (const field of ['max_size_items', 'validity'] as const) {
    const v = cfg[field];
    if (v === undefined || v === null || v === 0 || v === '0' || v === '0s') continue;
    throw new Error(`${what}: config.${field}: only 0 (no bound) is supported; bound the cache with max_size`);
  }
  const maxBytes = cfg.max_size === undefined || cfg.max_size === null ? DEFAULT_RESPONSE_CACHE_BYTES : parseBytes(String(cfg.max_size), `${what}: config.max_size`);
  return { type: 'IN-MEMORY', maxBytes };
}

/** The in-memory cache's size when the configuration gives none. */
export const DEFAULT_RESPONSE_CACHE_BYTES = 1024 * 1024 * 1024;

/** How long memcached keeps an answer when the configuration does not say (Thanos' query frontend: 24h). */
const DEFAULT_EXPIRATION_MS = 24 * 3_600_000;

function parseMemcached(v: unknown, what: string): ResponseCacheConfig {
  const { client, rest } = parseMemcachedClientConfig(v, what, ['expiration']);
  const expirationMs = rest.expiration === undefined || rest.expiration === null ? DEFAULT_EXPIRATION_MS : configDuration(rest.expiration, `${what}.expiration`);
  return { type: 'MEMCACHED', client, expirationMs };
}
