import {
  ChainedChunksIterator, ChainMergeIterator, CounterResetHint, cutHistogramChunks, Encoding, HistogramChunk, ValueType, XORChunk, type ChunkMeta, type Histogram, type SampleIterator,
} from '@strata/tsdb';
import { describe, expect, it } from 'vitest';
import { decodedSamples } from '@strata/testing/samples';
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

  it('keeps one replica’s sample at each block boundary, where the merge of each run of overlapping chunks starts', () => {
    // Two replicas 7 s apart (past Thanos' initial 5 s penalty), their chunks cut at 2 h as Prometheus cuts them.
    const h = 7_200_000;
    const cut = (s: [number, number][]) => [chunk(s.filter(([t]) => t < h)), chunk(s.filter(([t]) => t >= h))];
    const a = grid(0, 2 * h, 60_000, 2_345);
    const b = grid(0, 2 * h, 60_000, 9_345);
    const got = samplesOf(mergeChunkSeries([...cut(a), ...cut(b)], 'penalty'));
    const want: [number, number][] = [];
    const it = penaltyMerge([new PlainIterator(new Arr(a)), new PlainIterator(new Arr(b))]);
    while (it.next() === ValueType.Float) want.push([it.atT(), it.atFloat()]);
    expect(got).toEqual(want);
    expect(got).toEqual(a);
  });

  it('unions overlapping chunks with the chain merge, equal timestamps once', () => {
    const a = chunk([[0, 1], [10, 1], [20, 1]]);
    const b = chunk([[10, 2], [15, 2], [30, 2]]);
    expect(samplesOf(mergeChunkSeries([a, b], 'chain'))).toEqual([[0, 1], [10, 1], [15, 2], [20, 1], [30, 2]]);
  });

  describe('native histograms', () => {
    /** A counter histogram with two buckets of schema 0, delta-encoded; a third bucket from count 40 on. */
    const hist = (count: number): Histogram => {
      const wide = count >= 40;
      const [a, b, c] = wide ? [count - 20, 10, 10] : [count - 10, 10, 0];
      return {
        counterResetHint: CounterResetHint.Unknown, schema: 0, zeroThreshold: 2 ** -128, zeroCount: 0, count, sum: count * 1.5,
        positiveSpans: [{ offset: 0, length: wide ? 3 : 2 }], negativeSpans: [], positiveBuckets: wide ? [a, b - a, c - b] : [a, b - a], negativeBuckets: [], customValues: [],
      };
    };
    const histChunks = (ts: number[], value: (t: number) => number): ChunkMeta[] => cutHistogramChunks(ts.map((t) => ({ t, h: hist(value(t)) })), 7_200_000);
    const times = (from: number, to: number, step: number, offset = 0): number[] => grid(from, to, step, offset).map(([t]) => t);
    const aCount = (t: number): number => 20 + Math.floor(t / 60_000);
    const bCount = (t: number): number => 10 + Math.floor(t / 120_000);

    it('merges overlapping histogram replicas with the penalty rule into histogram chunks, counter resets cutting chunks', () => {
      // A stops for 10 minutes; B, offset by 5s, restarted (lower counts), so the switch to it is a reset.
      // Chunks of half an hour, so that the merge sees the two replicas as they are given.
      const a = [histChunks(times(0, 1_200_000, 15_000), aCount), histChunks(times(1_800_000, 3_600_000, 15_000), aCount)];
      const b = [histChunks(times(0, 1_800_000, 15_000, 5_000), bCount), histChunks(times(1_800_000, 3_600_000, 15_000, 5_000), bCount)];
      const out = mergeChunkSeries([...a.flat(), ...b.flat()], 'penalty');
      // The halves do not overlap each other: each is merged on its own.
      const want = [0, 1].flatMap((i) => decodedSamples(penaltyMerge([a[i]!, b[i]!].map((r) => new PlainIterator(new ChainedChunksIterator(r))))));
      expect(decodedSamples(new ChainedChunksIterator(out))).toEqual(want);
      // B filled A's gap.
      expect(want.some(([t]) => t === 1_505_000)).toBe(true);
      for (const c of out) {
        expect(c.chunk.encoding).toBe(Encoding.Histogram);
        expect(c.chunk.numSamples()).toBeLessThanOrEqual(MERGED_CHUNK_SAMPLES);
      }
      for (let i = 1; i < out.length; i++) expect(out[i]!.minTime).toBeGreaterThan(out[i - 1]!.maxTime);
      // A's counts go down to B's at the switch: the chunk starting there says so.
      const atSwitch = out.find((c) => c.minTime > 1_200_000 && c.minTime < 1_800_000)!;
      expect((atSwitch.chunk as HistogramChunk).counterResetHeader()).toBe(0x80);
      // The third bucket, from count 40 on, made the chunk recode rather than cut.
      expect(out.length).toBeLessThan(8);
    });

    it('chain-merges a series switching between floats and histograms into a chunk per run of one type', () => {
      // Floats until 60s, histograms from 50s to 120s (one at 60s too: the float comes first there).
      const floats = chunk(grid(0, 61_000, 15_000));
      const hists = histChunks(times(50_000, 120_000, 10_000), () => 30);
      const out = mergeChunkSeries([floats, ...hists], 'chain');
      const want = decodedSamples(new ChainMergeIterator([new ChainedChunksIterator([floats]), new ChainedChunksIterator(hists)]));
      expect(decodedSamples(new ChainedChunksIterator(out))).toEqual(want);
      expect(out.map((c) => c.chunk.encoding)).toEqual([Encoding.XOR, Encoding.Histogram, Encoding.XOR, Encoding.Histogram]);
      expect(out.map((c) => c.chunk.numSamples())).toEqual([4, 1, 1, 5]);
    });
  });
});
