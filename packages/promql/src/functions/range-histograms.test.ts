import { CounterResetHint, parseHistogramNotation, type FloatHistogram } from '@strata/tsdb';
import { describe, expect, it } from 'vitest';
import { overTimeFunctions } from './over_time.js';
import { rateFunctions } from './rate.js';
import type { Window } from './window.js';

/** A window over all of `samples` (a float or a histogram each, one per second), ending at the last. */
function windowOf(samples: readonly (number | FloatHistogram)[], notes: string[], metricName = 'm'): Window {
  const n = samples.length;
  const hs = samples.some((s) => typeof s !== 'number') ? samples.map((s) => (typeof s === 'number' ? undefined : s)) : null;
  return {
    ts: Float64Array.from({ length: n }, (_, i) => i * 1000),
    vs: Float64Array.from(samples, (s) => (typeof s === 'number' ? s : 0)),
    hs, lo: 0, hi: n, extension: null, rangeStart: -1000, rangeEnd: (n - 1) * 1000, range: n * 1000, t: (n - 1) * 1000,
    params: [0.5], metricName, annotate: (m) => notes.push(m), resets: new Int32Array(n), first: true,
  };
}

const h = parseHistogramNotation;

describe('range functions over native histograms', () => {
  it('increase adds back the histogram before a counter reset seen in one bucket only', () => {
    const notes: string[] = [];
    const w = windowOf([
      h('{{schema:0 count:4 sum:5 buckets:[1 2 1]}}'), h('{{schema:0 count:5 sum:6 buckets:[1 1 3]}}'), h('{{schema:0 count:6 sum:7 buckets:[1 2 3]}}'),
    ], notes);
    const r = rateFunctions(3).increase?.(w) as FloatHistogram;
    // (last − first + first) × 1.5: the window reaches one sample interval before the first sample.
    expect([r.count, r.sum, r.positiveBuckets]).toEqual([9, 10.5, [1.5, 3, 4.5]]);
    expect(notes).toEqual([]);
  });

  it('rate of gauge histograms warns that they are not counters; delta of counters that they are not gauges', () => {
    const notes: string[] = [];
    const gauge = h('{{schema:0 count:1 sum:1 buckets:[1]}}');
    gauge.counterResetHint = CounterResetHint.Gauge;
    rateFunctions(3).rate?.(windowOf([gauge, gauge], notes, 'g'));
    rateFunctions(3).delta?.(windowOf([h('{{schema:0 count:1 sum:1}}'), h('{{schema:0 count:2 sum:2}}')], notes, 'c'));
    expect(notes).toEqual([
      'PromQL warning: this native histogram metric is not a counter: "g"',
      'PromQL warning: this native histogram metric is not a gauge: "c"',
    ]);
  });

  it('rate and sum_over_time give nothing for floats and histograms mixed, with the warning', () => {
    const notes: string[] = [];
    const w = windowOf([1, h('{{schema:0 count:1 sum:1}}'), 3], notes);
    expect(rateFunctions(3).rate?.(w)).toBeUndefined();
    expect(overTimeFunctions(3).sum_over_time?.(w)).toBeUndefined();
    expect(new Set(notes)).toEqual(new Set(['PromQL warning: encountered a mix of histograms and floats for metric name "m"']));
  });

  it('float-only functions ignore the histograms of a window, noting it, and give nothing without floats', () => {
    const notes: string[] = [];
    const fns = overTimeFunctions(3);
    const hist = h('{{schema:0 count:1 sum:1}}');
    expect(fns.max_over_time?.(windowOf([2, hist, 5, hist, 1], notes))).toBe(5);
    expect(fns.quantile_over_time?.(windowOf([hist, 4, 2], notes))).toBe(3);
    expect(fns.min_over_time?.(windowOf([hist, hist], notes))).toBeUndefined();
    expect(new Set(notes)).toEqual(new Set(['PromQL info: ignored histograms in a range containing both floats and histograms for metric name "m"']));
  });

  it('float-only functions see the same floats in windows sliding forward through series of both kinds', () => {
    const fns = overTimeFunctions(3);
    const hist = h('{{schema:0 count:1 sum:1}}');
    for (let series = 0; series < 20; series++) {
      const samples = Array.from({ length: 60 }, (_, i) => ((i * 7 + series) % 5 === 0 ? hist : ((i * 13 + series * 3) % 11) - 5));
      const w = windowOf(samples, []);
      for (let lo = 0; lo + 8 <= samples.length; lo += 3) {
        w.lo = lo;
        w.hi = lo + 8;
        const floats = samples.slice(lo, lo + 8).filter((x): x is number => typeof x === 'number');
        expect(fns.max_over_time?.(w)).toBe(Math.max(...floats));
        w.first = false;
      }
    }
  });

  it('sum_over_time and avg_over_time of histograms, with changes and resets counting float/histogram switches', () => {
    const notes: string[] = [];
    const fns = overTimeFunctions(3);
    const w = windowOf([h('{{schema:0 count:1 sum:2 buckets:[1]}}'), h('{{schema:0 count:3 sum:4 buckets:[3]}}')], notes);
    expect((fns.sum_over_time?.(w) as FloatHistogram).count).toBe(4);
    expect((fns.avg_over_time?.(windowOf([h('{{schema:0 count:1 sum:2}}'), h('{{schema:0 count:3 sum:4}}')], notes)) as FloatHistogram).sum).toBe(3);
    const mixed = windowOf([1, h('{{schema:0 count:2 sum:2}}'), h('{{schema:0 count:1 sum:1}}'), 1], notes);
    expect(fns.changes?.(mixed)).toBe(3);
    expect(fns.resets?.(mixed)).toBe(3);
    expect(fns.last_over_time?.(mixed)).toBe(1);
    expect(notes).toEqual([]);
  });
});
