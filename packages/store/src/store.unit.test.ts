// Unit tests of the store gateway's pure parts: block selection by resolution, aggregate chunk
// unpacking, the byte-bounded index cache, and the k-way merge.
import { seededRandom } from '@strata/testing/random';
import { Aggr, encodeSeriesResponse, GrpcStatus, type ProtoWriter } from '@strata/storeapi';
import { AggrChunk, compareStrings, Encoding, Labels, type SymbolTable, XORChunk } from '@strata/tsdb';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { toStoreAggrChunk } from './aggrchunk.js';
import type { BlockSeries } from './block.js';
import { CacheItem, IndexCache } from './cache.js';
import { ChunkPool } from './chunkpool.js';
import { carve } from './columns.js';
import { compareKeys, LabelMapping } from './extlabels.js';
import { mergeSorted, type OutSeries } from './merge.js';
import { ReadChunks } from './chunkreader.js';
import { RawChunkColumns, RawChunkRun, type RawChunkRuns } from './rawchunks.js';
import { blocksFor } from './resolution.js';
import { hashStaged, stage } from './wasmchunks.js';

const b = (name: string, minTime: number, maxTime: number, resolution: number) => ({ name, minTime, maxTime, resolution });

/** A symbol table's bytes as an index stores them (each symbol's uvarint length, then its UTF-8 bytes). */
function symbolTable(symbols: readonly string[]): SymbolTable {
  const parts: number[] = [];
  const offsets = new Uint32Array(symbols.length + 1);
  symbols.forEach((s, i) => {
    offsets[i] = parts.length;
    const utf8 = Buffer.from(s, 'utf8');
    for (let n = utf8.length; ; n >>>= 7) {
      if (n < 0x80) {
        parts.push(n);
        break;
      }
      parts.push((n & 0x7f) | 0x80);
    }
    parts.push(...utf8);
  });
  offsets[symbols.length] = parts.length;
  return { bytes: Uint8Array.from(parts), offsets };
}

describe('blocksFor', () => {
  const blocks = [b('raw1', 0, 100, 0), b('raw2', 100, 200, 0), b('raw3', 200, 300, 0), b('5m', 0, 200, 300_000), b('1h', 50, 150, 3_600_000)];

  it('takes raw blocks only when no downsampling is allowed', () => {
    expect(blocksFor(blocks, 0, 299, 0).map((x) => x.name)).toEqual(['raw1', 'raw2', 'raw3']);
  });

  it('takes the coarsest allowed resolution and fills gaps with finer data', () => {
    expect(blocksFor(blocks, 0, 299, 300_000).map((x) => x.name)).toEqual(['5m', 'raw3']);
    // 1h covers [50,150); 5m fills before and after it, raw fills after 5m ends; 5m is read once.
    expect(blocksFor(blocks, 0, 299, 3_600_000).map((x) => x.name)).toEqual(['5m', '1h', 'raw3']);
  });

  it('skips blocks outside the range', () => {
    expect(blocksFor(blocks, 210, 250, 0).map((x) => x.name)).toEqual(['raw3']);
  });
});

