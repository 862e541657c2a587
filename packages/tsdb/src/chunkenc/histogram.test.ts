import { describe, expect, it } from 'vitest';
import { BitReader, BitWriter } from './bstream.js';
import { Encoding, ValueType, type ChunkMeta } from './chunk.js';
import { isStaleNaN, STALE_NAN } from './floatbits.js';
import { FloatHistogramChunk } from './floathistogram.js';
import { chunkFromBytes } from './frombytes.js';
import { cutFloatHistogramChunks, cutHistogramChunks } from './histogram-cutter.js';
import { CounterResetHeader } from './histogram-meta.js';
import { customBucketSeries, normalized, seriesSpecs, toFloatHistogram, toHistogram, type SeriesSpec } from './histogram.testdata.js';
import { HistogramChunk } from './histogram.js';
import { readVarbitInt, readVarbitUint, writeVarbitInt, writeVarbitUint } from './varbit.js';
import { CorruptionError } from '../encoding/decbuf.js';
import { histogramToFloat } from '../histogram/convert.js';
import type { FloatHistogram } from '../histogram/float.js';
import { CounterResetHint, type Histogram } from '../histogram/types.js';

const RANGE = 2 * 3600 * 1000;
const T0 = 1_700_000_000_000;

function samples<H>(spec: SeriesSpec, conv: (s: SeriesSpec['shapes'][number]) => H): { t: number; h: H }[] {
  return spec.shapes.map((s, i) => ({ t: T0 + i * 15_000 + (i % 5) * 7, h: conv(s) }));
}

/** Every sample of the chunks, normalized (bucket index → count), through chunkFromBytes as a reader gets them. */
function decodeAll(chunks: readonly ChunkMeta[], float: boolean): { ts: number[]; hs: unknown[] } {
  const ts: number[] = [];
  const hs: unknown[] = [];
  for (const c of chunks) {
    const it = chunkFromBytes(c.chunk.encoding, c.chunk.bytes.slice()).iterator();
    for (let vt = it.next(); vt !== ValueType.None; vt = it.next()) {
      ts.push(it.atT());
      hs.push(normalized(float ? it.atFloatHistogram!() : it.atHistogram!(), float));
    }
    expect(it.err()).toBeNull();
  }
  return { ts, hs };
}

describe('varbit', () => {
  it('round-trips every bucket edge, signed and unsigned, with Prometheus bit lengths', () => {
    const signed = [0, 1, -1, 4, -3, 5, -4, 32, -31, 33, 256, -255, 257, 2048, -2047, 2049, 131072, -131071, 131073, 2 ** 24, -(2 ** 24 - 1), 2 ** 24 + 1, 2 ** 40, -(2 ** 40), 2 ** 53 - 1, -(2 ** 53 - 1)];
    const unsigned = [0, 1, 7, 8, 63, 64, 511, 512, 4095, 4096, 2 ** 18 - 1, 2 ** 18, 2 ** 25 - 1, 2 ** 25, 2 ** 53 - 1];
    const w = new BitWriter();
    const lens: number[] = [];
    for (const x of signed) {
      w.reserve(16);
      const before = w.bitLength;
      writeVarbitInt(w, x);
      lens.push(w.bitLength - before);
    }
    for (const x of unsigned) {
      w.reserve(16);
      writeVarbitUint(w, x);
    }
    expect(lens).toEqual([1, 5, 5, 5, 5, 9, 9, 9, 9, 13, 13, 13, 17, 17, 17, 24, 24, 24, 32, 32, 32, 64, 64, 64, 64, 64]);
    const r = new BitReader();
    r.reset(w.bytes(), 0);
    expect(signed.map(() => readVarbitInt(r))).toEqual(signed);
    expect(unsigned.map(() => readVarbitUint(r))).toEqual(unsigned);
  });
});

