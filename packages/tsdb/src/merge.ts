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
 *
 * The heap orders ranks, not label sets: every distinct label set is ranked once, by its key. Lists
 * from many blocks mostly hold the same series, each decoded on its own, so their equal strings are
 * different objects: comparing label sets in the heap compared every label of them several times
 * per series and block (most of a 24-block query's merge).
 */
export function* mergeByLabels<C>(lists: readonly (readonly LabeledChunks<C>[])[]): Generator<{ labels: Labels; chunks: C[]; merged: boolean }> {
  const nonEmpty = lists.filter((l) => l.length > 0);
  // Each series' index among the distinct label sets, then each distinct set's rank in label order.
  // Lists mostly hold the series of the lists before in the same order: a series is first compared
  // with the one after the last it matched, and only keyed (a string of all its labels) if it differs.
  const indexOf = new Map<string, number>();
  const distinct: Labels[] = [];
  const ids = nonEmpty.map((list) => {
    let next = 0;
    return Int32Array.from(list, (s) => {
      let id = next < distinct.length && (distinct[next] as Labels).equals(s.labels) ? next : indexOf.get(s.labels.key());
      if (id === undefined) {
        id = distinct.length;
        indexOf.set(s.labels.key(), id);
        distinct.push(s.labels);
      }
      next = id + 1;
      return id;
    });
  });
  const order = Array.from(distinct, (_, i) => i).sort((a, b) => Labels.compare(distinct[a] as Labels, distinct[b] as Labels));
  const rank = new Int32Array(distinct.length);
  order.forEach((id, r) => (rank[id] = r));
  const ranks = ids.map((list) => list.map((id) => rank[id] as number));

  const heap = nonEmpty.map((list, i) => ({ list, ranks: ranks[i] as Int32Array, pos: 0 }));
  const key = (i: number) => {
    const h = heap[i] as (typeof heap)[number];
    return h.ranks[h.pos] as number;
  };
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && key(l) < key(m)) m = l;
      if (r < heap.length && key(r) < key(m)) m = r;
      if (m === i) return;
      const t = heap[i] as (typeof heap)[number];
      heap[i] = heap[m] as (typeof heap)[number];
      heap[m] = t;
      i = m;
    }
  };
  for (let i = (heap.length >> 1) - 1; i >= 0; i--) down(i);

  let pending: { labels: Labels; chunks: C[]; merged: boolean } | undefined;
  let pendingRank = -1;
  while (heap.length > 0) {
    const top = heap[0] as (typeof heap)[number];
    const s = top.list[top.pos] as LabeledChunks<C>;
    const r = top.ranks[top.pos] as number;
    if (++top.pos === top.list.length) {
      heap[0] = heap[heap.length - 1] as (typeof heap)[number];
      heap.pop();
    }
    if (heap.length > 0) down(0);
    if (pending !== undefined && pendingRank === r) {
      pending.chunks.push(...s.chunks);
      pending.merged = true;
      continue;
    }
    if (pending !== undefined) yield pending;
    pending = { labels: s.labels, chunks: [...s.chunks], merged: false };
    pendingRank = r;
  }
  if (pending !== undefined) yield pending;
}
