import { ArraySampleIterator, ChunkSeriesSamples, Labels, ValueType, XORChunk, type ChunkMeta, type SampleIterator, type Series } from '@strata/tsdb';
import { describe, expect, it } from 'vitest';
import { ChunksReplicaIterator, CounterAdjustingIterator, PlainIterator } from './adjustable.js';
import { splitOverlapping } from './overlap.js';
import { penaltyMerge } from './penalty.js';
import { dedupSeriesSet } from './series.js';

/** A test iterator over [t, v] pairs. */
const arrayIterator = (s: readonly [number, number][]) => new ArraySampleIterator(s.map(([t]) => t), s.map(([, v]) => v));

function drain(it: SampleIterator): [number, number][] {
  const out: [number, number][] = [];
  while (it.next() !== ValueType.None) out.push([it.atT(), it.atFloat()]);
  return out;
}

const plain = (s: [number, number][]) => new PlainIterator(arrayIterator(s));
const series = (step: number, offset: number, from: number, to: number, f: (t: number) => number = (t) => t) => {
  const out: [number, number][] = [];
  for (let t = from + offset; t < to; t += step) out.push([t, f(t)]);
  return out;
};

function xorChunk(samples: [number, number][]): ChunkMeta {
  const c = new XORChunk();
  const app = c.appender();
  for (const [t, v] of samples) app.append(t, v);
  return { minTime: samples[0]![0], maxTime: samples[samples.length - 1]![0], chunk: c };
}

const chunksOf = (s: [number, number][], per: number): ChunkMeta[] => {
  const out: ChunkMeta[] = [];
  for (let i = 0; i < s.length; i += per) out.push(xorChunk(s.slice(i, i + per)));
  return out;
};

describe('penalty deduplication', () => {
  it('sticks to one replica while it keeps its interval', () => {
    const a = series(15_000, 0, 0, 300_000);
    const b = series(15_000, 5_000, 0, 300_000);
    expect(drain(penaltyMerge([plain(a), plain(b)]))).toEqual(a);
  });

  it('starts with the earlier replica and never doubles the sample rate', () => {
    const a = series(15_000, 7_000, 0, 300_000);
    const b = series(15_000, 2_000, 0, 300_000);
    const got = drain(penaltyMerge([plain(a), plain(b)]));
    expect(got).toEqual(b);
  });

  it('switches replicas across a gap longer than two intervals and stays there', () => {
    const a = [...series(10_000, 0, 0, 100_000), ...series(10_000, 0, 200_000, 300_000)];
    const b = series(10_000, 3_000, 0, 300_000);
    const got = drain(penaltyMerge([plain(a), plain(b)]));
    // A until its last sample at 90s; B is eligible only after 90s + penalty (2 × 10s) → 113s onwards.
    const expected = [...series(10_000, 0, 0, 100_000), ...series(10_000, 3_000, 110_000, 300_000)];
    expect(got).toEqual(expected);
  });

  it('where one replica ends, goes on with the other after one interval, not two (thanos-io/thanos#7656)', () => {
    // History deduplicated by the compactor (no replica label) up to 60s, a sidecar's r0 from 70s on:
    // one replica's scrapes, one after the other. Thanos' penalty would drop 70s and 80s.
    const history = series(10_000, 0, 0, 70_000);
    const recent = series(10_000, 0, 70_000, 150_000);
    expect(drain(penaltyMerge([plain(history), plain(recent)]))).toEqual([...history, ...recent]);
    // Replicas that both end: the other's last sample, 4s after the one emitted, is that scrape's twin.
    const a = series(10_000, 0, 0, 100_000);
    expect(drain(penaltyMerge([plain(a), plain(series(10_000, 4_000, 0, 100_000))]))).toEqual(a);
    // One that stops while the other goes on: the twin at 94s skipped, the next scrape taken at 104s.
    const b = series(10_000, 4_000, 0, 200_000);
    expect(drain(penaltyMerge([plain(a), plain(b)]))).toEqual([...a, ...series(10_000, 4_000, 100_000, 200_000)]);
    // Replicas with the same timestamps: never a timestamp twice, even where no interval is known yet.
    expect(drain(penaltyMerge([plain([[0, 1]]), plain([[0, 1], [10, 2]])]))).toEqual([[0, 1], [10, 2]]);
    expect(drain(penaltyMerge([plain(series(10, 0, 0, 30)), plain(series(10, 0, 0, 40))]))).toEqual(series(10, 0, 0, 40));
  });

  it('keeps a gap that both replicas share', () => {
    const a = [...series(10_000, 0, 0, 50_000), ...series(10_000, 0, 150_000, 200_000)];
    const b = [...series(10_000, 4_000, 0, 50_000), ...series(10_000, 4_000, 150_000, 200_000)];
    expect(drain(penaltyMerge([plain(a), plain(b)]))).toEqual(a);
  });

  it('raises a lagging counter replica on a switch so rate sees no false reset', () => {
    // A counts 10/s until 60s, then disappears; B restarted earlier and reports lower totals.
    const a = series(10_000, 0, 0, 70_000, (t) => t / 100);
    const b = series(10_000, 5_000, 0, 200_000, (t) => t / 100 - 300);
    const it = penaltyMerge([new CounterAdjustingIterator(arrayIterator(a)), new CounterAdjustingIterator(arrayIterator(b))]);
    const got = drain(it);
    for (let i = 1; i < got.length; i++) expect((got[i] as [number, number])[1]).toBeGreaterThanOrEqual((got[i - 1] as [number, number])[1]);
    // A has ended: B is barred for one interval, its 65s sample (the twin of A's last scrape at 60s)
    // skipped, and the switch comes at 75s. B reads 450 there, below the 600 A last emitted, so B and
    // everything after it are raised by 150.
    expect(got.find(([t]) => t === 75_000)).toEqual([75_000, 600]);
    expect(got[got.length - 1]).toEqual([195_000, 1950 - 300 + 150]);
  });

  it('does not adjust plain (non-counter) replicas', () => {
    const a = series(10_000, 0, 0, 70_000, () => 100);
    const b = series(10_000, 5_000, 0, 200_000, () => 1);
    const got = drain(penaltyMerge([plain(a), plain(b)]));
    expect(got.filter(([t]) => t > 70_000).every(([, v]) => v === 1)).toBe(true);
  });

  it('folds three replicas', () => {
    const a = series(10_000, 0, 0, 50_000);
    const b = series(10_000, 2_000, 0, 120_000);
    const c = series(10_000, 4_000, 0, 300_000);
    const got = drain(penaltyMerge([plain(a), plain(b), plain(c)]));
    expect(got[0]).toEqual([0, 0]);
    expect(got[got.length - 1]).toEqual([294_000, 294_000]);
    for (let i = 1; i < got.length; i++) expect((got[i] as [number, number])[0] - (got[i - 1] as [number, number])[0]).toBeGreaterThanOrEqual(10_000);
  });

  it('leaves the replica it does not emit unmoved while that replica cannot be picked', () => {
    const a = series(15_000, 0, 0, 3_600_000);
    const b = series(15_000, 3_000, 0, 3_600_000);
    let moves = 0;
    const counted = new PlainIterator(arrayIterator(b));
    const it = penaltyMerge([plain(a), { ...counted, next: () => (moves++, counted.next()), seek: (t: number) => (moves++, counted.seek(t)), atT: () => counted.atT(), atFloat: () => counted.atFloat(), err: () => null, adjustAtValue: () => {} }]);
    expect(drain(it)).toEqual(a);
    expect(moves).toBeLessThan(5);
  });

  it('seeks without skipping gaps and without repeating the first sample', () => {
    const a = series(10_000, 0, 0, 100_000);
    const b = series(10_000, 5_000, 0, 100_000);
    const it = penaltyMerge([plain(a), plain(b)]);
    expect(it.seek(-1)).toBe(ValueType.Float);
    expect(it.atT()).toBe(0);
    expect(it.next()).toBe(ValueType.Float);
    expect(it.atT()).toBe(10_000);
    expect(it.seek(41_000)).toBe(ValueType.Float);
    expect(it.atT()).toBe(50_000);
    expect(it.seek(1e9)).toBe(ValueType.None);
  });
});

