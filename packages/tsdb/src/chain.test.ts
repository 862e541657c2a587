import { describe, expect, it } from 'vitest';
import { ChainMergeIterator } from './chain.js';
import { ValueType, type SampleIterator } from './chunkenc/chunk.js';
import { ArraySampleIterator } from './series.js';

const samples = (s: [number, number][]) => new ArraySampleIterator(s.map(([t]) => t), s.map(([, v]) => v));

function drain(it: SampleIterator): [number, number][] {
  const out: [number, number][] = [];
  while (it.next() !== ValueType.None) out.push([it.atT(), it.atFloat()]);
  return out;
}

describe('ChainMergeIterator', () => {
  it('unions samples and keeps the first iterator\'s sample at equal timestamps', () => {
    const it = new ChainMergeIterator([samples([[1, 1], [3, 3], [5, 5]]), samples([[2, 20], [3, 30], [6, 60]])]);
    expect(drain(it)).toEqual([[1, 1], [2, 20], [3, 3], [5, 5], [6, 60]]);
  });

  it('seeks', () => {
    const s = new ChainMergeIterator([samples([[1, 1], [4, 4]]), samples([[2, 2]])]);
    expect(s.seek(2)).toBe(ValueType.Float);
    expect([s.atT(), s.atFloat()]).toEqual([2, 2]);
    expect(drain(s)).toEqual([[4, 4]]);
    expect(new ChainMergeIterator([]).next()).toBe(ValueType.None);
  });
});
