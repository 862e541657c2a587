import { CounterResetHint, FloatHistogram, Labels } from '@strata/tsdb';
import { describe, expect, it } from 'vitest';
import type { BinaryOp, VectorMatching } from '../parser/ast.js';
import { vectorBinop, vectorScalarBinop } from './binary.js';
import { SeriesBuilder, type VectorValue } from './steps.js';

const rules = { compat: 3, delayedNameRemoval: false } as const;
const ignoringName: VectorMatching = { card: 'one-to-one', matchingLabels: [], on: false, include: [] };

function hist(hint: CounterResetHint, custom = false): FloatHistogram {
  return new FloatHistogram({
    counterResetHint: hint, schema: custom ? -53 : 0, count: 1, sum: 1,
    positiveSpans: [{ offset: 0, length: 1 }], positiveBuckets: [1], customValues: custom ? [1] : [],
  });
}

/** One series named `name` with the given values at steps 0, 1, … */
function vector(name: string, values: (number | FloatHistogram)[]): VectorValue {
  const out = new SeriesBuilder(values.length);
  const s = out.series(Labels.from({ __name__: name }));
  values.forEach((v, i) => (typeof v === 'number' ? out.set(s, i, v) : out.setHist(s, i, v)));
  return out.result();
}

function run(op: BinaryOp, l: VectorValue, r: VectorValue): { result: VectorValue; annotations: string[] } {
  const annotations: string[] = [];
  const result = vectorBinop(op, l, r, ignoringName, false, 1, rules, (m) => annotations.push(m));
  return { result, annotations };
}

describe('binary operators over native histograms', () => {
  it('drops a sum of a counter reset and a not-reset histogram with a warning, as Prometheus does', () => {
    const { result, annotations } = run('+', vector('a', [hist(CounterResetHint.CounterReset)]), vector('b', [hist(CounterResetHint.NotCounterReset)]));
    expect(result.series).toEqual([]);
    expect(annotations).toEqual(['PromQL warning: conflicting counter resets during histogram addition']);
  });

  it('warns of exponential and custom buckets mixed, and reports only the last problem of a step', () => {
    const exp = hist(CounterResetHint.Unknown);
    const custom = hist(CounterResetHint.Unknown, true);
    expect(run('-', vector('a', [exp]), vector('b', [custom])).annotations).toEqual([
      'PromQL warning: incompatible bucket layout encountered for binary operator -',
    ]);
    const l = new SeriesBuilder(1);
    const r = new SeriesBuilder(1);
    l.setHist(l.series(Labels.from({ x: '1' })), 0, exp);
    r.set(r.series(Labels.from({ x: '1' })), 0, 1);
    l.setHist(l.series(Labels.from({ x: '2' })), 0, exp);
    r.setHist(r.series(Labels.from({ x: '2' })), 0, exp);
    expect(run('*', l.result(), r.result()).annotations).toEqual([
      'PromQL info: incompatible sample types encountered for binary operator "*": histogram * histogram',
    ]);
  });

  it('trims histograms only: a float takes no trim', () => {
    const annotations: string[] = [];
    const v = vector('a', [2, hist(CounterResetHint.Unknown)]);
    const out = vectorScalarBinop('</', v, new Float64Array([1, 1]), false, false, 2, rules, (m) => annotations.push(m));
    expect(out.series[0]?.labels.get('__name__')).toBe('a');
    expect(out.series[0]?.has).toEqual(new Uint8Array([0, 1]));
    expect(annotations).toEqual(['PromQL info: incompatible sample types encountered for binary operator "</": float </ float']);
  });
});
