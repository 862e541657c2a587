import { describe, expect, it } from 'vitest';
import { ValueType, type ChunkMeta, type SampleIterator } from '../chunkenc/chunk.js';
import { XORChunk } from '../chunkenc/xor.js';
import { ChainedChunksIterator } from './series-iterator.js';

/** A chunk of samples at `times`, each value its timestamp / 10. */
function chunk(times: number[]): ChunkMeta {
  const c = new XORChunk();
  const app = c.appender();
  for (const t of times) app.append(t, t / 10);
  return { minTime: times[0]!, maxTime: times[times.length - 1]!, chunk: c };
}

function drain(it: SampleIterator): number[] {
  const ts: number[] = [];
  while (it.next() !== ValueType.None) ts.push(it.atT());
  return ts;
}

describe('ChainedChunksIterator', () => {
  const chunks = [chunk([10, 20, 30]), chunk([40, 50]), chunk([60, 70, 80])];

  it('chains the chunks in order', () => {
    const it = new ChainedChunksIterator(chunks);
    expect(drain(it)).toEqual([10, 20, 30, 40, 50, 60, 70, 80]);
    expect(it.err()).toBeNull();
  });

  it('seeks forward only, to the first sample at or after t, across chunks', () => {
    const it = new ChainedChunksIterator(chunks);
    expect(it.seek(25)).toBe(ValueType.Float);
    expect([it.atT(), it.atFloat()]).toEqual([30, 3]);
    expect(it.seek(5)).toBe(ValueType.Float); // already past: stays
    expect(it.atT()).toBe(30);
    expect(it.seek(55)).toBe(ValueType.Float); // leaves the rest of chunk 0 and all of chunk 1 behind
    expect(it.atT()).toBe(60);
    expect(drain(it)).toEqual([70, 80]);
    expect(it.seek(90)).toBe(ValueType.None);
  });

  it('never decodes chunks that end before a seek target', () => {
    const opened: number[] = [];
    const watched = chunks.map((c, i): ChunkMeta => ({
      ...c,
      chunk: { ...c.chunk, iterator: (reuse?: SampleIterator) => (opened.push(i), c.chunk.iterator(reuse)) } as ChunkMeta['chunk'],
    }));
    const it = new ChainedChunksIterator(watched);
    expect(it.seek(65)).toBe(ValueType.Float);
    expect(it.atT()).toBe(70);
    expect(opened).toEqual([2]);
  });

  it('starts over on other chunks after reset', () => {
    const it = new ChainedChunksIterator(chunks);
    expect(it.seek(45)).toBe(ValueType.Float);
    it.reset([chunk([1, 2]), chunk([3])]);
    expect(drain(it)).toEqual([1, 2, 3]);
    it.reset([]);
    expect(it.next()).toBe(ValueType.None);
  });
});
