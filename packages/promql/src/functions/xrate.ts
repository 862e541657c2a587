/**
 * Thanos' extended rate functions `xrate`, `xincrease` and `xdelta` (its engine's extendedRate, offered
 * with `--query.enable-x-functions`). Unlike rate(), they do not extrapolate: a window starts at its
 * baseline, the newest sample at or before the range start (at most X_LOOKBACK older than it), so that
 * consecutive windows add up to the whole increase. The engine selects X_LOOKBACK more data before each
 * such range for the baseline, and stale markers are not samples here. `xincrease` of a series whose
 * values are all alike within a range its first sample falls into is that value: the increase from an
 * implied zero before the series appeared.
 */
import { EvalError } from '../engine/errors.js';
import { searchFrom } from './extended.js';
import type { RangeFunction, Window } from './window.js';

/** How far before a range its baseline may lie (ms): Thanos' ExtLookbackDelta, 1h by default. */
export const X_LOOKBACK = 60 * 60_000;

export const X_FUNCTION_NAMES: ReadonlySet<string> = new Set(['xrate', 'xincrease', 'xdelta']);

export const X_FUNCTIONS: Record<string, RangeFunction> = {
  xrate: (w) => extendedRate(w, true, true),
  xincrease: (w) => extendedRate(w, true, false),
  xdelta: (w) => extendedRate(w, false, false),
};

function extendedRate(w: Window, isCounter: boolean, isRate: boolean): number | undefined {
  if (w.first && w.hs?.some((h) => h !== undefined) === true) throw new EvalError('native histograms are not supported in extended range functions');
  const { ts, vs } = w;
  const inRange = searchFrom(w.lo, w.hi, (i) => (ts[i] as number) > w.rangeStart);
  const hasBaseline = inRange > w.lo && (ts[inRange - 1] as number) > w.rangeStart - X_LOOKBACK;
  let first = hasBaseline ? inRange - 1 : inRange;
  const last = w.hi - 1;
  if (first > last) return undefined;
  const isIncrease = isCounter && !isRate;
  // Thanos divides by the range in whole seconds (Go's integer division of milliseconds).
  const rangeSeconds = Math.trunc(w.range / 1000);

  if (isIncrease && sameValues(vs, first, last)) {
    // The series' first sample: the earliest the engine selected, from X_LOOKBACK before the first range on.
    const appeared = ts[0] as number;
    if (w.rangeEnd <= appeared + w.range) return vs[first] as number;
  }
  let sampled = (ts[last] as number) - (ts[first] as number);
  let average = sampled / (last - first);
  if (!isIncrease && w.rangeStart - (ts[first] as number) > average) {
    // The baseline lies too far before the range: the window starts at its first sample inside instead.
    if (last - first < 2) return 0;
    first++;
    sampled = (ts[last] as number) - (ts[first] as number);
    average = sampled / (last - first);
  }
  let correction = 0;
  if (isCounter) {
    let prev = 0;
    for (let i = first; i <= last; i++) {
      const v = vs[i] as number;
      if (v < prev) correction += prev;
      prev = v;
    }
  }
  let result = (vs[last] as number) - (vs[first] as number) + correction;
  // Samples from the range start to just before its end stand for the whole range.
  if (!isIncrease && (ts[first] as number) <= w.rangeStart && w.rangeEnd - (ts[last] as number) < average) {
    result *= rangeSeconds / (sampled / 1000);
  }
  return isRate ? result / rangeSeconds : result;
}

function sameValues(vs: Float64Array, from: number, to: number): boolean {
  const v = vs[from] as number;
  for (let i = from + 1; i <= to; i++) if (vs[i] !== v) return false;
  return true;
}
