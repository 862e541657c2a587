import { CounterResetHint, parseHistogramNotation, type FloatHistogram } from '@strata/tsdb';
import { describe, expect, it } from 'vitest';
import { SampleBuffer } from './buffer.js';

const h = (text: string): FloatHistogram => parseHistogramNotation(`{{${text}}}`);

/** A buffer of samples at the given times: histograms in notation, floats as numbers. */
function buffer(samples: [number, string | number][]): SampleBuffer {
  const buf = new SampleBuffer(4);
  for (const [t, v] of samples) {
    if (typeof v === 'number') buf.push(t, v);
    else buf.pushHistogram(t, h(v));
  }
  return buf;
}

function hints(buf: SampleBuffer): (CounterResetHint | undefined)[] {
  return [...(buf.hs ?? [])].map((x) => x?.counterResetHint);
}

describe('SampleBuffer.histogramStats', () => {
  it('keeps schema, count and sum and detects counter resets against the histogram read before', () => {
    const buf = buffer([
      [0, 'schema:0 sum:2 count:2 buckets:[2]'],
      [10, 'schema:0 sum:3 count:3 buckets:[3]'],
      [20, 1],
      [30, 'schema:0 sum:1 count:3 buckets:[1 2]'],
      [40, 'schema:0 sum:1 count:1 buckets:[1] counter_reset_hint:gauge'],
    ]);
    const original = buf.hs?.[1];
    buf.histogramStats(() => 40, 1, 40);
    expect(hints(buf)).toEqual([
      CounterResetHint.Unknown, CounterResetHint.NotCounterReset, undefined, CounterResetHint.CounterReset, CounterResetHint.Gauge,
    ]);
    const stats = buf.hs?.[1] as FloatHistogram;
    expect([stats.schema, stats.count, stats.sum, stats.positiveBuckets]).toEqual([0, 3, 3, []]);
    // The loaded histogram is replaced, not changed.
    expect(original?.positiveBuckets).toEqual([3]);
    expect(original?.counterResetHint).toBe(CounterResetHint.Unknown);
  });

  it('forgets the previous histogram where a later step seeks past samples', () => {
    const samples: [number, string][] = [
      [0, 'sum:5 count:5'],
      [500, 'sum:6 count:6'],
      [950, 'sum:7 count:7'],
    ];
    // Step 1 reads from 900 on: the sample at 500, after step 0's time, is sought past.
    const sought = buffer(samples);
    sought.histogramStats((i) => i * 1000, 2, 100);
    expect(hints(sought)).toEqual([CounterResetHint.Unknown, CounterResetHint.NotCounterReset, CounterResetHint.Unknown]);
    // Windows reaching back to step 0's time leave nothing to seek past.
    const read = buffer(samples);
    read.histogramStats((i) => i * 1000, 2, 1000);
    expect(hints(read)).toEqual([CounterResetHint.Unknown, CounterResetHint.NotCounterReset, CounterResetHint.NotCounterReset]);
  });
});
