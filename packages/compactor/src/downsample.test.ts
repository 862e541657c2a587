import {
  AggrChunk, AggrType, chunkFromBytes, CounterResetHeader, CounterResetHint, CounterResetsIterator, encodeChunkRecord, Encoding, FloatHistogram, ValueType, XORChunk,
  type Chunk, type ChunkMeta, type ChunkRecord, type FloatHistogramChunk, type SampleIterator,
} from '@strata/tsdb';
import { describe, expect, it } from 'vitest';
import { RecordBuffer } from './aggr-record.js';
import { downsampleAggr, downsampleRaw, downsampleRawHistograms, HistogramSamples, RES_1H, RES_5M, SampleBuffer, windowEnd } from './downsample.js';
import { lengthFieldSize } from './records.js';

function decode(c: Chunk | undefined): [number, number][] {
  const out: [number, number][] = [];
  if (c === undefined) return out;
  const it = c.iterator();
  while (it.next() === ValueType.Float) out.push([it.atT(), it.atFloat()]);
  return out;
}

/** Two days of a counter scraped every 15s (with jitter and a gap), reset twice. */
function rawCounter(): SampleBuffer {
  const b = new SampleBuffer();
  let v = 0;
  for (let t = 1_000, i = 0; t < 48 * RES_1H; t += 15_000, i++) {
    if (t > 7 * RES_1H && t < 7.5 * RES_1H) continue;
    v = i === 3000 || i === 7777 ? 1 : v + (i % 13);
    b.push(t + (i % 3) * 100, v);
  }
  return b;
}

/** The chunk of a segment record (copied: downsampleRaw reuses its buffer). */
function fromRecord(r: ChunkRecord): ChunkMeta {
  const at = lengthFieldSize(r.record);
  return { minTime: r.minTime, maxTime: r.maxTime, chunk: chunkFromBytes(r.record[at]!, r.record.slice(at + 1, r.record.length - 4)) };
}

describe('downsampling', () => {
  const raw = rawCounter();
  const samples: [number, number][] = Array.from({ length: raw.n }, (_, i) => [raw.ts[i]!, raw.vs[i]!]);
  const five = downsampleRaw(raw, RES_5M, new RecordBuffer()).map(fromRecord);
  const hour = downsampleAggr(five.map((c) => c.chunk as AggrChunk), five[0]!.minTime, five[five.length - 1]!.maxTime, RES_5M, RES_1H);

  for (const [name, res, chunks] of [['raw → 5m', RES_5M, five], ['5m → 1h', RES_1H, hour]] as const) {
    it(`${name}: count, sum, min and max are those of the raw samples in each window`, () => {
      let points = 0;
      for (const c of chunks) {
        const a = c.chunk as AggrChunk;
        const [count, sum, min, max] = [AggrType.Count, AggrType.Sum, AggrType.Min, AggrType.Max].map((t) => decode(a.get(t)));
        for (let i = 0; i < count!.length; i++) {
          const t = count![i]![0];
          const w = samples.filter(([ts]) => ts >= t - (t % res) && ts <= t).map(([, v]) => v);
          expect(count![i]![1]).toBe(w.length);
          expect(sum![i]![1]).toBe(w.reduce((x, y) => x + y, 0));
          expect(min![i]![1]).toBe(Math.min(...w));
          expect(max![i]![1]).toBe(Math.max(...w));
          points++;
        }
        expect(c.minTime).toBe(count![0]![0]);
        expect(c.maxTime).toBe(count![count!.length - 1]![0]);
      }
      // Every window with samples is represented: 48h minus the 30-minute gap.
      expect(points).toBe(res === RES_5M ? 48 * 12 - 6 : 48);
      for (let i = 1; i < chunks.length; i++) expect(chunks[i]!.minTime).toBeGreaterThan(chunks[i - 1]!.maxTime);
    });

    it(`${name}: the counter, resets folded in, matches the raw counter at every stamp`, () => {
      const folded: [number, number][] = [];
      let total = 0;
      samples.forEach(([t, v], i) => {
        total = i === 0 ? v : total + (v < samples[i - 1]![1] ? v : v - samples[i - 1]![1]);
        folded.push([t, total]);
      });
      const it = new CounterResetsIterator(chunks.map((c) => (c.chunk as AggrChunk).get(AggrType.Counter)!));
      let k = 0;
      let n = 0;
      while (it.next() === ValueType.Float) {
        while (k < folded.length - 1 && folded[k + 1]![0] <= it.atT()) k++;
        expect(it.atFloat()).toBe(folded[k]![1]);
        n++;
      }
      expect(n).toBeGreaterThan(res === RES_5M ? 500 : 40);
      expect(it.lastRawValue).toBe(samples[samples.length - 1]![1]);
      // Each chunk's counter starts with a true raw value.
      for (const c of chunks) expect(samples.some(([, v]) => v === decode((c.chunk as AggrChunk).get(AggrType.Counter))[0]![1])).toBe(true);
    });
  }
});

