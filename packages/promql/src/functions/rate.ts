/** rate, increase, delta (extrapolated) and irate, idelta (last two samples), over floats or native histograms. */
import { CounterResetHint, FloatHistogram, IncompatibleSchemaError } from '@strata/tsdb';
import { customBucketsReconciled, mixedExponentialCustom, mixedFloatsHistograms, notCounter, notGauge } from './range-annotations.js';
import { extendedRate } from './extended.js';
import { histogramsIn, type RangeFunction, type Window } from './window.js';

/**
 * Prometheus' extrapolatedRate. 3.x (since 2.51) replaces a too-large gap to the window start by half the
 * average interval before clamping at the counter's zero point; 2.x clamps first. A window of histograms
 * only gives a histogram (histogramRate); floats and histograms mixed give nothing.
 */
function extrapolatedRate(w: Window, isCounter: boolean, isRate: boolean, compat: 2 | 3): number | FloatHistogram | undefined {
  if (w.extension !== null) return extendedRate(w, isCounter, isRate);
  const n = w.hi - w.lo;
  if (n < 2) return undefined;
  if (w.hs !== null) {
    const histograms = histogramsIn(w);
    if (histograms === n) {
      const h = histogramRate(w, isCounter);
      if (h === undefined) return undefined;
      const first = (w.hs[w.lo] as FloatHistogram).count;
      // 2.x does not stop extrapolating histograms at the counter's zero point (its TODO); 3.x does, by count.
      return h.mul(extrapolationFactor(w, isCounter && compat === 3, isRate, compat, h.count, first));
    }
    if (histograms > 0) {
      w.annotate(mixedFloatsHistograms(w.metricName));
      return undefined;
    }
  }
  const first = w.vs[w.lo] as number;
  let result = (w.vs[w.hi - 1] as number) - first;
  if (isCounter && w.resets[w.hi - 1] !== w.resets[w.lo]) {
    let prev = first;
    for (let i = w.lo + 1; i < w.hi; i++) {
      const cur = w.vs[i] as number;
      if (cur < prev) result += prev;
      prev = cur;
    }
  }
  // The factor first, then one multiplication: the float rounding Prometheus has.
  return result * extrapolationFactor(w, isCounter, isRate, compat, result, first);
}

/**
 * What extrapolatedRate multiplies the window's increase `result` by (for histograms: their count's
 * increase, the first value the first histogram's count): to the window's boundaries where samples come
 * close enough to them, per second for rate.
 */
function extrapolationFactor(w: Window, isCounter: boolean, isRate: boolean, compat: 2 | 3, result: number, first: number): number {
  const firstT = w.ts[w.lo] as number;
  const lastT = w.ts[w.hi - 1] as number;
  let toStart = (firstT - w.rangeStart) / 1000;
  let toEnd = (w.rangeEnd - lastT) / 1000;
  const sampled = (lastT - firstT) / 1000;
  const avg = sampled / (w.hi - w.lo - 1);
  const threshold = avg * 1.1;
  // 3.x (v2.51+) replaces a too-long gap to the window start before clamping at the zero point; 2.x after.
  if (compat === 3 && toStart >= threshold) toStart = avg / 2;
  if (isCounter && result > 0 && first >= 0) {
    const toZero = sampled * (first / result);
    if (toZero < toStart) toStart = toZero;
  }
  if (compat === 2 && toStart >= threshold) toStart = avg / 2;
  if (toEnd >= threshold) toEnd = avg / 2;
  const factor = (sampled + toStart + toEnd) / sampled;
  return isRate ? factor / (w.range / 1000) : factor;
}

/**
 * Prometheus' histogramRate over a window of histograms only: the last minus the first, in the lowest
 * schema of the window, plus (for counters) every histogram before a counter reset. Undefined when
 * exponential and custom buckets are mixed; that warning then replaces the others, as in Prometheus.
 */
