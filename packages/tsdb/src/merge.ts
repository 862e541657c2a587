import { Labels } from './labels/labels.js';

/** A series as a label set and its chunks, of whatever chunk representation the caller uses. */
export interface LabeledChunks<C> {
  readonly labels: Labels;
  readonly chunks: readonly C[];
}

/**
 * Merges lists that are each sorted by labels into one sorted stream (a binary heap over the list
 * heads). Consecutive equal label sets — the same series from adjacent blocks, from several stores,
 * or replicas once their replica label is gone — become one series whose chunks are those of all of
 * them, in the order met; `merged` says whether that happened, so callers sort or deduplicate chunks
 * only then. Input arrays are never modified.
 */
export function* mergeByLabels<C>(lists: readonly (readonly LabeledChunks<C>[])[]): Generator<{ labels: Labels; chunks: C[]; merged: boolean }> {
  const heap = lists.filter((l) => l.length > 0).map((list) => ({ list, pos: 0 }));
  const head = (i: number) => (heap[i] as { list: readonly LabeledChunks<C>[]; pos: number }).list[(heap[i] as { pos: number }).pos] as LabeledChunks<C>;
  const less = (i: number, j: number) => Labels.compare(head(i).labels, head(j).labels) < 0;
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && less(l, m)) m = l;
      if (r < heap.length && less(r, m)) m = r;
      if (m === i) return;
      const t = heap[i] as (typeof heap)[number];
      heap[i] = heap[m] as (typeof heap)[number];
      heap[m] = t;
      i = m;
    }
  };
  for (let i = (heap.length >> 1) - 1; i >= 0; i--) down(i);

  let pending: { labels: Labels; chunks: C[]; merged: boolean } | undefined;
  while (heap.length > 0) {
    const s = head(0);
    const top = heap[0] as (typeof heap)[number];
    if (++top.pos === top.list.length) {
      heap[0] = heap[heap.length - 1] as (typeof heap)[number];
      heap.pop();
    }
    if (heap.length > 0) down(0);
    if (pending !== undefined && pending.labels.equals(s.labels)) {
      pending.chunks.push(...s.chunks);
      pending.merged = true;
      continue;
    }
    if (pending !== undefined) yield pending;
    pending = { labels: s.labels, chunks: [...s.chunks], merged: false };
  }
  if (pending !== undefined) yield pending;
}
