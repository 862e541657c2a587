/** Range functions of floats over series that also hold native histograms. */
import { histogramsIgnored } from './range-annotations.js';
import type { RangeFunction, Window } from './window.js';

/**
 * `fn` over the floats of each window, as Prometheus' float-only range functions (min_over_time, deriv,
 * …): a window without floats has no value, one with floats and histograms notes that the histograms
 * were ignored. Windows of series without histograms go to `fn` as they are; for the others, the
 * series' floats are gathered once (as far as the windows reach) into a window of floats only, so that
 * `fn` still sees windows that only move forward.
 */
export function ignoringHistograms(fn: RangeFunction): RangeFunction {
  const p: Window = {
    ts: new Float64Array(64), vs: new Float64Array(64), hs: null, lo: 0, hi: 0, extension: null, rangeStart: 0, rangeEnd: 0, range: 0, t: 0,
    params: [], metricName: '', annotate: () => undefined, resets: new Int32Array(0), first: true,
  };
  /** floatsBefore[i]: how many of the series' samples before index i are floats (their index in p). */
  let floatsBefore = new Int32Array(65);
  /** The series' samples gathered so far. */
  let gathered = 0;
  return (w) => {
    const hs = w.hs;
    if (hs === null) return fn(w);
    if (w.first) {
      gathered = 0;
      p.first = true;
    }
    if (w.hi >= floatsBefore.length) {
      const size = Math.max(w.hi + 1, floatsBefore.length * 2);
      floatsBefore = grown(floatsBefore, new Int32Array(size), gathered + 1);
      p.ts = grown(p.ts, new Float64Array(size), floatsBefore[gathered] as number);
      p.vs = grown(p.vs, new Float64Array(size), floatsBefore[gathered] as number);
    }
    floatsBefore[0] = 0;
    for (; gathered < w.hi; gathered++) {
      let k = floatsBefore[gathered] as number;
      if (hs[gathered] === undefined) {
        p.ts[k] = w.ts[gathered] as number;
        p.vs[k] = w.vs[gathered] as number;
        k++;
      }
      floatsBefore[gathered + 1] = k;
    }
    const lo = floatsBefore[w.lo] as number;
    const hi = floatsBefore[w.hi] as number;
    if (lo === hi) return undefined;
    if (hi - lo < w.hi - w.lo) w.annotate(histogramsIgnored(w.metricName));
    p.lo = lo;
    p.hi = hi;
    p.rangeStart = w.rangeStart;
    p.rangeEnd = w.rangeEnd;
    p.range = w.range;
    p.t = w.t;
    p.params = w.params;
    p.metricName = w.metricName;
    p.annotate = w.annotate;
    const v = fn(p);
    p.first = false;
    return v;
  };
}

function grown<T extends Int32Array | Float64Array>(from: T, to: T, keep: number): T {
  to.set(from.subarray(0, keep));
  return to;
}
