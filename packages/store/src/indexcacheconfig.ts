import { configMapping, parseBytes, parseYamlConfig } from '@strata/objstore';
import { configDuration, parseRemoteCacheConfig, type RemoteCacheConfig } from '@strata/runtime';
import { CacheItem } from './cache.js';

/**
 * Thanos' index cache config (`--index-cache.config(-file)`) after validation: the IN-MEMORY cache's
 * bounds, or the MEMCACHED or REDIS client and how long items live there; and what the cache holds.
 */
export type IndexCacheConfig = (
  | {
      type: 'IN-MEMORY';
      /** config.max_size: bytes the cache may hold (default 250 MiB, as --index-cache-size). */
      maxBytes: number;
      /** config.max_item_size: larger items are not cached (default 125 MiB). */
      maxItemBytes: number;
    }
  | {
      type: 'REMOTE';
      cache: RemoteCacheConfig;
      /** ttl: how long memcached or redis keeps an item (default 24h, as Thanos' remote index caches). */
      ttlMs: number;
    }
) & {
  /** enabled_items: the item types cached (default, or an empty list: all). */
  enabledItems: readonly CacheItem[];
};

export const DEFAULT_INDEX_CACHE_BYTES = 250 * 1024 * 1024;
const DEFAULT_MAX_ITEM_BYTES = 125 * 1024 * 1024;
const DEFAULT_TTL_MS = 24 * 3_600_000;

/**
 * Parses e.g. `type: IN-MEMORY`, `config: {max_size: 1GB, max_item_size: 16MB}`, `enabled_items: [Postings, Series]`,
 * or `type: MEMCACHED`, `config: {addresses: [dnssrv+_memcached._tcp.memcached], …}`, `ttl: 24h` (the keys
 * of Thanos' memcached client), or `type: REDIS`, `config: {addr: redis:6379, …}` (those of its redis
 * client). Strict like Thanos: an unknown key is an error. `ttl` has no effect on the in-memory cache,
 * as in Thanos.
 */
export function parseIndexCacheConfig(text: string, what = 'index cache config'): IndexCacheConfig {
  const top = configMapping(parseYamlConfig(text, what), what, new Set(['type', 'config', 'enabled_items', 'ttl']));
  const type = String(top.type ?? '').toUpperCase();
  if (type !== 'IN-MEMORY' && type !== 'MEMCACHED' && type !== 'REDIS') throw new Error(`${what}: unsupported index cache type ${JSON.stringify(top.type)} (supported: IN-MEMORY, MEMCACHED, REDIS)`);
  const ttlMs = top.ttl === undefined || top.ttl === null ? DEFAULT_TTL_MS : configDuration(top.ttl, `${what}: ttl`);
  const bytes = (v: unknown, field: string, dflt: number) => (v === undefined || v === null || v === 0 || v === '0' ? dflt : parseBytes(String(v), `${what}: ${field}`));
  const items = top.enabled_items ?? [];
  if (!Array.isArray(items)) throw new Error(`${what}: enabled_items: expected a list`);
  const known = Object.values(CacheItem) as string[];
  for (const item of items) if (!known.includes(String(item))) throw new Error(`${what}: enabled_items: unknown item type ${JSON.stringify(item)} (known: ${known.join(', ')})`);
  const enabledItems = items.length > 0 ? (items.map(String) as CacheItem[]) : (known as CacheItem[]);
  if (type !== 'IN-MEMORY') {
    if (!(ttlMs > 0)) throw new Error(`${what}: ttl: must be positive`);
    return { type: 'REMOTE', cache: parseRemoteCacheConfig(type, top.config ?? {}, `${what}: config`).cache, ttlMs, enabledItems };
  }
  const cfg = configMapping(top.config ?? {}, `${what}: config`, new Set(['max_size', 'max_item_size']));
  return {
    type: 'IN-MEMORY',
    maxBytes: bytes(cfg.max_size, 'config.max_size', DEFAULT_INDEX_CACHE_BYTES),
    maxItemBytes: bytes(cfg.max_item_size, 'config.max_item_size', DEFAULT_MAX_ITEM_BYTES),
    enabledItems,
  };
}
