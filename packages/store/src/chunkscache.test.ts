import { parseCachingBucketConfig, type CachingBucketConfig } from './cachingbucketconfig.js';
import { DEFAULT_MEMCACHED_CLIENT_CONFIG, DEFAULT_REDIS_CLIENT_CONFIG, MemcachedClient } from '@strata/runtime';
import { startMemcached } from '@strata/testing/memcached';
import { seededRandom } from '@strata/testing/random';
import { MemoryByteRange, type ByteRange } from '@strata/tsdb';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ChunksCache, InMemoryCache, recalledBytes } from './chunkscache.js';
import { ReadRecords } from './records.js';

/** A segment file in memory that records every read it serves. */
class RecordingRange implements ByteRange {
  readonly reads: [number, number][] = [];
  readonly #inner: MemoryByteRange;

  constructor(
    readonly name: string,
    readonly bytes: Uint8Array,
  ) {
    this.#inner = new MemoryByteRange(name, bytes);
  }

  size(): Promise<number> {
    return this.#inner.size();
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    this.reads.push([offset, length]);
    return this.#inner.read(offset, length);
  }

  async close(): Promise<void> {}
}

function config(over: Partial<CachingBucketConfig> = {}): CachingBucketConfig {
  return { ...parseCachingBucketConfig('type: IN-MEMORY'), ...over };
}

async function metric(registry: Registry, line: RegExp): Promise<number> {
  const m = line.exec(await registry.metrics());
  return m ? Number(m[1]) : NaN;
}

