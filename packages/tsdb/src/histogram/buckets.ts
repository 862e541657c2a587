/**
 * The buckets of a FloatHistogram with their bounds, as Prometheus' bucket iterators yield them
 * (PositiveBucketIterator, NegativeBucketIterator, AllBucketIterator, AllReverseBucketIterator), walked
 * with a callback instead of an iterator object.
 */
import { bucketBound } from './bounds.js';
import type { FloatHistogram } from './float.js';
import { forEachIndex, forEachIndexDescending } from './spans.js';
import { CUSTOM_BUCKETS_SCHEMA } from './types.js';

export interface Bucket {
  lower: number;
  upper: number;
  lowerInclusive: boolean;
  upperInclusive: boolean;
  count: number;
  /** Index within the schema; meaningless for the zero bucket. */
  index: number;
}

/** Visits one bucket; returning false stops the walk. */
export type BucketVisitor = (bucket: Bucket) => boolean | void;

/** The bucket at `index` of the positive (or negative) side of a histogram with this schema. */
export function bucketAt(
  index: number,
  count: number,
  positive: boolean,
  schema: number,
  customValues: readonly number[],
): Bucket {
  const upper = bucketBound(index, schema, customValues);
  const below = bucketBound(index - 1, schema, customValues);
  const lower = positive ? below : -upper;
  const up = positive ? upper : -below;
  // Custom buckets are (a, b], the first one [−Inf, b]; exponential buckets include the bound farther
  // from zero.
  const custom = schema === CUSTOM_BUCKETS_SCHEMA;
  return {
    lower,
    upper: up,
    lowerInclusive: custom ? index === 0 : lower < 0,
    upperInclusive: custom ? true : up > 0,
    count,
    index,
  };
}

/** The zero bucket [−zeroThreshold, zeroThreshold]. */
export function zeroBucket(h: FloatHistogram): Bucket {
  return {
    lower: -h.zeroThreshold,
    upper: h.zeroThreshold,
    lowerInclusive: true,
    upperInclusive: true,
    count: h.zeroCount,
    index: 0,
  };
}

/** Positive buckets, from the zero bucket upwards (empty buckets included). False if stopped. */
export function forEachPositiveBucket(h: FloatHistogram, visit: BucketVisitor): boolean {
  return forEachIndex(h.positiveSpans, h.positiveBuckets, (i, c) =>
    visit(bucketAt(i, c, true, h.schema, h.customValues)),
  );
}

/** Negative buckets, from the zero bucket downwards (empty buckets included). False if stopped. */
export function forEachNegativeBucket(h: FloatHistogram, visit: BucketVisitor): boolean {
  return forEachIndex(h.negativeSpans, h.negativeBuckets, (i, c) =>
    visit(bucketAt(i, c, false, h.schema, h.customValues)),
  );
}

/**
 * All buckets in ascending order of their bounds: negative ones, the zero bucket (only when populated),
 * positive ones. Bounds of buckets reaching into the zero bucket are cut at the zero threshold.
 * False if stopped.
 */
export function forEachBucket(h: FloatHistogram, visit: BucketVisitor): boolean {
  const clamped = (b: Bucket): boolean | void => visit(clampToZeroBucket(b, h.zeroThreshold));
  if (!forEachIndexDescending(h.negativeSpans, h.negativeBuckets, (i, c) => clamped(bucketAt(i, c, false, h.schema, h.customValues)))) {
    return false;
  }
  if (h.zeroCount > 0 && visit(zeroBucket(h)) === false) return false;
  return forEachIndex(h.positiveSpans, h.positiveBuckets, (i, c) => clamped(bucketAt(i, c, true, h.schema, h.customValues)));
}

/** All buckets in descending order of their bounds (the reverse of forEachBucket). False if stopped. */
export function forEachBucketDescending(h: FloatHistogram, visit: BucketVisitor): boolean {
  const clamped = (b: Bucket): boolean | void => visit(clampToZeroBucket(b, h.zeroThreshold));
  if (!forEachIndexDescending(h.positiveSpans, h.positiveBuckets, (i, c) => clamped(bucketAt(i, c, true, h.schema, h.customValues)))) {
    return false;
  }
  if (h.zeroCount > 0 && visit(zeroBucket(h)) === false) return false;
  return forEachIndex(h.negativeSpans, h.negativeBuckets, (i, c) => clamped(bucketAt(i, c, false, h.schema, h.customValues)));
}

/** A bucket overlapping the zero bucket starts (or ends) at its threshold instead. */
function clampToZeroBucket(b: Bucket, zeroThreshold: number): Bucket {
  if (b.upper < 0 && b.upper > -zeroThreshold) b.upper = -zeroThreshold;
  else if (b.lower > 0 && b.lower < zeroThreshold) b.lower = zeroThreshold;
  return b;
}
