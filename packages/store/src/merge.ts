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
 * their chunks in time order.
 */
export function* mergeSorted(lists: readonly OutSeries[][]): Generator<OutSeries> {
  for (const s of mergeByLabels(lists)) {
    if (s.merged) s.chunks.sort((a, b) => a.minTime - b.minTime || a.maxTime - b.maxTime);
    yield { labels: s.labels, chunks: s.chunks };
  }
}
