import { ChunkSeriesSamples, Labels, ValueType, XORChunk, type ChunkMeta, type SampleIterator } from '@strata/tsdb';
import { describe, expect, it } from 'vitest';
import { seriesIterator } from './chunks.js';

/** Chunks of `perChunk` samples at t = 10·i (values i) for i < n. */
function chunked(n: number, perChunk: number): ChunkSeriesSamples {
  const chunks: ChunkMeta[] = [];
  for (let start = 0; start < n; start += perChunk) {
    const c = new XORChunk();
    const app = c.appender();
    const end = Math.min(n, start + perChunk);
    for (let i = start; i < end; i++) app.append(10 * i, i);
    chunks.push({ minTime: 10 * start, maxTime: 10 * (end - 1), chunk: c });
  }
  return new ChunkSeriesSamples(Labels.from({ __name__: 'x' }), chunks);
}

function drain(it: SampleIterator, first: ValueType): number[] {
  const out: number[] = [];
  for (let type = first; type !== ValueType.None; type = it.next()) out.push(it.atT());
  return out;
}

describe('seriesIterator over chunked series', () => {
  it('reads the same samples as the series own iterator, from any seek', () => {
    const s = chunked(25, 7);
    for (const t of [-5, 0, 5, 60, 69, 70, 71, 240, 241, 1000]) {
      const want = s.iterator();
      const got = seriesIterator(s);
      expect(drain(got, got.seek(t))).toEqual(drain(want, want.seek(t)));
    }
  });

  it('reads each series whole when its iterator is recycled for the next', () => {
    const series = [chunked(25, 7), chunked(3, 2), chunked(40, 120), chunked(25, 7)];
    let it: SampleIterator | undefined;
    for (const [k, s] of series.entries()) {
      for (const t of [-5, 30, 1000]) {
        it = seriesIterator(s, it);
        const want = s.iterator();
        expect(drain(it, it.seek(t)), `series ${k} from ${t}`).toEqual(drain(want, want.seek(t)));
      }
    }
  });

  it('stays exhausted and answers seeks at the current sample', () => {
    const it = seriesIterator(chunked(3, 2));
    expect(it.seek(10)).toBe(ValueType.Float);
    expect(it.seek(5)).toBe(ValueType.Float);
    expect([it.atT(), it.atFloat()]).toEqual([10, 1]);
    expect(it.next()).toBe(ValueType.Float);
    expect(it.next()).toBe(ValueType.None);
    expect(it.seek(0)).toBe(ValueType.None);
    expect(it.err()).toBeNull();
  });
});
