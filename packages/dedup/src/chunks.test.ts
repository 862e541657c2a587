import { ValueType, XORChunk, type ChunkMeta, type SampleIterator } from '@strata/tsdb';
import { describe, expect, it } from 'vitest';
import { PlainIterator } from './adjustable.js';
import { mergeChunkSeries, MERGED_CHUNK_SAMPLES } from './chunks.js';
import { penaltyMerge } from './penalty.js';

function chunk(samples: [number, number][]): ChunkMeta {
  const c = new XORChunk();
  const app = c.appender();
  for (const [t, v] of samples) app.append(t, v);
  return { minTime: samples[0]![0], maxTime: samples[samples.length - 1]![0], chunk: c };
}

function samplesOf(chunks: readonly ChunkMeta[]): [number, number][] {
  const out: [number, number][] = [];
  for (const c of chunks) {
    const it = c.chunk.iterator();
    while (it.next() === ValueType.Float) out.push([it.atT(), it.atFloat()]);
  }
  return out;
}

const grid = (from: number, to: number, step: number, offset = 0, f = (t: number) => t / 1000): [number, number][] => {
  const out: [number, number][] = [];
  for (let t = from + offset; t < to; t += step) out.push([t, f(t)]);
  return out;
};

class Arr implements SampleIterator {
  #i = -1;
  constructor(private readonly s: [number, number][]) {}
  next(): ValueType {
    return ++this.#i < this.s.length ? ValueType.Float : ValueType.None;
  }
  seek(t: number): ValueType {
    if (this.#i < 0) this.#i = 0;
    while (this.#i < this.s.length && this.s[this.#i]![0] < t) this.#i++;
    return this.#i < this.s.length ? ValueType.Float : ValueType.None;
  }
  atT(): number {
    return this.s[this.#i]![0];
  }
  atFloat(): number {
    return this.s[this.#i]![1];
  }
  err(): null {
    return null;
  }
}

describe('mergeChunkSeries', () => {
  it('keeps chunks that do not overlap as they are', () => {
    const a = chunk(grid(0, 60_000, 15_000));
    const b = chunk(grid(60_000, 120_000, 15_000));
    const out = mergeChunkSeries([b, a], 'penalty');
    expect(out).toHaveLength(2);
    expect(out[0]).toBe(a);
    expect(out[1]).toBe(b);
  });

  it('drops byte-identical copies of a chunk', () => {
    const a = chunk(grid(0, 60_000, 15_000));
    const copy = chunk(grid(0, 60_000, 15_000));
    expect(mergeChunkSeries([a, copy], 'chain')).toEqual([a]);
  });

  it('merges overlapping replicas with the penalty rule, no counter adjustment, into chunks of at most 120 samples', () => {
    // Replica A stops for 10 minutes; B is offset by 5s and lower (a counter that restarted).
    const a = [...grid(0, 1_200_000, 15_000), ...grid(1_800_000, 3_600_000, 15_000)];
    const b = grid(0, 3_600_000, 15_000, 5_000, (t) => t / 1000 - 100);
    const chunksOf = (s: [number, number][]) => [chunk(s.slice(0, 100)), chunk(s.slice(100))];
    const out = mergeChunkSeries([...chunksOf(a), ...chunksOf(b)], 'penalty');
    const want: [number, number][] = [];
    const it = penaltyMerge([new PlainIterator(new Arr(a)), new PlainIterator(new Arr(b))]);
    while (it.next() === ValueType.Float) want.push([it.atT(), it.atFloat()]);
    expect(samplesOf(out)).toEqual(want);
    // B filled A's gap, with its own (lower) values: nothing was adjusted.
    expect(want.some(([t, v]) => t === 1_505_000 && v === 1405)).toBe(true);
    for (const c of out) expect(c.chunk.numSamples()).toBeLessThanOrEqual(MERGED_CHUNK_SAMPLES);
    for (let i = 1; i < out.length; i++) expect(out[i]!.minTime).toBeGreaterThan(out[i - 1]!.maxTime);
  });

  it('unions overlapping chunks with the chain merge, equal timestamps once', () => {
    const a = chunk([[0, 1], [10, 1], [20, 1]]);
    const b = chunk([[10, 2], [15, 2], [30, 2]]);
    expect(samplesOf(mergeChunkSeries([a, b], 'chain'))).toEqual([[0, 1], [10, 1], [15, 2], [20, 1], [30, 2]]);
  });
});
