import { mergeByLabels, type Labels } from '@strata/tsdb';
import type { AggrChunk, StoreSeries } from '@strata/storeapi';
import type { BlockSeries } from './block.js';
import type { SeriesRows } from './seriesrows.js';
import { carve } from './columns.js';
import { type RawChunkColumns, type RawChunkRun, RawChunkRuns } from './rawchunks.js';

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
 * A Series call's answer: its series in order, each made by `storeSeries` (once: it is sent and
 * dropped) once `readThrough` of a count past it has settled (its chunks are read by then); then
 * `sentThrough`, and `end` once the call ends (SeriesRows).
 */
export interface SeriesSource {
  readonly length: number;
  storeSeries(i: number): StoreSeries;
  readThrough(n: number): Promise<void>;
  sentThrough(n: number): void;
  end(): void;
}

/**
 * The merge of blocks that hold the same series, each sorted and distinct (one replica's blocks over
 * time, and its replicas once their replica label is removed, as a dashboard's queries read them): series
 * k of every list is one series, its runs joined as it is sent, with no merge heap and labels made for
 * the first list only (the others' are compared in place). Known from the series' labels alone, before
 * their chunks are read. Undefined when the lists differ; then mergeSorted.
 */
export function mergeAligned(lists: readonly SeriesRows[]): SeriesSource | undefined {
  const first = lists[0] as SeriesRows;
  const n = first.length;
  for (const l of lists) if (!l.sorted || !l.distinct || l.length !== n) return undefined;
  const labels: Labels[] = new Array(n);
  for (let k = 0; k < n; k++) labels[k] = first.labels(k);
  for (let i = 1; i < lists.length; i++) {
    const l = lists[i] as SeriesRows;
    for (let k = 0; k < n; k++) if (!l.labelsEqual(k, (labels[k] as Labels).toArray())) return undefined;
  }
  return {
    length: n,
    storeSeries: (k) => toStoreSeries({ labels: labels[k] as Labels, ...joinRuns(lists.map((l) => l.chunksOf(k))) }),
    readThrough: (upTo) => Promise.all(lists.map((l) => l.readThrough(upTo))).then(() => {}),
    sentThrough: (upTo) => {
      for (const l of lists) l.sentThrough(upTo);
    },
    end: () => {
      for (const l of lists) l.end();
    },
  };
}

export function toStoreSeries(s: OutSeries): StoreSeries {
  return s.raw !== undefined ? { labels: s.labels.toArray(), chunks: s.chunks, extraChunks: s.raw } : { labels: s.labels.toArray(), chunks: s.chunks };
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
  sortByFirstMinTime(runs);
  if (runs.every((r) => r.chunks.length === 0)) {
    // A loop, not flatMap: V8's flatMap costs more than the rest of the join for a series of 24 blocks.
    const raws: RawChunkRun[] = [];
    for (const r of runs) if (r.raw !== undefined) raws.push(r.raw);
    if (raws.length === 0) return { chunks: [] };
    if (raws.every((r, i) => i === 0 || follows(raws[i - 1] as RawChunkRun, r))) return { chunks: [], raw: RawChunkRuns.of(raws) };
    return { chunks: [], raw: interleave(raws) };
  }
  const chunks = runs.flatMap((r) => (r.raw !== undefined ? r.raw.toAggrChunks() : r.chunks));
  if (!inTimeOrder(chunks)) chunks.sort(byTime);
  return { chunks };
}

/**
 * Overlapping raw runs (replicas, overlapping blocks), sorted by their first chunk, in chunk order
 * (byTime), as pieces of the runs: their chunks are written from the bytes read, as objects they would
 * be copied and hashed again. Runs that follow one another (one replica's blocks) are chained first,
 * so that chunks are only compared across chains (one per replica).
 */
