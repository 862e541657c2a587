import type { ChunkMeta } from '@strata/tsdb';

type Span = Pick<ChunkMeta, 'minTime' | 'maxTime'>;

/**
 * Splits one series' chunks, as merged from several stores, into runs of non-overlapping chunks (after
 * Thanos' NewOverlapSplit): chunks in min-time order each go into the run, of those whose last chunk ends
 * before the chunk starts, whose last chunk ends first, else into a new run. Each run then acts as one
 * replica for the sample-level merge. Thanos takes the first such run, which joins replicas where their
 * chunks stop overlapping: where a series switches between floats and histograms (a new chunk each time)
 * just before the end of the range read, one replica's chunk of the new kind, cut at the range end, ends
 * before the other replica's starts, which then joined the first replica's run: both replicas' samples
 * were kept. Replicas advance together, so the run left behind longest is the one a chunk continues.
 */
export function splitOverlapping<C extends Span>(chunks: readonly C[]): C[][] {
  // Both callers (the querier, the compactor's merge) pass chunks sorted already: no copy to sort then.
  const sorted = inOrder(chunks) ? chunks : [...chunks].sort(byTime);
  const runs: C[][] = [];
  for (const c of sorted) {
    let best: C[] | undefined;
    let bestEnd = Number.POSITIVE_INFINITY;
    for (const run of runs) {
      const end = (run[run.length - 1] as C).maxTime;
      if (end < c.minTime && end < bestEnd) {
        best = run;
        bestEnd = end;
      }
    }
    if (best !== undefined) best.push(c);
    else runs.push([c]);
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
