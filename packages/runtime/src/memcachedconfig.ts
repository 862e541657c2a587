import { configMapping, parseBytes, parseDuration } from '@strata/objstore';
import { DEFAULT_MEMCACHED_CLIENT_CONFIG, type MemcachedClientConfig } from './memcached.js';

/** Thanos' memcached client keys (pkg/cacheutil: MemcachedClientConfig) and the fields they set. */
const CLIENT_KEYS = {
  timeout: 'timeoutMs',
  max_idle_connections: 'maxIdleConnections',
  max_async_concurrency: 'maxAsyncConcurrency',
  max_async_buffer_size: 'maxAsyncBufferSize',
  max_get_multi_concurrency: 'maxGetMultiConcurrency',
  max_get_multi_batch_size: 'maxGetMultiBatchSize',
  max_item_size: 'maxItemSize',
  dns_provider_update_interval: 'dnsProviderUpdateIntervalMs',
} as const satisfies Record<string, keyof MemcachedClientConfig>;

/**
 * The `config` of a `type: MEMCACHED` cache in Thanos' YAML (`what` names it in errors): the client's
 * keys with Thanos' defaults, validated as Thanos validates them; `extraKeys` are the cache's own
 * (e.g. the query frontend's `expiration`), returned in `rest` as given. Strict: any other key is an error.
 */
export function parseMemcachedClientConfig(v: unknown, what: string, extraKeys: readonly string[] = []): { client: MemcachedClientConfig; rest: Record<string, unknown> } {
  const cfg = configMapping(v, what, new Set(['addresses', 'auto_discovery', ...Object.keys(CLIENT_KEYS), ...extraKeys]));
  const addresses = cfg.addresses;
  if (!Array.isArray(addresses) || addresses.length === 0 || addresses.some((a) => typeof a !== 'string' || a === '')) {
    throw new Error(`${what}.addresses: a list of memcached addresses (host:port, dns+host:port, dnssrv+name) is required`);
  }
  if (cfg.auto_discovery === true) throw new Error(`${what}.auto_discovery: AWS ElastiCache auto discovery is not supported; list the nodes, or a DNS name for them, in addresses`);
  const client: MemcachedClientConfig = { ...DEFAULT_MEMCACHED_CLIENT_CONFIG, addresses: addresses as string[] };
  for (const [key, field] of Object.entries(CLIENT_KEYS)) {
    const value = cfg[key];
    if (value === undefined || value === null) continue;
    const at = `${what}.${key}`;
    client[field] = field === 'timeoutMs' || field === 'dnsProviderUpdateIntervalMs' ? configDuration(value, at) : field === 'maxItemSize' ? parseBytes(String(value), at) : wholeNumber(value, at);
  }
  if (!(client.timeoutMs > 0)) throw new Error(`${what}.timeout: must be positive`);
  if (!(client.maxAsyncConcurrency > 0)) throw new Error(`${what}.max_async_concurrency: must be positive`);
  if (!(client.dnsProviderUpdateIntervalMs > 0)) throw new Error(`${what}.dns_provider_update_interval: must be positive`);
  return { client, rest: Object.fromEntries(extraKeys.map((k) => [k, cfg[k]])) };
}

/** A Go duration from a config value, in ms; `what` names the key in the error. */
export function configDuration(v: unknown, what: string): number {
  try {
    return parseDuration(String(v));
  } catch (e) {
    throw new Error(`${what}: ${(e as Error).message}`);
  }
}

/** A whole number ≥ 0 from a config value; `what` names the key in the error. */
export function wholeNumber(v: unknown, what: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${what}: want a whole number, not ${JSON.stringify(v)}`);
  return n;
}
