import { mergeByLabels, type Labels } from '@strata/tsdb';
import type { AggrChunk } from '@strata/storeapi';
import type { BlockSeries } from './block.js';
import { RawChunkRun, RawChunkRuns } from './rawchunks.js';

/** A series with its final labels (external labels added, replica labels removed). */
export interface OutSeries {
  labels: Labels;
  chunks: AggrChunk[];
  /** Raw chunks written straight into frames, after `chunks` (one or the other holds them all). */
  raw?: RawChunkRun | RawChunkRuns;
}

/** One block's series as the merge carries it: its labels and its run of chunks. */
interface Run {
  chunks: AggrChunk[];
  raw: RawChunkRun | undefined;
}

/**
 * Merges the sorted series of several blocks into one sorted stream; equal label sets (the same series
 * in adjacent time ranges, or replicas once their replica label is removed) become one series with
 * their chunks in time order. Each block's chunks of a series are already in order, so the merge
 * moves them as one run: only the runs are ordered (a few per series, one per block), and the chunks
 * are sorted one by one only where runs overlap (replicas, overlapping blocks). Raw runs stay runs
 * (written from the bytes read), cut into pieces where they overlap.
 */
export function mergeSorted(lists: readonly (readonly BlockSeries[])[]): readonly OutSeries[] {
  const nonEmpty = lists.filter((l) => l.length > 0);
  if (nonEmpty.length <= 1) return joinNeighbours(nonEmpty[0] ?? []);
  const runs = lists.map((l) => l.map((s): { labels: Labels; chunks: Run[] } => ({ labels: s.labels, chunks: [{ chunks: s.chunks, raw: s.raw }] })));
  const out: OutSeries[] = [];
  for (const s of mergeByLabels(runs)) {
    if (!s.merged) {
      const only = s.chunks[0] as Run;
      out.push(only.raw !== undefined ? { labels: s.labels, chunks: only.chunks, raw: only.raw } : { labels: s.labels, chunks: only.chunks });
      continue;
    }
    out.push({ labels: s.labels, ...joinRuns(s.chunks) });
  }
  return out;
}

/**
 * One block's sorted series (the common case: a query within one block's range), with no merge heap:
 * only neighbours whose labels became equal (replica labels removed) are joined, and where none did
 * (distinct series of one block, nearly always) the list itself is the answer.
 */
function joinNeighbours(list: readonly BlockSeries[]): readonly OutSeries[] {
  let first = 1;
  while (first < list.length && !(list[first] as BlockSeries).labels.equals((list[first - 1] as BlockSeries).labels)) first++;
  if (first >= list.length) return list;
  const out: OutSeries[] = list.slice(0, first - 1);
  for (let i = first - 1; i < list.length; ) {
    const s = list[i] as BlockSeries;
    let j = i + 1;
    while (j < list.length && (list[j] as BlockSeries).labels.equals(s.labels)) j++;
    out.push(j === i + 1 ? s : { labels: s.labels, ...joinRuns(list.slice(i, j).map((x) => ({ chunks: x.chunks, raw: x.raw }))) });
    i = j;
  }
  return out;
}

/** The chunks of several runs of one series, in time order. */
function joinRuns(runs: Run[]): { chunks: AggrChunk[]; raw?: RawChunkRuns } {
  runs.sort((a, b) => firstMinTime(a) - firstMinTime(b));
  if (runs.every((r) => r.chunks.length === 0)) {
    const raws = runs.flatMap((r) => (r.raw === undefined ? [] : [r.raw]));
    if (raws.length === 0) return { chunks: [] };
    if (raws.every((r, i) => i === 0 || follows(raws[i - 1] as RawChunkRun, r))) return { chunks: [], raw: new RawChunkRuns(raws) };
    return { chunks: [], raw: new RawChunkRuns(interleave(raws)) };
  }
  const chunks = runs.flatMap((r) => (r.raw !== undefined ? r.raw.toAggrChunks() : r.chunks));
  if (!inTimeOrder(chunks)) chunks.sort(byTime);
  return { chunks };
}

/**
 * Overlapping raw runs (replicas, overlapping blocks) in chunk order (byTime; equal chunks in run
 * order, as a stable sort leaves them), as pieces of the runs: their chunks are written from the bytes
 * read, as objects they would be copied and hashed again.
 */
function interleave(raws: readonly RawChunkRun[]): RawChunkRun[] {
  const at = raws.map((r) => r.from);
  /** Whether run k's next chunk sorts before run m's. */
  const before = (k: number, i: number, m: number): boolean => {
    const [a, b] = [(raws[k] as RawChunkRun).columns, (raws[m] as RawChunkRun).columns];
    const j = at[m] as number;
    const d = (a.minTime[i] as number) - (b.minTime[j] as number) || (a.maxTime[i] as number) - (b.maxTime[j] as number);
    return d < 0 || (d === 0 && k < m);
  };
  const out: RawChunkRun[] = [];
  for (;;) {
    let k = -1;
    for (let m = 0; m < raws.length; m++) if ((at[m] as number) < (raws[m] as RawChunkRun).to && (k < 0 || !before(k, at[k] as number, m))) k = m;
    if (k < 0) return out;
    const r = raws[k] as RawChunkRun;
    const from = at[k] as number;
    let to = from + 1;
    while (to < r.to && raws.every((o, m) => m === k || (at[m] as number) >= o.to || before(k, to, m))) to++;
    at[k] = to;
    out.push(from === r.from && to === r.to ? r : new RawChunkRun(r.columns, from, to));
  }
}

/** Whether `next`'s first chunk sorts (byTime) at or after `prev`'s last. */
function follows(prev: RawChunkRun, next: RawChunkRun): boolean {
  const [a, b] = [prev.columns, next.columns];
  const [lastMin, firstMin] = [a.minTime[prev.to - 1] as number, b.minTime[next.from] as number];
  return lastMin < firstMin || (lastMin === firstMin && (a.maxTime[prev.to - 1] as number) <= (b.maxTime[next.from] as number));
}

function firstMinTime(run: Run): number {
  if (run.raw !== undefined) return run.raw.minTime;
  return run.chunks.length === 0 ? -Infinity : (run.chunks[0] as AggrChunk).minTime;
}

function byTime(a: AggrChunk, b: AggrChunk): number {
  return a.minTime - b.minTime || a.maxTime - b.maxTime;
}

function inTimeOrder(chunks: readonly AggrChunk[]): boolean {
  for (let i = 1; i < chunks.length; i++) if (byTime(chunks[i - 1] as AggrChunk, chunks[i] as AggrChunk) > 0) return false;
  return true;
}
