import type { BlockMeta } from '@strata/tsdb';

const HOUR = 3_600_000;

/** Thanos' compaction windows: 2h blocks go to 8h, then 2d, then 14d (levels 1–4). */
export const DEFAULT_RANGES: readonly number[] = [2 * HOUR, 8 * HOUR, 48 * HOUR, 336 * HOUR];

/** The windows up to `maxLevel` (Thanos' --debug.max-compaction-level: 1 leaves 2h blocks as they are, 4 goes up to 14d). */
export function compactionRanges(maxLevel: number): number[] {
  if (!Number.isInteger(maxLevel) || maxLevel < 1 || maxLevel > DEFAULT_RANGES.length) throw new RangeError(`the compaction level must be 1 to ${DEFAULT_RANGES.length}, not ${maxLevel}`);
  return DEFAULT_RANGES.slice(0, maxLevel);
}

/** Blocks in time order, overlapping ones first, then by end. */
export function byMinTime(metas: Iterable<BlockMeta>): BlockMeta[] {
  return [...metas].sort((a, b) => a.minTime - b.minTime || a.maxTime - b.maxTime || a.ulid.localeCompare(b.ulid));
}

/** The first run of blocks (in time order) that overlap one another, or [] (Prometheus' selectOverlappingDirs). */
export function firstOverlappingRun(sorted: readonly BlockMeta[]): BlockMeta[] {
  if (sorted.length < 2) return [];
  const run: BlockMeta[] = [];
  let maxT = sorted[0]!.maxTime;
  for (let i = 1; i < sorted.length; i++) {
    const m = sorted[i]!;
    if (m.minTime < maxT) {
      if (run.length === 0) run.push(sorted[i - 1]!);
      run.push(m);
    } else if (run.length > 0) break;
    maxT = Math.max(maxT, m.maxTime);
  }
  return run;
}

/**
 * Plans one compaction for a group (Thanos' tsdbBasedPlanner): blocks marked no-compact are left out;
 * overlapping blocks come first (the caller decides whether it may merge them vertically); otherwise,
 * leaving out the newest block, the first window of the smallest range with more than one block that
 * either fills the window or ends before the newest block. No-compact blocks split a window's run.
 */
export function plan(metas: readonly BlockMeta[], noCompact: ReadonlySet<string>, ranges: readonly number[] = DEFAULT_RANGES): BlockMeta[] {
  const sorted = byMinTime(metas);
  if (sorted.length === 0) return [];
  const candidates = sorted.filter((m) => !noCompact.has(m.ulid));
  const overlapping = firstOverlappingRun(candidates);
  if (overlapping.length > 0) return overlapping;
  const withoutNewest = sorted.slice(0, -1);
  if (withoutNewest.length === 0) return [];
  const highTime = withoutNewest[withoutNewest.length - 1]!.minTime;
  for (const range of ranges) {
    for (const window of splitByRange(withoutNewest, range)) {
      if (window.some((m) => m.compaction.failed)) continue;
      const mint = window[0]!.minTime;
      const maxt = window[window.length - 1]!.maxTime;
      if (window.length < 2 || (maxt - mint !== range && maxt > highTime)) continue;
      const run = firstUnmarkedRun(window, noCompact);
      if (run.length > 1) return run;
    }
  }
  return [];
}

/** The first stretch of more than one consecutive unmarked block. */
function firstUnmarkedRun(window: readonly BlockMeta[], noCompact: ReadonlySet<string>): BlockMeta[] {
  let run: BlockMeta[] = [];
  for (const m of window) {
    if (noCompact.has(m.ulid)) {
      if (run.length > 1) return run;
      run = [];
    } else run.push(m);
  }
  return run;
}

/**
 * Groups time-ordered blocks into `range`-aligned windows; blocks larger than their window (already
 * compacted further, or misaligned) are skipped (Prometheus' splitByRange).
 */
export function splitByRange(sorted: readonly BlockMeta[], range: number): BlockMeta[][] {
  const out: BlockMeta[][] = [];
  for (let i = 0; i < sorted.length; ) {
    const t0 = Math.floor(sorted[i]!.minTime / range) * range;
    if (sorted[i]!.maxTime > t0 + range) {
      i++;
      continue;
    }
    const window: BlockMeta[] = [];
    for (; i < sorted.length && sorted[i]!.maxTime <= t0 + range; i++) window.push(sorted[i]!);
    out.push(window);
  }
  return out;
}