function interleave(raws: readonly RawChunkRun[]): RawChunkRuns {
  const chains: RawChunkRun[][] = [];
  for (const r of raws) {
    if (r.count === 0) continue;
    const chain = chains.find((c) => follows(c[c.length - 1] as RawChunkRun, r));
    if (chain !== undefined) chain.push(r);
    else chains.push([r]);
  }
  const cursors = chains.map((c) => new ChainCursor(c));
  // Sized for the most pieces there can be (one a chunk), not grown piece by piece: replicas' chunks
  // alternate, and growing three arrays by a piece per chunk was a quarter of what a store gateway of
  // two replicas allocated.
  let most = 0;
  for (const r of raws) most += r.count;
  const columns = new Array<RawChunkColumns>(most);
  const { buffer, at } = carve(8 * most);
  const froms = new Uint32Array(buffer, at, most);
  const tos = new Uint32Array(buffer, at + 4 * most, most);
  let n = 0;
  for (;;) {
    let best: ChainCursor | undefined;
    for (const c of cursors) if (c.run !== undefined && (best === undefined || c.sortsBefore(best.run as RawChunkRun, best.at))) best = c;
    if (best === undefined) break;
    const run = best.run as RawChunkRun;
    const from = best.at;
    let to = from + 1;
    while (to < run.to && !anotherSortsBefore(cursors, best, run, to)) to++;
    columns[n] = run.columns;
    froms[n] = from;
    tos[n++] = to;
    best.skipTo(to);
  }
  columns.length = n;
  return new RawChunkRuns(columns, froms.subarray(0, n), tos.subarray(0, n), raws);
}

/** Whether a cursor other than `best` has a next chunk sorting before row `i` of `run`'s columns. */
function anotherSortsBefore(cursors: readonly ChainCursor[], best: ChainCursor, run: RawChunkRun, i: number): boolean {
  for (const c of cursors) if (c !== best && c.run !== undefined && c.sortsBefore(run, i)) return true;
  return false;
}

/** A chain of runs read chunk by chunk: the run and row of its next chunk (run undefined: done). */
class ChainCursor {
  #k = 0;
  run: RawChunkRun | undefined;
  at: number;

  constructor(private readonly chain: readonly RawChunkRun[]) {
    this.run = chain[0];
    this.at = this.run?.from ?? 0;
  }

  /** Whether this cursor's next chunk sorts before row `i` of `other`'s columns (ties: not before). */
  sortsBefore(other: RawChunkRun, i: number): boolean {
    const a = (this.run as RawChunkRun).columns;
    const b = other.columns;
    const d = (a.minTime[this.at] as number) - (b.minTime[i] as number) || (a.maxTime[this.at] as number) - (b.maxTime[i] as number);
    return d < 0;
  }

  /** Moves to row `to` of the current run, or to the next run where that is its end. */
  skipTo(to: number): void {
    this.at = to;
    if (to < (this.run as RawChunkRun).to) return;
    this.run = this.chain[++this.#k];
    this.at = this.run?.from ?? 0;
  }
}

/** Whether `next`'s first chunk sorts (byTime) at or after `prev`'s last. */
function follows(prev: RawChunkRun, next: RawChunkRun): boolean {
  const last = prev.to - 1;
  const lastMin = prev.columns.minTime[last] as number;
  const firstMin = next.columns.minTime[next.from] as number;
  return lastMin < firstMin || (lastMin === firstMin && (prev.columns.maxTime[last] as number) <= (next.columns.maxTime[next.from] as number));
}

/**
 * Sorts runs by their first chunk's minimum time, stably, in place: an insertion sort, as runs come
 * nearly in order (each replica's blocks in time order, one replica after the other) and there are a
 * few tens at most; Array.prototype.sort copied them and called a comparator for each step.
 */
function sortByFirstMinTime(runs: Run[]): void {
  for (let i = 1; i < runs.length; i++) {
    const r = runs[i] as Run;
    const t = firstMinTime(r);
    let j = i - 1;
    for (; j >= 0 && firstMinTime(runs[j] as Run) > t; j--) runs[j + 1] = runs[j] as Run;
    runs[j + 1] = r;
  }
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
