import { describe, expect, it } from 'vitest';
import { mergeAnswers, parseMatrixAnswer, trimAnswer, type MatrixAnswer, type MatrixSeries } from './answer.js';

const answer = (result: MatrixSeries[], extra: Partial<MatrixAnswer> = {}): MatrixAnswer => ({ status: 'success', data: { resultType: 'matrix', result }, ...extra });

describe('mergeAnswers', () => {
  it("joins each series' points in piece order, sorts series by labels and says each warning once", () => {
    const a = answer([{ metric: { job: 'b' }, values: [[1, '1']] }, { metric: { job: 'a' }, values: [[1, '2']] }], { warnings: ['partial'] });
    const h = { count: '1', sum: '2' };
    const b = answer([{ metric: { job: 'c' }, values: [[2, '5']] }, { metric: { job: 'a' }, values: [[2, '3']], histograms: [[3, h]] }], { warnings: ['partial', 'other'], infos: ['i'] });
    expect(mergeAnswers([a, b])).toEqual(
      answer(
        [
          { metric: { job: 'a' }, values: [[1, '2'], [2, '3']], histograms: [[3, h]] },
          { metric: { job: 'b' }, values: [[1, '1']] },
          { metric: { job: 'c' }, values: [[2, '5']] },
        ],
        { warnings: ['partial', 'other'], infos: ['i'] },
      ),
    );
  });

  it('orders series as Prometheus does: by label names and values, the metric name first', () => {
    const merged = mergeAnswers([answer([{ metric: { __name__: 'b', a: '1' }, values: [[1, '1']] }]), answer([{ metric: { __name__: 'a', z: '1' }, values: [[2, '1']] }, { metric: { __name__: 'a' }, values: [[2, '1']] }])]);
    expect(merged.data.result.map((s) => s.metric)).toEqual([{ __name__: 'a' }, { __name__: 'a', z: '1' }, { __name__: 'b', a: '1' }]);
  });
});

describe('trimAnswer', () => {
  it('keeps the points within [start, end] and drops series left empty', () => {
    const a = answer([
      { metric: { s: '1' }, values: [[1.5, '1'], [2, '2'], [3.25, '3']] },
      { metric: { s: '2' }, values: [[4, '4']] },
    ]);
    expect(trimAnswer(a, 2000, 3250).data.result).toEqual([{ metric: { s: '1' }, values: [[2, '2'], [3.25, '3']] }]);
  });
});

describe('parseMatrixAnswer', () => {
  it('takes successful matrices only', () => {
    expect(parseMatrixAnswer(JSON.stringify(answer([])))).toEqual(answer([]));
    expect(parseMatrixAnswer('{"status":"error","errorType":"bad_data","error":"x"}')).toBeUndefined();
    expect(parseMatrixAnswer('{"status":"success","data":{"resultType":"vector","result":[]}}')).toBeUndefined();
    expect(parseMatrixAnswer('not json')).toBeUndefined();
  });
});
