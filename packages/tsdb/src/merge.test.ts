import { describe, expect, it } from 'vitest';
import { seededRandom } from '@strata/testing/random';
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

  it('equals a sort of all series on random lists of many label sets, values with any characters included', () => {
    const rnd = seededRandom(7);
    // Values that the old key (name\xffvalue\xfe) could not tell apart from two labels.
    const values = ['', 'x', 'x\u00feb\u00ffy', 'y', 'þ', '\u{1F600}', '\uE000', 'a b'];
    const sets = Array.from({ length: 60 }, () => {
      const l: Record<string, string> = { __name__: `m${Math.floor(rnd() * 3)}` };
      for (const name of ['a', 'b', 'le']) if (rnd() < 0.7) l[name] = values[Math.floor(rnd() * values.length)] as string;
      return Labels.from(Object.fromEntries(Object.entries(l).filter(([, v]) => v !== '')));
    });
    sets.push(Labels.from({ __name__: 'm0', a: 'x\u00feb\u00ffy' }), Labels.from({ __name__: 'm0', a: 'x', b: 'y' }));
    let chunk = 0;
    for (let round = 0; round < 50; round++) {
      // Each list: a sorted sample of the label sets, each series decoded on its own (fresh Labels objects).
      const lists = Array.from({ length: 1 + Math.floor(rnd() * 24) }, () =>
        sets
          .filter(() => rnd() < 0.5)
          .map((l) => ({ labels: Labels.from(Object.fromEntries([...l].map((x) => [x.name, x.value]))), chunks: [chunk++] }))
          .sort((x, y) => Labels.compare(x.labels, y.labels)),
      );
      const all = lists.flat();
      const want = new Map<string, number[]>();
      for (const x of [...all].sort((p, q) => Labels.compare(p.labels, q.labels))) {
        const k = x.labels.toString();
        want.set(k, [...(want.get(k) ?? []), ...x.chunks]);
      }
      const got = [...mergeByLabels(lists)].map((x) => [x.labels.toString(), [...x.chunks].sort((p, q) => p - q), x.merged] as const);
      expect(got).toEqual([...want].map(([k, cs]) => [k, cs.sort((p, q) => p - q), cs.length > 1] as const));
    }
  });
});