function histogramRate(w: Window, isCounter: boolean): FloatHistogram | undefined {
  const hs = w.hs as readonly (FloatHistogram | undefined)[];
  const name = w.metricName;
  const notes: string[] = [];
  let prev = hs[w.lo] as FloatHistogram;
  const last = hs[w.hi - 1] as FloatHistogram;
  let custom = prev.usesCustomBuckets();
  if (isCounter && (prev.counterResetHint === CounterResetHint.Gauge || last.counterResetHint === CounterResetHint.Gauge)) notes.push(notCounter(name));
  if (isCounter) {
    // After a reset between the first two, the first does not count, nor does its bucket layout.
    const second = hs[w.lo + 1] as FloatHistogram;
    if (second.detectReset(prev)) {
      prev = new FloatHistogram({ schema: second.schema, count: 0, sum: 0, customValues: second.customValues });
      custom = second.usesCustomBuckets();
    }
  }
  if (last.usesCustomBuckets() !== custom) return incompatible(w, [...notes, mixedExponentialCustom(name)]);
  let minSchema = Math.min(last.schema, prev.schema);
  if (isCounter) {
    for (let i = w.lo + 1; i < w.hi - 1; i++) {
      const h = hs[i] as FloatHistogram;
      if (h.counterResetHint === CounterResetHint.Gauge) notes.push(notCounter(name));
      if (h.schema < minSchema) minSchema = h.schema;
      if (h.usesCustomBuckets() !== custom) return incompatible(w, [mixedExponentialCustom(name)]);
    }
  }
  const result = last.copyToSchema(minSchema);
  try {
    // Conflicting counter reset hints do not matter here: resets are handled below.
    if (result.sub(prev).nhcbBoundsReconciled) notes.push(customBucketsReconciled('subtraction'));
    if (isCounter) {
      for (let i = w.lo + 1; i < w.hi; i++) {
        const h = hs[i] as FloatHistogram;
        if (h.detectReset(prev) && result.add(prev).nhcbBoundsReconciled) notes.push(customBucketsReconciled('addition'));
        prev = h;
      }
    } else if ((hs[w.lo] as FloatHistogram).counterResetHint !== CounterResetHint.Gauge || last.counterResetHint !== CounterResetHint.Gauge) {
      notes.push(notGauge(name));
    }
  } catch (err) {
    if (!(err instanceof IncompatibleSchemaError)) throw err;
    return incompatible(w, [mixedExponentialCustom(name)]);
  }
  for (const m of notes) w.annotate(m);
  return result.compact(0);
}

function incompatible(w: Window, notes: readonly string[]): undefined {
  for (const m of notes) w.annotate(m);
  return undefined;
}

/**
 * irate and idelta: from the window's last two samples, both floats or both histograms (a histogram
 * result is a gauge; irate skips the subtraction across a counter reset).
 */
function instantValue(w: Window, isRate: boolean): number | FloatHistogram | undefined {
  if (w.hi - w.lo < 2) return undefined;
  const interval = (w.ts[w.hi - 1] as number) - (w.ts[w.hi - 2] as number);
  if (interval === 0) return undefined;
  if (w.hs !== null) {
    const h = w.hs[w.hi - 1];
    const prevH = w.hs[w.hi - 2];
    if (h !== undefined && prevH !== undefined) return instantHistogram(w, h, prevH, isRate, interval);
    if (h !== undefined || prevH !== undefined) {
      w.annotate(mixedFloatsHistograms(w.metricName));
      return undefined;
    }
  }
  const last = w.vs[w.hi - 1] as number;
  const prev = w.vs[w.hi - 2] as number;
  const result = isRate && last < prev ? last : last - prev;
  return isRate ? result / (interval / 1000) : result;
}

function instantHistogram(w: Window, h: FloatHistogram, prev: FloatHistogram, isRate: boolean, interval: number): FloatHistogram | undefined {
  const gauges = (h.counterResetHint === CounterResetHint.Gauge ? 1 : 0) + (prev.counterResetHint === CounterResetHint.Gauge ? 1 : 0);
  if (isRate && gauges > 0) w.annotate(notCounter(w.metricName));
  if (!isRate && gauges < 2) w.annotate(notGauge(w.metricName));
  const result = h.copy();
  if (!isRate || !h.detectReset(prev)) {
    try {
      if (result.sub(prev).nhcbBoundsReconciled) w.annotate(customBucketsReconciled('subtraction'));
    } catch (err) {
      if (!(err instanceof IncompatibleSchemaError)) throw err;
      w.annotate(mixedExponentialCustom(w.metricName));
      return undefined;
    }
  }
  result.counterResetHint = CounterResetHint.Gauge;
  result.compact(0);
  return isRate ? result.div(interval / 1000) : result;
}

export function rateFunctions(compat: 2 | 3): Record<string, RangeFunction> {
  return {
    rate: (w) => extrapolatedRate(w, true, true, compat),
    increase: (w) => extrapolatedRate(w, true, false, compat),
    delta: (w) => extrapolatedRate(w, false, false, compat),
    irate: (w) => instantValue(w, true),
    idelta: (w) => instantValue(w, false),
  };
}

/** Functions that read Window.resets. */
export const COUNTS_RESETS: ReadonlySet<string> = new Set(['rate', 'increase']);

/** resets[i]: how many samples up to i are below their predecessor (see Window.resets). */
export function countResets(vs: Float64Array, n: number, resets: Int32Array): void {
  let count = 0;
  if (n > 0) resets[0] = 0;
  for (let i = 1; i < n; i++) {
    if ((vs[i] as number) < (vs[i - 1] as number)) count++;
    resets[i] = count;
  }
}

/** Functions that expect counters: 3.x notes when the metric name does not look like one. */
export const COUNTER_FUNCTIONS: ReadonlySet<string> = new Set(['rate', 'increase', 'irate']);
