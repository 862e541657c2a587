import { describe, expect, it } from 'vitest';
import { AggrChunk, AggrType, CounterResetsIterator } from './aggr.js';
import { Encoding, ValueType } from './chunk.js';
import { chunkFromBytes } from './frombytes.js';
import { XORChunk } from './xor.js';

function xor(samples: [number, number][]): XORChunk {
  const c = new XORChunk();
  const app = c.appender();
  for (const [t, v] of samples) app.append(t, v);
  return c;
}

describe('AggrChunk', () => {
  it('encodes five length-prefixed sub-chunks in Thanos’ order, absent ones as a zero length', () => {
    const count = xor([[299_999, 10]]);
    const counter = xor([[0, 5], [299_999, 50], [299_999, 50]]);
    const a = AggrChunk.encode([count, undefined, undefined, undefined, counter]);
    const c = count.bytes;
    const k = counter.bytes;
    expect([...a.bytes]).toEqual([c.length, Encoding.XOR, ...c, 0, 0, 0, k.length, Encoding.XOR, ...k]);
    const back = chunkFromBytes(Encoding.Aggr, a.bytes) as AggrChunk;
    expect(back).toBeInstanceOf(AggrChunk);
    expect(back.get(AggrType.Count)?.bytes).toEqual(c);
    expect(back.get(AggrType.Sum)).toBeUndefined();
    expect(back.get(AggrType.Counter)?.bytes).toEqual(k);
    expect(back.numSamples()).toBe(1);
    expect(back.iterator().err()).toBeInstanceOf(Error);
  });

  it('reports a truncated chunk as corruption', () => {
    const a = AggrChunk.encode([xor([[1, 1]]), undefined, undefined, undefined, undefined]);
    expect(() => AggrChunk.fromBytes(a.bytes.subarray(0, 4)).get(AggrType.Count)).toThrow(/aggregate chunk/);
  });
});

describe('CounterResetsIterator', () => {
  it('folds resets inside and between chunks, using the repeated last sample as the true last value', () => {
    // Chunk 1: raw first 10, window values, raw last 40 repeated at the last stamp.
    const c1 = xor([[0, 10], [100, 30], [200, 40], [200, 40]]);
    // Chunk 2 starts below 40: a reset between chunks. Then a reset inside (8 after 12).
    const c2 = xor([[250, 5], [300, 12], [400, 8], [400, 8]]);
    const it = new CounterResetsIterator([c1, c2]);
    const got: [number, number][] = [];
    while (it.next() === ValueType.Float) got.push([it.atT(), it.atFloat()]);
    expect(got).toEqual([[0, 10], [100, 30], [200, 40], [250, 45], [300, 52], [400, 60]]);
    expect(it.lastRawValue).toBe(8);
  });
});
