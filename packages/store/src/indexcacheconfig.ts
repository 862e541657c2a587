import { configMapping, parseBytes, parseYamlConfig } from '@strata/objstore';
import { configDuration, parseMemcachedClientConfig, type MemcachedClientConfig } from '@strata/runtime';
import { CacheItem } from './cache.js';

/**
 * Thanos' index cache config (`--index-cache.config(-file)`) after validation: the IN-MEMORY cache's
 * bounds, or the MEMCACHED client and how long items live there; and what the cache holds.
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
      type: 'MEMCACHED';
      client: MemcachedClientConfig;
      /** ttl: how long memcached keeps an item (default 24h, as Thanos' remote index caches). */
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
 * of Thanos' memcached client). Strict like Thanos: an unknown key is an error. `ttl` has no effect on
 * the in-memory cache, as in Thanos; REDIS is refused by name.
 */
export function parseIndexCacheConfig(text: string, what = 'index cache config'): IndexCacheConfig {
  const top = configMapping(parseYamlConfig(text, what), what, new Set(['type', 'config', 'enabled_items', 'ttl']));
  const type = String(top.type ?? '').toUpperCase();
  if (type !== 'IN-MEMORY' && type !== 'MEMCACHED') throw new Error(`${what}: unsupported index cache type ${JSON.stringify(top.type)} (supported: IN-MEMORY, MEMCACHED)`);
  const ttlMs = top.ttl === undefined || top.ttl === null ? DEFAULT_TTL_MS : configDuration(top.ttl, `${what}: ttl`);
  const bytes = (v: unknown, field: string, dflt: number) => (v === undefined || v === null || v === 0 || v === '0' ? dflt : parseBytes(String(v), `${what}: ${field}`));
  const items = top.enabled_items ?? [];
  if (!Array.isArray(items)) throw new Error(`${what}: enabled_items: expected a list`);
  const known = Object.values(CacheItem) as string[];
  for (const item of items) if (!known.includes(String(item))) throw new Error(`${what}: enabled_items: unknown item type ${JSON.stringify(item)} (known: ${known.join(', ')})`);
  const enabledItems = items.length > 0 ? (items.map(String) as CacheItem[]) : (known as CacheItem[]);
  if (type === 'MEMCACHED') {
    if (!(ttlMs > 0)) throw new Error(`${what}: ttl: must be positive`);
    return { type, client: parseMemcachedClientConfig(top.config ?? {}, `${what}: config`).client, ttlMs, enabledItems };
  }
  const cfg = configMapping(top.config ?? {}, `${what}: config`, new Set(['max_size', 'max_item_size']));
  return {
    type,
    maxBytes: bytes(cfg.max_size, 'config.max_size', DEFAULT_INDEX_CACHE_BYTES),
    maxItemBytes: bytes(cfg.max_item_size, 'config.max_item_size', DEFAULT_MAX_ITEM_BYTES),
    enabledItems,
  };
}
