import { scrapedCounter, type CountCell } from '@strata/runtime';
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

/**
 * The in-memory index cache (Thanos' --index-cache-size, or --index-cache.config's IN-MEMORY type):
 * postings lists, expanded postings and series entries, keyed per block, bounded in bytes with
 * least-recently-used eviction (LruMap).
 */
export class IndexCache {
  readonly #maxBytes: number;
  readonly #maxItemBytes: number;
  /** Per item type, whether it is cached: a type left out is neither looked up nor kept. */
  readonly #enabled: Record<CacheItem, boolean>;
  readonly #entries = new LruMap<Entry>();
  #bytes = 0;
  /** Lookups and hits per item type (counted on every lookup: see scrapedCounter). */
  readonly #lookups: Record<CacheItem, { requests: CountCell; hits: CountCell }>;
  readonly #items: Gauge<'item_type'>;
  readonly #size: Gauge<'item_type'>;
  readonly #evicted: Counter<'item_type'>;

  constructor(maxBytes: number, registry: Registry, limits: IndexCacheLimits = {}) {
    this.#maxBytes = maxBytes;
    this.#maxItemBytes = limits.maxItemBytes ?? maxBytes;
    const enabled = limits.enabledItems ?? Object.values(CacheItem);
    this.#enabled = Object.fromEntries(Object.values(CacheItem).map((item) => [item, enabled.includes(item)])) as Record<CacheItem, boolean>;
    const labelNames = ['item_type'] as const;
    const requests = scrapedCounter(registry, 'strata_store_index_cache_requests_total', 'Index cache lookups.', labelNames);
    const hits = scrapedCounter(registry, 'strata_store_index_cache_hits_total', 'Index cache lookups that found the item.', labelNames);
    this.#lookups = Object.fromEntries(
      Object.values(CacheItem).map((item) => [item, { requests: requests({ item_type: item }), hits: hits({ item_type: item }) }]),
    ) as Record<CacheItem, { requests: CountCell; hits: CountCell }>;
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
