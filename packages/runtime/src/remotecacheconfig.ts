import type { Registry } from 'prom-client';
import type { Logger } from './logger.js';
import { MemcachedClient, type MemcachedClientConfig } from './memcached.js';
import { parseMemcachedClientConfig } from './memcachedconfig.js';
import { RedisClient, type RedisClientConfig } from './redis.js';
import { parseRedisClientConfig } from './redisconfig.js';
import type { RemoteCacheClient } from './remotecache.js';

/** A remote cache's client configuration: Thanos' `type: MEMCACHED` or `type: REDIS` with its `config`. */
export type RemoteCacheConfig = { type: 'MEMCACHED'; client: MemcachedClientConfig } | { type: 'REDIS'; client: RedisClientConfig };

/** The `config` of a remote cache of `type` (see parseMemcachedClientConfig, parseRedisClientConfig). */
export function parseRemoteCacheConfig(type: RemoteCacheConfig['type'], v: unknown, what: string, extraKeys: readonly string[] = []): { cache: RemoteCacheConfig; rest: Record<string, unknown> } {
  if (type === 'MEMCACHED') {
    const { client, rest } = parseMemcachedClientConfig(v, what, extraKeys);
    return { cache: { type, client }, rest };
  }
  const { client, rest } = parseRedisClientConfig(v, what, extraKeys);
  return { cache: { type, client }, rest };
}

/** The client of a remote cache, not yet started. */
export function remoteCacheClient(cfg: RemoteCacheConfig, opts: { name: string; registry?: Registry; logger?: Logger }): RemoteCacheClient {
  return cfg.type === 'MEMCACHED' ? new MemcachedClient(cfg.client, opts) : new RedisClient(cfg.client, opts);
}

/** Where a remote cache is, for logs: its addresses. */
export function remoteCacheText(cfg: RemoteCacheConfig): string {
  return cfg.type === 'MEMCACHED' ? `memcached ${cfg.client.addresses.join(',')}` : `redis ${cfg.client.addr}`;
}
