/**
 * The math of histogram_quantile, histogram_fraction, histogram_stddev, histogram_stdvar and
 * histogram_avg over one native histogram, as Prometheus 3.x computes them (promql/quantile.go,
 * functions.go): exponential interpolation within exponential buckets, linear within the zero bucket
 * and custom buckets.
 */
import { forEachBucket, forEachBucketDescending, type Bucket, type FloatHistogram } from '@strata/tsdb';
import { kahanC, kahanSumInc } from './kahan.js';

/**
 * The q-quantile of the observations: NaN without observations or for q NaN, −Inf for q < 0, +Inf for
 * q > 1. The rank is found from below for q < 0.5 and from above otherwise (from below whenever the sum
 * is NaN: NaN observations are counted but in no bucket). `nanObservations` hears how NaN observations
 * affected the result: they made it NaN (the rank lies among them) or skewed it higher.
 */
export function histogramQuantile(q: number, h: FloatHistogram, nanObservations?: (effect: 'nan' | 'skewed') => void): number {
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  if (h.count === 0 || Number.isNaN(q)) return NaN;

  const forward = Number.isNaN(h.sum) || q < 0.5;
  let rank = forward ? q * h.count : (1 - q) * h.count;
  let count = 0;
  let found: Bucket | undefined;
  const visit = (b: Bucket): boolean => {
    if (b.count === 0) return true;
    found = b;
    count += b.count;
    return count < rank;
  };
  if (forward) forEachBucket(h, visit);
  else forEachBucketDescending(h, visit);
  // Every bucket empty: Prometheus interpolates in its zero-valued bucket, which gives NaN.
  const bucket = found ?? emptyBucket();

  const custom = h.usesCustomBuckets();
  if (!custom) {
    if (bucket.lower < 0 && bucket.upper > 0) assumeZeroBound(bucket, h);
  } else if (bucket.lower === -Infinity) {
    // The first custom bucket: 0 is its natural lower bound unless it lies entirely below zero.
    if (bucket.upper <= 0) return bucket.upper;
    bucket.lower = 0;
  } else if (bucket.upper === Infinity) {
    return bucket.lower;
  }
  // Rounding can make the buckets add up to more than the count.
  if (count > h.count) count = h.count;
  if (count < rank) {
    // The rank lies among NaN observations (counted, in no bucket).
    if (Number.isNaN(h.sum)) {
      nanObservations?.('nan');
      return NaN;
    }
    // Rounding only: the highest bound is the best estimate.
    return bucket.upper;
  }
  // A NaN sum may also come from observing both infinities; NaN observations show as buckets short of the count.
  if (Number.isNaN(h.sum) && bucketTotal(h) < h.count) nanObservations?.('skewed');

  rank = forward ? rank - (count - bucket.count) : count - rank;
  const fraction = rank / bucket.count;
  if (custom || (bucket.lower <= 0 && bucket.upper >= 0)) {
    return bucket.lower + (bucket.upper - bucket.lower) * fraction;
  }
  // Exponential bucket bounds are evenly spaced on a logarithmic scale: interpolate there.
  const logLower = Math.log2(Math.abs(bucket.lower));
  const logUpper = Math.log2(Math.abs(bucket.upper));
  if (bucket.lower > 0) return 2 ** (logLower + (logUpper - logLower) * fraction);
  return -(2 ** (logUpper + (logLower - logUpper) * (1 - fraction)));
}

/**
 * histogram_quantile of a native histogram as Prometheus 2.x computes it: the rank found from below, and
 * linear interpolation within every bucket (3.x interpolates exponential buckets exponentially).
 */
export function histogramQuantileV2(q: number, h: FloatHistogram): number {
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  if (h.count === 0 || Number.isNaN(q)) return NaN;
  const rank = q * h.count;
  let count = 0;
  let found: Bucket | undefined;
  forEachBucket(h, (b) => {
    found = b;
    count += b.count;
    return count < rank;
  });
  const bucket = found ?? emptyBucket();
  if (bucket.lower < 0 && bucket.upper > 0) assumeZeroBound(bucket, h);
  if (count > h.count) count = h.count;
  // Short of the rank only through NaN observations or rounding: the highest bound then.
  if (count < rank) return bucket.upper;
  return bucket.lower + (bucket.upper - bucket.lower) * ((rank - (count - bucket.count)) / bucket.count);
}

/**
 * The fraction of observations between `lower` and `upper`: NaN without observations or for a NaN
 * bound, 0 when lower ≥ upper. Interpolation within a bucket as in histogramQuantile. NaN observations
 * fall in no range (they still count towards the total); `nanObservations` hears of them. With `compat`
 * 2, as Prometheus 2.x: linear interpolation in every bucket, NaN observations not told apart.
 */