describe('toStoreAggrChunk', () => {
  const xor = (samples: [number, number][]) => {
    const c = new XORChunk();
    const app = c.appender();
    for (const [t, v] of samples) app.append(t, v);
    return c;
  };
  const count = xor([[299_999, 10], [599_999, 10]]);
  const sum = xor([[299_999, 55], [599_999, 155]]);
  const aggr = AggrChunk.encode([count, sum, undefined, undefined, undefined]);

  it('fills the requested aggregates with their sub-chunks as XOR StoreChunks', () => {
    const { chunk: got, samples } = toStoreAggrChunk(0, 599_999, { encoding: Encoding.Aggr, data: aggr.bytes }, [Aggr.COUNT, Aggr.SUM, Aggr.RAW], '01B');
    expect(samples).toBe(2);
    expect(Object.keys(got).sort()).toEqual(['count', 'maxTime', 'minTime', 'sum']);
    expect(got.count).toMatchObject({ type: 0, data: count.bytes });
    expect(got.sum?.data).toEqual(sum.bytes);
    expect(got.sum?.hash).not.toBe(0n);
  });

  it('fails the request when a requested aggregate is missing', () => {
    expect(() => toStoreAggrChunk(0, 599_999, { encoding: Encoding.Aggr, data: aggr.bytes }, [Aggr.COUNT, Aggr.MAX], '01B')).toThrow(
      expect.objectContaining({ code: GrpcStatus.INTERNAL, message: expect.stringMatching(/block 01B: .*no max aggregate/) }),
    );
  });

  it('passes raw chunks through as raw, their bytes not copied', () => {
    const data = count.bytes;
    const got = toStoreAggrChunk(0, 599_999, { encoding: Encoding.XOR, data }, [Aggr.MIN], '01B');
    expect(got).toEqual({ chunk: { minTime: 0, maxTime: 599_999, raw: expect.objectContaining({ type: 0, data }) }, samples: 2 });
    expect(got.chunk.raw?.data).toBe(data);
  });

  it('rejects an XOR chunk too short for its sample count', () => {
    expect(() => toStoreAggrChunk(0, 1, { encoding: Encoding.XOR, data: new Uint8Array(1) }, [], '01B')).toThrow(/shorter than its 2-byte sample count/);
  });
});

describe('IndexCache', () => {
  it('evicts least recently used items to stay within its byte budget, and counts hits', async () => {
    const registry = new Registry();
    const cache = new IndexCache(3 * (1000 + 64 + 20), registry);
    const v = () => new Uint8Array(1000);
    cache.set(CacheItem.Postings, 'b1:P:1', v());
    cache.set(CacheItem.Postings, 'b1:P:2', v());
    cache.set(CacheItem.Series, 'b2:S:3', v());
    expect(cache.get(CacheItem.Postings, 'b1:P:1')).toBeDefined();
    cache.set(CacheItem.Series, 'b2:S:4', v());
    expect(cache.get(CacheItem.Postings, 'b1:P:2')).toBeUndefined();
    expect(cache.get(CacheItem.Postings, 'b1:P:1')).toBeDefined();
    expect(cache.bytes).toBeLessThanOrEqual(3 * (1000 + 64 + 20));
    cache.dropBlock('b2');
    expect(cache.get(CacheItem.Series, 'b2:S:4')).toBeUndefined();
    cache.set(CacheItem.Series, 'huge', new Uint8Array(10_000));
    expect(cache.get(CacheItem.Series, 'huge')).toBeUndefined();
    const text = await registry.metrics();
    expect(text).toContain('strata_store_index_cache_hits_total{item_type="Postings"} 2');
    expect(text).toContain('strata_store_index_cache_requests_total{item_type="Postings"} 3');
  });
});

