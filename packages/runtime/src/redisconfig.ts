import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { configMapping, parseBytes } from '@strata/objstore';
import { configDuration, wholeNumber } from './memcachedconfig.js';
import { DEFAULT_REDIS_CLIENT_CONFIG, type RedisClientConfig } from './redis.js';

/** Thanos' redis client keys (pkg/cacheutil: RedisClientConfig) that set a whole number, and the fields they set. */
const NUMBER_KEYS = {
  db: 'db',
  pool_size: 'maxIdleConnections',
  max_get_multi_concurrency: 'maxGetMultiConcurrency',
  get_multi_batch_size: 'maxGetMultiBatchSize',
  max_async_concurrency: 'maxAsyncConcurrency',
  max_async_buffer_size: 'maxAsyncBufferSize',
} as const satisfies Record<string, keyof RedisClientConfig>;
/** Keys Thanos reads for its batched SetMulti, which Strata's caches never call (they set one key at a time, queued). */
const SET_MULTI_KEYS = ['max_set_multi_concurrency', 'set_multi_batch_size'];
const TLS_KEYS = new Set(['ca_file', 'cert_file', 'key_file', 'server_name', 'insecure_skip_verify']);

/**
 * The `config` of a `type: REDIS` cache in Thanos' YAML (`what` names it in errors): the client's keys
 * with Thanos' defaults; `extraKeys` are the cache's own (the query frontend's `expiration`), returned
 * in `rest` as given. Strict: any other key is an error. One standalone server; with `master_name` the
 * master of a Sentinel group whose sentinels `addr` lists (comma-separated); or, `addr` listing several
 * without `master_name`, a Redis Cluster those nodes belong to, as Thanos takes them (its `db` must be
 * 0, all a cluster has). A single address may be a cluster node's too, which only asking it tells: the
 * client does, and refuses a `db` other than 0 then. Client-side caching (`cache_size`) is refused by name.
 * A request must be written and answered within write_timeout + read_timeout.
 */
export function parseRedisClientConfig(v: unknown, what: string, extraKeys: readonly string[] = []): { client: RedisClientConfig; rest: Record<string, unknown> } {
  const known = ['addr', 'username', 'password', 'dial_timeout', 'read_timeout', 'write_timeout', 'tls_enabled', 'tls_config', 'cache_size', 'master_name', ...Object.keys(NUMBER_KEYS), ...SET_MULTI_KEYS, ...extraKeys];
  const cfg = configMapping(v, what, new Set(known));
  const addr = cfg.addr;
  if (typeof addr !== 'string' || addr === '') throw new Error(`${what}.addr: the redis server's host:port is required`);
  const masterName = cfg.master_name === undefined || cfg.master_name === null ? '' : String(cfg.master_name);
  if (cfg.cache_size !== undefined && cfg.cache_size !== null && parseBytes(String(cfg.cache_size), `${what}.cache_size`) > 0) {
    throw new Error(`${what}.cache_size: client-side caching is not supported`);
  }
  const client: RedisClientConfig = { ...DEFAULT_REDIS_CLIENT_CONFIG, addr, masterName };
  for (const key of ['username', 'password'] as const) {
    const value = cfg[key];
    if (value !== undefined && value !== null) client[key] = String(value);
  }
  for (const [key, field] of Object.entries(NUMBER_KEYS)) {
    const value = cfg[key];
    if (value !== undefined && value !== null) client[field] = wholeNumber(value, `${what}.${key}`);
  }
  if (masterName === '' && addr.includes(',') && client.db !== 0) throw new Error(`${what}.db: a Redis Cluster (several addresses without master_name) has database 0 only, not ${client.db}`);
  const duration = (key: string, fallback: number) => (cfg[key] === undefined || cfg[key] === null ? fallback : configDuration(cfg[key], `${what}.${key}`));
  client.dialTimeoutMs = duration('dial_timeout', DEFAULT_REDIS_CLIENT_CONFIG.dialTimeoutMs);
  // Thanos' defaults: 3s each.
  client.timeoutMs = duration('write_timeout', 3_000) + duration('read_timeout', 3_000);
  if (!(client.dialTimeoutMs > 0) || !(client.timeoutMs > 0)) throw new Error(`${what}: dial_timeout, and read_timeout with write_timeout, must be positive`);
  if (!(client.maxAsyncConcurrency > 0)) throw new Error(`${what}.max_async_concurrency: must be positive`);
  if (cfg.tls_enabled === true) client.tls = tlsOptions(cfg.tls_config ?? {}, `${what}.tls_config`);
  return { client, rest: Object.fromEntries(extraKeys.map((k) => [k, cfg[k]])) };
}

/** Thanos' tls_config as Node's TLS options: the files read now, so that a wrong path fails at start. */
function tlsOptions(v: unknown, what: string): ConnectionOptions {
  const t = configMapping(v, what, TLS_KEYS);
  const file = (key: string): Buffer | undefined => {
    const path = t[key];
    if (path === undefined || path === null || path === '') return undefined;
    try {
      return readFileSync(String(path));
    } catch (e) {
      throw new Error(`${what}.${key}: ${(e as Error).message}`);
    }
  };
  const [ca, cert, key] = [file('ca_file'), file('cert_file'), file('key_file')];
  if ((cert === undefined) !== (key === undefined)) throw new Error(`${what}: both client key and certificate must be provided`);
  return {
    ...(ca !== undefined ? { ca } : {}),
    ...(cert !== undefined ? { cert } : {}),
    ...(key !== undefined ? { key } : {}),
    ...(typeof t.server_name === 'string' && t.server_name !== '' ? { servername: t.server_name } : {}),
    rejectUnauthorized: t.insecure_skip_verify !== true,
  };
}
