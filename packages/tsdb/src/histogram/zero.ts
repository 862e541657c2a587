/**
 * Widening the zero bucket, as Prometheus does to add, subtract or compare histograms whose zero
 * thresholds differ: the buckets inside the wider zero bucket are merged into it.
 */
import { forEachNegativeBucket, forEachPositiveBucket } from './buckets.js';
import type { FloatHistogram } from './float.js';
import { compactLayout } from './spans.js';

/**
 * What the zero count of `h` would be with the zero threshold widened to `largerThreshold` (≥ h's). A
 * threshold inside a populated bucket is moved up to that bucket's upper bound (in absolute value), so
 * the bucket goes into the zero bucket entirely; the threshold used is returned too.
 */
export function zeroCountForLargerThreshold(
  h: FloatHistogram,
  largerThreshold: number,
): { count: number; threshold: number } {
  if (largerThreshold === h.zeroThreshold) return { count: h.zeroCount, threshold: largerThreshold };
  if (largerThreshold < h.zeroThreshold) {
    throw new RangeError(`new threshold ${largerThreshold} is less than old threshold ${h.zeroThreshold}`);
  }
  let threshold = largerThreshold;
  for (;;) {
    let count = h.zeroCount;
    forEachPositiveBucket(h, (b) => {
      if (b.lower >= threshold) return false;
      count += b.count;
      if (b.upper > threshold) {
        if (b.count !== 0) threshold = b.upper;
        return false;
      }
      return true;
    });
    // A negative bucket straddling the threshold moves it outwards, which invalidates the positive
    // side's result: start over with the new threshold.
    let moved = false;
    forEachNegativeBucket(h, (b) => {
      if (b.upper <= -threshold) return false;
      count += b.count;
      if (b.lower < -threshold) {
        if (b.count !== 0) {
          threshold = -b.lower;
          moved = true;
        }
        return false;
      }
      return true;
    });
    if (!moved) return { count, threshold };
  }
}

/**
 * Drops the buckets inside the zero bucket, whose counts the zero count already includes (the zero
 * threshold being on a bucket boundary).
 */
function trimBucketsInZeroBucket(h: FloatHistogram): void {
  let i = 0;
  forEachPositiveBucket(h, (b) => {
    if (b.lower >= h.zeroThreshold) return false;
    h.positiveBuckets[i++] = 0;
    return true;
  });
  i = 0;
  forEachNegativeBucket(h, (b) => {
    if (b.upper <= -h.zeroThreshold) return false;
    h.negativeBuckets[i++] = 0;
    return true;
  });
  // As Prometheus does, compaction removes the buckets just emptied (and any other empty ones).
  const pos = compactLayout(h.positiveSpans, h.positiveBuckets, 0);
  const neg = compactLayout(h.negativeSpans, h.negativeBuckets, 0);
  h.positiveSpans = pos.spans;
  h.positiveBuckets = pos.buckets;
  h.negativeSpans = neg.spans;
  h.negativeBuckets = neg.buckets;
}

/**
 * Widens the zero bucket of `h` and the one `other` would have to a common threshold that is on a
 * bucket boundary of both. `h` is changed; `other` is not: its zero count at that threshold is returned.
 */
export function reconcileZeroBuckets(h: FloatHistogram, other: FloatHistogram): number {
  let otherZeroCount = other.zeroCount;
  let otherThreshold = other.zeroThreshold;
  while (otherThreshold !== h.zeroThreshold) {
    if (h.zeroThreshold > otherThreshold) {
      ({ count: otherZeroCount, threshold: otherThreshold } = zeroCountForLargerThreshold(other, h.zeroThreshold));
    }
    if (otherThreshold > h.zeroThreshold) {
      ({ count: h.zeroCount, threshold: h.zeroThreshold } = zeroCountForLargerThreshold(h, otherThreshold));
      trimBucketsInZeroBucket(h);
    }
  }
  return otherZeroCount;
}
