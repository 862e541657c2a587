import type { ChunkMeta } from '@strata/tsdb';

type Span = Pick<ChunkMeta, 'minTime' | 'maxTime'>;

/**
 * Splits one series' chunks, as merged from several stores, into runs of non-overlapping chunks (Thanos'
 * NewOverlapSplit): chunks in min-time order go greedily into the first run whose last chunk ends before
 * the chunk starts, else into a new run. Each run then acts as one replica for the sample-level merge.
 */
export function splitOverlapping<C extends Span>(chunks: readonly C[]): C[][] {
  // Both callers (the querier, the compactor's merge) pass chunks sorted already: no copy to sort then.
  const sorted = inOrder(chunks) ? chunks : [...chunks].sort(byTime);
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

function byTime(x: Span, y: Span): number {
  return x.minTime - y.minTime || x.maxTime - y.maxTime;
}

function inOrder(chunks: readonly Span[]): boolean {
  for (let i = 1; i < chunks.length; i++) if (byTime(chunks[i - 1] as Span, chunks[i] as Span) > 0) return false;
  return true;
}
