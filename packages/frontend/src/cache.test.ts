import { describe, expect, it } from 'vitest';
import { ResultsCache, type Extent } from './cache.js';

const extent = (start: number, bytes: number): Extent => ({ start, end: start + 10, bytes, answer: { status: 'success', data: { resultType: 'matrix', result: [] } } });

describe('ResultsCache', () => {
  it('evicts the least recently used keys past its size, and refuses a key larger than all of it', () => {
    const evicted: number[] = [];
    const cache = new ResultsCache(100, (b) => evicted.push(b));
    cache.set('a', [extent(0, 40)]);
    cache.set('b', [extent(0, 30), extent(20, 10)]);
    expect(cache.get('a')).toHaveLength(1);
    cache.set('c', [extent(0, 50)]);
    // b was used least recently: evicted, a kept.
    expect(cache.get('b')).toEqual([]);
    expect(cache.get('a')).toHaveLength(1);
    expect(evicted).toEqual([40]);
    expect(cache.bytes).toBe(90);
    expect(cache.items).toBe(2);
    cache.set('d', [extent(0, 101)]);
    expect(cache.get('d')).toEqual([]);
    expect(cache.bytes).toBe(90);
  });

  it("replaces a key's extents, counting only the new ones", () => {
    const cache = new ResultsCache(100);
    cache.set('a', [extent(0, 40)]);
    cache.set('a', [extent(0, 60)]);
    expect(cache.bytes).toBe(60);
    expect(cache.items).toBe(1);
  });
});
