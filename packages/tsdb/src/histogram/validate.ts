/**
 * Whether a native histogram is well formed, as Prometheus' Histogram.Validate and FloatHistogram.Validate
 * (model/histogram) check what a TSDB is asked to store: spans that account for every bucket, no
 * negative bucket count, custom bounds that ascend, and for integer histograms a count that matches the
 * buckets (at least their sum when NaN was observed: NaN observations are counted but in no bucket).
 * Float histograms' counts are not checked against their buckets: rounding would refuse valid ones.
 * Integer counts must be whole numbers a JavaScript number holds exactly (up to 2^53).
 * Messages are Prometheus'.
 */
import type { FloatHistogram } from './float.js';
import { CUSTOM_BUCKETS_SCHEMA, EXPONENTIAL_SCHEMA_MAX, EXPONENTIAL_SCHEMA_MIN, type Histogram, type Span } from './types.js';

/** A histogram a TSDB must not store; the message says what is wrong with it. */
export class InvalidHistogramError extends Error {}

/** Throws InvalidHistogramError unless `h` (integer counts, delta-encoded buckets) is well formed. */
export function validateHistogram(h: Histogram): void {
  // Go's uint64 and int64 in Prometheus; as JavaScript numbers, exact up to 2^53 only.
  checkSafe(h.count);
  checkSafe(h.zeroCount);
  for (const c of h.positiveBuckets) checkSafe(c);
  for (const c of h.negativeBuckets) checkSafe(c);
  const counted = validateLayout(h, true);
  if (Number.isNaN(h.sum) ? counted > h.count : counted !== h.count) {
    const what = Number.isNaN(h.sum) ? "histogram's observation count should be at least the number of observations found in the buckets" : "histogram's observation count should equal the number of observations found in the buckets (in absence of NaN)";
    throw new InvalidHistogramError(`${counted} observations found in buckets, but the Count field is ${h.count}: ${what}`);
  }
}

/** Throws InvalidHistogramError unless `h` (float counts, absolute buckets) is well formed. */
export function validateFloatHistogram(h: FloatHistogram): void {
  validateLayout(h, false);
}

function checkSafe(c: number): void {
  if (!Number.isSafeInteger(c)) invalid(`integer histogram counts must be whole numbers of at most 2^53 in magnitude, got ${c}`);
}

/** Checks schema, spans and buckets; returns the observations the buckets and the zero bucket hold. */
function validateLayout(h: Histogram | FloatHistogram, deltas: boolean): number {
  let negative = 0;
  if (h.schema === CUSTOM_BUCKETS_SCHEMA) {
    checkCustomBounds(h.customValues, h.positiveSpans, h.positiveBuckets.length);
    if (h.zeroCount !== 0) invalid('custom buckets: must have zero count of 0');
    if (h.zeroThreshold !== 0) invalid('custom buckets: must have zero threshold of 0');
    if (h.negativeSpans.length > 0) invalid('custom buckets: must not have negative spans');
    if (h.negativeBuckets.length > 0) invalid('custom buckets: must not have negative buckets');
  } else {
    if (!Number.isInteger(h.schema) || h.schema < EXPONENTIAL_SCHEMA_MIN || h.schema > EXPONENTIAL_SCHEMA_MAX) {
      invalid(`histogram has an invalid schema, which must be between ${EXPONENTIAL_SCHEMA_MIN} and ${EXPONENTIAL_SCHEMA_MAX} for exponential buckets, or ${CUSTOM_BUCKETS_SCHEMA} for custom buckets, got schema ${h.schema}`);
    }
    checkSpans('positive side', h.positiveSpans, h.positiveBuckets.length);
    checkSpans('negative side', h.negativeSpans, h.negativeBuckets.length);
    negative = checkBuckets('negative side', h.negativeBuckets, deltas);
    if (h.customValues.length > 0) invalid('histogram with exponential schema must not have custom bounds');
  }
  return negative + checkBuckets('positive side', h.positiveBuckets, deltas) + h.zeroCount;
}

function checkSpans(side: string, spans: readonly Span[], buckets: number): void {
  let needed = 0;
  for (let n = 0; n < spans.length; n++) {
    const s = spans[n] as Span;
    if (n > 0 && s.offset < 0) invalid(`${side}: span number ${n + 1} with offset ${s.offset}: histogram has a span whose offset is negative`);
    needed += s.length;
  }
  if (needed !== buckets) invalid(`${side}: spans need ${needed} buckets, have ${buckets} buckets: histogram spans specify different number of buckets than provided`);
}

/** The buckets' observations; throws on a negative count. */
function checkBuckets(side: string, buckets: readonly number[], deltas: boolean): number {
  let last = 0;
  let total = 0;
  for (let i = 0; i < buckets.length; i++) {
    const b = buckets[i] as number;
    const c = deltas ? last + b : b;
    if (c < 0) invalid(`${side}: bucket number ${i + 1} has observation count of ${c}: histogram has a bucket whose observation count is negative`);
    last = c;
    total += c;
  }
  return total;
}

function checkCustomBounds(bounds: readonly number[], spans: readonly Span[], buckets: number): void {
  let prev = -Infinity;
  for (const [i, b] of bounds.entries()) {
    if (Number.isNaN(b)) invalid('custom buckets: histogram custom bounds must not be NaN');
    // A first bound of -Inf is allowed.
    if (i > 0 && b <= prev) invalid(`custom buckets: previous bound is ${goFixed(prev)} and current is ${goFixed(b)}: histogram custom bounds must be in strictly increasing order`);
    prev = b;
  }
  if (prev === Infinity) invalid('custom buckets: last +Inf bound must not be explicitly defined: histogram custom bounds must be finite');
  let needed = 0;
  let covered = 0;
  for (const [n, s] of spans.entries()) {
    if (s.offset < 0) invalid(`custom buckets: span number ${n + 1} with offset ${s.offset}: histogram has a span whose offset is negative`);
    needed += s.length;
    covered += s.length + s.offset;
  }
  if (needed !== buckets) invalid(`custom buckets: spans need ${needed} buckets, have ${buckets} buckets: histogram spans specify different number of buckets than provided`);
  if (bounds.length + 1 < covered) invalid(`custom buckets: only ${bounds.length} custom bounds defined which is insufficient to cover total span length of ${covered}: histogram custom bounds are too few`);
}

/** A number as Go's %f prints it. */
function goFixed(x: number): string {
  return Number.isFinite(x) ? x.toFixed(6) : x > 0 ? '+Inf' : '-Inf';
}

function invalid(message: string): never {
  throw new InvalidHistogramError(message);
}
