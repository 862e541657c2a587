import { DEFAULT_MEMCACHED_CLIENT_CONFIG, DEFAULT_REDIS_CLIENT_CONFIG } from '@strata/runtime';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CacheItem, IndexCache } from './cache.js';
import { parseIndexCacheConfig } from './indexcacheconfig.js';

describe('parseIndexCacheConfig', () => {
  it("reads Thanos' IN-MEMORY index cache config, with its defaults", () => {
    expect(parseIndexCacheConfig('type: IN-MEMORY\nconfig:\n  max_size: 1GB\n  max_item_size: 16MB\nenabled_items: [Postings, Series]\nttl: 24h\n')).toEqual({
      type: 'IN-MEMORY',
      maxBytes: 1024 ** 3,
      maxItemBytes: 16 * 1024 ** 2,
      enabledItems: ['Postings', 'Series'],
    });
    // Thanos writes 0 for "the default", and an empty list for "every item".
    expect(parseIndexCacheConfig('type: in-memory\nconfig: {max_size: 0, max_item_size: 0}\nenabled_items: []\n')).toEqual({
      type: 'IN-MEMORY',
      maxBytes: 250 * 1024 ** 2,
      maxItemBytes: 125 * 1024 ** 2,
      enabledItems: Object.values(CacheItem),
    });
  });

  it("reads Thanos' MEMCACHED index cache config: its client's keys, ttl (24h unless given) and items", () => {
    expect(parseIndexCacheConfig('type: MEMCACHED\nconfig: {addresses: ["dnssrv+_memcached._tcp.mc"], timeout: 2s, max_get_multi_batch_size: 100}\nenabled_items: [Postings]\n')).toEqual({
      type: 'REMOTE',
      cache: { type: 'MEMCACHED', client: { ...DEFAULT_MEMCACHED_CLIENT_CONFIG, addresses: ['dnssrv+_memcached._tcp.mc'], timeoutMs: 2000, maxGetMultiBatchSize: 100 } },
      ttlMs: 24 * 3_600_000,
      enabledItems: ['Postings'],
    });
    expect(parseIndexCacheConfig('type: memcached\nconfig: {addresses: [m:11211]}\nttl: 6h\n')).toMatchObject({ ttlMs: 6 * 3_600_000, enabledItems: Object.values(CacheItem) });
  });

  it("reads Thanos' REDIS index cache config: its client's keys, ttl and items", () => {
    expect(parseIndexCacheConfig('type: REDIS\nconfig: {addr: "r:6379", password: pw}\nttl: 2h\nenabled_items: [Series]\n')).toEqual({
      type: 'REMOTE',
      cache: { type: 'REDIS', client: { ...DEFAULT_REDIS_CLIENT_CONFIG, addr: 'r:6379', password: 'pw' } },
      ttlMs: 2 * 3_600_000,
      enabledItems: ['Series'],
    });
  });

  it('refuses other cache types, unknown fields and item types, naming the flag', () => {
    const what = '--index-cache.config';
    expect(() => parseIndexCacheConfig('type: GROUPCACHE\nconfig: {addr: r:6379}\n', what)).toThrow(/--index-cache.config: unsupported index cache type "GROUPCACHE" \(supported: IN-MEMORY, MEMCACHED, REDIS\)/);
    expect(() => parseIndexCacheConfig('type: MEMCACHED\nconfig: {max_size: 1GB}\n', what)).toThrow(/--index-cache.config: config: unknown or unsupported field "max_size"/);
    expect(() => parseIndexCacheConfig('type: MEMCACHED\nconfig: {}\n', what)).toThrow(/config.addresses: a list of memcached addresses/);
    expect(() => parseIndexCacheConfig('type: IN-MEMORY\nconfig: {max_items: 5}\n', what)).toThrow(/config: unknown or unsupported field "max_items"/);
    expect(() => parseIndexCacheConfig('type: IN-MEMORY\nsize: 5\n', what)).toThrow(/unknown or unsupported field "size"/);
    expect(() => parseIndexCacheConfig('type: IN-MEMORY\nenabled_items: [Chunks]\n', what)).toThrow(/enabled_items: unknown item type "Chunks" \(known: Postings, ExpandedPostings, Series\)/);
    expect(() => parseIndexCacheConfig('type: IN-MEMORY\nconfig: {max_size: lots}\n', what)).toThrow(/config.max_size/);
    expect(() => parseIndexCacheConfig('type: IN-MEMORY\nttl: soon\n', what)).toThrow(/ttl: invalid duration/);
  });
});

describe('IndexCache limits', () => {
  it('keeps only the enabled item types, and no item over the item size limit', () => {
    const cache = new IndexCache(1 << 20, new Registry(), { maxItemBytes: 100, enabledItems: [CacheItem.Series] });
    cache.set(CacheItem.Series, 's1', new Uint8Array(100));
    cache.set(CacheItem.Series, 's2', new Uint8Array(101));
    cache.set(CacheItem.Postings, 'p1', new Uint8Array(10));
    expect(cache.get(CacheItem.Series, 's1')?.length).toBe(100);
    expect(cache.get(CacheItem.Series, 's2')).toBeUndefined();
    expect(cache.get(CacheItem.Postings, 'p1')).toBeUndefined();
  });
});