export function histogramFraction(lower: number, upper: number, h: FloatHistogram, nanObservations?: () => void, compat: 2 | 3 = 3): number {
  if (h.count === 0 || Number.isNaN(lower) || Number.isNaN(upper)) return NaN;
  if (lower >= upper) return 0;

  const custom = h.usesCustomBuckets();
  let rank = 0;
  let lowerRank = 0;
  let upperRank = 0;
  let lowerSet = false;
  let upperSet = false;
  forEachBucket(h, (b) => {
    let linear = custom || compat === 2;
    if (compat === 2 ? b.lower < 0 && b.upper > 0 : b.lower <= 0 && b.upper >= 0) {
      linear = true;
      assumeZeroBound(b, h);
    }
    // No interpolation in a bucket of infinite width (a custom-bucket histogram's first or last): its
    // observations count as lying at its infinite end, so all are below a value inside [−Inf, x] and none
    // below a value inside (x, +Inf].
    const rankAt = (v: number): number => {
      if (b.lower === -Infinity) return rank + b.count;
      if (b.upper === Infinity) return rank;
      return rank + b.count * (linear ? linearFraction(b, v) : exponentialFraction(b, v));
    };
    if (!lowerSet && b.lower >= lower) {
      lowerRank = rank;
      lowerSet = true;
    }
    if (!upperSet && b.lower >= upper) {
      upperRank = rank;
      upperSet = true;
    }
    if (lowerSet && upperSet) return false;
    if (!lowerSet && b.lower < lower && b.upper > lower) {
      lowerRank = rankAt(lower);
      lowerSet = true;
    }
    if (!upperSet && b.lower < upper && b.upper > upper) {
      upperRank = rankAt(upper);
      upperSet = true;
    }
    if (lowerSet && upperSet) return false;
    rank += b.count;
    return true;
  });
  // A NaN sum may come from NaN observations: ranks then reach no further than the buckets do.
  let count = h.count;
  if (compat === 3 && Number.isNaN(h.sum)) {
    count = bucketTotal(h);
    if (count < h.count) nanObservations?.();
  }
  if (!lowerSet || lowerRank > count) lowerRank = count;
  if (!upperSet || upperRank > count) upperRank = count;
  return (upperRank - lowerRank) / h.count;
}

/** The observations in buckets: all but NaN ones. */
function bucketTotal(h: FloatHistogram): number {
  let total = 0;
  forEachBucket(h, (b) => {
    total += b.count;
  });
  return total;
}

function linearFraction(b: Bucket, v: number): number {
  return (v - b.lower) / (b.upper - b.lower);
}

function exponentialFraction(b: Bucket, v: number): number {
  const logLower = Math.log2(Math.abs(b.lower));
  const logUpper = Math.log2(Math.abs(b.upper));
  const logV = Math.log2(Math.abs(v));
  return v > 0 ? (logV - logLower) / (logUpper - logLower) : 1 - (logV - logUpper) / (logLower - logUpper);
}

/**
 * A histogram with buckets on one side of zero only is taken to have no observations on the other:
 * its zero bucket then ends at 0.
 */
function assumeZeroBound(b: Bucket, h: FloatHistogram): void {
  if (h.negativeBuckets.length === 0 && h.positiveBuckets.length > 0) b.lower = 0;
  else if (h.positiveBuckets.length === 0 && h.negativeBuckets.length > 0) b.upper = 0;
}

function emptyBucket(): Bucket {
  return { lower: 0, upper: 0, lowerInclusive: false, upperInclusive: false, count: 0, index: 0 };
}

/**
 * The variance of the observations (histogram_stdvar), each bucket's observations taken to be at its
 * midpoint: the geometric mean of the bounds of an exponential bucket, 0 in the zero bucket, the
 * arithmetic mean of the bounds of a custom bucket.
 */
export function histogramStdvar(h: FloatHistogram): number {
  const mean = h.sum / h.count;
  const custom = h.usesCustomBuckets();
  let variance = 0;
  let c = 0;
  forEachBucket(h, (b) => {
    if (b.count === 0) return;
    let mid: number;
    if (custom) mid = (b.upper + b.lower) / 2;
    else if (b.lower <= 0 && b.upper >= 0) mid = 0;
    else mid = b.upper < 0 ? -Math.sqrt(b.upper * b.lower) : Math.sqrt(b.upper * b.lower);
    const delta = mid - mean;
    variance = kahanSumInc(b.count * delta * delta, variance, c);
    c = kahanC();
  });
  return (variance + c) / h.count;
}

/** The standard deviation of the observations (histogram_stddev): the root of histogramStdvar. */
export function histogramStddev(h: FloatHistogram): number {
  return Math.sqrt(histogramStdvar(h));
}

/** The mean of the observations (histogram_avg). */
export function histogramAvg(h: FloatHistogram): number {
  return h.sum / h.count;
}
