import { describe, expect, it } from 'vitest';
import { alignToStep, splitByInterval } from './split.js';

const DAY = 86_400_000;
const MIN = 60_000;

describe('splitByInterval', () => {
  it('cuts at each midnight, keeping the step grid of the whole range', () => {
    const r = { start: DAY - 30 * MIN + 17_000, end: 2 * DAY + 90 * MIN, step: 7 * MIN };
    const pieces = splitByInterval(r, DAY);
    expect(pieces).toHaveLength(3);
    // The first piece ends at the last step before midnight; the second starts at the step after it.
    expect(pieces[0]).toEqual({ start: r.start, end: r.start + 4 * 7 * MIN, step: r.step });
    expect(pieces[1]?.start).toBe(r.start + 5 * 7 * MIN);
    // Every step of the whole range, once, in order.
    const steps = pieces.flatMap((p) => Array.from({ length: (p.end - p.start) / p.step + 1 }, (_, i) => p.start + i * p.step));
    expect(steps).toEqual(Array.from({ length: Math.floor((r.end - r.start) / r.step) + 1 }, (_, i) => r.start + i * r.step));
    for (const p of pieces) expect(Math.floor(p.start / DAY)).toBe(Math.floor(p.end / DAY));
    expect(pieces.at(-1)?.end).toBe(r.end);
  });

  it('keeps a range within one interval, one step, with splitting off, or with steps longer than the interval whole', () => {
    expect(splitByInterval({ start: 10, end: 1000, step: 10 }, DAY)).toEqual([{ start: 10, end: 1000, step: 10 }]);
    expect(splitByInterval({ start: DAY, end: DAY, step: MIN }, DAY)).toEqual([{ start: DAY, end: DAY, step: MIN }]);
    expect(splitByInterval({ start: 0, end: 3 * DAY, step: MIN }, 0)).toEqual([{ start: 0, end: 3 * DAY, step: MIN }]);
    expect(splitByInterval({ start: 0, end: 30 * DAY, step: 2 * DAY }, DAY)).toEqual([{ start: 0, end: 30 * DAY, step: 2 * DAY }]);
  });

  it('puts a step on a boundary into the interval it starts', () => {
    expect(splitByInterval({ start: 0, end: DAY, step: DAY / 2 }, DAY)).toEqual([
      { start: 0, end: DAY / 2, step: DAY / 2 },
      { start: DAY, end: DAY, step: DAY / 2 },
    ]);
  });
});

describe('alignToStep', () => {
  it('moves start and end back onto multiples of the step', () => {
    expect(alignToStep({ start: 61_500, end: 185_000, step: MIN })).toEqual({ start: MIN, end: 3 * MIN, step: MIN });
  });
});
