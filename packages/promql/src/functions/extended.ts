/**
 * Prometheus' experimental extended range selectors (`anchored`, `smoothed`) in range functions. The
 * engine hands these functions a window widened by the lookback delta (before the range for both, after
 * it too for `smoothed`); they pick or interpolate the values at the range's boundaries from it, as
 * Prometheus' extendedRate, extendedHistogramRate and pickFirstSampleIndices do.
 */
import { CounterResetHint, type FloatHistogram, IncompatibleSchemaError } from '@strata/tsdb';
import { customBucketsReconciled, mixedExponentialCustom, mixedFloatsHistograms, notCounter, notGauge } from './range-annotations.js';
import { histogramsIn, type Window } from './window.js';

/** Go's sort.Search over [lo, hi): the first index where `pred` holds, or hi. */
export function searchFrom(lo: number, hi: number, pred: (i: number) => boolean): number {
  let i = lo;
  let j = hi;
  while (i < j) {
    const h = (i + j) >>> 1;
    if (pred(h)) j = h;
    else i = h + 1;
  }
  return i;
}

/** Linear interpolation at t between (t1, y1) and (t2, y2); a counter that dropped restarts from 0. */
export function interpolate(t1: number, y1: number, t2: number, y2: number, t: number, isCounter: boolean): number {
  const from = isCounter && y2 < y1 ? 0 : y1;
  return from + ((y2 - from) * (t - t1)) / (t2 - t1);
}

/**
 * The histogram at t between h1 (at t1) and h2 (at t2); across a counter reset, h2 scaled down as if the
 * counter restarted from zero. Throws IncompatibleSchemaError for exponential and custom buckets mixed.
 */
export function interpolateHistograms(
  h1: FloatHistogram, t1: number, h2: FloatHistogram, t2: number, t: number, isCounter: boolean, annotate: (m: string) => void,
): FloatHistogram {
  if (t === t1) return h1.copy();
  if (t === t2) return h2.copy();
  const fraction = (t - t1) / (t2 - t1);
  if (isCounter && h2.detectReset(h1)) return h2.copy().mul(fraction);
  const result = h2.copy();
  if (result.sub(h1).nhcbBoundsReconciled) annotate(customBucketsReconciled('subtraction'));
  result.mul(fraction);
  if (result.add(h1).nhcbBoundsReconciled) annotate(customBucketsReconciled('addition'));
  return result;
}

/**
 * For `anchored` changes() and resets(): starts the window at the last sample at or before the range start
 * (the anchor, of either type), or at its first sample when there is none. False when no sample lies
 * after the range start: then there is nothing to measure.
 */
export function anchorWindow(w: Window): boolean {
  const ts = w.ts;
  const after = searchFrom(w.lo, w.hi, (i) => (ts[i] as number) > w.rangeStart);
  if (after >= w.hi) return false;
  w.lo = Math.max(w.lo, after - 1);
  return true;
}

/** The boundary samples of an extended window: `first` at or before the range start, `last` at or after its end. */
interface Bounds {
  first: number;
  last: number;
}

/** Prometheus' choice of boundary samples, or null when the window has none on one side of the range. */
function bounds(w: Window, smoothed: boolean): Bounds | null {
  const ts = w.ts;
  let last = w.hi - 1;
  const first = Math.max(w.lo, searchFrom(w.lo, last, (i) => (ts[i] as number) > w.rangeStart) - 1);
  if (smoothed) last = searchFrom(w.lo, last, (i) => (ts[i] as number) >= w.rangeEnd);
  if ((ts[last] as number) <= w.rangeStart) return null;
  if (smoothed && (ts[first] as number) > w.rangeEnd) return null;
  return { first, last };
}

/** rate, increase and delta over an `anchored` or `smoothed` range (Prometheus' extendedRate). */
export function extendedRate(w: Window, isCounter: boolean, isRate: boolean): number | FloatHistogram | undefined {
  const histograms = histogramsIn(w);
  if (histograms > 0 && histograms < w.hi - w.lo) {
    w.annotate(mixedFloatsHistograms(w.metricName));
    return undefined;
  }
  return histograms > 0 ? extendedHistogramRate(w, isCounter, isRate) : extendedFloatRate(w, isCounter, isRate);
}

function extendedFloatRate(w: Window, isCounter: boolean, isRate: boolean): number | undefined {
  const smoothed = w.extension === 'smoothed';
  const b = bounds(w, smoothed);
  if (b === null) return undefined;
  const { ts, vs } = w;
  const at = (i: number): number => vs[i] as number;
  const time = (i: number): number => ts[i] as number;
  const { first, last } = b;
  const left = smoothed && time(first) < w.rangeStart
    ? interpolate(time(first), at(first), time(first + 1), at(first + 1), w.rangeStart, isCounter)
    : at(first);
  const right = smoothed && last > w.lo && time(last) > w.rangeEnd
    ? interpolate(time(last - 1), at(last - 1), time(last), at(last), w.rangeEnd, isCounter)
    : at(last);
  let result = right - left;
  if (isCounter) {
    // The boundary values already account for resets at the boundaries: only samples inside count.
    const from = time(first) <= w.rangeStart ? first + 1 : first;
    const to = time(last) >= w.rangeEnd ? last - 1 : last;
    let prev = left;
    for (let i = from; i <= to; i++) {
      if (at(i) < prev) result += prev;
      prev = at(i);
    }
    if (right < prev) result += prev;
  }
  return isRate ? result / (w.range / 1000) : result;
}

