import { Labels, parseHistogramNotation as h, type FloatHistogram } from '@strata/tsdb';
import { describe, expect, it } from 'vitest';
import { StepSeries, type ScalarValue, type StepValue, type VectorValue } from '../engine/steps.js';
import type { Call } from '../parser/ast.js';
import { parseExpr } from '../parser/parse.js';
import type { FunctionContext } from './context.js';
import { HISTOGRAM_FUNCTIONS } from './histogram.js';
import { MATH_FUNCTIONS } from './math.js';
import { MISC_FUNCTIONS } from './misc.js';

/** A series over the steps of `values` (undefined: no sample). */
function series(labels: Record<string, string>, values: readonly (number | FloatHistogram | undefined)[]): StepSeries {
  const s = new StepSeries(Labels.from(Object.entries(labels).map(([name, value]) => ({ name, value }))), values.length);
  values.forEach((v, i) => {
    if (v === undefined) return;
    if (typeof v === 'number') {
      s.vals[i] = v;
      s.has[i] = 1;
    } else s.setHist(i, v);
  });
  return s;
}

function vector(...series: StepSeries[]): VectorValue {
  return { type: 'vector', series };
}

function scalar(...vals: number[]): ScalarValue {
  return { type: 'scalar', vals: Float64Array.from(vals) };
}

/** The context of evaluating `query` (a call) over `steps` steps, its annotations collected in `notes`. */
function context(query: string, steps: number, notes: string[]): FunctionContext {
  return {
    range: { start: 0, end: (steps - 1) * 1000, interval: 1000, steps },
    query: { start: 0, end: (steps - 1) * 1000, step: 1000 },
    call: parseExpr(query, { compat: 3 }) as Call,
    compat: 3,
    delayedNameRemoval: false,
    annotate: (m, pos) => notes.push(`${m} @${pos}`),
  };
}

/** Each output series as its labels and its values per step (null: none). */
function values(v: StepValue): [string, (number | null)[]][] {
  return (v as VectorValue).series.map((s) => [s.labels.toString(), Array.from(s.vals, (x, i) => (s.has[i] === 1 ? x : null))]);
}

const hist = h('{{schema:0 sum:5 count:4 buckets:[1 2 1]}}');

describe('instant-vector functions over native histograms', () => {
  it('histogram_count and friends take the histogram samples only', () => {
    const notes: string[] = [];
    const input = vector(series({ __name__: 'm', a: 'x' }, [hist, 7, hist]));
    const ctx = context('histogram_count(m)', 3, notes);
    expect(values(HISTOGRAM_FUNCTIONS.histogram_count?.([input], ctx) as StepValue)).toEqual([['{a="x"}', [4, null, 4]]]);
    expect(values(HISTOGRAM_FUNCTIONS.histogram_avg?.([input], ctx) as StepValue)).toEqual([['{a="x"}', [1.25, null, 1.25]]]);
    expect(notes).toEqual([]);
  });

  it('float functions drop histogram samples', () => {
    const notes: string[] = [];
    const input = vector(series({ a: 'x' }, [hist, -7]), series({ a: 'y' }, [hist, hist]));
    const ctx = context('clamp_min(m, 0)', 2, notes);
    expect(values(MATH_FUNCTIONS.clamp_min?.([input, scalar(0, 0)], ctx) as StepValue)).toEqual([['{a="x"}', [null, 0]]]);
    expect(values(MATH_FUNCTIONS.abs?.([input], ctx) as StepValue)).toEqual([['{a="x"}', [null, 7]]]);
  });

  it('scalar counts float samples only; sort leaves histograms out', () => {
    const notes: string[] = [];
    const input = vector(series({ a: 'x' }, [1]), series({ a: 'y' }, [hist]));
    const ctx = context('scalar(m)', 1, notes);
    expect(Array.from((MISC_FUNCTIONS.scalar?.([input], ctx) as ScalarValue).vals)).toEqual([1]);
    expect(values(MISC_FUNCTIONS.sort?.([input], ctx) as StepValue)).toEqual([['{a="x"}', [1]]]);
    expect(values(MISC_FUNCTIONS.sort_by_label?.([input], ctx) as StepValue)).toHaveLength(2);
  });

  it('histogram_quantile evaluates neither of a classic and a native histogram with the same labels', () => {
    const notes: string[] = [];
    const input = vector(
      series({ __name__: 'm', le: '1' }, [1, 1]), series({ __name__: 'm', le: '+Inf' }, [2, 2]), series({ __name__: 'm' }, [hist, undefined]),
    );
    const ctx = context('histogram_quantile(0.5, m)', 2, notes);
    expect(values(HISTOGRAM_FUNCTIONS.histogram_quantile?.([scalar(0.5, 0.5), input], ctx) as StepValue)).toEqual([['{}', [null, 1]]]);
    // Without delayed name removal the metric name is gone by then, as in Prometheus.
    expect(notes).toEqual(['PromQL warning: vector contains a mix of classic and native histograms @24']);
  });
});
