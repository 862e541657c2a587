import { describe, expect, it } from 'vitest';
import { Encoding, ValueType } from '../chunkenc/chunk.js';
import { cutHistogramChunks } from '../chunkenc/histogram-cutter.js';
import { CounterResetHint, type Histogram } from '../histogram/types.js';
import { withoutDeleted } from './reader.js';

const hist = (c: number): Histogram => ({
  counterResetHint: CounterResetHint.Unknown, schema: 0, zeroThreshold: 0, zeroCount: 0, count: c, sum: c, positiveSpans: [{ offset: 0, length: 1 }], negativeSpans: [], positiveBuckets: [c], negativeBuckets: [], customValues: [],
});

describe('withoutDeleted', () => {
  it('re-encodes a histogram chunk touched by a deletion as a histogram chunk without the deleted samples', () => {
    const chunks = cutHistogramChunks(Array.from({ length: 20 }, (_, i) => ({ t: i * 1000, h: hist(i + 1) })), 7_200_000);
    const out = withoutDeleted(chunks, [{ mint: 5000, maxt: 9000 }]);
    expect(out).toHaveLength(1);
    expect(out[0]!.chunk.encoding).toBe(Encoding.Histogram);
    const got: [number, number][] = [];
    const it = out[0]!.chunk.iterator();
    while (it.next() === ValueType.Histogram) got.push([it.atT(), it.atHistogram!().count]);
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => [i * 1000, i + 1] as [number, number]).filter(([t]) => t < 5000 || t > 9000));
    expect([out[0]!.minTime, out[0]!.maxTime]).toEqual([0, 19_000]);
  });
});
