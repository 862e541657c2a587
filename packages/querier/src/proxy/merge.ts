import { type AggrChunk, type StoreChunk, type StoreSeries } from '@strata/storeapi';
import { Labels, type Label } from '@strata/tsdb';

/** A series from one endpoint with its labels as a Labels value (compared and keyed cheaply). */
export interface LabeledSeries {
  readonly labels: Labels;
  readonly chunks: AggrChunk[];
  /**
   * The replica each chunk comes from (its endpoint's one label set), where endpoints of different
   * replicas sent the series; undefined for a chunk from an endpoint of several label sets. A replica's
   * chunks cut at the range read can end before another replica's begin, which without this would
   * look like one replica's continuation (splitOverlapping).
   */
  readonly replicaOf?: (string | undefined)[];
}

export function labeled(s: StoreSeries): LabeledSeries {
  return { labels: Labels.fromSorted(s.labels as Label[]), chunks: [...s.chunks] };
}

/**
 * Merges the series of several endpoints, each sent sorted by labels, into one sorted sequence while
 * they arrive: a series is emitted as soon as no endpoint can add to it any more, i.e. every endpoint
 * still sending has already sent a series with greater labels (an endpoint's series may continue in
 * its next frame), so that whoever reads the series can work on them while the endpoints still send.
 * Equal label sets from several endpoints — replicas after replica labels were removed, or the same
 * block served twice — become one series whose chunks are the union, byte-identical chunks kept once
 * (Thanos' responseDeduplicator), sorted by time.
 */
export class SeriesStreamMerge {
  readonly #lists: LabeledSeries[][];
  /** Per endpoint: the first of its series not emitted yet, and whether it has sent everything. */
  readonly #pos: number[];
  readonly #done: boolean[];
  /** The parts of the series being merged: endpoint and number of chunks, in turn (reused). */
  readonly #parts: number[] = [];

  /**
   * `replicas`: per endpoint, the replica it serves (a key of its one label set), or undefined when
   * it serves several.
   */
  constructor(
    private readonly replicas: readonly (string | undefined)[],
    private readonly emit: (s: LabeledSeries) => void,
  ) {
    const endpoints = replicas.length;
    this.#lists = Array.from({ length: endpoints }, () => []);
    this.#pos = new Array<number>(endpoints).fill(0);
    this.#done = new Array<boolean>(endpoints).fill(false);
  }

