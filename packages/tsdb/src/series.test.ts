import { describe, expect, it } from 'vitest';
import { ValueType, type ChunkMeta } from './chunkenc/chunk.js';
import { XORChunk } from './chunkenc/xor.js';
import { Labels } from './labels/labels.js';
import { ArraySampleIterator, ChunkSeriesSamples } from './series.js';

function chunk(samples: [number, number][]): ChunkMeta {
  const c = new XORChunk();
  const app = c.appender();
  for (const [t, v] of samples) app.append(t, v);
  return { minTime: samples[0]![0], maxTime: samples[samples.length - 1]![0], chunk: c };
}

describe('ChunkSeriesSamples', () => {
  const chunks = [chunk([[1, 1], [2, 2]]), chunk([[5, 5], [6, 6]]), chunk([[9, 9]])];

  it('iterates across chunk boundaries', () => {
    const it = new ChunkSeriesSamples(Labels.EMPTY, chunks).iterator();
    const got: number[] = [];
    while (it.next() !== ValueType.None) got.push(it.atT());
    expect(got).toEqual([1, 2, 5, 6, 9]);
    expect(it.err()).toBeNull();
  });

  it('seeks into later chunks and past the end', () => {
    const it = new ChunkSeriesSamples(Labels.EMPTY, chunks).iterator();
    expect(it.seek(3)).toBe(ValueType.Float);
    expect(it.atT()).toBe(5);
    expect(it.seek(4)).toBe(ValueType.Float);
    expect(it.atT()).toBe(5);
    expect(it.next()).toBe(ValueType.Float);
    expect(it.atT()).toBe(6);
    expect(it.seek(7)).toBe(ValueType.Float);
    expect(it.atFloat()).toBe(9);
    expect(it.seek(10)).toBe(ValueType.None);
    expect(new ChunkSeriesSamples(Labels.EMPTY, []).iterator().next()).toBe(ValueType.None);
  });
});

describe('ArraySampleIterator', () => {
  it('iterates and seeks', () => {
    const it = new ArraySampleIterator([10, 20, 30, 40], [1, 2, 3, 4]);
    expect(it.seek(15)).toBe(ValueType.Float);
    expect([it.atT(), it.atFloat()]).toEqual([20, 2]);
    expect(it.seek(5)).toBe(ValueType.Float);
    expect(it.atT()).toBe(20);
    expect(it.next()).toBe(ValueType.Float);
    expect(it.atT()).toBe(30);
    expect(it.seek(41)).toBe(ValueType.None);
    const fresh = new ArraySampleIterator([1], [1]);
    expect(fresh.next()).toBe(ValueType.Float);
    expect(fresh.next()).toBe(ValueType.None);
  });
});
