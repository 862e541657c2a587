import { describe, expect, it } from 'vitest';
import { Labels } from './labels/labels.js';
import { mergeByLabels } from './merge.js';

const s = (name: string, ...chunks: number[]) => ({ labels: Labels.from({ __name__: name }), chunks });

describe('mergeByLabels', () => {
  it('merges sorted lists and joins equal label sets', () => {
    const a = [s('a', 1), s('c', 3), s('d', 4)];
    const b = [s('b', 2), s('c', 30)];
    const c = [s('c', 300), s('e', 5)];
    const out = [...mergeByLabels([a, b, [], c])];
    // Chunks of equal label sets come in heap order; callers sort them.
    expect(out.map((x) => [x.labels.get('__name__'), [...x.chunks].sort((p, q) => p - q), x.merged])).toEqual([
      ['a', [1], false],
      ['b', [2], false],
      ['c', [3, 30, 300], true],
      ['d', [4], false],
      ['e', [5], false],
    ]);
    expect(a[1]?.chunks).toEqual([3]);
  });

  it('joins consecutive equal series within one list', () => {
    expect([...mergeByLabels([[s('x', 1), s('x', 2)]])].map((x) => x.chunks)).toEqual([[1, 2]]);
  });
});