/**
 * Thanos' DownsampleRaw written plainly, one sample and one appender call at a time: batches of
 * n / chunks + 1 samples extended to their last window's end; per window count, sum, min, max and the
 * batch's counter, stamped at the window end (the batch's last sample time for its last window).
 */
function referenceRaw(ts: readonly number[], vs: readonly number[], res: number): Uint8Array[] {
  const n = ts.length;
  // Thanos' targetChunkCount: at most about 140 points a chunk, assuming a sample a minute.
  const span = ts[n - 1]! - ts[0]!;
  const expected = Math.trunc(Math.trunc(span / res) * Math.min(1, span === 0 ? 1 : n / (span / 60_000))) + 1;
  let numChunks = 1;
  while (Math.trunc(expected / numChunks) > 140) numChunks++;
  const batchSize = Math.trunc(n / numChunks) + 1;
  const out: Uint8Array[] = [];
  for (let from = 0; from < n; ) {
    let to = Math.min(from + batchSize, n);
    while (to < n && ts[to]! <= windowEnd(ts[to - 1]!, res)) to++;
    const parts = [0, 1, 2, 3, 4].map(() => new XORChunk());
    const apps = parts.map((c) => c.appender());
    apps[4]!.append(ts[from]!, vs[from]!);
    let counter = vs[from]!;
    for (let i = from; i < to; ) {
      const end = windowEnd(ts[i]!, res);
      const w: number[] = [];
      for (; i < to && ts[i]! <= end; i++) {
        if (i > from) counter += vs[i]! < vs[i - 1]! ? vs[i]! : vs[i]! - vs[i - 1]!;
        w.push(vs[i]!);
      }
      const stamp = Math.min(end, ts[to - 1]!);
      const values = [w.length, w.reduce((a, b) => a + b, 0), Math.min(Number.MAX_VALUE, ...w), Math.max(-Number.MAX_VALUE, ...w), counter];
      values.forEach((v, k) => apps[k]!.append(stamp, v));
    }
    apps[4]!.append(ts[to - 1]!, vs[to - 1]!);
    out.push(encodeChunkRecord(AggrChunk.encode([parts[0], parts[1], parts[2], parts[3], parts[4]])));
    from = to;
  }
  return out;
}

describe('downsampleRaw', () => {
  it('writes the records of the plain algorithm byte for byte: gaps, resets, negative timestamps, several chunks', () => {
    let seed = 7;
    const rnd = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
    for (const [start, count, step] of [
      [0, 50, 60_000],
      [-7 * RES_1H - 1, 4000, 15_000],
      [1_700_000_000_000, 2000, 60_000],
      [1_700_000_000_123, 9000, 10_000],
      [-1, 3, 1],
    ] as const) {
      const b = new SampleBuffer();
      let t = start;
      let v = 100;
      for (let i = 0; i < count; i++) {
        b.push(t, v);
        t += rnd() < 0.01 ? step * 40 : step + Math.floor(rnd() * 3);
        v = rnd() < 0.005 ? rnd() : Math.round((v + rnd() * 5) * 100) / 100;
      }
      const got = downsampleRaw(b, RES_5M, new RecordBuffer());
      const ts = Array.from(b.ts.subarray(0, b.n));
      const want = referenceRaw(ts, Array.from(b.vs.subarray(0, b.n)), RES_5M);
      expect(got.map((r) => Buffer.from(r.record).toString('hex'))).toEqual(want.map((r) => Buffer.from(r).toString('hex')));
      if (count > 2000) expect(got.length).toBeGreaterThan(1);
    }
  });
});

