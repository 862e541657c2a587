import type { ChunkMeta } from '@strata/tsdb';

/**
 * Splits one series' chunks, as merged from several stores, into runs of non-overlapping chunks (Thanos'
 * NewOverlapSplit): chunks in min-time order go greedily into the first run whose last chunk ends before
 * the chunk starts, else into a new run. Each run then acts as one replica for the sample-level merge.
 */
export function splitOverlapping<C extends Pick<ChunkMeta, 'minTime' | 'maxTime'>>(chunks: readonly C[]): C[][] {
  const sorted = [...chunks].sort((x, y) => x.minTime - y.minTime || x.maxTime - y.maxTime);
  const runs: C[][] = [];
  outer: for (const c of sorted) {
    for (const run of runs) {
      if ((run[run.length - 1] as C).maxTime < c.minTime) {
        run.push(c);
        continue outer;
      }
    }
    runs.push([c]);
  }
  return runs;
}
