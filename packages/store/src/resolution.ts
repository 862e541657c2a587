/** What block selection needs to know about a block. */
export interface TimeRanged {
  readonly minTime: number;
  readonly maxTime: number;
  readonly resolution: number;
}

/**
 * The blocks to read for [mint, maxt] at resolutions up to `maxResolution` (Thanos' bucketBlockSet
 * getFor): the coarsest allowed resolution first, and wherever it leaves a gap (before, between or
 * after its blocks) the next finer resolution fills it, recursively. Blocks' maxTime is exclusive.
 */
export function blocksFor<B extends TimeRanged>(blocks: readonly B[], mint: number, maxt: number, maxResolution: number): B[] {
  const resolutions = [...new Set(blocks.map((b) => b.resolution))].filter((r) => r <= maxResolution).sort((a, b) => b - a);
  const byResolution = resolutions.map((r) => blocks.filter((b) => b.resolution === r).sort((a, b) => a.minTime - b.minTime || a.maxTime - b.maxTime));
  // A coarse block overlapping two gaps of a coarser level would be picked twice.
  return [...new Set(fill(byResolution, 0, mint, maxt))];
}

function fill<B extends TimeRanged>(levels: readonly B[][], level: number, mint: number, maxt: number): B[] {
  if (level >= levels.length || mint > maxt) return [];
  const out: B[] = [];
  let covered = mint;
  for (const b of levels[level]!) {
    if (b.maxTime <= mint || b.minTime > maxt) continue;
    if (b.minTime > covered) out.push(...fill(levels, level + 1, covered, b.minTime - 1));
    out.push(b);
    covered = Math.max(covered, b.maxTime);
  }
  if (covered <= maxt) out.push(...fill(levels, level + 1, covered, maxt));
  return out;
}