describe('LabelMapping', () => {
  it("maps symbol refs to labels with external labels added and replica labels removed, and orders series by keys as Labels.compare orders their labels", () => {
    const rnd = seededRandom(7);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
    const names = ['__name__', 'a', 'c', 'job', 'replica', 'zone'];
    const values = ['', '1', '2', 'x', 'ü', '𝄞', 'long'.repeat(40)];
    for (let round = 0; round < 200; round++) {
      // Some external names and values are symbols of the block, some are not (then they sort between them).
      const ext = Labels.from(Object.fromEntries(Array.from({ length: Math.floor(rnd() * 3) }, () => [pick([...names, 'b', 'cluster', 'zz']), pick(['1', 'eu', 'x2', 'ü'])])));
      const drop = new Set(Array.from({ length: Math.floor(rnd() * 2) }, () => pick(['replica', 'b', 'a'])));
      const series = Array.from({ length: 12 }, () => Labels.from(Object.fromEntries(names.filter(() => rnd() < 0.5).map((n) => [n, pick(values)]))));
      const symbols = [...new Set(series.flatMap((l) => l.toArray().flatMap((p) => [p.name, p.value])))].sort(compareStrings);
      const mapping = new LabelMapping(symbols, true, ext.toArray(), drop, symbolTable(symbols));
      expect(mapping.encodes).toBe(true);
      const keyed = series.map((l) => {
        const refs = Uint32Array.from(l.toArray().flatMap((p) => [symbols.indexOf(p.name), symbols.indexOf(p.value)]));
        const keys = new Float64Array(mapping.maxKeys(refs.length));
        const want = Labels.from(Object.fromEntries([...l.toArray(), ...ext.toArray()].filter((p) => !drop.has(p.name)).map((p) => [p.name, p.value])));
        expect(Labels.fromSorted(mapping.labels(refs, 0, refs.length)).toString()).toBe(want.toString());
        // Written from the symbol table: the bytes the codec writes for the labels as objects.
        const size = mapping.encodedSize(refs, 0, refs.length);
        const encodedLabels = { size, write: (w: ProtoWriter) => w.advance(mapping.encode(refs, 0, refs.length, w.room(size), w.pos)) };
        const asObjects = encodeSeriesResponse({ series: { labels: want.toArray(), chunks: [] } });
        expect(encodeSeriesResponse({ series: { labels: [], chunks: [], encodedLabels } }).equals(asObjects), want.toString()).toBe(true);
        return { want, refs, keys, n: mapping.keys(refs, 0, refs.length, keys) };
      });
      for (const x of keyed) {
        for (const y of keyed) {
          expect(Math.sign(compareKeys(x.keys, x.n, y.keys, y.n)), `${x.want} vs ${y.want}`).toBe(Math.sign(Labels.compare(x.want, y.want)));
          // Compared in place with labels as objects (another block's series, in mergeAligned).
          expect(mapping.equals(x.refs, 0, x.refs.length, y.want.toArray()), `${x.want} vs ${y.want}`).toBe(x.want.equals(y.want));
        }
      }
    }
  });
});

describe('mergeSorted', () => {
  const s = (labels: Record<string, string>, ...mins: number[]): BlockSeries => ({ labels: Labels.from(labels), chunks: mins.map((m) => ({ minTime: m, maxTime: m + 9 })) });
  it('merges sorted lists, joining equal label sets with chunks in time order', () => {
    const out = [...mergeSorted([[s({ a: '1' }, 20), s({ a: '3' }, 0)], [s({ a: '1' }, 10), s({ a: '2' }, 0)], [], [s({ a: '1' }, 0)]])];
    expect(out.map((x) => x.labels.toString())).toEqual(['{a="1"}', '{a="2"}', '{a="3"}']);
    expect(out[0]!.chunks.map((c) => c.minTime)).toEqual([0, 10, 20]);
  });

  it('orders the chunks of overlapping blocks one by one', () => {
    const out = [...mergeSorted([[s({ a: '1' }, 30, 40)], [s({ a: '1' }, 0, 35)], [s({ a: '1' }, 5)]])];
    expect(out[0]!.chunks.map((c) => c.minTime)).toEqual([0, 5, 30, 35, 40]);
  });

  it("interleaves replicas' raw runs chunk by chunk, chaining each replica's blocks, and writes them in that order", () => {
    // Each block's chunks of the series as a raw run over columns of its own (row i: minTime, maxTime = minTime + 9).
    const raw = (...mins: number[]): BlockSeries => {
      const bytes = new ReadChunks(mins.length);
      bytes.buffers.push(Uint8Array.from(mins.flatMap((m) => [0, 1, m & 0xff])));
      mins.forEach((_, i) => {
        bytes.start[i] = 3 * i;
        bytes.end[i] = 3 * i + 3;
        bytes.head[i] = 1;
      });
      const cols = new RawChunkColumns(bytes, Float64Array.from(mins), Float64Array.from(mins, (m) => m + 9), 1);
      mins.forEach((_, i) => cols.set(i));
      return { labels: Labels.from({ a: '1' }), chunks: [], raw: new RawChunkRun(cols, 0, mins.length) };
    };
    // Two replicas of two blocks each, the second replica 7 ms later; a block of the first also overlaps its own next one.
    const out = mergeSorted([[raw(0, 20)], [raw(40, 60)], [raw(7, 27)], [raw(47, 67)], [raw(15)]]);
    const runs = out[0]!.raw as RawChunkRuns;
    const mins: number[] = [];
    for (let k = 0; k < runs.columns.length; k++) for (let i = runs.from[k]!; i < runs.to[k]!; i++) mins.push(runs.columns[k]!.minTime[i]!);
    expect(mins).toEqual([0, 7, 15, 20, 27, 40, 47, 60, 67]);
    // Written as the codec writes the same chunks as objects, in that order.
    const frame = encodeSeriesResponse({ series: { labels: [], chunks: [], extraChunks: runs } });
    const asObjects = encodeSeriesResponse({ series: { labels: [], chunks: mins.map((m) => ({ minTime: m, maxTime: m + 9, raw: { type: 0, data: Uint8Array.of(0, 1, m & 0xff), hash: 0n } })) } });
    expect(frame.equals(asObjects)).toBe(true);
  });

  it("gives one block's list as it is, or joins the neighbours that became equal (replica labels removed)", () => {
    const distinct = [s({ a: '1' }, 0), s({ a: '2' }, 0), s({ a: '3' }, 0)];
    expect(mergeSorted([[], distinct])).toBe(distinct);
    const out = mergeSorted([[s({ a: '0' }, 0), s({ a: '1' }, 10), s({ a: '1' }, 0), s({ a: '2' }, 0), s({ a: '2' }, 5), s({ a: '2' }, 1), s({ a: '3' }, 0)]]);
    expect(out.map((x) => x.labels.toString())).toEqual(['{a="0"}', '{a="1"}', '{a="2"}', '{a="3"}']);
    expect(out.map((x) => x.chunks.map((c) => c.minTime))).toEqual([[0], [0, 10], [0, 1, 5], [0]]);
  });
});

