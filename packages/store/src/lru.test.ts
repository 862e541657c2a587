import { seededRandom } from '@strata/testing/random';
import { describe, expect, it } from 'vitest';
import { LruMap } from './lru.js';

describe('LruMap', () => {
  it('keeps entries in least-recently-used order: get and set move an entry to the back, peek does not', () => {
    const m = new LruMap<number>();
    for (const k of ['a', 'b', 'c', 'd']) m.set(k, k.charCodeAt(0));
    expect(m.get('b')).toBe(98);
    expect(m.peek('a')).toBe(97);
    m.set('c', 3);
    expect([...m.entries()]).toEqual([['a', 97], ['d', 100], ['b', 98], ['c', 3]]);
    expect(m.oldest()).toEqual(['a', 97]);
    expect(m.delete('a')).toBe(true);
    expect(m.delete('a')).toBe(false);
    expect([m.size, m.has('a'), m.get('a'), m.oldest()]).toEqual([3, false, undefined, ['d', 100]]);
  });

  it('may delete the entry it has just given while iterating, down to empty', () => {
    const m = new LruMap<number>();
    for (let i = 0; i < 6; i++) m.set(`k${i}`, i);
    for (const [k, v] of m.entries()) if (v % 2 === 0) m.delete(k);
    expect([...m.entries()].map(([k]) => k)).toEqual(['k1', 'k3', 'k5']);
    for (const [k] of m.entries()) m.delete(k);
    expect([m.size, m.oldest(), [...m.entries()]]).toEqual([0, undefined, []]);
    m.set('again', 1);
    expect([...m.entries()]).toEqual([['again', 1]]);
  });

  it('orders as a Map re-inserting every hit does, over random operations', () => {
    const rnd = seededRandom(7);
    const m = new LruMap<number>();
    const ref = new Map<string, number>();
    for (let i = 0; i < 5_000; i++) {
      const key = `k${Math.floor(rnd() * 40)}`;
      const op = rnd();
      if (op < 0.4) {
        const v = ref.get(key);
        if (v !== undefined) {
          ref.delete(key);
          ref.set(key, v);
        }
        expect(m.get(key)).toBe(v);
      } else if (op < 0.8) {
        ref.delete(key);
        ref.set(key, i);
        m.set(key, i);
      } else if (op < 0.9) {
        expect(m.delete(key)).toBe(ref.delete(key));
      } else {
        const first = ref.entries().next().value;
        expect(m.oldest()).toEqual(first);
      }
    }
    expect([...m.entries()]).toEqual([...ref.entries()]);
  });
});
