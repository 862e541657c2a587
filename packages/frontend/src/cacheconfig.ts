import { configMapping, parseBytes, parseDuration, parseYamlConfig } from '@strata/objstore';
import { DEFAULT_MEMCACHED_CLIENT_CONFIG, type MemcachedClientConfig } from '@strata/runtime';

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

const MEMCACHED_KEYS = {
  timeout: 'timeoutMs',
  max_idle_connections: 'maxIdleConnections',
  max_async_concurrency: 'maxAsyncConcurrency',
  max_async_buffer_size: 'maxAsyncBufferSize',
  max_get_multi_concurrency: 'maxGetMultiConcurrency',
  max_get_multi_batch_size: 'maxGetMultiBatchSize',
  max_item_size: 'maxItemSize',
  dns_provider_update_interval: 'dnsProviderUpdateIntervalMs',
} as const satisfies Record<string, keyof MemcachedClientConfig>;

function parseMemcached(v: unknown, what: string): ResponseCacheConfig {
  const cfg = configMapping(v, what, new Set(['addresses', 'expiration', 'auto_discovery', ...Object.keys(MEMCACHED_KEYS)]));
  const addresses = cfg.addresses;
  if (!Array.isArray(addresses) || addresses.length === 0 || addresses.some((a) => typeof a !== 'string' || a === '')) {
    throw new Error(`${what}.addresses: a list of memcached addresses (host:port, dns+host:port, dnssrv+name) is required`);
  }
  if (cfg.auto_discovery === true) throw new Error(`${what}.auto_discovery: AWS ElastiCache auto discovery is not supported; list the nodes, or a DNS name for them, in addresses`);
  const client: MemcachedClientConfig = { ...DEFAULT_MEMCACHED_CLIENT_CONFIG, addresses: addresses as string[] };
  for (const [key, field] of Object.entries(MEMCACHED_KEYS)) {
    const value = cfg[key];
    if (value === undefined || value === null) continue;
    const at = `${what}.${key}`;
    const n = field === 'timeoutMs' || field === 'dnsProviderUpdateIntervalMs' ? duration(value, at) : field === 'maxItemSize' ? parseBytes(String(value), at) : count(value, at);
    client[field] = n;
  }
  if (!(client.timeoutMs > 0)) throw new Error(`${what}.timeout: must be positive`);
  if (!(client.maxAsyncConcurrency > 0)) throw new Error(`${what}.max_async_concurrency: must be positive`);
  if (!(client.dnsProviderUpdateIntervalMs > 0)) throw new Error(`${what}.dns_provider_update_interval: must be positive`);
  const expirationMs = cfg.expiration === undefined || cfg.expiration === null ? DEFAULT_EXPIRATION_MS : duration(cfg.expiration, `${what}.expiration`);
  return { type: 'MEMCACHED', client, expirationMs };
}

function duration(v: unknown, what: string): number {
  try {
    return parseDuration(String(v));
  } catch (e) {
    throw new Error(`${what}: ${(e as Error).message}`);
  }
}

function count(v: unknown, what: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${what}: want a whole number, not ${JSON.stringify(v)}`);
  return n;
}
