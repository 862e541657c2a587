import { Labels } from '@strata/tsdb';
import type { AggrChunk } from '@strata/storeapi';

/** A series with its final labels (external labels added, replica labels removed). */
export interface OutSeries {
  labels: Labels;
  chunks: AggrChunk[];
}

/**
 * Merges lists sorted by labels into one sorted stream (a binary heap over the list heads); equal
 * label sets from different blocks (the same series in adjacent time ranges, or replicas once their
 * replica label is removed) become one series with their chunks in time order.
 */
export function* mergeSorted(lists: readonly OutSeries[][]): Generator<OutSeries> {
  const heap: { list: OutSeries[]; pos: number }[] = lists.filter((l) => l.length > 0).map((list) => ({ list, pos: 0 }));
  const head = (i: number) => heap[i]!.list[heap[i]!.pos]!;
  const less = (i: number, j: number) => Labels.compare(head(i).labels, head(j).labels) < 0;
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && less(l, m)) m = l;
      if (r < heap.length && less(r, m)) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  };
  for (let i = (heap.length >> 1) - 1; i >= 0; i--) down(i);
  let pending: OutSeries | undefined;
  let merged = false;
  const finish = (p: OutSeries) => {
    if (merged) p.chunks.sort((a, b) => a.minTime - b.minTime || a.maxTime - b.maxTime);
    merged = false;
    return p;
  };
  while (heap.length > 0) {
    const s = head(0);
    const top = heap[0]!;
    if (++top.pos === top.list.length) {
      heap[0] = heap[heap.length - 1]!;
      heap.pop();
    }
    if (heap.length > 0) down(0);
    if (pending !== undefined && pending.labels.equals(s.labels)) {
      if (!merged) pending = { labels: pending.labels, chunks: [...pending.chunks] };
      for (const c of s.chunks) pending.chunks.push(c);
      merged = true;
      continue;
    }
    if (pending !== undefined) yield finish(pending);
    pending = s;
  }
  if (pending !== undefined) yield finish(pending);
}