describe('downsampling native histograms', () => {
  /** A histogram whose count is c: buckets 1 and 2 of schema 0 with c − ⌊c/2⌋ and ⌊c/2⌋. */
  const hist = (c: number, hint: CounterResetHint = CounterResetHint.Unknown): FloatHistogram =>
    new FloatHistogram({ counterResetHint: hint, schema: 0, count: c, sum: 2 * c, positiveSpans: [{ offset: 1, length: 2 }], positiveBuckets: [c - Math.floor(c / 2), Math.floor(c / 2)] });
  /** Two days of a counter histogram every 15s, reset twice, with a gap. */
  function rawHistograms(hint?: CounterResetHint): HistogramSamples {
    const s = new HistogramSamples();
    let v = 0;
    for (let t = 1_000, i = 0; t < 48 * RES_1H; t += 15_000, i++) {
      if (t > 7 * RES_1H && t < 7.5 * RES_1H) continue;
      v = i === 3000 || i === 7777 ? 1 : v + (i % 5);
      s.ts.push(t);
      s.hs.push(hist(v, hint));
    }
    return s;
  }
  const points = (c: Chunk | undefined): [number, FloatHistogram][] => {
    const out: [number, FloatHistogram][] = [];
    const it = c!.iterator() as Required<SampleIterator>;
    while (it.next() !== ValueType.None) out.push([it.atT(), it.atFloatHistogram().copy()]);
    return out;
  };
  const raw = rawHistograms();
  const five = downsampleRawHistograms(raw, RES_5M);
  const hour = downsampleAggr(five.map((c) => c.chunk as AggrChunk), five[0]!.minTime, five[five.length - 1]!.maxTime, RES_5M, RES_1H);

  it('raw → 5m: count (XOR), sum and counter (float histograms), no min or max', () => {
    let prevMax = Number.NEGATIVE_INFINITY;
    for (const c of five) {
      const a = c.chunk as AggrChunk;
      expect(a.isHistogram()).toBe(true);
      expect([a.get(AggrType.Min), a.get(AggrType.Max)]).toEqual([undefined, undefined]);
      expect(a.get(AggrType.Count)!.encoding).toBe(Encoding.XOR);
      expect(a.get(AggrType.Sum)!.encoding).toBe(Encoding.FloatHistogram);
      const count = decode(a.get(AggrType.Count));
      const sum = points(a.get(AggrType.Sum));
      const counter = points(a.get(AggrType.Counter));
      expect(sum.map(([t]) => t)).toEqual(count.map(([t]) => t));
      expect(counter.map(([t]) => t)).toEqual(count.map(([t]) => t));
      // The counter restarts at each chunk's first raw histogram and adds increases, a reset's whole value.
      let ctr = 0;
      let last: number | undefined;
      for (let i = 0; i < count.length; i++) {
        const t = count[i]![0];
        const from = Math.max(t - (t % RES_5M), prevMax + 1);
        const w = raw.ts.flatMap((ts, k) => (ts >= from && ts <= t ? [raw.hs[k]!.count] : []));
        expect(count[i]![1]).toBe(w.length);
        expect(sum[i]![1].count).toBe(w.reduce((x, y) => x + y, 0));
        expect(sum[i]![1].positiveBuckets.reduce((x, y) => x + y, 0)).toBe(sum[i]![1].count);
        for (const v of w) {
          ctr = last === undefined ? v : ctr + (v < last ? v : v - last);
          last = v;
        }
        expect(counter[i]![1].count).toBe(ctr);
      }
      expect((a.get(AggrType.Sum) as FloatHistogramChunk).counterResetHeader()).toBe(CounterResetHeader.Gauge);
      expect((a.get(AggrType.Counter) as FloatHistogramChunk).counterResetHeader()).toBe(CounterResetHeader.Unknown);
      prevMax = c.maxTime;
    }
  });

  it('5m → 1h: counts and sums summed per hour, the counter rebuilt and never going down within a chunk', () => {
    let windows = 0;
    for (const c of hour) {
      const a = c.chunk as AggrChunk;
      const count = decode(a.get(AggrType.Count));
      const sum = points(a.get(AggrType.Sum));
      const counter = points(a.get(AggrType.Counter));
      for (let i = 0; i < count.length; i++) {
        const t = count[i]![0];
        const w = raw.ts.flatMap((ts, k) => (ts >= t - (t % RES_1H) && ts <= t ? [raw.hs[k]!.count] : []));
        expect(count[i]![1]).toBe(w.length);
        expect(sum[i]![1].count).toBe(w.reduce((x, y) => x + y, 0));
        if (i > 0) expect(counter[i]![1].count).toBeGreaterThanOrEqual(counter[i - 1]![1].count);
        windows++;
      }
    }
    expect(windows).toBe(48);
  });

  it('a zero threshold change within a batch cuts the aggregate chunk there, keeping every window', () => {
    // 12h every 15s: the threshold widens at 5h (as client_golang widens it to limit buckets) and
    // narrows again at 9h (a reset of the zero bucket, which Prometheus takes for a counter reset).
    const s = new HistogramSamples();
    for (let t = 1_000, i = 0; t < 12 * RES_1H; t += 15_000, i++) {
      const h = hist(i + 10);
      h.zeroThreshold = t < 5 * RES_1H || t >= 9 * RES_1H ? 1e-3 : 0.5;
      s.ts.push(t);
      s.hs.push(h);
    }
    const five = downsampleRawHistograms(s, RES_5M);
    const hourly = downsampleAggr(five.map((c) => c.chunk as AggrChunk), five[0]!.minTime, five[five.length - 1]!.maxTime, RES_5M, RES_1H);
    for (const [res, chunks] of [[RES_5M, five], [RES_1H, hourly]] as const) {
      const windows: [number, number, number][] = [];
      for (const [k, c] of chunks.entries()) {
        if (k > 0) expect(c.minTime).toBeGreaterThan(chunks[k - 1]!.maxTime);
        const a = c.chunk as AggrChunk;
        const sum = points(a.get(AggrType.Sum));
        const counter = points(a.get(AggrType.Counter));
        expect(new Set(sum.map(([, h]) => h.zeroThreshold)).size).toBe(1);
        decode(a.get(AggrType.Count)).forEach(([t, n], i) => windows.push([t, n, sum[i]![1].count]));
        for (let i = 1; i < counter.length; i++) expect(counter[i]![1].count).toBeGreaterThanOrEqual(counter[i - 1]![1].count);
      }
      expect(windows).toHaveLength(12 * (RES_1H / res));
      for (const [t, n, total] of windows) {
        const w = s.ts.flatMap((ts, k) => (ts > t - res && ts <= t ? [s.hs[k]!.count] : []));
        expect([n, total]).toEqual([w.length, w.reduce((x, y) => x + y, 0)]);
      }
    }
    // Each change cut the batch it fell in: more chunks than the batches alone make.
    const unchanged = new HistogramSamples();
    unchanged.ts = s.ts;
    unchanged.hs = s.ts.map((_, i) => hist(i + 10));
    expect(five.length).toBeGreaterThan(downsampleRawHistograms(unchanged, RES_5M).length);
  });

  it('gauge histograms: sum and counter chunks are gauges', () => {
    for (const c of downsampleRawHistograms(rawHistograms(CounterResetHint.Gauge), RES_5M)) {
      const a = c.chunk as AggrChunk;
      expect((a.get(AggrType.Counter) as FloatHistogramChunk).counterResetHeader()).toBe(CounterResetHeader.Gauge);
      expect((a.get(AggrType.Sum) as FloatHistogramChunk).counterResetHeader()).toBe(CounterResetHeader.Gauge);
    }
  });
});
