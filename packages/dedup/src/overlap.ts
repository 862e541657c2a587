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
 *
 * `replicaOf`, when given, names each chunk's replica where it is known (undefined where not): a chunk
 * does not join a run of another replica. Without it, a replica whose first chunk in the range read
 * begins after another's last one ends (one came back from a gap, the other's chunks cut by the range)
 * would continue that replica's run, and both replicas' samples be kept.
 */
export function splitOverlapping<C extends Span>(chunks: readonly C[], replicaOf?: readonly (string | undefined)[]): C[][] {
  // Both callers (the querier, the compactor's merge) pass chunks sorted already: no copy to sort then.
  let order: readonly number[] | undefined;
  if (!inOrder(chunks)) order = chunks.map((_, i) => i).sort((i, j) => byTime(chunks[i] as C, chunks[j] as C));
  const runs: C[][] = [];
  const runReplicas: (string | undefined)[] = [];
  for (let k = 0; k < chunks.length; k++) {
    const i = order === undefined ? k : (order[k] as number);
    const c = chunks[i] as C;
    const replica = replicaOf?.[i];
    let best = -1;
    let bestEnd = Number.POSITIVE_INFINITY;
    for (let r = 0; r < runs.length; r++) {
      const run = runs[r] as C[];
      const end = (run[run.length - 1] as C).maxTime;
      const other = runReplicas[r];
      if (end < c.minTime && end < bestEnd && (replica === undefined || other === undefined || other === replica)) {
        best = r;
        bestEnd = end;
      }
    }
    if (best >= 0) {
      (runs[best] as C[]).push(c);
      if (replica !== undefined) runReplicas[best] = replica;
    } else {
      runs.push([c]);
      runReplicas.push(replica);
    }
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
