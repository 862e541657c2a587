/** rate, increase, delta (extrapolated) and irate, idelta (last two samples). */
import type { RangeFunction, Window } from './window.js';

/**
 * Prometheus' extrapolatedRate. 3.x (since 2.51) replaces a too-large gap to the window start by half the
 * average interval before clamping at the counter's zero point; 2.x clamps first.
 */
function extrapolatedRate(w: Window, isCounter: boolean, isRate: boolean, compat: 2 | 3): number | undefined {
  const n = w.hi - w.lo;
  if (n < 2) return undefined;
  const first = w.vs[w.lo] as number;
  const firstT = w.ts[w.lo] as number;
  const lastT = w.ts[w.hi - 1] as number;
  let result = (w.vs[w.hi - 1] as number) - first;
  if (isCounter && w.resets[w.hi - 1] !== w.resets[w.lo]) {
    let prev = first;
    for (let i = w.lo + 1; i < w.hi; i++) {
      const cur = w.vs[i] as number;
      if (cur < prev) result += prev;
      prev = cur;
    }
  }
  let toStart = (firstT - w.rangeStart) / 1000;
  let toEnd = (w.rangeEnd - lastT) / 1000;
  const sampled = (lastT - firstT) / 1000;
  const avg = sampled / (n - 1);
  const threshold = avg * 1.1;
  // 3.x (v2.51+) replaces a too-long gap to the window start before clamping at the zero point; 2.x after.
  if (compat === 3 && toStart >= threshold) toStart = avg / 2;
  if (isCounter && result > 0 && first >= 0) {
    const toZero = sampled * (first / result);
    if (toZero < toStart) toStart = toZero;
  }
  if (compat === 2 && toStart >= threshold) toStart = avg / 2;
  if (toEnd >= threshold) toEnd = avg / 2;
  // The factor first, then one multiplication: the float rounding Prometheus has.
  let factor = (sampled + toStart + toEnd) / sampled;
  if (isRate) factor /= w.range / 1000;
  return result * factor;
}

function instantValue(w: Window, isRate: boolean): number | undefined {
  if (w.hi - w.lo < 2) return undefined;
  const last = w.vs[w.hi - 1] as number;
  const prev = w.vs[w.hi - 2] as number;
  const interval = (w.ts[w.hi - 1] as number) - (w.ts[w.hi - 2] as number);
  if (interval === 0) return undefined;
  const result = isRate && last < prev ? last : last - prev;
  return isRate ? result / (interval / 1000) : result;
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