describe('carve', () => {
  it('hands out zeroed, 8-byte aligned, disjoint columns of shared slabs, and large ones a buffer of their own', () => {
    const carved = [3, 8, 100, 4000].map((n) => ({ n, ...carve(n) }));
    // Each is still zeroed after the ones before it were filled: none overlaps another.
    for (const { n, buffer, at } of carved) {
      expect(at % 8).toBe(0);
      const bytes = new Uint8Array(buffer, at, n);
      expect(bytes.every((x) => x === 0)).toBe(true);
      bytes.fill(0xff);
    }
    const large = carve(1 << 20);
    expect([large.at, large.buffer.byteLength]).toEqual([0, 1 << 20]);
  });
});

describe('ChunkPool', () => {
  it('reuses a released buffer for a read of about its size, and only buffers it made, once each', () => {
    const pool = new ChunkPool(1 << 20);
    const a = pool.get(200_000);
    expect(a.length).toBe(200_000);
    pool.put(a);
    pool.put(a);
    pool.put(Buffer.allocUnsafeSlow(300_000));
    expect(pool.idleBytes).toBe(a.buffer.byteLength);
    // Much smaller: a new buffer; about the size: the idle one.
    expect(pool.get(100_000).buffer).not.toBe(a.buffer);
    const b = pool.get(190_000);
    expect(b.buffer).toBe(a.buffer);
    expect(b.length).toBe(190_000);
    expect(pool.idleBytes).toBe(0);
    // Beyond the idle budget: left to the garbage collector.
    const big = pool.get(2 << 20);
    pool.put(big);
    expect(pool.idleBytes).toBe(0);
    // Unused for the idle timeout: all idle buffers are dropped.
    pool.put(b);
    pool.dropIfUnused(60_000, Date.now() + 1000);
    expect(pool.idleBytes).toBe(b.buffer.byteLength);
    pool.dropIfUnused(60_000, Date.now() + 61_000);
    expect(pool.idleBytes).toBe(0);
  });

  it("gives a batch's read buffers back once every series of the batch has released its run", () => {
    const pool = new ChunkPool(1 << 20);
    const bytes = new ReadChunks(2, pool);
    const buf = pool.get(100_000);
    buf.fill(0);
    bytes.buffers.push(buf);
    bytes.start.set([0, 10]);
    bytes.end.set([10, 20]);
    const cols = new RawChunkColumns(bytes, new Float64Array(2), new Float64Array(2), 2);
    const [a, b] = [new RawChunkRun(cols, 0, 1), new RawChunkRun(cols, 1, 2)];
    a.release();
    a.release();
    expect(pool.idleBytes).toBe(0);
    b.release();
    expect(pool.idleBytes).toBe(buf.buffer.byteLength);
    expect(bytes.buffers).toEqual([]);
  });

  it("gives the read buffers of a series merged from several blocks back once the series is sent, whether its blocks follow or overlap one another", () => {
    const pool = new ChunkPool(1 << 20);
    /** One block's one series: a run of one chunk [minTime, minTime + 9] in a pooled read buffer. */
    const block = (minTime: number): BlockSeries => {
      const bytes = new ReadChunks(1, pool);
      bytes.buffers.push(pool.get(100_000));
      bytes.end[0] = 10;
      const cols = new RawChunkColumns(bytes, Float64Array.of(minTime), Float64Array.of(minTime + 9), 1);
      return { labels: Labels.from({ a: '1' }), chunks: [], raw: new RawChunkRun(cols, 0, 1) };
    };
    for (const minTimes of [
      [0, 10, 20],
      [0, 5, 20],
    ]) {
      const [merged] = mergeSorted(minTimes.map((m) => [block(m)]));
      expect(merged?.raw?.count).toBe(3);
      expect(pool.idleBytes).toBe(0);
      merged?.raw?.release();
      expect(pool.idleBytes).toBe(3 * 128 * 1024);
      // Taken again by the next reads, as the next call's would take them.
      for (let i = 0; i < 3; i++) pool.get(100_000);
      expect(pool.idleBytes).toBe(0);
    }
  });
});