  /** The next series of endpoint `i`, in its label order; one with the labels of the one before continues it. */
  add(i: number, s: LabeledSeries): void {
    (this.#lists[i] as LabeledSeries[]).push(s);
  }

  /**
   * Endpoint `i` has sent everything; `all`, when given, is its whole answer (sorted, equal labels
   * next to each other) in place of what it added.
   */
  end(i: number, all?: LabeledSeries[]): void {
    if (all !== undefined) this.#lists[i] = all;
    this.#done[i] = true;
  }

  /** Emits every series that is complete, in label order. */
  drain(): void {
    this.#emitComplete();
    // What was emitted is let go of: the frames' chunk objects can then die young, where the series
    // emitted keep only what they read (a long answer held whole was copied by every young-generation GC).
    const lists = this.#lists;
    const pos = this.#pos;
    for (let i = 0; i < lists.length; i++) {
      if ((pos[i] as number) === 0) continue;
      (lists[i] as LabeledSeries[]).splice(0, pos[i]);
      pos[i] = 0;
    }
  }

  #emitComplete(): void {
    const lists = this.#lists;
    const pos = this.#pos;
    for (;;) {
      let min: Labels | undefined;
      for (let i = 0; i < lists.length; i++) {
        const head = (lists[i] as LabeledSeries[])[pos[i] as number];
        if (head !== undefined && (min === undefined || Labels.compare(head.labels, min) < 0)) min = head.labels;
      }
      if (min === undefined) return;
      for (let i = 0; i < lists.length; i++) {
        if (this.#done[i]) continue;
        const list = lists[i] as LabeledSeries[];
        const last = list[list.length - 1];
        if (last === undefined || Labels.compare(last.labels, min) <= 0) return;
      }
      let chunks: AggrChunk[] | undefined;
      const parts = this.#parts;
      parts.length = 0;
      let known: string | undefined;
      let several = false;
      for (let i = 0; i < lists.length; i++) {
        const list = lists[i] as LabeledSeries[];
        const replica = this.replicas[i];
        for (let head = list[pos[i] as number]; head !== undefined && head.labels.equals(min); head = list[pos[i] as number]) {
          pos[i] = (pos[i] as number) + 1;
          if (chunks === undefined) chunks = head.chunks;
          else chunks.push(...head.chunks);
          parts.push(i, head.chunks.length);
          if (replica !== undefined && known !== undefined && replica !== known) several = true;
          known ??= replica;
        }
      }
      if (!several) {
        dedupChunks(chunks as AggrChunk[]);
        this.emit({ labels: min, chunks: chunks as AggrChunk[] });
        continue;
      }
      this.emit(dedupReplicaChunks(min, chunks as AggrChunk[], parts, this.replicas));
    }
  }
}

/** Sorts chunks by (minTime, maxTime, bytes) and drops exact duplicates, in place. */
export function dedupChunks(chunks: AggrChunk[]): void {
  if (chunks.length < 2) return;
  chunks.sort(compareChunks);
  let w = 1;
  for (let r = 1; r < chunks.length; r++) {
    const prev = chunks[w - 1] as AggrChunk;
    const cur = chunks[r] as AggrChunk;
    if (isCopy(cur, prev)) continue;
    chunks[w++] = cur;
  }
  chunks.length = w;
}

/**
 * dedupChunks for chunks of several replicas, each chunk's replica kept with it: `chunks` is made of
 * parts (`parts`: endpoint and number of chunks, in turn), each sent by one endpoint and, as stores
 * send them, in order, which are merged (a part out of order has all chunks sorted instead).
 */
function dedupReplicaChunks(labels: Labels, chunks: AggrChunk[], parts: readonly number[], replicas: readonly (string | undefined)[]): LabeledSeries {
  const k = parts.length / 2;
  const pos = new Array<number>(k);
  const end = new Array<number>(k);
  let inOrder = true;
  for (let p = 0, from = 0; p < k; p++) {
    pos[p] = from;
    from += parts[2 * p + 1] as number;
    end[p] = from;
    for (let i = (pos[p] as number) + 1; inOrder && i < from; i++) inOrder = compareChunks(chunks[i - 1] as AggrChunk, chunks[i] as AggrChunk) <= 0;
  }
  const kept: AggrChunk[] = [];
  const keptReplicas: (string | undefined)[] = [];
  const keep = (c: AggrChunk, replica: string | undefined): void => {
    if (kept.length > 0 && isCopy(c, kept[kept.length - 1] as AggrChunk)) return;
    kept.push(c);
    keptReplicas.push(replica);
  };
  if (!inOrder) {
    const replicaOf: (string | undefined)[] = [];
    for (let p = 0; p < k; p++) for (let i = pos[p] as number; i < (end[p] as number); i++) replicaOf.push(replicas[parts[2 * p] as number]);
    const order = chunks.map((_, i) => i).sort((i, j) => compareChunks(chunks[i] as AggrChunk, chunks[j] as AggrChunk));
    for (const i of order) keep(chunks[i] as AggrChunk, replicaOf[i]);
    return { labels, chunks: kept, replicaOf: keptReplicas };
  }
  for (;;) {
    let best = -1;
    for (let p = 0; p < k; p++) {
      if ((pos[p] as number) < (end[p] as number) && (best < 0 || compareChunks(chunks[pos[p] as number] as AggrChunk, chunks[pos[best] as number] as AggrChunk) < 0)) best = p;
    }
    if (best < 0) return { labels, chunks: kept, replicaOf: keptReplicas };
    keep(chunks[pos[best] as number] as AggrChunk, replicas[parts[2 * best] as number]);
    pos[best] = (pos[best] as number) + 1;
  }
}

function isCopy(a: AggrChunk, b: AggrChunk): boolean {
  return a.minTime === b.minTime && a.maxTime === b.maxTime && sameContent(a, b);
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
