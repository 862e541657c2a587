import { configMapping, parseBytes, parseYamlConfig } from '@strata/objstore';
import { configDuration, parseRemoteCacheConfig, type RemoteCacheConfig } from '@strata/runtime';

/** A results cache as configured: in this process' memory, or in memcached or redis, shared by every frontend that points at it. */
export type ResponseCacheConfig = { type: 'IN-MEMORY'; maxBytes: number } | { type: 'REMOTE'; cache: RemoteCacheConfig; expirationMs: number };

/**
 * Thanos' response cache configuration (`--query-range.response-cache-config(-file)`,
 * `--labels.response-cache-config(-file)`):
 * - `type: IN-MEMORY`, `config: {max_size: 1GB}`: `max_size_items` and `validity` are accepted as Thanos
 *   takes them (0: no bound on items; answers never expire by age);
 * - `type: MEMCACHED`, `config: {addresses: [dns+memcached:11211], …}` with the keys and defaults of
 *   Thanos' memcached client, or `type: REDIS`, `config: {addr: redis:6379, …}` with those of its redis
 *   client, and `expiration` (default 24h) for how long memcached or redis keeps an answer.
 */
export function parseResponseCacheConfig(text: string, what = 'response cache config'): ResponseCacheConfig {
  const top = configMapping(parseYamlConfig(text, what), what, new Set(['type', 'config']));
  const type = String(top.type ?? '').toUpperCase();
  if (type === 'MEMCACHED' || type === 'REDIS') return parseRemote(type, top.config ?? {}, `${what}: config`);
  if (type !== 'IN-MEMORY') throw new Error(`${what}: unsupported cache type ${JSON.stringify(top.type)} (supported: IN-MEMORY, MEMCACHED, REDIS)`);
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

/** How long memcached or redis keeps an answer when the configuration does not say (Thanos' query frontend: 24h). */
const DEFAULT_EXPIRATION_MS = 24 * 3_600_000;

function parseRemote(type: RemoteCacheConfig['type'], v: unknown, what: string): ResponseCacheConfig {
  const { cache, rest } = parseRemoteCacheConfig(type, v, what, ['expiration']);
  const expirationMs = rest.expiration === undefined || rest.expiration === null ? DEFAULT_EXPIRATION_MS : configDuration(rest.expiration, `${what}.expiration`);
  return { type: 'REMOTE', cache, expirationMs };
}
