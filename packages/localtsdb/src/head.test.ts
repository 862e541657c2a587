import { describe, expect, it } from 'vitest';
import { isStaleNaN, Labels, Matcher, STALE_NAN, ValueType } from '@strata/tsdb';
import { Head } from './head.js';

const HOUR = 3_600_000;

describe('Head', () => {
  it('cuts a series chunk at 120 samples, as Prometheus spreads samples up to the chunk range', () => {
    const head = new Head(2 * HOUR, -Infinity);
    const { series } = head.getOrCreate(Labels.from({ __name__: 'r' }));
    // 15 s apart, 2 h hold 480 samples: Prometheus plans 4 chunks of 120 once it sees the first 30.
    for (let i = 0; i < 480; i++) head.append(series, i * 15_000, i);
    const chunks = series.chunksIn(-Infinity, Infinity);
    expect(chunks.map((c) => c.chunk.numSamples())).toEqual([120, 120, 120, 120]);
    expect(chunks.map((c) => c.minTime)).toEqual([0, 1_800_000, 3_600_000, 5_400_000]);
  });

  it('cuts a chunk at a multiple of the chunk range', () => {
    const head = new Head(2 * HOUR, -Infinity);
    const { series } = head.getOrCreate(Labels.from({ __name__: 'r' }));
    // A sample a minute: 90 before the 2 h boundary and 10 after it.
    const start = 2 * HOUR - 90 * 60_000;
    for (let i = 0; i < 100; i++) head.append(series, start + i * 60_000, i);
    const chunks = series.chunksIn(-Infinity, Infinity);
    expect(chunks.map((c) => [c.minTime, c.maxTime, c.chunk.numSamples()])).toEqual([
      [start, 2 * HOUR - 60_000, 90],
      [2 * HOUR, 2 * HOUR + 9 * 60_000, 10],
    ]);
  });

  it('serves the open chunk as a copy that later appends do not change, keeping the stale marker bit for bit', () => {
    const head = new Head(2 * HOUR, -Infinity);
    const { series } = head.getOrCreate(Labels.from({ __name__: 'r' }));
    head.append(series, 1000, 1);
    head.append(series, 2000, STALE_NAN);
    const [snapshot] = series.chunksIn(0, 10_000);
    head.append(series, 3000, 3);
    const it = snapshot!.chunk.iterator();
    expect(it.next()).toBe(ValueType.Float);
    expect(it.next()).toBe(ValueType.Float);
    expect([it.atT(), isStaleNaN(it.atFloat())]).toEqual([2000, true]);
    expect(it.next()).toBe(ValueType.None);
    expect(series.chunksIn(0, 10_000)[0]!.chunk.numSamples()).toBe(3);
  });

  it('refuses samples before the blocks and, live, half a chunk range before its latest sample', () => {
    const head = new Head(2 * HOUR, 10_000);
    expect(head.inBounds(9_999, false)).toBe(false);
    const { series } = head.getOrCreate(Labels.from({ __name__: 'r' }));
    head.append(series, 3 * HOUR, 1);
    expect(head.inBounds(2 * HOUR, false)).toBe(true);
    expect(head.inBounds(2 * HOUR - 1, true)).toBe(false);
    expect(head.inBounds(2 * HOUR, true)).toBe(true);
  });

  it('selects series by matchers and time; truncation drops chunks and emptied series', () => {
    const head = new Head(2 * HOUR, -Infinity);
    const a = head.getOrCreate(Labels.from({ __name__: 'a' })).series;
    const b = head.getOrCreate(Labels.from({ __name__: 'b' })).series;
    for (let t = 0; t < 3 * HOUR; t += 60_000) head.append(a, t, 1);
    head.append(b, 1000, 1);
    expect(head.select([Matcher.equal('__name__', 'a')], 0, Infinity).map((s) => s.ref)).toEqual([a.ref]);
    expect(head.select([], 2 * HOUR, Infinity).map((s) => s.ref)).toEqual([a.ref]);
    head.truncate(2 * HOUR);
    expect(head.numSeries).toBe(1);
    expect(head.minTime).toBe(2 * HOUR);
    expect(a.chunksIn(-Infinity, Infinity)[0]!.minTime).toBe(2 * HOUR);
    expect(head.inBounds(2 * HOUR - 1, false)).toBe(false);
  });
});
