/**
 * Native histograms with float counts (Prometheus' histogram.FloatHistogram): what PromQL computes with.
 * Bucket counts are absolute (not delta-encoded), in span order. See types.ts for the bucket layout.
 */
import { CounterResetHint, type Span } from './types.js';

export interface FloatHistogramFields {
  counterResetHint?: CounterResetHint;
  schema: number;
  zeroThreshold?: number;
  zeroCount?: number;
  count: number;
  sum: number;
  positiveSpans?: Span[];
  negativeSpans?: Span[];
  positiveBuckets?: number[];
  negativeBuckets?: number[];
  customValues?: number[];
}

export class FloatHistogram {
  counterResetHint: CounterResetHint;
  schema: number;
  zeroThreshold: number;
  zeroCount: number;
  count: number;
  sum: number;
  positiveSpans: Span[];
  negativeSpans: Span[];
  /** Absolute counts, in span order. */
  positiveBuckets: number[];
  negativeBuckets: number[];
  /** Upper bounds of the custom buckets (schema −53 only), ascending, without +Inf. */
  customValues: number[];

  constructor(f: FloatHistogramFields) {
    this.counterResetHint = f.counterResetHint ?? CounterResetHint.Unknown;
    this.schema = f.schema;
    this.zeroThreshold = f.zeroThreshold ?? 0;
    this.zeroCount = f.zeroCount ?? 0;
    this.count = f.count;
    this.sum = f.sum;
    this.positiveSpans = f.positiveSpans ?? [];
    this.negativeSpans = f.negativeSpans ?? [];
    this.positiveBuckets = f.positiveBuckets ?? [];
    this.negativeBuckets = f.negativeBuckets ?? [];
    this.customValues = f.customValues ?? [];
  }
}
