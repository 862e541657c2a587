import { type AggrChunk, type StoreChunk, type StoreSeries } from '@strata/storeapi';
import { Labels, mergeByLabels, type Label } from '@strata/tsdb';

/** A series from one endpoint with its labels as a Labels value (compared and keyed cheaply). */
export interface LabeledSeries {
  readonly labels: Labels;
  readonly chunks: AggrChunk[];
}

export function labeled(s: StoreSeries): LabeledSeries {
  return { labels: Labels.fromSorted(s.labels as Label[]), chunks: [...s.chunks] };
}

/**
 * Merges per-endpoint series lists, each sorted by labels, into one sorted list. Equal label sets from
 * several endpoints — replicas after replica labels were removed, or the same block served twice —
 * become one series whose chunks are the union, byte-identical chunks kept once (Thanos'
 * responseDeduplicator), sorted by time.
 */
export function mergeSorted(lists: readonly LabeledSeries[][]): LabeledSeries[] {
  const out: LabeledSeries[] = [];
  for (const s of mergeByLabels(lists)) {
    dedupChunks(s.chunks);
    out.push({ labels: s.labels, chunks: s.chunks });
  }
  return out;
}

/** Sorts chunks by (minTime, maxTime, bytes) and drops exact duplicates, in place. */
export function dedupChunks(chunks: AggrChunk[]): void {
  if (chunks.length < 2) return;
  chunks.sort(compareChunks);
  let w = 1;
  for (let r = 1; r < chunks.length; r++) {
    const prev = chunks[w - 1] as AggrChunk;
    const cur = chunks[r] as AggrChunk;
    if (cur.minTime === prev.minTime && cur.maxTime === prev.maxTime && sameContent(cur, prev)) continue;
    chunks[w++] = cur;
  }
  chunks.length = w;
}

function firstChunk(c: AggrChunk): StoreChunk | undefined {
  return c.raw ?? c.count ?? c.max ?? c.min ?? c.sum ?? c.counter;
}

/**
 * Whether two chunks hold the same data: by their hashes when both stores sent one, else by their bytes
 * (hash 0 = not computed, e.g. from a sidecar; equal bytes are what equal hashes stand for).
 */
function sameContent(a: AggrChunk, b: AggrChunk): boolean {
  const x = firstChunk(a);
  const y = firstChunk(b);
  if (x === undefined || y === undefined) return x === y;
  if (x.hash !== 0n && y.hash !== 0n) return x.hash === y.hash;
  return Buffer.compare(x.data, y.data) === 0;
}

function compareChunks(a: AggrChunk, b: AggrChunk): number {
  if (a.minTime !== b.minTime) return a.minTime - b.minTime;
  if (a.maxTime !== b.maxTime) return a.maxTime - b.maxTime;
  const x = firstChunk(a)?.data ?? new Uint8Array(0);
  const y = firstChunk(b)?.data ?? new Uint8Array(0);
  return Buffer.compare(x, y);
}

/** Removes `names` from every series and restores the sort order (for endpoints that cannot do it themselves). */
export function stripLabels(series: LabeledSeries[], names: readonly string[]): LabeledSeries[] {
  if (names.length === 0) return series;
  const set = new Set(names);
  const out = series.map((s) => ({ labels: s.labels.without(set), chunks: s.chunks }));
  return out.sort((a, b) => Labels.compare(a.labels, b.labels));
}