describe('RawChunkRun', () => {
  const xor = (n: number, seed: number) => {
    const c = new XORChunk();
    const app = c.appender();
    for (let i = 0; i < n; i++) app.append(i * 15_000, Math.sin(seed + i) * 1e3);
    return c.bytes;
  };
  /** One batch's columns with a run of chunks [min, min + 9] per series, in the order given; each chunk's bytes in a buffer of their own. */
  const runs = (...series: number[][]) => {
    const bytes = new ReadChunks(series.flat().length);
    for (let row = 0; row < bytes.length; row++) {
      const data = xor(1 + (row % 7) * 30, row);
      bytes.buffer[row] = bytes.buffers.push(data) - 1;
      bytes.end[row] = data.length;
      bytes.encoding[row] = Encoding.XOR;
      bytes.head[row] = ((data[0] as number) << 8) | (data[1] as number);
      // Hashed as readChunks hashes what it reads.
      stage(data, 1);
      hashStaged(bytes, [row], bytes.buffer[row] as number);
    }
    const minTimes = Float64Array.from(series.flat());
    const cols = new RawChunkColumns(bytes, minTimes, minTimes.map((m) => m + 9), series.length);
    let row = 0;
    return series.map((mins) => {
      const from = row;
      for (let i = 0; i < mins.length; i++) cols.set(row++);
      return new RawChunkRun(cols, from, row);
    });
  };

  it('writes the bytes the codec writes for the same chunks as objects, hashes included', () => {
    // Times that take every int64 encoding: clamped at both ends, 10-byte negatives, short and long positives.
    const [run] = runs([-(2 ** 64), -(2 ** 40), -5, 0, 100, 2 ** 40, 2 ** 53 - 20, 2 ** 64]) as [RawChunkRun];
    const labels = Labels.from({ a: '1' }).toArray();
    const asObjects = encodeSeriesResponse({ series: { labels, chunks: run.toAggrChunks() } });
    expect(run.toAggrChunks().every((c) => c.raw !== undefined && c.raw.hash !== 0n)).toBe(true);
    expect(Buffer.from(encodeSeriesResponse({ series: { labels, chunks: [], extraChunks: run } })).equals(asObjects)).toBe(true);
  });

  it('writes the chunks of one read as the codec does across the stages and calls they take (many chunks, a chunk larger than a stage)', () => {
    // One buffer, as a read gives: records' length, encoding and CRC bytes between the chunks.
    const datas = Array.from({ length: 700 }, (_, row) => xor(row === 350 ? 30_000 : 1 + (row % 7) * 30, row));
    const buf = new Uint8Array(datas.reduce((n, d) => n + d.length + 7, 0));
    const bytes = new ReadChunks(datas.length);
    bytes.buffers.push(buf);
    let at = 0;
    datas.forEach((d, row) => {
      buf.set(d, at + 2);
      bytes.buffer[row] = 0;
      bytes.encoding[row] = Encoding.XOR;
      bytes.start[row] = at + 2;
      bytes.end[row] = at + 2 + d.length;
      bytes.head[row] = ((d[0] as number) << 8) | (d[1] as number);
      at += d.length + 7;
    });
    expect(datas[350]!.length).toBeGreaterThan(128 * 1024);
    stage(buf, datas.length);
    hashStaged(bytes, [...datas.keys()], 0);
    const minTimes = Float64Array.from(datas, (_, row) => row * 1000);
    const cols = new RawChunkColumns(bytes, minTimes, minTimes.map((m) => m + 999), 2);
    for (let row = 0; row < datas.length; row++) cols.set(row);
    const labels = Labels.from({ a: '1' }).toArray();
    for (const run of [new RawChunkRun(cols, 0, datas.length), new RawChunkRun(cols, 340, 360)]) {
      const asObjects = encodeSeriesResponse({ series: { labels, chunks: run.toAggrChunks() } });
      expect(Buffer.from(encodeSeriesResponse({ series: { labels, chunks: [], extraChunks: run } })).equals(asObjects)).toBe(true);
    }
  });

  it('joins the runs of blocks that follow one another, and interleaves overlapping ones chunk by chunk', () => {
    const [a, b, c] = runs([0, 10], [20, 30], [5, 25]) as [RawChunkRun, RawChunkRun, RawChunkRun];
    const l = Labels.from({ a: '1' });
    const [joined] = [...mergeSorted([[{ labels: l, chunks: [], raw: b }], [{ labels: l, chunks: [], raw: a }]])];
    expect(joined!.chunks).toEqual([]);
    expect(joined!.raw?.count).toBe(4);
    const frame = (s: OutSeries) => encodeSeriesResponse({ series: { labels: s.labels.toArray(), chunks: s.chunks, ...(s.raw ? { extraChunks: s.raw } : {}) } });
    expect(frame(joined!).equals(frame({ labels: l, chunks: [...a.toAggrChunks(), ...b.toAggrChunks()] }))).toBe(true);
    const [sorted] = [...mergeSorted([[{ labels: l, chunks: [], raw: a }], [{ labels: l, chunks: [], raw: c }]])];
    expect(sorted!.chunks).toEqual([]);
    const objects = [...a.toAggrChunks(), ...c.toAggrChunks()].sort((x, y) => x.minTime - y.minTime);
    expect(objects.map((x) => x.minTime)).toEqual([0, 5, 10, 25]);
    expect(frame(sorted!).equals(frame({ labels: l, chunks: objects }))).toBe(true);
  });

  it('interleaves overlapping runs as a stable sort of their chunks would', () => {
    const rnd = seededRandom(7);
    for (let k = 0; k < 200; k++) {
      // Runs overlap at random; a chunk's time range is never another run's (how such ties are ordered is left open).
      const starts = Array.from({ length: 1 + Math.floor(rnd() * 4) }, (_, run) => {
        let t = Math.floor(rnd() * 50);
        return Array.from({ length: 1 + Math.floor(rnd() * 6) }, () => 8 * (t += Math.floor(rnd() * 12)) + run);
      });
      const raws = runs(...starts);
      const l = Labels.from({ a: '1' });
      const [merged] = [...mergeSorted(raws.map((raw) => [{ labels: l, chunks: [], raw }]))];
      const objects = raws.flatMap((r) => r.toAggrChunks()).sort((x, y) => x.minTime - y.minTime || x.maxTime - y.maxTime);
      const frame = (s: OutSeries) => encodeSeriesResponse({ series: { labels: s.labels.toArray(), chunks: s.chunks, ...(s.raw ? { extraChunks: s.raw } : {}) } });
      expect(frame(merged!).equals(frame({ labels: l, chunks: objects }))).toBe(true);
    }
  });
});
