import { Labels } from './labels/labels.js';

/** A series as a label set and its chunks, of whatever chunk representation the caller uses. */
export interface LabeledChunks<C> {
  readonly labels: Labels;
  readonly chunks: readonly C[];
}

/**
 * Merges lists that are each sorted by labels into one sorted stream. Equal label sets — the same
 * series from adjacent blocks, from several stores, or replicas once their replica label is gone —
 * become one series whose chunks are those of all of them, in list order; `merged` says whether that
 * happened, so callers sort or deduplicate chunks only then. Input arrays are never modified.
 *
 * Every distinct label set is found once and ranked; the series are then gathered by rank. Lists from
 * many blocks mostly hold the same series in the same order, each decoded on its own (equal strings
 * that are different objects): a series is compared with the one after the last it matched and only
 * keyed (a string of all its labels) if it differs, rather than being compared label by label with
 * the heads of all other lists, as a heap merge does.
 */
export function* mergeByLabels<C>(lists: readonly (readonly LabeledChunks<C>[])[]): Generator<{ labels: Labels; chunks: C[]; merged: boolean }> {
  const indexOf = new Map<string, number>();
  const distinct: Labels[] = [];
  const chunks: C[][] = [];
  const sources: number[] = [];
  for (const list of lists) {
    let next = 0;
    for (const s of list) {
      let id = next < distinct.length && (distinct[next] as Labels).equals(s.labels) ? next : indexOf.get(s.labels.key());
      if (id === undefined) {
        id = distinct.length;
        indexOf.set(s.labels.key(), id);
        distinct.push(s.labels);
        chunks.push([]);
        sources.push(0);
      }
      (chunks[id] as C[]).push(...s.chunks);
      sources[id] = (sources[id] as number) + 1;
      next = id + 1;
    }
  }
  const order = Array.from(distinct, (_, i) => i).sort((a, b) => Labels.compare(distinct[a] as Labels, distinct[b] as Labels));
  for (const id of order) yield { labels: distinct[id] as Labels, chunks: chunks[id] as C[], merged: (sources[id] as number) > 1 };
}
