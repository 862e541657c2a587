import { ArraySampleIterator, isStaleNaN, Labels, SampleBuffer, STALE_NAN, ValueType, XORChunk, type Chunk, type ChunkMeta, type SampleIterator, type SampleWindow } from '@strata/tsdb';
import { describe, expect, it } from 'vitest';
import { CounterAdjustingIterator, PlainIterator } from './adjustable.js';
import { penaltyMerge } from './penalty.js';
import { PenaltyMergedSeries } from './plan.js';

/** A stale marker is written as 'stale': an array of numbers would not keep a NaN's bits. */
type Sample = [number, number | 'stale'];
const num = (v: number | 'stale'): number => (v === 'stale' ? STALE_NAN : v);
const sample = (t: number, v: number): Sample => [t, isStaleNaN(v) ? 'stale' : v];

function xorChunk(samples: readonly Sample[]): ChunkMeta {
  const c = new XORChunk();
  const app = c.appender();
  for (const [t, v] of samples) app.append(t, num(v));
  return { minTime: samples[0]![0], maxTime: samples[samples.length - 1]![0], chunk: c };
}

const chunksOf = (s: readonly Sample[], per: number): ChunkMeta[] => {
  const out: ChunkMeta[] = [];
  for (let i = 0; i < s.length; i += per) out.push(xorChunk(s.slice(i, i + per)));
  return out;
};

function samplesOf(chunks: readonly ChunkMeta[]): Sample[] {
  const out: Sample[] = [];
  for (const c of chunks) {
    const it = c.chunk.iterator();
    while (it.next() === ValueType.Float) out.push(sample(it.atT(), it.atFloat()));
  }
  return out;
}

function drain(it: SampleIterator): Sample[] {
  const out: Sample[] = [];
  while (it.next() !== ValueType.None) out.push(sample(it.atT(), it.atFloat()));
  return out;
}

/** The sample-by-sample merge of the same replicas: the reference. */
function reference(replicas: readonly Sample[][], counter: boolean): Sample[] {
  const its = replicas.map((r) => {
    const it = new ArraySampleIterator(Float64Array.from(r, ([t]) => t), Float64Array.from(r, ([, v]) => num(v)));
    return counter ? new CounterAdjustingIterator(it) : new PlainIterator(it);
  });
  return drain(penaltyMerge(its));
}

function rng(seed: number): () => number {
  return () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
}

/** A replica scraping every ~15 s with jitter, outages, counter resets, stale markers and repeated values. */
function randomReplica(rnd: () => number, end: number): Sample[] {
  const out: Sample[] = [];
  let t = Math.floor(rnd() * 15_000);
  let v = 0;
  while (t < end) {
    const r = rnd();
    if (r < 0.02) t += Math.floor(rnd() * 400_000);
    else if (r < 0.04) t += 15_000 * (2 + Math.floor(rnd() * 3));
    t += 15_000 + (rnd() < 0.1 ? Math.floor(rnd() * 20_000) - 10_000 : 0);
    if (out.length > 0 && t <= out[out.length - 1]![0]) t = out[out.length - 1]![0] + 1;
    const kind = rnd();
    v = kind < 0.01 ? 0 : kind < 0.1 ? v : v + rnd() * 10;
    out.push([t, kind > 0.99 ? 'stale' : v]);
  }
  return out;
}

/**
 * Replicas that each keep a random part of one timeline whose steps (1000, 1001, 2001, 2003, 4003 ms)
 * are often twice the step before plus 1 ms: samples land exactly on the merge's penalty bounds, and
 * the replicas share timestamps.
 */
function tightReplicas(rnd: () => number, n: number, length: number): Sample[][] {
  const steps = [1000, 1001, 2001, 2003, 4003];
  const timeline: number[] = [];
  for (let i = 0, t = 0; i < length; i++, t += steps[Math.floor(rnd() * steps.length)]!) timeline.push(t);
  return Array.from({ length: n }, () => timeline.filter(() => rnd() < 0.7).map((t): Sample => [t, Math.floor(rnd() * 100)]));
}

/** The merged samples of replicas, as a reader's buffer gets them for `window`. */
function merged(replicas: readonly (readonly ChunkMeta[])[], counter: boolean, window?: SampleWindow): Sample[] {
  const series = PenaltyMergedSeries.of(Labels.EMPTY, replicas, counter);
  if (series === undefined) throw new Error('not mergeable');
  if (window === undefined) return drain(series.iterator());
  const buf = new SampleBuffer(4);
  buf.push(-1, -1);
  series.appendSamples(buf, window);
  expect([buf.ts[0], buf.vs[0]]).toEqual([-1, -1]);
  return Array.from(buf.ts.subarray(1, buf.n), (t, i) => sample(t, buf.vs[i + 1]!));
}

