/**
 * From integer histograms (delta-encoded buckets) to float histograms (absolute counts), as
 * Prometheus' Histogram.ToFloat.
 */
import { FloatHistogram } from './float.js';
import { CUSTOM_BUCKETS_SCHEMA, type Histogram } from './types.js';

/** Absolute counts from delta-encoded ones (the first absolute, each next the change to its predecessor). */
export function absoluteCounts(deltas: readonly number[]): number[] {
  const out = new Array<number>(deltas.length);
  let v = 0;
  for (let i = 0; i < deltas.length; i++) {
    v += deltas[i] as number;
    out[i] = v;
  }
  return out;
}

/** `h` as a FloatHistogram with absolute counts; spans are copied, custom values shared. */
export function histogramToFloat(h: Histogram): FloatHistogram {
  return new FloatHistogram({
    counterResetHint: h.counterResetHint,
    schema: h.schema,
    zeroThreshold: h.zeroThreshold,
    zeroCount: h.zeroCount,
    count: h.count,
    sum: h.sum,
    positiveSpans: h.positiveSpans.map((s) => ({ ...s })),
    negativeSpans: h.negativeSpans.map((s) => ({ ...s })),
    positiveBuckets: absoluteCounts(h.positiveBuckets),
    negativeBuckets: absoluteCounts(h.negativeBuckets),
    customValues: h.schema === CUSTOM_BUCKETS_SCHEMA ? h.customValues : [],
  });
}