describe('splitOverlapping', () => {
  it('puts overlapping chunks into separate runs', () => {
    const c = (minTime: number, maxTime: number) => ({ minTime, maxTime });
    expect(splitOverlapping([c(0, 10), c(5, 15), c(11, 20), c(16, 30), c(21, 25)])).toEqual([
      [c(0, 10), c(11, 20), c(21, 25)],
      [c(5, 15), c(16, 30)],
    ]);
  });

  it('keeps replicas apart where their chunks stop overlapping: a chunk continues the run left behind longest', () => {
    const c = (minTime: number, maxTime: number) => ({ minTime, maxTime });
    // Two replicas 5 s apart whose series switches kind at 60 s, in a range read up to 68 s: the chunks of
    // the new kind are cut there, so r0's ends before r1's starts.
    const r0 = [c(0, 55), c(60, 60)];
    const r1 = [c(5, 58), c(65, 65)];
    expect(splitOverlapping([...r0, ...r1].sort((x, y) => x.minTime - y.minTime))).toEqual([r0, r1]);
  });

  it('keeps a chunk out of another replica’s run where the replicas are known', () => {
    const c = (minTime: number, maxTime: number) => ({ minTime, maxTime });
    // A range read from 25 s: r1, back from a gap, starts after r0's chunk cut at the 60 s boundary ends.
    const chunks = [c(25, 59), c(60, 60), c(67, 67)];
    expect(splitOverlapping(chunks)).toEqual([chunks]);
    expect(splitOverlapping(chunks, ['r0', 'r0', 'r1'])).toEqual([[c(25, 59), c(60, 60)], [c(67, 67)]]);
    // A chunk of no known replica (a store of several) joins either.
    expect(splitOverlapping([...chunks, c(70, 80)], ['r0', 'r0', 'r1', undefined])).toEqual([[c(25, 59), c(60, 60), c(70, 80)], [c(67, 67)]]);
    // Out of order, the replicas go with their chunks.
    expect(splitOverlapping([c(67, 67), c(25, 59), c(60, 60)], ['r1', 'r0', 'r0'])).toEqual([[c(25, 59), c(60, 60)], [c(67, 67)]]);
  });
});

