/**
 * Histogram series of many shapes for the codec tests: built from absolute bucket counts by index, so
 * that counts are consistent (count = zero count + all buckets) and layouts can grow, shrink and jump.
 */
import { floatHi, floatLo, STALE_NAN } from './floatbits.js';
import { histogramToFloat } from '../histogram/convert.js';
import type { FloatHistogram } from '../histogram/float.js';
import { CounterResetHint, CUSTOM_BUCKETS_SCHEMA, type Histogram, type Span } from '../histogram/types.js';

export interface Shape {
  schema: number;
  zeroThreshold: number;
  zeroCount: number;
  sum: number;
  hint: CounterResetHint;
  /** Absolute counts by bucket index. */
  positive: Map<number, number>;
  negative: Map<number, number>;
  customValues: number[];
}

export function spansOf(indexes: readonly number[]): Span[] {
  const spans: Span[] = [];
  let prev = 0;
  for (const i of indexes) {
    const last = spans[spans.length - 1];
    if (last !== undefined && i === prev + 1) last.length++;
    else spans.push({ offset: last === undefined ? i : i - prev - 1, length: 1 });
    prev = i;
  }
  return spans;
}

function sorted(m: Map<number, number>): [number[], number[]] {
  const idx = [...m.keys()].sort((a, b) => a - b);
  return [idx, idx.map((i) => m.get(i) as number)];
}

function deltas(abs: readonly number[]): number[] {
  return abs.map((v, i) => (i === 0 ? v : v - (abs[i - 1] as number)));
}

const total = (m: Map<number, number>): number => [...m.values()].reduce((a, b) => a + b, 0);

export function toHistogram(s: Shape): Histogram {
  const [pi, pc] = sorted(s.positive);
  const [ni, nc] = sorted(s.negative);
  return {
    counterResetHint: s.hint,
    schema: s.schema,
    zeroThreshold: s.zeroThreshold,
    zeroCount: s.zeroCount,
    count: s.zeroCount + total(s.positive) + total(s.negative),
    sum: s.sum,
    positiveSpans: spansOf(pi),
    negativeSpans: spansOf(ni),
    positiveBuckets: deltas(pc),
    negativeBuckets: deltas(nc),
    customValues: s.customValues,
  };
}

/** The same shape with float counts: the integer histogram's buckets made absolute (exact for the shapes' counts). */
export function toFloatHistogram(s: Shape): FloatHistogram {
  return histogramToFloat(toHistogram(s));
}

/** A deterministic pseudo-random generator (LCG) in [0, 1). */
export function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

export interface SeriesSpec {
  name: string;
  /** Integer counts (false: fractional counts, for float histograms). */
  shapes: Shape[];
}

/**
 * Series of `n` samples each exercising one feature: growing layouts (recoding), counter resets, schema
 * and zero threshold changes, large counts (the wide varbit forms), gauges whose buckets come and go,
 * stale markers, a vanishing bucket, custom buckets. `fraction` scales increments to non-integers.
 */
