import { createHash } from 'node:crypto';
import { scrapedCounter, type CountCell, type RemoteCacheClient } from '@strata/runtime';
import { Counter, Gauge, type Registry } from 'prom-client';
import { LruMap } from './lru.js';

/** What the index cache holds, with Thanos' item_type label values. */
export const CacheItem = { Postings: 'Postings', ExpandedPostings: 'ExpandedPostings', Series: 'Series' } as const;
export type CacheItem = (typeof CacheItem)[keyof typeof CacheItem];

/** Map overhead per entry (key string, map slot, list links), so many tiny items still count. */
const ENTRY_OVERHEAD = 64;

interface Entry {
  item: CacheItem;
  value: Uint8Array;
  size: number;
}

/** Bounds of an IndexCache beyond its size, as Thanos' --index-cache.config sets them. */
export interface IndexCacheLimits {
  /** Larger items are not cached (default: the cache's size). */
  maxItemBytes?: number;
  /** The item types cached (default: all). */
  enabledItems?: readonly CacheItem[];
}

/** Where the store gateway keeps index items: in memory (IndexCache), or in memcached or redis (RemoteIndexCache). */
export interface IndexItemCache {
  /** The item's bytes, or undefined where the cache lacks it (or could not be asked). */
  get(item: CacheItem, key: string): Uint8Array | undefined | Promise<Uint8Array | undefined>;
  set(item: CacheItem, key: string, value: Uint8Array): void;
  /** Forgets a block's items that this process holds (an unloaded block must not hold memory). */
  dropBlock(id: string): void;
}

type Lookups = Record<CacheItem, { requests: CountCell; hits: CountCell }>;

/** The index cache's lookup counters per item type (counted on every lookup: see scrapedCounter), as Thanos names them. */
function lookupCounters(registry: Registry): Lookups {
  const labelNames = ['item_type'] as const;
  const requests = scrapedCounter(registry, 'strata_store_index_cache_requests_total', 'Index cache lookups.', labelNames);
  const hits = scrapedCounter(registry, 'strata_store_index_cache_hits_total', 'Index cache lookups that found the item.', labelNames);
  return Object.fromEntries(Object.values(CacheItem).map((item) => [item, { requests: requests({ item_type: item }), hits: hits({ item_type: item }) }])) as Lookups;
}

/** Per item type, whether it is cached (`enabled`: the types given, default all): a type left out is neither looked up nor kept. */
function enabledItems(enabled: readonly CacheItem[] = Object.values(CacheItem)): Record<CacheItem, boolean> {
  return Object.fromEntries(Object.values(CacheItem).map((item) => [item, enabled.includes(item)])) as Record<CacheItem, boolean>;
}

/**
 * The in-memory index cache (Thanos' --index-cache-size, or --index-cache.config's IN-MEMORY type):
 * postings lists, expanded postings and series entries, keyed per block, bounded in bytes with
 * least-recently-used eviction (LruMap).
 */
export class IndexCache implements IndexItemCache {
  readonly #maxBytes: number;
  readonly #maxItemBytes: number;
  readonly #enabled: Record<CacheItem, boolean>;
  readonly #entries = new LruMap<Entry>();
  #bytes = 0;
  readonly #lookups: Lookups;
  readonly #items: Gauge<'item_type'>;
  readonly #size: Gauge<'item_type'>;
  readonly #evicted: Counter<'item_type'>;

  constructor(maxBytes: number, registry: Registry, limits: IndexCacheLimits = {}) {
    this.#maxBytes = maxBytes;
    this.#maxItemBytes = limits.maxItemBytes ?? maxBytes;
    this.#enabled = enabledItems(limits.enabledItems);
    const labelNames = ['item_type'] as const;
    this.#lookups = lookupCounters(registry);
    this.#items = new Gauge({ name: 'strata_store_index_cache_items', help: 'Items in the index cache.', labelNames, registers: [registry] });
    this.#size = new Gauge({ name: 'strata_store_index_cache_items_size_bytes', help: 'Bytes held by the index cache.', labelNames, registers: [registry] });
    this.#evicted = new Counter({ name: 'strata_store_index_cache_items_evicted_total', help: 'Items evicted to stay within --index-cache-size.', labelNames, registers: [registry] });
    for (const item of Object.values(CacheItem)) {
      this.#items.set({ item_type: item }, 0);
      this.#size.set({ item_type: item }, 0);
    }
  }