describe('dedupSeriesSet', () => {
  it('merges consecutive replicas and passes lone series through', () => {
    const mk = (name: string, s: [number, number][]): Series => ({ labels: Labels.from({ __name__: name }), iterator: () => arrayIterator(s) });
    const x1 = mk('x', [[0, 1], [10_000, 1]]);
    const x2 = mk('x', [[5_000, 2], [15_000, 2], [40_000, 2]]);
    const y = mk('y', [[0, 9]]);
    const out = [...dedupSeriesSet([x1, x2, y], 'penalty')];
    expect(out.map((s) => s.labels.toString())).toEqual(['{__name__="x"}', '{__name__="y"}']);
    expect(out[1]).toBe(y);
    expect(drain((out[0] as Series).iterator())).toEqual([[0, 1], [10_000, 1], [40_000, 2]]);
  });

  it('reads chunk replicas as the penalty merge of their samples, counters adjusted on switches', () => {
    // A counter with a gap in A (a switch to B, which restarted lower) and one in B (a switch back).
    const a = [...series(15_000, 0, 0, 1_800_000, (t) => t / 1000), ...series(15_000, 0, 2_400_000, 7_200_000, (t) => t / 1000)];
    const b = [...series(15_000, 7_000, 0, 3_600_000, (t) => t / 1000 - 500), ...series(15_000, 7_000, 4_000_000, 7_200_000, (t) => t / 1000 - 500)];
    const labels = Labels.from({ __name__: 'x' });
    for (const func of ['rate', 'max_over_time']) {
      const [merged] = [...dedupSeriesSet([new ChunkSeriesSamples(labels, chunksOf(a, 120)), new ChunkSeriesSamples(labels, chunksOf(b, 120))], 'penalty', func)];
      const wrap = func === 'rate' ? (s: [number, number][]) => new CounterAdjustingIterator(arrayIterator(s)) : plain;
      const want = drain(penaltyMerge([wrap(a), wrap(b)]));
      expect(want.some(([t]) => t > 1_800_000 && t < 2_400_000)).toBe(true);
      expect(drain((merged as Series).iterator())).toEqual(want);
      const it = (merged as Series).iterator();
      expect(it.seek(2_000_000)).toBe(ValueType.Float);
      expect([it.atT(), it.atFloat()]).toEqual(want.find(([t]) => t >= 2_000_000));
    }
  });

  it('reads chunk replicas as the merge of their samples on random replicas: gaps, jitter, resets, three replicas, seeks', () => {
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const replica = (): [number, number][] => {
      const out: [number, number][] = [];
      let t = Math.floor(rnd() * 15_000);
      let v = 0;
      while (t < 3_600_000) {
        if (rnd() < 0.01) t += Math.floor(rnd() * 300_000);
        t += 15_000 + (rnd() < 0.05 ? Math.floor(rnd() * 20_000) : 0);
        v = rnd() < 0.01 ? 0 : v + rnd() * 10;
        out.push([t, v]);
      }
      return out;
    };
    const labels = Labels.from({ __name__: 'x' });
    for (let k = 0; k < 40; k++) {
      const reps = Array.from({ length: 2 + (k % 2) }, replica);
      const counter = k % 4 < 2;
      const seekTo = k % 3 === 0 ? undefined : Math.floor(rnd() * 3_000_000);
      const read = (it: SampleIterator) => (seekTo === undefined ? drain(it) : it.seek(seekTo) === ValueType.None ? [] : [[it.atT(), it.atFloat()], ...drain(it)]);
      const want = read(penaltyMerge(reps.map((r) => (counter ? new CounterAdjustingIterator(arrayIterator(r)) : plain(r)))));
      const [merged] = [...dedupSeriesSet(reps.map((r) => new ChunkSeriesSamples(labels, chunksOf(r, 50))), 'penalty', counter ? 'rate' : '')];
      expect(read((merged as Series).iterator())).toEqual(want);
    }
  });
});

describe('ChunksReplicaIterator', () => {
  it('seeks across chunks without decoding those that end before the target', () => {
    const unreadable: ChunkMeta = { minTime: 0, maxTime: 20, chunk: { encoding: 1, bytes: new Uint8Array(0), numSamples: () => 3, iterator: () => { throw new Error('decoded'); } } };
    const it = new ChunksReplicaIterator([unreadable, xorChunk([[30, 1], [40, 2]]), xorChunk([[50, 3], [60, 4]])], false);
    expect(it.seek(35)).toBe(ValueType.Float);
    expect(it.atT()).toBe(40);
    expect(it.seek(10)).toBe(ValueType.Float);
    expect(it.atT()).toBe(40);
    expect(it.seek(55)).toBe(ValueType.Float);
    expect([it.atT(), it.atFloat()]).toEqual([60, 4]);
    expect(it.next()).toBe(ValueType.None);
    expect(it.seek(0)).toBe(ValueType.None);
  });
});
