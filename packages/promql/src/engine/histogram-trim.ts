/**
 * The trim operators `h </ x` and `h >/ x` (Prometheus 3.x, FloatHistogram.TrimBuckets): a histogram with
 * only the observations below (`</`) or above (`>/`) x. Buckets wholly on the kept side stay, the bucket
 * holding x is interpolated (linearly in custom buckets, exponentially otherwise), the others are
 * emptied; the sum is estimated again from the midpoints of what is kept.
 */
import { type Bucket, type FloatHistogram, forEachNegativeBucket, forEachPositiveBucket, zeroBucket } from '@strata/tsdb';

/** A count kept from a bucket and the value its observations are taken to have. */
interface Kept {
  count: number;
  midpoint: number;
}

/**
 * `h` trimmed at `x`, keeping what is below x when `upper`, else what is above. A new histogram; `h` is
 * not changed. Untouched when no bucket loses anything (its sum then stays exact).
 */
export function trimHistogram(h: FloatHistogram, x: number, upper: boolean): FloatHistogram {
  const out = h.copy();
  const linear = out.usesCustomBuckets();
  let count = 0;
  let sum = 0;
  let trimmed = false;
  let hasPositive = false;
  let hasNegative = false;
  const trimSide = (buckets: number[], positive: boolean) => {
    let k = 0;
    return (b: Bucket): void => {
      const i = k++;
      if (b.count === 0) return;
      if (positive) hasPositive = true;
      else hasNegative = true;
      const whollyKept = upper ? b.upper <= x : b.lower >= x;
      const straddles = upper ? b.lower < x : b.upper > x;
      let kept: Kept;
      if (whollyKept) kept = { count: b.count, midpoint: midpoint(b.lower, b.upper, positive, linear) };
      else if (straddles) kept = bucketTrim(b, x, upper, positive, linear);
      else kept = { count: 0, midpoint: 0 };
      count += kept.count;
      sum += kept.midpoint * kept.count;
      if (buckets[i] !== kept.count) {
        buckets[i] = kept.count;
        trimmed = true;
      }
    };
  };
  forEachPositiveBucket(out, trimSide(out.positiveBuckets, true));
  forEachNegativeBucket(out, trimSide(out.negativeBuckets, false));
  if (out.zeroCount > 0) {
    const kept = zeroBucketTrim(zeroBucket(out), x, hasNegative, hasPositive, upper);
    if (out.zeroCount !== kept.count) {
      out.zeroCount = kept.count;
      trimmed = true;
    }
    sum += kept.midpoint * kept.count;
    count += kept.count;
  }
  if (trimmed) {
    out.count = count;
    out.sum = sum;
    out.compact(0);
  }
  return out;
}

/** The part of a bucket that holds x. */
function bucketTrim(b: Bucket, x: number, upper: boolean, positive: boolean, linear: boolean): Kept {
  if (b.lower === -Infinity || b.upper === Infinity) return infiniteBucketTrim(b, x, upper);
  const below = countBelow(b, x, positive, linear);
  if (upper) return { count: below, midpoint: midpoint(b.lower, x, positive, linear) };
  return { count: b.count - below, midpoint: midpoint(x, b.upper, positive, linear) };
}

/**
 * A bucket with an infinite bound (custom buckets only): its observations could be anywhere, so it goes
 * whole unless x keeps all of it, or the bucket reaches from −Inf to a positive bound, which is then
 * read as reaching from 0.
 */
function infiniteBucketTrim(b: Bucket, x: number, upper: boolean): Kept {
  const finite = (v: number): number => (isInfinite(v) ? 0 : v);
  if (b.lower === -Infinity) {
    if (upper) {
      if (x >= b.upper) return { count: b.count, midpoint: 0 };
      if (x > 0 && b.upper > 0 && b.upper !== Infinity) return { count: (b.count * x) / b.upper, midpoint: x / 2 };
      if (b.upper <= 0) return { count: b.count, midpoint: x };
      return { count: 0, midpoint: finite(b.upper) };
    }
    if (x <= b.lower) return { count: b.count, midpoint: 0 };
    if (x >= 0 && b.upper > x && b.upper !== Infinity) return { count: b.count * (1 - x / b.upper), midpoint: (x + b.upper) / 2 };
    return { count: 0, midpoint: finite(b.upper) };
  }
  if (!upper && x >= b.lower) return { count: b.count, midpoint: x };
  return { count: 0, midpoint: finite(b.lower) };
}

/** The count of a bucket at or below x: linear interpolation in custom buckets, exponential otherwise. */
function countBelow(b: Bucket, x: number, positive: boolean, linear: boolean): number {
  if (x <= b.lower) return 0;
  if (x >= b.upper) return b.count;
  let fraction: number;
  if (linear) {
    fraction = (x - b.lower) / (b.upper - b.lower);
  } else {
    const logLower = Math.log2(Math.abs(b.lower));
    const logUpper = Math.log2(Math.abs(b.upper));
    const logX = Math.log2(Math.abs(x));
    fraction = positive ? (logX - logLower) / (logUpper - logLower) : 1 - (logX - logUpper) / (logLower - logUpper);
  }
  return b.count * fraction;
}

/**
 * The zero bucket straddles zero; when the histogram has observations on one side only, it is read as
 * holding observations of that side only.
 */
function zeroBucketTrim(z: Bucket, x: number, hasNegative: boolean, hasPositive: boolean, upper: boolean): Kept {
  const lower = hasPositive && !hasNegative ? 0 : z.lower;
  const top = hasNegative && !hasPositive ? 0 : z.upper;
  if (upper) {
    if (x <= lower) return { count: 0, midpoint: 0 };
    if (x >= top) return { count: z.count, midpoint: (lower + top) / 2 };
    return { count: (z.count * (x - lower)) / (top - lower), midpoint: (lower + x) / 2 };
  }
  if (x <= lower) return { count: z.count, midpoint: (lower + top) / 2 };
  if (x >= top) return { count: 0, midpoint: 0 };
  return { count: (z.count * (top - x)) / (top - lower), midpoint: (x + top) / 2 };
}

/**
 * The value taken for the observations between two bounds: the arithmetic mean in custom buckets, the
 * geometric mean (with the sign of the side) in exponential ones; an infinite bound gives the finite one
 * (half of it when positive, as the bucket is then read as starting at 0).
 */
function midpoint(lower: number, upper: number, positive: boolean, linear: boolean): number {
  if (isInfinite(lower)) {
    if (isInfinite(upper)) return 0;
    return upper > 0 ? upper / 2 : upper;
  }
  if (isInfinite(upper)) return lower;
  if (linear) return (lower + upper) / 2;
  const geometric = Math.sqrt(Math.abs(lower * upper));
  return positive ? geometric : -geometric;
}

function isInfinite(v: number): boolean {
  return v === Infinity || v === -Infinity;
}