function extendedHistogramRate(w: Window, isCounter: boolean, isRate: boolean): FloatHistogram | undefined {
  const smoothed = w.extension === 'smoothed';
  const b = bounds(w, smoothed);
  if (b === null) return undefined;
  const { first, last } = b;
  const ts = w.ts;
  const hs = w.hs as readonly (FloatHistogram | undefined)[];
  const h = (i: number): FloatHistogram => hs[i] as FloatHistogram;
  const time = (i: number): number => ts[i] as number;
  const name = w.metricName;
  const custom = h(first).usesCustomBuckets();
  for (let i = first; i <= last; i++) {
    if (h(i).usesCustomBuckets() !== custom) {
      w.annotate(mixedExponentialCustom(name));
      return undefined;
    }
    if (isCounter && h(i).counterResetHint === CounterResetHint.Gauge) w.annotate(notCounter(name));
  }
  try {
    const left = smoothed && time(first) < w.rangeStart
      ? interpolateHistograms(h(first), time(first), h(first + 1), time(first + 1), w.rangeStart, isCounter, w.annotate)
      : h(first).copy();
    const right = smoothed && last > w.lo && time(last) > w.rangeEnd
      ? interpolateHistograms(h(last - 1), time(last - 1), h(last), time(last), w.rangeEnd, isCounter, w.annotate)
      : h(last).copy();
    if (!isCounter && (left.counterResetHint !== CounterResetHint.Gauge || right.counterResetHint !== CounterResetHint.Gauge)) {
      w.annotate(notGauge(name));
    }
    const result = right.copy();
    if (result.sub(left).nhcbBoundsReconciled) w.annotate(customBucketsReconciled('subtraction'));
    if (isCounter) {
      const correction = histogramResetCorrection(w, b, left, right, smoothed);
      if (correction !== null && result.add(correction).nhcbBoundsReconciled) w.annotate(customBucketsReconciled('addition'));
    }
    if (isRate) result.div(w.range / 1000);
    result.counterResetHint = CounterResetHint.Gauge;
    return result.compact(0);
  } catch (err) {
    if (!(err instanceof IncompatibleSchemaError)) throw err;
    w.annotate(mixedExponentialCustom(name));
    return undefined;
  }
}

/**
 * The sum of the histograms before each counter reset between the boundaries (Prometheus'
 * correctForCounterResetsHistogram), or null for none. The last sample stays out: `right` is it or
 * inherits its hint, and would detect its own reset again.
 */
function histogramResetCorrection(w: Window, b: Bounds, left: FloatHistogram, right: FloatHistogram, smoothed: boolean): FloatHistogram | null {
  const hs = w.hs as readonly (FloatHistogram | undefined)[];
  const h = (i: number): FloatHistogram => hs[i] as FloatHistogram;
  let from = b.first + 1;
  let prev = left;
  if (smoothed && (w.ts[b.first] as number) < w.rangeStart && h(b.first + 1).detectReset(h(b.first))) {
    // The left interpolation spanned this reset already.
    prev = h(b.first + 1);
    from++;
  }
  const to = b.last - 1;
  if (from > to + 1) return null;
  let correction: FloatHistogram | null = null;
  const add = (x: FloatHistogram): void => {
    if (correction === null) correction = x.copy();
    else if (correction.add(x).nhcbBoundsReconciled) w.annotate(customBucketsReconciled('addition'));
  };
  for (let i = from; i <= to; i++) {
    if (h(i).detectReset(prev)) add(prev);
    prev = h(i);
  }
  if (right.detectReset(prev)) add(prev);
  return correction;
}

/**
 * The samples an `anchored`/`smoothed` range selector yields on its own (Prometheus' extendFloats): the
 * value at the range start, the samples inside, and the value at its end, picked (anchored) or
 * interpolated (smoothed) from the widened window ts/vs[lo, hi). Null when no sample follows the start.
 */
export function extendFloats(
  ts: Float64Array, vs: Float64Array, lo: number, hi: number, mint: number, maxt: number, smoothed: boolean,
): { ts: Float64Array; vs: Float64Array } | null {
  if (hi <= lo) return null;
  const time = (i: number): number => ts[i] as number;
  const at = (i: number): number => vs[i] as number;
  let last = hi - 1;
  let first = Math.max(lo, searchFrom(lo, last, (i) => time(i) > mint) - 1);
  if (smoothed) last = searchFrom(lo, last, (i) => time(i) >= maxt);
  if (time(last) <= mint) return null;
  const left = smoothed && time(first) < mint ? interpolate(time(first), at(first), time(first + 1), at(first + 1), mint, false) : at(first);
  const right = smoothed && last > lo && time(last) > maxt ? interpolate(time(last - 1), at(last - 1), time(last), at(last), maxt, false) : at(last);
  if (time(first) <= mint) first++;
  if (time(last) >= maxt) last--;
  const inside = Math.max(last - first + 1, 0);
  const outTs = new Float64Array(inside + 2);
  const outVs = new Float64Array(inside + 2);
  outTs[0] = mint;
  outVs[0] = left;
  outTs.set(ts.subarray(first, first + inside), 1);
  outVs.set(vs.subarray(first, first + inside), 1);
  outTs[inside + 1] = maxt;
  outVs[inside + 1] = right;
  return { ts: outTs, vs: outVs };
}