describe('ChunksCache', () => {
  it('returns exactly the bytes of the file for random ranges, and reads each piece from the file at most once', async () => {
    const rand = seededRandom(7);
    const bytes = new Uint8Array(200_003).map(() => Math.floor(rand() * 256));
    const file = new RecordingRange('01ABC/chunks/000001', bytes);
    const cache = new ChunksCache(config({ chunkSubrangeSize: 1000, maxChunksGetRangeRequests: 0 }), new Registry());
    const cached = cache.segment(file.name).wrap(file);
    for (let i = 0; i < 2000; i++) {
      const offset = Math.floor(rand() * bytes.length);
      const length = Math.floor(rand() * Math.min(rand() < 0.2 ? 20_000 : 3000, bytes.length - offset + 1));
      const got = await cached.read(offset, length);
      expect(got.length).toBe(length);
      expect(Buffer.from(got).equals(Buffer.from(bytes.subarray(offset, offset + length)))).toBe(true);
    }
    // Without a request limit no cached piece is read again: total bytes read ≤ the file, once.
    const read = file.reads.reduce((n, [, l]) => n + l, 0);
    expect(read).toBeLessThanOrEqual(bytes.length);
    // Every read is aligned to pieces (the last one ends at the end of the file).
    for (const [o, l] of file.reads) {
      expect(o % 1000).toBe(0);
      expect((o + l) % 1000 === 0 || o + l === bytes.length).toBe(true);
    }
  });

  it('stays exact with a request limit, under eviction and with concurrent reads', async () => {
    const rand = seededRandom(11);
    const bytes = new Uint8Array(50_000).map(() => Math.floor(rand() * 256));
    const file = new RecordingRange('01ABC/chunks/000002', bytes);
    // Room for about ten pieces of 512 bytes.
    const cache = new ChunksCache(config({ chunkSubrangeSize: 512, maxChunksGetRangeRequests: 2, maxSize: 10 * 700, maxItemSize: 512 }), new Registry());
    const cached = cache.segment(file.name).wrap(file);
    for (let round = 0; round < 200; round++) {
      const ranges = Array.from({ length: 4 }, () => {
        const offset = Math.floor(rand() * bytes.length);
        return [offset, Math.floor(rand() * Math.min(6000, bytes.length - offset + 1))] as const;
      });
      const before = file.reads.length;
      const got = await Promise.all(ranges.map(([o, l]) => cached.read(o, l)));
      ranges.forEach(([o, l], i) => expect(Buffer.from(got[i] as Uint8Array).equals(Buffer.from(bytes.subarray(o, o + l)))).toBe(true));
      expect(file.reads.length - before).toBeLessThanOrEqual(ranges.length * 2);
      expect(cache.cache!.bytes).toBeLessThanOrEqual(10 * 700);
    }
  });

  it('serves a repeated read from memory, counts hits, misses and evictions', async () => {
    const registry = new Registry();
    const bytes = new Uint8Array(10_000).map((_, i) => i & 0xff);
    const file = new RecordingRange('01ABC/chunks/000001', bytes);
    const cache = new ChunksCache(config({ chunkSubrangeSize: 1000, maxSize: 3 * 1200, maxItemSize: 1000 }), registry);
    const cached = cache.segment(file.name).wrap(file);
    await cached.read(1500, 1000); // pieces 1 and 2, one read
    expect(file.reads).toEqual([[1000, 2000]]);
    await cached.read(1000, 2000);
    expect(file.reads).toHaveLength(1);
    const m = (name: string) => metric(registry, new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm'));
    expect(await m('strata_store_bucket_cache_operation_requests_total')).toBe(2);
    expect(await m('strata_store_bucket_cache_operation_hits_total')).toBe(1);
    expect(await m('strata_store_bucket_cache_getrange_requested_bytes_total')).toBe(3000);
    expect(await metric(registry, /^strata_store_bucket_cache_getrange_fetched_bytes_total\{origin="bucket",config="chunks"\} (\S+)$/m)).toBe(2000);
    expect(await metric(registry, /^strata_store_bucket_cache_getrange_fetched_bytes_total\{origin="cache",config="chunks"\} (\S+)$/m)).toBe(2000);
    // Two more pieces: the least recently used one (piece 1 or 2, whichever was touched first) goes.
    await cached.read(5000, 2000);
    expect(cache.cache!.items).toBe(3);
    expect(await m('strata_cache_inmemory_items_evicted_total')).toBe(1);
    expect(await m('strata_cache_inmemory_items')).toBe(3);
    expect(await m('strata_cache_inmemory_max_size_bytes')).toBe(3600);
  });

  it('merges missing runs to stay within max_chunks_get_range_requests, re-reading cached pieces between them', async () => {
    const bytes = new Uint8Array(10_000).map((_, i) => (i * 7) & 0xff);
    const file = new RecordingRange('01ABC/chunks/000001', bytes);
    const cache = new ChunksCache(config({ chunkSubrangeSize: 1000, maxChunksGetRangeRequests: 2 }), new Registry());
    const cached = cache.segment(file.name).wrap(file);
    // Pieces 1, 3 and 4 cached: 0, 2 and 5..9 missing, three runs; the closest two (0 and 2) merge.
    await cached.read(1000, 1000);
    await cached.read(3000, 2000);
    file.reads.length = 0;
    const got = await cached.read(0, 10_000);
    expect(Buffer.from(got).equals(Buffer.from(bytes))).toBe(true);
    expect(file.reads.sort((a, b) => a[0] - b[0])).toEqual([
      [0, 3000],
      [5000, 5000],
    ]);
  });

  it('expires pieces after chunk_subrange_ttl and drops a block', async () => {
    const c = new InMemoryCache('t', 10_000, 1000, new Registry());
    c.set('a/1', new Uint8Array(10), 1000, 0);
    c.set('b/1', new Uint8Array(10), 1000, 0);
    expect(c.get('a/1', 999)).toBeDefined();
    expect(c.get('a/1', 1000)).toBeUndefined();
    c.dropWhere((key) => key.startsWith('b/'));
    expect(c.items).toBe(0);
    expect(c.bytes).toBe(0);
    // Bigger than max_item_size: not cached.
    c.set('x', new Uint8Array(1001), 1000);
    expect(c.items).toBe(0);
  });

  it('recalls the records and pieces of a read checked whole while it is made of the same cached pieces, and forgets them when one is fetched anew', async () => {
    const bytes = new Uint8Array(10_000).map((_, i) => i & 0xff);
    const file = new RecordingRange('01ABC/chunks/000001', bytes);
    // Room for 4 pieces of 1000 bytes (each counted with its overhead).
    const cache = new ChunksCache(config({ chunkSubrangeSize: 1000, maxSize: 4 * 1100, maxItemSize: 1000 }), new Registry());
    const cached = cache.segment(file.name).wrap(file);
    const records = new ReadRecords(new Uint32Array(6), 10);
    const recalled = async (offset: number, length: number) => {
      const read = await cached.readRecords(offset, length);
      if (read instanceof Uint8Array) {
        expect(new Uint8Array(read)).toEqual(bytes.subarray(offset, offset + length));
        return undefined;
      }
      expect(new Uint8Array(recalledBytes(read, 0, length))).toEqual(bytes.subarray(offset, offset + length));
      return read.records;
    };
    expect(await recalled(1500, 1200)).toBeUndefined();
    cached.remember(1500, 1200, await cached.read(1500, 1200), records);
    // From the cache: the same pieces (two of them).
    expect(await recalled(1500, 1200)).toBe(records);
    // Another range of the same pieces was not checked; bytes the cache did not make are not remembered.
    expect(await recalled(1500, 1100)).toBeUndefined();
    cached.remember(1600, 300, bytes.subarray(1600, 1900), records);
    expect(await recalled(1600, 300)).toBeUndefined();
    // Evicted by reads of other pieces, fetched anew: checked again.
    await cached.read(5000, 4000);
    expect(await recalled(1500, 1200)).toBeUndefined();
    expect(file.reads.at(-1)).toEqual([1000, 2000]);
    // A read partly fetched, partly cached is remembered by all its pieces.
    await cached.read(5000, 4000);
    const again = await cached.read(1500, 1200);
    cached.remember(1500, 1200, again, records);
    expect(await recalled(1500, 1200)).toBe(records);
    // Not once its block is dropped.
    cache.dropBlock('01ABC');
    expect(await recalled(1500, 1200)).toBeUndefined();
  });

  it('keeps the records of checked reads within a thirty-second of max_size (64 KiB at least), the least recently recalled dropped first', async () => {
    const file = new RecordingRange('01ABC/chunks/000001', new Uint8Array(10_000));
    const registry = new Registry();
    const cache = new ChunksCache(config({ chunkSubrangeSize: 1000, maxSize: 3_200_000, maxItemSize: 1000 }), registry);
    const cached = cache.segment(file.name).wrap(file);
    // 100,000 bytes of records in all: four tables of 25,000 bytes take more.
    const table = () => new ReadRecords(new Uint32Array(6250), 10);
    const reads = [0, 1000, 2000, 3000];
    const tables = reads.map(table);
    const recall = async (at: number) => {
      const read = await cached.readRecords(at, 500);
      return read instanceof Uint8Array ? undefined : read.records;
    };
    for (const [i, at] of reads.entries()) cached.remember(at, 500, await cached.read(at, 500), tables[i]!);
    const recalled = async () => Promise.all(reads.map(async (at) => tables.indexOf((await recall(at))!)));
    expect(await recalled()).toEqual([-1, 1, 2, 3]);
    // Recalled last, read 1's table outlives read 2's.
    await recall(1000);
    cached.remember(0, 500, await cached.read(0, 500), tables[0]!);
    expect(await recalled()).toEqual([0, 1, -1, 3]);
    const metrics = await registry.metrics();
    expect(metrics).toContain('strata_store_bucket_cache_checked_reads 3\n');
    expect(metrics).toContain(`strata_store_bucket_cache_checked_reads_bytes ${3 * tables[0]!.bytes}\n`);
    // A table larger than the share is not kept.
    cached.remember(4000, 500, await cached.read(4000, 500), new ReadRecords(new Uint32Array(30_000), 10));
    expect(await recall(4000)).toBeUndefined();
  });

  it("gives a dropped block's files' keys to new files, never serving a piece of the old ones, even from a read in flight when it was dropped, whose query reads on uncached", async () => {
    const file = (block: string, fill: number) => new RecordingRange(`${block}/chunks/000001`, new Uint8Array(5000).fill(fill));
    const cache = new ChunksCache(config({ chunkSubrangeSize: 1000 }), new Registry());
    const a = file('01A', 1);
    expect(new Uint8Array(await cache.segment(a.name).wrap(a).read(0, 3000))).toEqual(new Uint8Array(3000).fill(1));
    cache.dropBlock('01A');
    // Block C's file takes A's key: its pieces come from C.
    const c = file('01C', 3);
    expect(new Uint8Array(await cache.segment(c.name).wrap(c).read(500, 2000))).toEqual(new Uint8Array(2000).fill(3));
    expect(c.reads).toEqual([[0, 3000]]);
    // D's read is in flight when D is dropped and E takes D's key: D's bytes are not cached under it.
    const d = file('01D', 4);
    let release = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow: ByteRange = { name: d.name, size: () => d.size(), read: async (offset, length) => (await gate, d.read(offset, length)), close: async () => {} };
    const dQuery = cache.segment(slow.name).wrap(slow);
    const inFlight = dQuery.read(0, 2000);
    await new Promise((resolve) => setImmediate(resolve));
    cache.dropBlock('01D');
    const e = file('01E', 5);
    const eQuery = cache.segment(e.name).wrap(e);
    release();
    expect(new Uint8Array(await inFlight)).toEqual(new Uint8Array(2000).fill(4));
    // The query reading D goes on after the drop: straight from the bucket, nothing cached or registered for D again.
    const items = cache.cache!.items;
    expect(new Uint8Array(await dQuery.read(1000, 2000))).toEqual(new Uint8Array(2000).fill(4));
    expect(new Uint8Array(await dQuery.read(1000, 2000))).toEqual(new Uint8Array(2000).fill(4));
    expect(d.reads).toEqual([[0, 2000], [1000, 2000], [1000, 2000]]);
    expect(cache.cache!.items).toBe(items);
    cache.dropBlock('01D');
    expect(new Uint8Array(await eQuery.read(0, 2000))).toEqual(new Uint8Array(2000).fill(5));
    expect(e.reads).toEqual([[0, 2000]]);
    expect(new Uint8Array(await cache.segment(c.name).wrap(c).read(0, 3000))).toEqual(new Uint8Array(3000).fill(3));
    expect(c.reads).toEqual([[0, 3000]]);
  });

  it('rejects reads outside the file like the file itself', async () => {
    const cache = new ChunksCache(config(), new Registry());
    const cached = cache.segment('01ABC/chunks/000001').wrap(new RecordingRange('01ABC/chunks/000001', new Uint8Array(100)));
    await expect(cached.read(90, 11)).rejects.toThrow(RangeError);
    expect((await cached.read(100, 0)).length).toBe(0);
  });
});

describe('ChunksCache in memcached', () => {
  it('returns exactly the bytes of the file, and another store gateway reads the pieces the first one kept', async () => {
    const memcached = await startMemcached();
    const clients: MemcachedClient[] = [];
    const cacheWith = async (registry: Registry) => {
      const client = new MemcachedClient({ ...DEFAULT_MEMCACHED_CLIENT_CONFIG, addresses: [memcached.address] }, { name: 'caching-bucket', registry });
      await client.start();
      clients.push(client);
      return new ChunksCache(config({ chunkSubrangeSize: 1000, maxChunksGetRangeRequests: 0 }), registry, client);
    };
    try {
      const rand = seededRandom(17);
      const bytes = new Uint8Array(60_001).map(() => Math.floor(rand() * 256));
      const ranges = Array.from({ length: 300 }, () => {
        const offset = Math.floor(rand() * bytes.length);
        return [offset, Math.floor(rand() * Math.min(5000, bytes.length - offset + 1))] as const;
      });
      const readAll = async (registry: Registry) => {
        const file = new RecordingRange('01ABC/chunks/000001', bytes);
        const cache = await cacheWith(registry);
        expect(cache.cache).toBeUndefined();
        const cached = cache.segment(file.name).wrap(file);
        for (const [o, l] of ranges) {
          expect(Buffer.from(await cached.read(o, l)).equals(Buffer.from(bytes.subarray(o, o + l)))).toBe(true);
          // Sets are queued: a piece whose set has not reached memcached yet would be read again.
          await clients.at(-1)!.flush();
        }
        return file.reads.reduce((n, [, l]) => n + l, 0);
      };
      // The first reads each piece from the file once at most; the second finds them all in memcached.
      expect(await readAll(new Registry())).toBeLessThanOrEqual(bytes.length);
      const second = new Registry();
      expect(await readAll(second)).toBe(0);
      expect(await metric(second, /^strata_store_bucket_cache_getrange_fetched_bytes_total\{origin="bucket",config="chunks"\} (\S+)$/m)).toBe(0);
    } finally {
      for (const c of clients) c.stop();
      await memcached.stop();
    }
  });
});

describe('parseCachingBucketConfig', () => {
  it("reads Thanos' format with its defaults", () => {
    expect(parseCachingBucketConfig('type: in-memory')).toEqual({ maxSize: 250 * 1024 ** 2, maxItemSize: 125 * 1024 ** 2, chunkSubrangeSize: 16000, maxChunksGetRangeRequests: 3, chunkSubrangeTtlMs: 86_400_000 });
    const full = parseCachingBucketConfig(
      [
        'type: IN-MEMORY',
        'config:',
        '  max_size: 1GiB',
        '  max_item_size: 16MB',
        'chunk_subrange_size: 8000',
        'max_chunks_get_range_requests: 5',
        'chunk_object_attrs_ttl: 24h',
        'chunk_subrange_ttl: 2h',
        'blocks_iter_ttl: 5m',
        'metafile_exists_ttl: 2h',
        'metafile_doesnt_exist_ttl: 15m',
        'metafile_content_ttl: 24h',
        'metafile_max_size: 1MiB',
      ].join('\n'),
    );
    expect(full).toEqual({ maxSize: 1024 ** 3, maxItemSize: 16 * 1024 ** 2, chunkSubrangeSize: 8000, maxChunksGetRangeRequests: 5, chunkSubrangeTtlMs: 7_200_000 });
  });

  it("reads Thanos' MEMCACHED backend: its client's keys, items bounded by the client's max_item_size", () => {
    expect(parseCachingBucketConfig('type: MEMCACHED\nconfig: {addresses: [m:11211], max_async_concurrency: 50}\nchunk_subrange_ttl: 1h')).toEqual({
      remote: { type: 'MEMCACHED', client: { ...DEFAULT_MEMCACHED_CLIENT_CONFIG, addresses: ['m:11211'], maxAsyncConcurrency: 50 } },
      maxSize: Number.MAX_SAFE_INTEGER,
      maxItemSize: 1024 * 1024,
      chunkSubrangeSize: 16000,
      maxChunksGetRangeRequests: 3,
      chunkSubrangeTtlMs: 3_600_000,
    });
  });

  it("reads Thanos' REDIS backend: its client's keys, items bounded by what redis takes", () => {
    expect(parseCachingBucketConfig('type: REDIS\nconfig: {addr: "r:6379", db: 1}')).toMatchObject({
      remote: { type: 'REDIS', client: { ...DEFAULT_REDIS_CLIENT_CONFIG, addr: 'r:6379', db: 1 } },
      maxItemSize: DEFAULT_REDIS_CLIENT_CONFIG.maxItemSize,
    });
  });

  it('refuses what it cannot honour', () => {
    expect(() => parseCachingBucketConfig('type: GROUPCACHE\nconfig: {addr: a}')).toThrow(/unsupported cache type "GROUPCACHE" \(supported: IN-MEMORY, MEMCACHED, REDIS\)/);
    expect(() => parseCachingBucketConfig('type: MEMCACHED\nconfig: {addresses: [a:1], max_size: 1GB}')).toThrow(/config: unknown or unsupported field "max_size"/);
    expect(() => parseCachingBucketConfig('type: MEMCACHED\nconfig: {addresses: [a:1], max_item_size: 8KB}')).toThrow(/nothing could be cached/);
    expect(() => parseCachingBucketConfig('type: IN-MEMORY\nchunk_subrange: 1')).toThrow(/unknown or unsupported field "chunk_subrange"/);
    expect(() => parseCachingBucketConfig('type: IN-MEMORY\nconfig: {max_size: 1MB, max_item_size: 2MB}')).toThrow(/max_item_size/);
    expect(() => parseCachingBucketConfig('type: IN-MEMORY\nconfig: {max_size: 10KB, max_item_size: 1KB}')).toThrow(/nothing could be cached/);
    expect(() => parseCachingBucketConfig('type: IN-MEMORY\nmax_chunks_get_range_requests: -1')).toThrow(/non-negative integer/);
  });
});