describe('PenaltyMergedSeries', () => {
  it('gives the samples of the sample-by-sample penalty merge on random replicas', () => {
    const rnd = rng(11);
    for (let k = 0; k < 400; k++) {
      const n = 2 + (k % 3 === 0 ? 1 : 0) + (k % 11 === 0 ? 1 : 0);
      const counter = k % 2 === 0 && n === 2;
      const reps = Array.from({ length: n }, () => randomReplica(rnd, 1_000_000 + Math.floor(rnd() * 3_000_000)));
      // Replicas that scrape at the same instants, too.
      if (k % 7 === 0) reps[1] = reps[0]!.map(([t, v]) => [t, v === 'stale' ? v : v + 1]);
      const per = 1 + Math.floor(rnd() * 150);
      expect(merged(reps.map((r) => chunksOf(r, per)), counter)).toEqual(reference(reps, counter));
    }
  });

  it('writes only the samples of the reader’s window into its buffer, stale markers dropped if asked', () => {
    const rnd = rng(3);
    for (let k = 0; k < 200; k++) {
      const n = 2 + (k % 3 === 0 ? 1 : 0);
      const counter = k % 2 === 0 && n === 2;
      const reps = Array.from({ length: n }, () => randomReplica(rnd, 2_000_000));
      const mint = Math.floor(rnd() * 1_500_000);
      const window = { mint, maxt: mint + Math.floor(rnd() * 1_000_000), dropStale: k % 4 < 2 };
      const want = reference(reps, counter).filter(([t, v]) => t >= window.mint && t <= window.maxt && !(window.dropStale && v === 'stale'));
      expect(merged(reps.map((r) => chunksOf(r, 1 + Math.floor(rnd() * 150))), counter, window)).toEqual(want);
    }
  });

  it('gives the samples of the sample-by-sample penalty merge where samples fall on the penalty bounds', () => {
    const rnd = rng(5);
    for (let k = 0; k < 400; k++) {
      const n = 2 + (k % 4 === 0 ? 1 : 0);
      const counter = k % 2 === 0 && n === 2;
      const reps = tightReplicas(rnd, n, 1 + Math.floor(rnd() * 600));
      const per = 1 + Math.floor(rnd() * 100);
      expect(merged(reps.map((r) => chunksOf(r, per)), counter)).toEqual(reference(reps, counter));
    }
  });

  it('decodes none of the other replica’s chunks after it fell behind, nor any past the reader’s maxt', () => {
    const step = (offset: number): Sample[] => {
      const out: Sample[] = [];
      for (let t = offset; t < 7_200_000; t += 15_000) out.push([t, t / 1000]);
      return out;
    };
    const a = chunksOf(step(0), 120);
    const b = chunksOf(step(7_000), 120);
    const untouchable = (c: ChunkMeta): ChunkMeta => ({
      ...c,
      chunk: {
        encoding: 1,
        get bytes(): Uint8Array {
          throw new Error('decoded');
        },
      } as unknown as Chunk,
    });
    // A's first sample comes first; B's first, 7 s later, is taken for the same scrape, and the merge
    // follows A, whose samples are never 30 s apart: B's chunks after its first are not needed.
    const got = merged([a, [b[0]!, ...b.slice(1).map(untouchable)]], true);
    expect(got).toEqual(step(0));
    // Up to 1 h, A's chunks from the third (from 1 h on) are not needed either.
    const window = { mint: 0, maxt: 3_599_999, dropStale: false };
    expect(merged([[...a.slice(0, 2), ...a.slice(2).map(untouchable)], [b[0]!, ...b.slice(1).map(untouchable)]], true, window)).toEqual(
      got.filter(([t]) => t < 3_600_000),
    );
  });

  it('switches across a gap: a raised counter keeps its stale markers', () => {
    const a: Sample[] = [];
    const b: Sample[] = [];
    for (let t = 0; t < 3_600_000; t += 15_000) {
      if (t < 1_200_000 || t >= 2_400_000) a.push([t, t / 1000]);
      b.push([t + 5_000, t === 1_800_000 ? 'stale' : t / 1000 - 100]);
    }
    const got = merged([chunksOf(a, 120), chunksOf(b, 120)], true);
    expect(got).toEqual(reference([a, b], true));
    expect(got.find(([t]) => t === 1_805_000)).toEqual([1_805_000, 'stale']);
    // A's last sample is at 1185 s (value 1185); B may take over after 1185 s + 2 × 15 s, at 1220 s,
    // where it reads 1115: it is raised by 70.
    expect(got.find(([t]) => t > 1_185_000)).toEqual([1_220_000, 1185]);
  });

  it('declines what it cannot merge in bulk', () => {
    const a = chunksOf([[0, 1], [15_000, 2]], 120);
    const histogram: ChunkMeta = { ...a[0]!, chunk: { ...a[0]!.chunk, encoding: 2 } as Chunk };
    expect(PenaltyMergedSeries.of(Labels.EMPTY, [a, [histogram]], false)).toBeUndefined();
    expect(PenaltyMergedSeries.of(Labels.EMPTY, [a, a, a], true)).toBeUndefined();
    expect(merged([a, []], true)).toEqual(samplesOf(a));
  });
});