  get bytes(): number {
    return this.#bytes;
  }

  get(item: CacheItem, key: string): Uint8Array | undefined {
    if (!this.#enabled[item]) return undefined;
    const counts = this.#lookups[item];
    counts.requests.value++;
    const e = this.#entries.get(key);
    if (e === undefined) return undefined;
    counts.hits.value++;
    return e.value;
  }

  set(item: CacheItem, key: string, value: Uint8Array): void {
    if (!this.#enabled[item]) return;
    const size = value.byteLength + key.length * 2 + ENTRY_OVERHEAD;
    // An item bigger than the whole cache would only evict everything else and then itself.
    if (size > this.#maxBytes || value.byteLength > this.#maxItemBytes) return;
    const old = this.#entries.peek(key);
    if (old !== undefined) this.#remove(key, old);
    while (this.#bytes + size > this.#maxBytes) {
      const [k, e] = this.#entries.oldest() as [string, Entry];
      this.#remove(k, e);
      this.#evicted.inc({ item_type: e.item });
    }
    this.#entries.set(key, { item, value, size });
    this.#bytes += size;
    this.#items.inc({ item_type: item });
    this.#size.inc({ item_type: item }, size);
  }

  /** Drops every item of a block (unloaded blocks must not hold cache space). */
  dropBlock(id: string): void {
    const prefix = `${id}:`;
    for (const [k, e] of this.#entries.entries()) if (k.startsWith(prefix)) this.#remove(k, e);
  }

  #remove(key: string, e: Entry): void {
    this.#entries.delete(key);
    this.#bytes -= e.size;
    this.#items.dec({ item_type: e.item });
    this.#size.dec({ item_type: e.item }, e.size);
  }
}

/**
 * The index cache in memcached or redis (--index-cache.config's MEMCACHED and REDIS types), shared by
 * every store gateway pointed at it and kept across restarts, as Thanos' remote index cache: items
 * under the SHA-256 of their key (a block's ULID and the item's byte range or matchers), kept `ttlMs`.
 * A cache that is down or slow gives misses: the store gateway reads the bucket instead.
 */
export class RemoteIndexCache implements IndexItemCache {
  readonly #client: RemoteCacheClient;
  readonly #ttlMs: number;
  readonly #enabled: Record<CacheItem, boolean>;
  readonly #lookups: Lookups;

  constructor(client: RemoteCacheClient, ttlMs: number, registry: Registry, enabled?: readonly CacheItem[]) {
    this.#client = client;
    this.#ttlMs = ttlMs;
    this.#enabled = enabledItems(enabled);
    this.#lookups = lookupCounters(registry);
  }

  async get(item: CacheItem, key: string): Promise<Uint8Array | undefined> {
    if (!this.#enabled[item]) return undefined;
    const counts = this.#lookups[item];
    counts.requests.value++;
    const value = await this.#client.get(remoteKey(key));
    if (value === undefined) return undefined;
    counts.hits.value++;
    // In memory of its own: expanded postings are read as 32-bit words from offset 0.
    return new Uint8Array(value);
  }

  set(item: CacheItem, key: string, value: Uint8Array): void {
    if (this.#enabled[item]) this.#client.setAsync(remoteKey(key), Buffer.from(value.buffer, value.byteOffset, value.byteLength), this.#ttlMs);
  }

  /** The remote cache keeps what an unloaded block left until it expires or is evicted, as Thanos' does. */
  dropBlock(): void {}
}

function remoteKey(key: string): string {
  return `strata-index-v1:${createHash('sha256').update(key).digest('hex')}`;
}
