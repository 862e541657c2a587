/** Native histogram series for tests: a counter (integer counts, with a reset), a float counter and a gauge. */
import { CounterResetHint, FloatHistogram, type Histogram } from '@strata/tsdb';

/** Sample i of an integer counter histogram of schema 1 whose observations spread over more buckets as it grows, reset at sample `resetAt`. */
export function counterHistogram(i: number, resetAt = 120): Histogram {
  const n = i < resetAt ? i + 1 : i - resetAt + 1;
  const spread = Math.min(6, 1 + Math.floor(n / 20));
  const buckets = Array.from({ length: spread }, (_, k) => n * (k + 1));
  const deltas = buckets.map((b, k) => (k === 0 ? b : b - (buckets[k - 1] as number)));
  const count = buckets.reduce((a, b) => a + b, 0) + n;
  return {
    counterResetHint: CounterResetHint.Unknown, schema: 1, zeroThreshold: 2 ** -128, zeroCount: n, count, sum: count * 0.37,
    positiveSpans: [{ offset: -2, length: spread }], negativeSpans: [], positiveBuckets: deltas, negativeBuckets: [], customValues: [],
  };
}

/** Sample i of a float counter histogram of schema 0 with two spans. */
export function floatCounterHistogram(i: number): FloatHistogram {
  return new FloatHistogram({
    schema: 0, zeroThreshold: 0.001, zeroCount: 0.5 * i, count: 4.5 * i + 3, sum: 10.25 * i,
    positiveSpans: [{ offset: 0, length: 2 }, { offset: 3, length: 1 }], positiveBuckets: [i, 2 * i + 1, 1.5 * i + 2],
  });
}

/** Sample i of a gauge histogram with negative buckets, going up and down. */
export function gaugeHistogram(i: number): FloatHistogram {
  const a = 5 + (i % 7);
  const b = 3 + ((i * 3) % 5);
  return new FloatHistogram({
    counterResetHint: CounterResetHint.Gauge, schema: 2, zeroThreshold: 0.01, zeroCount: 1, count: a + b + 1, sum: a * 1.3 - b * 0.8,
    positiveSpans: [{ offset: 1, length: 1 }], positiveBuckets: [a], negativeSpans: [{ offset: 0, length: 1 }], negativeBuckets: [b],
  });
}
