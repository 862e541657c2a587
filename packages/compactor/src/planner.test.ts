import type { BlockMeta } from '@strata/tsdb';
import { describe, expect, it } from 'vitest';
import { compactionRanges, plan, splitByRange } from './planner.js';

const H = 3_600_000;
let n = 0;
function block(fromH: number, toH: number, level = 1): BlockMeta {
  const ulid = `B${String(n++).padStart(3, '0')}`;
  return { ulid, minTime: fromH * H, maxTime: toH * H, version: 1, compaction: { level, sources: [ulid] } };
}
const ids = (ms: readonly BlockMeta[]) => ms.map((m) => `${m.minTime / H}-${m.maxTime / H}`);

describe('plan', () => {
  it('leaves the newest block alone and compacts a full 8h window', () => {
    const bs = [block(0, 2), block(2, 4), block(4, 6), block(6, 8), block(8, 10)];
    expect(ids(plan(bs, new Set()))).toEqual(['0-2', '2-4', '4-6', '6-8']);
    // Without the newest block the window is not full, and it does not end before the newest block starts.
    expect(ids(plan(bs.slice(0, 4), new Set()))).toEqual([]);
    // A window that ends before the last block considered starts qualifies without being full.
    expect(ids(plan([block(0, 2), block(2, 4), block(8, 10), block(10, 12)], new Set()))).toEqual(['0-2', '2-4']);
  });

  it('returns overlapping blocks first, whatever their level', () => {
    const bs = [block(0, 8, 2), block(8, 10), block(9, 11), block(10, 12)];
    expect(ids(plan(bs, new Set()))).toEqual(['8-10', '9-11', '10-12']);
  });

  it('goes up the levels: 8h blocks into a 2d window', () => {
    const bs = [...[0, 8, 16, 24, 32, 40].map((h) => block(h, h + 8, 2)), block(48, 50)];
    expect(ids(plan(bs, new Set()))).toEqual(['0-8', '8-16', '16-24', '24-32', '32-40', '40-48']);
  });

  it('lets no-compact blocks split a window and ignores them for overlaps', () => {
    const bs = [block(0, 2), block(0, 2), block(2, 4), block(4, 6), block(6, 8), block(8, 10)];
    const marked = new Set([bs[0]!.ulid, bs[1]!.ulid]);
    expect(ids(plan(bs, marked))).toEqual(['2-4', '4-6', '6-8']);
    expect(ids(plan(bs, new Set([bs[3]!.ulid])))).toEqual(['0-2', '0-2']);
  });

  it('goes no higher than --debug.max-compaction-level', () => {
    const twoHours = Array.from({ length: 25 }, (_, i) => block(2 * i, 2 * i + 2));
    const eightHours = [...[0, 8, 16, 24, 32, 40].map((h) => block(h, h + 8, 2)), block(48, 50)];
    // Level 1: 2h blocks stay; level 2: up to 8h; level 3 (and 4): 8h blocks go on into 2d.
    expect(plan(twoHours, new Set(), compactionRanges(1))).toEqual([]);
    expect(ids(plan(twoHours, new Set(), compactionRanges(2)))).toEqual(['0-2', '2-4', '4-6', '6-8']);
    expect(plan(eightHours, new Set(), compactionRanges(2))).toEqual([]);
    expect(plan(eightHours, new Set(), compactionRanges(3))).toHaveLength(6);
    expect(compactionRanges(4)).toEqual([2 * H, 8 * H, 48 * H, 336 * H]);
    expect(() => compactionRanges(5)).toThrow('the compaction level must be 1 to 4, not 5');
  });

  it('does not plan a window with a failed compaction', () => {
    const bs = [block(0, 2), block(2, 4), block(4, 6), block(6, 8), block(8, 10)];
    bs[1]!.compaction.failed = true;
    expect(plan(bs, new Set())).toEqual([]);
  });
});

describe('splitByRange', () => {
  it('groups blocks by aligned windows and skips blocks larger than the window', () => {
    const bs = [block(0, 2), block(2, 4), block(4, 12), block(16, 18)];
    expect(splitByRange(bs, 8 * H).map(ids)).toEqual([['0-2', '2-4'], ['16-18']]);
  });
});