export function seriesSpecs(n: number, fraction: boolean): SeriesSpec[] {
  const r = rng(fraction ? 7 : 3);
  const inc = (max: number): number => (fraction ? Math.round(r() * max * 1000) / 8 : Math.floor(r() * max));
  const make = (name: string, step: (i: number, prev: Shape | undefined) => Shape): SeriesSpec => {
    const shapes: Shape[] = [];
    for (let i = 0; i < n; i++) shapes.push(step(i, shapes[i - 1]));
    return { name, shapes };
  };
  const base = (schema = 3, zeroThreshold = 2 ** -128): Shape => ({
    schema,
    zeroThreshold,
    zeroCount: 0,
    sum: 0,
    hint: CounterResetHint.Unknown,
    positive: new Map(),
    negative: new Map(),
    customValues: [],
  });
  const grow = (p: Shape, maxInc: number, newIdx: number[] = [], newNeg: number[] = []): Shape => {
    const s: Shape = { ...p, positive: new Map(p.positive), negative: new Map(p.negative) };
    for (const [k, v] of s.positive) s.positive.set(k, v + inc(maxInc));
    for (const [k, v] of s.negative) s.negative.set(k, v + inc(maxInc));
    for (const k of newIdx) if (!s.positive.has(k)) s.positive.set(k, inc(maxInc) + 1);
    for (const k of newNeg) if (!s.negative.has(k)) s.negative.set(k, inc(maxInc) + 1);
    s.zeroCount = p.zeroCount + inc(maxInc);
    s.sum = p.sum + r() * 100 - 20;
    return s;
  };
  return [
    make('grow', (i, p) => {
      if (p === undefined) {
        const s = base(3);
        s.positive.set(0, 1);
        s.positive.set(1, 2);
        s.positive.set(5, 1);
        s.negative.set(-2, 3);
        return s;
      }
      // Every 17th sample a new bucket somewhere: before, between and after the others.
      return grow(p, 5, i % 17 === 0 ? [((i * 7) % 40) - 10] : [], i % 23 === 0 ? [(i * 3) % 11] : []);
    }),
    make('resets', (i, p) => {
      if (p === undefined || i % 70 === 0) {
        const s = base(0);
        s.positive.set(-3, 1);
        s.positive.set(2, 4);
        if (p !== undefined) s.sum = p.sum; // same sum, lower counts
        return s;
      }
      // A decrease in one bucket only (with a higher total) at sample 35 of each 70.
      const s = grow(p, 3);
      if (i % 70 === 35) {
        s.positive.set(-3, 0);
        s.zeroCount += 1000;
      }
      return s;
    }),
    make('schemas', (i, p) => {
      if (p === undefined || i === Math.floor(n / 3) || i === Math.floor((2 * n) / 3)) {
        const s = i < n / 3 ? base(2) : i < (2 * n) / 3 ? base(-1) : base(8, 0.001);
        // Counts above the previous ones: the chunk is cut for the layout change, not as a reset.
        s.positive.set(10, 1e6 * (i + 1));
        s.positive.set(12, 1);
        s.zeroCount = p?.zeroCount ?? 0;
        return s;
      }
      return grow(p, 4);
    }),
    make('big', (_i, p) => {
      if (p === undefined) {
        const s = base(1, 2 ** 10);
        s.positive.set(100, 2 ** 20);
        s.positive.set(101, 3);
        s.negative.set(0, 2 ** 40);
        s.zeroCount = 2 ** 33;
        return s;
      }
      const s = grow(p, 50000);
      s.positive.set(101, (s.positive.get(101) as number) + Math.floor(r() * 2 ** 24));
      s.negative.set(0, (s.negative.get(0) as number) + Math.floor(r() * 2 ** 35));
      return s;
    }),
    make('gauge', (i) => {
      const s = base(2, 0);
      s.hint = CounterResetHint.Gauge;
      // Buckets come and go; counts go up and down.
      for (let k = -4; k < 8; k++) if (r() < 0.5 || k === i % 12) s.positive.set(k, inc(20));
      if (i % 5 === 0) s.negative.set(i % 3, inc(9));
      s.zeroCount = inc(7);
      s.sum = r() * 50 - 25;
      return s;
    }),
    make('stale', (i, p) => {
      if (p === undefined) {
        const s = base(4);
        s.positive.set(3, 1);
        return s;
      }
      if (i % 50 === 20 || i % 50 === 21) return { ...p, sum: STALE_NAN };
      const prev = Number.isNaN(p.sum) ? { ...p, sum: 1 } : p;
      return grow(prev, 3, i % 9 === 0 ? [i % 13] : []);
    }),
    make('vanish', (i, p) => {
      if (p === undefined) {
        const s = base(1);
        for (let k = 0; k < 6; k++) s.positive.set(k * 2, 1);
        return s;
      }
      const s = grow(p, 3);
      if (i % 40 === 0) s.positive.delete([...s.positive.keys()][0] as number);
      if (s.positive.size < 2) s.positive.set(i, 1);
      return s;
    }),
    make('hints', (i, p) => {
      const s = p === undefined ? base(0) : grow(p, 2);
      if (p === undefined) s.positive.set(1, 1);
      s.hint = i % 45 === 44 ? CounterResetHint.CounterReset : i % 3 === 0 ? CounterResetHint.NotCounterReset : CounterResetHint.Unknown;
      return s;
    }),
  ];
}

/** The custom-bucket (schema −53) series; Prometheus 2.42 cannot ingest it. */
export function customBucketSeries(n: number): SeriesSpec {
  const shapes: Shape[] = [];
  for (let i = 0; i < n; i++) {
    const positive = new Map<number, number>();
    for (let k = 0; k < 5; k++) positive.set(k, i * (k + 1));
    shapes.push({
      schema: CUSTOM_BUCKETS_SCHEMA,
      zeroThreshold: 0,
      zeroCount: 0,
      sum: i * 1.5,
      hint: CounterResetHint.Unknown,
      positive,
      negative: new Map(),
      customValues: i < n / 2 ? [0.005, 0.1, 1, 2.5] : [-1, 0.1234567, 33554.43, 1e9],
    });
  }
  return { name: 'custom', shapes };
}

/** The bits of a float as hex, to compare NaN payloads. */
export const bitsOf = (v: number): string => floatHi(v).toString(16).padStart(8, '0') + floatLo(v).toString(16).padStart(8, '0');

/** A histogram as bucket index → absolute count (zeros left out: recoding adds empty buckets). */
export function normalized(h: Histogram | FloatHistogram, float: boolean): unknown {
  const f = float ? (h as FloatHistogram) : histogramToFloat(h as Histogram);
  const buckets = (spans: readonly Span[], counts: readonly number[]): string[] => {
    const out: string[] = [];
    let idx = 0;
    let k = 0;
    for (const s of spans) {
      idx += s.offset;
      for (let j = 0; j < s.length; j++, idx++, k++) if (counts[k] !== 0) out.push(`${idx}:${counts[k]}`);
    }
    return out;
  };
  if (bitsOf(f.sum) === '7ff0000000000002') return { stale: true };
  return {
    schema: f.schema,
    zeroThreshold: f.zeroThreshold,
    zeroCount: f.zeroCount,
    count: f.count,
    sum: bitsOf(f.sum),
    positive: buckets(f.positiveSpans, f.positiveBuckets),
    negative: buckets(f.negativeSpans, f.negativeBuckets),
  };
}

