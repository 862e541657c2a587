import { seededRandom } from '@strata/testing/random';
import { describe, expect, it } from 'vitest';
import { overTimeFunctions } from './over_time.js';
import type { Window } from './window.js';

/** Prometheus' min/max_over_time: a scan of the window, keeping the first extreme, NaN replaced by any later value. */
function scan(vs: Float64Array, lo: number, hi: number, isMax: boolean): number {
  let m = vs[lo] as number;
  for (let i = lo + 1; i < hi; i++) {
    const v = vs[i] as number;
    if ((isMax ? v > m : v < m) || Number.isNaN(m)) m = v;
  }
  return m;
}

describe('min_over_time and max_over_time', () => {
  it('give what a scan of every window gives, over windows sliding forward through several series', () => {
    const rnd = seededRandom(17);
    const fns = overTimeFunctions(3);
    const w: Window = {
      ts: new Float64Array(0), vs: new Float64Array(0), hs: null, lo: 0, hi: 0, extension: null, rangeStart: 0, rangeEnd: 0, range: 0, t: 0,
      params: [], metricName: '', annotate: () => undefined, resets: new Int32Array(0), first: true,
    };
    const pool = [NaN, 0, -0, 1, 1, 2, -3, Infinity, -Infinity];
    for (let series = 0; series < 300; series++) {
      const n = 1 + Math.floor(rnd() * 400);
      // Few distinct values, so that ties and ±0 meet; NaNs in runs.
      w.vs = Float64Array.from({ length: n }, () => (rnd() < 0.7 ? (pool[Math.floor(rnd() * pool.length)] as number) : Math.floor(rnd() * 5)));
      w.ts = Float64Array.from({ length: n }, (_, i) => i);
      for (const [name, isMax] of [['max_over_time', true], ['min_over_time', false]] as const) {
        const fn = fns[name]!;
        w.first = true;
        let lo = 0;
        let hi = 0;
        while (hi < n) {
          hi = Math.min(n, hi + Math.floor(rnd() * 6));
          lo = Math.min(hi, lo + Math.floor(rnd() * (rnd() < 0.1 ? 80 : 6)));
          if (lo === hi) continue;
          w.lo = lo;
          w.hi = hi;
          const got = fn(w) as number;
          w.first = false;
          expect(Object.is(got, scan(w.vs, lo, hi, isMax)) || (Number.isNaN(got) && Number.isNaN(scan(w.vs, lo, hi, isMax)))).toBe(true);
        }
      }
    }
  });
});