describe('histogram chunks', () => {
  const specs = [...seriesSpecs(260, false), customBucketSeries(40)];

  it.each(specs.map((s) => [s.name, s] as const))('round-trip integer histograms: %s', (_name, spec) => {
    const ss = samples(spec, toHistogram);
    const chunks = cutHistogramChunks(ss, RANGE);
    for (const c of chunks) expect(c.chunk.encoding).toBe(Encoding.Histogram);
    const { ts, hs } = decodeAll(chunks, false);
    expect(ts).toEqual(ss.map((s) => s.t));
    expect(hs).toEqual(ss.map((s) => normalized(s.h, false)));
  });

  it.each(specs.map((s) => [s.name, s] as const))('round-trip float histograms: %s', (_name, spec) => {
    const ss = samples(spec, toFloatHistogram);
    const chunks = cutFloatHistogramChunks(ss, RANGE);
    for (const c of chunks) expect(c.chunk.encoding).toBe(Encoding.FloatHistogram);
    const { ts, hs } = decodeAll(chunks, true);
    expect(ts).toEqual(ss.map((s) => s.t));
    expect(hs).toEqual(ss.map((s) => normalized(s.h, true)));
  });

  it('decodes integer histograms exactly, and to absolute float counts', () => {
    const h: Histogram = {
      counterResetHint: CounterResetHint.Unknown,
      schema: 1,
      zeroThreshold: 0.001,
      zeroCount: 2,
      count: 14,
      sum: -0,
      positiveSpans: [
        { offset: -2, length: 2 },
        { offset: 3, length: 1 },
      ],
      negativeSpans: [{ offset: 0, length: 2 }],
      positiveBuckets: [3, -1, 2],
      negativeBuckets: [1, 1],
      customValues: [],
    };
    const c = new HistogramChunk();
    c.appender().append(5, h);
    const it = HistogramChunk.fromBytes(c.bytes).iterator();
    expect(it.next()).toBe(ValueType.Histogram);
    expect(it.atT()).toBe(5);
    expect(it.atHistogram()).toEqual(h);
    expect(Object.is(it.atHistogram().sum, -0)).toBe(true);
    const f = it.atFloatHistogram();
    expect(f.positiveBuckets).toEqual([3, 2, 4]);
    expect(f.negativeBuckets).toEqual([1, 2]);
    expect(f).toEqual(histogramToFloat(h));
  });

  it('asks for a new chunk on schema, zero threshold, bucket disappearance and counter reset; recodes for new buckets', () => {
    const base = (over: Partial<Histogram>): Histogram => ({
      counterResetHint: CounterResetHint.Unknown,
      schema: 0,
      zeroThreshold: 0,
      zeroCount: 1,
      count: 4,
      sum: 1,
      positiveSpans: [{ offset: 0, length: 2 }],
      negativeSpans: [],
      positiveBuckets: [1, 1],
      negativeBuckets: [],
      customValues: [],
      ...over,
    });
    const c = new HistogramChunk();
    const app = c.appender();
    app.append(0, base({}));
    expect(app.appendable(base({ schema: 1 }))).toMatchObject({ okToAppend: false, counterReset: false });
    expect(app.appendable(base({ zeroThreshold: 0.5 }))).toMatchObject({ okToAppend: false, counterReset: false });
    expect(app.appendable(base({ count: 3 }))).toMatchObject({ okToAppend: false, counterReset: true });
    expect(app.appendable(base({ zeroCount: 0, count: 4 }))).toMatchObject({ okToAppend: false, counterReset: true });
    expect(app.appendable(base({ positiveSpans: [{ offset: 1, length: 1 }], positiveBuckets: [3] }))).toMatchObject({ counterReset: true });
    expect(app.appendable(base({ positiveBuckets: [2, -2], count: 5 }))).toMatchObject({ counterReset: true });
    expect(app.appendable(base({ sum: STALE_NAN }))).toMatchObject({ okToAppend: true });
    const wider = base({ positiveSpans: [{ offset: -1, length: 3 }, { offset: 2, length: 1 }], positiveBuckets: [0, 1, 1, -1], count: 5 });
    const a = app.appendable(wider);
    expect(a).toMatchObject({ okToAppend: true, counterReset: false, positiveInserts: [{ pos: 0, num: 1 }, { pos: 2, num: 1 }] });
    expect(() => app.append(15, wider)).toThrow(/layout/);
    const recoded = app.recode(a.positiveInserts, a.negativeInserts, wider.positiveSpans, wider.negativeSpans);
    recoded.append(15, wider);
    const it = recoded.chunk.iterator();
    const got: Histogram[] = [];
    while (it.next() === ValueType.Histogram) got.push((it as ReturnType<HistogramChunk['iterator']>).atHistogram());
    // The first sample, recoded: its buckets 0 and 1 at their places, empty buckets −1 and 4 added.
    expect(histogramToFloat(got[0] as Histogram).positiveBuckets).toEqual([0, 1, 2, 0]);
    expect(got[1]).toMatchObject({ positiveBuckets: [0, 1, 1, -1], counterResetHint: CounterResetHint.NotCounterReset });
  });

  it('cuts chunks as the head does and sets the counter reset header', () => {
    const spec = seriesSpecs(200, false);
    const byName = new Map(spec.map((s) => [s.name, s]));
    const headers = (name: string): number[] => cutHistogramChunks(samples(byName.get(name) as SeriesSpec, toHistogram), RANGE).map((c) => (c.chunk as HistogramChunk).counterResetHeader());
    // The first chunk: unknown; cut by time or size afterwards: not a reset.
    expect(headers('grow')[0]).toBe(CounterResetHeader.Unknown);
    expect(headers('grow').slice(1).every((h) => h === CounterResetHeader.NotCounterReset)).toBe(true);
    expect(headers('resets')).toContain(CounterResetHeader.CounterReset);
    expect(headers('schemas')).toEqual(expect.arrayContaining([CounterResetHeader.Unknown]));
    expect(new Set(headers('gauge'))).toEqual(new Set([CounterResetHeader.Gauge]));
    // A gauge chunk's samples are gauges; a counter chunk's later samples are not resets.
    const g = cutHistogramChunks(samples(byName.get('gauge') as SeriesSpec, toHistogram), RANGE);
    const it = (g[0]?.chunk as HistogramChunk).iterator();
    it.next();
    expect(it.atHistogram().counterResetHint).toBe(CounterResetHint.Gauge);
  });

  it('keeps stale markers bit for bit, in both encodings', () => {
    const spec = seriesSpecs(60, false).find((s) => s.name === 'stale') as SeriesSpec;
    for (const float of [false, true]) {
      const chunks = float ? cutFloatHistogramChunks(samples(spec, toFloatHistogram), RANGE) : cutHistogramChunks(samples(spec, toHistogram), RANGE);
      const stale: boolean[] = [];
      for (const c of chunks) {
        const it = c.chunk.iterator();
        while (it.next() !== ValueType.None) stale.push(isStaleNaN(float ? it.atFloatHistogram!().sum : it.atHistogram!().sum));
      }
      expect(stale.map((s, i) => (s ? i : -1)).filter((i) => i >= 0)).toEqual([20, 21]);
    }
  });

  it('continues a chunk read from bytes exactly where a fresh appender would be', () => {
    for (const float of [false, true]) {
      const spec = seriesSpecs(50, float).find((s) => s.name === 'big') as SeriesSpec;
      const ss = spec.shapes.map((s, i) => ({ t: T0 + i * 1000, h: float ? toFloatHistogram(s) : toHistogram(s) }));
      const whole = float ? new FloatHistogramChunk() : new HistogramChunk();
      const wa = whole.appender();
      for (const s of ss) (wa.append as (t: number, h: Histogram | FloatHistogram) => void)(s.t, s.h);
      const part = float ? new FloatHistogramChunk() : new HistogramChunk();
      const pa = part.appender();
      for (const s of ss.slice(0, 20)) (pa.append as (t: number, h: Histogram | FloatHistogram) => void)(s.t, s.h);
      const resumed = float ? FloatHistogramChunk.fromBytes(part.bytes.slice()) : HistogramChunk.fromBytes(part.bytes.slice());
      const ra = resumed.appender();
      for (const s of ss.slice(20)) (ra.append as (t: number, h: Histogram | FloatHistogram) => void)(s.t, s.h);
      expect(Buffer.from(resumed.bytes).toString('hex')).toBe(Buffer.from(whole.bytes).toString('hex'));
    }
  });

  it('reports truncated and corrupt chunks as CorruptionError, never as garbage', () => {
    const spec = seriesSpecs(100, false)[0] as SeriesSpec;
    for (const float of [false, true]) {
      const chunks = float ? cutFloatHistogramChunks(samples(spec, toFloatHistogram), RANGE) : cutHistogramChunks(samples(spec, toHistogram), RANGE);
      const bytes = (chunks[0] as ChunkMeta).chunk.bytes;
      const total = (chunks[0] as ChunkMeta).chunk.numSamples();
      for (const cut of [1, 2, 3, 4, 10, bytes.length >> 1, bytes.length - 2]) {
        const short = bytes.slice(0, cut);
        let it;
        try {
          it = chunkFromBytes(float ? 3 : 2, short).iterator();
        } catch (e) {
          expect(e).toBeInstanceOf(CorruptionError);
          continue;
        }
        let n = 0;
        while (it.next() !== ValueType.None) n++;
        expect(n).toBeLessThan(total);
        expect(it.err(), `cut at ${cut}`).toBeInstanceOf(CorruptionError);
      }
      // Flipped bits: iteration ends (with an error or wrong values), never throws or hangs.
      let seed = 1;
      for (let round = 0; round < 300; round++) {
        const junk = bytes.slice();
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        junk[3 + (seed % (junk.length - 3))]! ^= 1 << (seed % 8);
        const it = chunkFromBytes(float ? 3 : 2, junk).iterator();
        let n = 0;
        while (it.next() !== ValueType.None) n++;
        expect(n).toBeLessThanOrEqual(total);
      }
    }
  });
});
