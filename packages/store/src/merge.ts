import { mergeByLabels, type Labels } from '@strata/tsdb';
import type { AggrChunk } from '@strata/storeapi';

/** A series with its final labels (external labels added, replica labels removed). */
export interface OutSeries {
  labels: Labels;
  chunks: AggrChunk[];
}

/**
 * Merges the sorted series of several blocks into one sorted stream; equal label sets (the same series
 * in adjacent time ranges, or replicas once their replica label is removed) become one series with
 * their chunks in time order. Each block's chunks of a series are already in order, so the merge
 * moves them as one run: only the runs are ordered (a few per series, one per block), and the chunks
 * are sorted one by one only where runs overlap (overlapping blocks).
 */
export function* mergeSorted(lists: readonly OutSeries[][]): Generator<OutSeries> {
  const runs = lists.map((l) => l.map((s) => ({ labels: s.labels, chunks: [s.chunks] })));
  for (const s of mergeByLabels(runs)) {
    if (!s.merged) {
      yield { labels: s.labels, chunks: s.chunks[0] as AggrChunk[] };
      continue;
    }
    s.chunks.sort((a, b) => firstMinTime(a) - firstMinTime(b));
    const chunks = s.chunks.flat();
    if (!inTimeOrder(chunks)) chunks.sort(byTime);
    yield { labels: s.labels, chunks };
  }
}

function firstMinTime(run: readonly AggrChunk[]): number {
  return run.length === 0 ? -Infinity : (run[0] as AggrChunk).minTime;
}

function byTime(a: AggrChunk, b: AggrChunk): number {
  return a.minTime - b.minTime || a.maxTime - b.maxTime;
}

function inTimeOrder(chunks: readonly AggrChunk[]): boolean {
  for (let i = 1; i < chunks.length; i++) if (byTime(chunks[i - 1] as AggrChunk, chunks[i] as AggrChunk) > 0) return false;
  return true;
}
