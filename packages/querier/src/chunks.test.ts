import { Aggr, storeChunk, type AggrChunk } from '@strata/storeapi';
import { CounterResetHint, cutFloatHistogramChunks, Encoding, FloatHistogram, Labels, ValueType, XORChunk, type SampleIterator } from '@strata/tsdb';
import { describe, expect, it } from 'vitest';
import { chunkRunSeries } from './chunks.js';

function xor(samples: [number, number][]) {
  const c = new XORChunk();
  const app = c.appender();
  for (const [t, v] of samples) app.append(t, v);
  return storeChunk(Encoding.XOR, c.bytes);
}

function drain(it: SampleIterator): [number, number][] {
  const out: [number, number][] = [];
  while (it.next() !== ValueType.None) out.push([it.atT(), it.atFloat()]);
  return out;
}

// Two 5m-resolution chunks of a counter that reset between them.
const down: AggrChunk[] = [
  {
    minTime: 0,
    maxTime: 600_000,
    count: xor([[300_000, 20], [600_000, 20]]),
    sum: xor([[300_000, 100], [600_000, 300]]),
    min: xor([[300_000, 1], [600_000, 2]]),
    max: xor([[300_000, 9], [600_000, 19]]),
    counter: xor([[0, 0], [300_000, 50], [600_000, 100], [600_000, 100]]),
  },
  {
    minTime: 900_000,
    maxTime: 1_200_000,
    count: xor([[900_000, 10], [1_200_000, 10]]),
    sum: xor([[900_000, 50], [1_200_000, 70]]),
    min: xor([[900_000, 3], [1_200_000, 4]]),
    max: xor([[900_000, 5], [1_200_000, 8]]),
    counter: xor([[900_000, 10], [1_200_000, 30], [1_200_000, 30]]),
  },
];

describe('chunkRunSeries over downsampled chunks', () => {
  it('reads the aggregate a function needs', () => {
    expect(drain(chunkRunSeries(Labels.EMPTY, down, [Aggr.MIN]).iterator())).toEqual([[300_000, 1], [600_000, 2], [900_000, 3], [1_200_000, 4]]);
    expect(drain(chunkRunSeries(Labels.EMPTY, down, [Aggr.MAX]).iterator()).map(([, v]) => v)).toEqual([9, 19, 5, 8]);
  });

  it('folds counter resets back in', () => {
    // 100 before the reset, then 10 and 30: the monotonic series goes 0, 50, 100, 110, 130.
    expect(drain(chunkRunSeries(Labels.EMPTY, down, [Aggr.COUNTER]).iterator())).toEqual([[0, 0], [300_000, 50], [600_000, 100], [900_000, 110], [1_200_000, 130]]);
  });

  it('averages sum over count otherwise, and seeks across chunks', () => {
    const it = chunkRunSeries(Labels.EMPTY, down, [Aggr.COUNT, Aggr.SUM]).iterator();
    expect(it.seek(700_000)).toBe(ValueType.Float);
    expect([it.atT(), it.atFloat()]).toEqual([900_000, 5]);
    expect(drain(chunkRunSeries(Labels.EMPTY, down, [Aggr.COUNT, Aggr.SUM]).iterator()).map(([, v]) => v)).toEqual([5, 15, 5, 7]);
  });

  it('reads raw chunks as they are, also next to downsampled ones', () => {
    const raw: AggrChunk = { minTime: 1_500_000, maxTime: 1_530_000, raw: xor([[1_500_000, 42], [1_530_000, 43]]) };
    expect(drain(chunkRunSeries(Labels.EMPTY, [...down, raw], [Aggr.MIN]).iterator()).slice(-2)).toEqual([[1_500_000, 42], [1_530_000, 43]]);
    expect(drain(chunkRunSeries(Labels.EMPTY, [raw], [Aggr.COUNTER]).iterator())).toEqual([[1_500_000, 42], [1_530_000, 43]]);
  });

  it('says which aggregate is missing', () => {
    const noMin: AggrChunk = { minTime: 0, maxTime: 1, count: xor([[0, 1]]) };
    expect(() => chunkRunSeries(Labels.EMPTY, [noMin], [Aggr.MIN])).toThrow(/lacks the min aggregate/);
  });
});

describe('downsampled native histograms', () => {
  const fh = (c: number, hint: CounterResetHint = CounterResetHint.NotCounterReset): FloatHistogram =>
    new FloatHistogram({ counterResetHint: hint, schema: 0, count: c, sum: 2 * c, positiveSpans: [{ offset: 0, length: 1 }], positiveBuckets: [c] });
  const histChunk = (points: [number, number][], gauge: boolean) =>
    storeChunk(
      Encoding.FloatHistogram,
      cutFloatHistogramChunks(points.map(([t, c]) => ({ t, h: fh(c, gauge ? CounterResetHint.Gauge : CounterResetHint.NotCounterReset) })), 7_200_000)[0]!.chunk.bytes,
    );
  const hdown: AggrChunk[] = [
    { minTime: 300_000, maxTime: 600_000, count: xor([[300_000, 20], [600_000, 10]]), sum: histChunk([[300_000, 100], [600_000, 300]], true), counter: histChunk([[300_000, 50], [600_000, 60]], false) },
  ];
  const histograms = (it: SampleIterator): [number, number, number][] => {
    const out: [number, number, number][] = [];
    while (it.next() === ValueType.FloatHistogram) {
      const h = (it as Required<SampleIterator>).atFloatHistogram();
      out.push([it.atT(), h.count, h.sum]);
    }
    return out;
  };

  it('average: the sum histogram divided by the count, as Thanos AverageChunkIterator', () => {
    expect(histograms(chunkRunSeries(Labels.EMPTY, hdown, [Aggr.COUNT, Aggr.SUM]).iterator())).toEqual([[300_000, 5, 10], [600_000, 30, 60]]);
  });

  it('counter: histograms pass as they are', () => {
    expect(histograms(chunkRunSeries(Labels.EMPTY, hdown, [Aggr.COUNTER]).iterator())).toEqual([[300_000, 50, 100], [600_000, 60, 120]]);
  });
});
