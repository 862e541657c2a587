/**
 * Native histograms, as Prometheus' model/histogram: the value types shared by the chunk codecs
 * (chunkenc/histogram.ts, chunkenc/floathistogram.ts), the histogram arithmetic (float.ts) and PromQL.
 *
 * Buckets are sparse: `spans` say which bucket indexes are populated, `buckets` hold their counts in
 * span order. A span's offset is the gap to the previous span's end (for the first span: the index of
 * its first bucket), so spans [{offset: 0, length: 2}, {offset: 1, length: 1}] cover indexes 0, 1, 3.
 *
 * With a standard schema s (−4…8) bucket i covers (base^(i−1), base^i] with base = 2^(2^−s); buckets of
 * negative values mirror that below zero; the zero bucket covers [−zeroThreshold, zeroThreshold].
 * Schema −53 (CUSTOM_BUCKETS_SCHEMA) is a histogram with custom bucket bounds (NHCB): bucket i covers
 * (customValues[i−1], customValues[i]], the last one up to +Inf; it has no zero bucket and no negative
 * buckets.
 */
import type { FloatHistogram } from './float.js';

export interface Span {
  /** Gap in bucket indexes since the previous span's end (the first span: its first index). */
  offset: number;
  length: number;
}

/** What the writer knew about a counter reset at this sample (Prometheus' histogram.CounterResetHint). */
export const CounterResetHint = {
  /** Whether it is a reset is not known: the reader decides by comparing with the previous sample. */
  Unknown: 0,
  /** A counter reset happened here. */
  CounterReset: 1,
  /** Definitely not a counter reset. */
  NotCounterReset: 2,
  /** The histogram is a gauge: resets are meaningless. */
  Gauge: 3,
} as const;
export type CounterResetHint = (typeof CounterResetHint)[keyof typeof CounterResetHint];

export const CUSTOM_BUCKETS_SCHEMA = -53;
export const EXPONENTIAL_SCHEMA_MIN = -4;
export const EXPONENTIAL_SCHEMA_MAX = 8;

/**
 * A histogram with integer counts, as scraped (Prometheus' histogram.Histogram). Bucket counts are
 * delta-encoded in span order: the first is absolute, each next one the difference to its predecessor.
 */
export interface Histogram {
  counterResetHint: CounterResetHint;
  schema: number;
  zeroThreshold: number;
  zeroCount: number;
  count: number;
  sum: number;
  positiveSpans: Span[];
  negativeSpans: Span[];
  /** Delta-encoded counts. */
  positiveBuckets: number[];
  negativeBuckets: number[];
  /** Upper bounds of the custom buckets (schema −53 only), ascending, without +Inf. */
  customValues: number[];
}

/** An integer histogram: empty, schema 0, no counter reset hint, unless `fields` says otherwise (Go's zero value). */
export function newHistogram(fields: Partial<Histogram> = {}): Histogram {
  return {
    counterResetHint: CounterResetHint.Unknown,
    schema: 0,
    zeroThreshold: 0,
    zeroCount: 0,
    count: 0,
    sum: 0,
    positiveSpans: [],
    negativeSpans: [],
    positiveBuckets: [],
    negativeBuckets: [],
    customValues: [],
    ...fields,
  };
}

/**
 * A native histogram sample at its time (ms since the epoch), with integer counts (as scraped) or float
 * counts (as a recording rule or an aggregating client writes it): kept apart, as they are stored in
 * chunks of their own encoding.
 */
export type TimedHistogram = { readonly timestamp: number; readonly histogram: Histogram } | { readonly timestamp: number; readonly floatHistogram: FloatHistogram };
