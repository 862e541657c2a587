import { appendXORSamples, Encoding, XORChunk, xorSamplesBytes, type ChunkMeta } from '@strata/tsdb';
import { raised } from './adjustable.js';
import { INITIAL_PENALTY_MS } from './penalty.js';

/**
 * The penalty merge (penalty.ts) of replicas made of XOR chunks, computed ahead as a chunk list rather
 * than streamed sample by sample: while the merge follows one replica, its output is that replica's
 * own chunks, kept as they are (bytes untouched); only where it takes part of a chunk (around a switch
 * of replicas) or raises a counter replica are those samples encoded into a chunk of their own. The
 * result reads through the PromQL engine's whole-chunk path like any stored series, instead of through
 * a merging iterator called per sample, and the replica not followed is only decoded where the merge
 * could switch to it: its chunks that end before the furthest point it had to reach are skipped by
 * their time bounds.
 *
 * The same samples as `penaltyMerge` over ChunksReplicaIterators (checked on random replicas in the
 * tests). Returns undefined
 * where it does not apply: a chunk not XOR-encoded, or a counter over more than two replicas (the
 * pairwise fold adjusts the replicas inside an earlier merge, which a finished chunk list cannot).
 */
export function penaltyMergeChunks(replicas: readonly (readonly ChunkMeta[])[], counter: boolean): ChunkMeta[] | undefined {
  const [first, ...rest] = replicas;
  if (first === undefined) throw new Error('penaltyMergeChunks needs at least one replica');
  if (counter && rest.length > 1) return undefined;
  if (replicas.some((r) => r.some((c) => c.chunk.encoding !== Encoding.XOR))) return undefined;
  let merged: readonly ChunkMeta[] = first;
  for (const r of rest) merged = mergeTwo(merged, r, counter);
  return [...merged];
}

/** Arrays a replica decodes its chunks into: two sets, reused by every merge (merges run one at a time). */
interface Buffers {
  ts: Float64Array;
  vs: Float64Array;
}
const buffers: [Buffers, Buffers] = [
  { ts: new Float64Array(128), vs: new Float64Array(128) },
  { ts: new Float64Array(128), vs: new Float64Array(128) },
];

/** One replica's chunks decoded one at a time, with the samples of its current chunk the merge emitted. */
class Replica {
  /** The decoded chunk's index and samples; the replica stands at sample `j`. */
  #ci = -1;
  ts: Float64Array;
  vs: Float64Array;
  n = 0;
  j = 0;
  alive = true;
  /** What a counter replica's values are raised by since a switch to it. */
  offset = 0;
  /** The penalty window the merge gives this replica, and where it must stand before it is looked at (-Infinity: anywhere). */
  penalty = 0;
  target = Number.NEGATIVE_INFINITY;
  /** The emitted samples [runFrom, runTo] of the decoded chunk and their offset; runFrom < 0: none pending. */
  #runFrom = -1;
  #runTo = -1;
  #runOffset = 0;

  constructor(
    private readonly chunks: readonly ChunkMeta[],
    private readonly out: ChunkMeta[],
    private readonly buffers: Buffers,
  ) {
    this.ts = buffers.ts;
    this.vs = buffers.vs;
  }

  t(): number {
    return this.ts[this.j] as number;
  }

  /** The current value, raised by the offset. */
  value(): number {
    return raised(this.vs[this.j] as number, this.offset);
  }

  next(): boolean {
    if (!this.alive) return false;
    if (++this.j < this.n) return true;
    return this.#open(this.#ci + 1);
  }

  /** To the first sample at or after t; chunks that end before t are not decoded. */
  seek(t: number): boolean {
    if (!this.alive) return false;
    if ((this.ts[this.n - 1] as number) < t) {
      let ci = this.#ci + 1;
      while (ci < this.chunks.length && (this.chunks[ci] as ChunkMeta).maxTime < t) ci++;
      if (!this.#open(ci)) return false;
    }
    while ((this.ts[this.j] as number) < t) if (!this.next()) return false;
    return true;
  }

  /**
   * The merge's steps while this replica, which emitted last (at lastT), keeps being picked within its
   * decoded chunk: its next sample comes before `other`'s target, or `other` has ended. Returns the
   * timestamp emitted last; the general step takes the sample where this stops (the chunk's end, or
   * one the other replica could be picked before).
   */
  follow(other: Replica, lastT: number): number {
    const ts = this.ts;
    const n = this.n;
    const bounded = other.alive;
    let j = this.j;
    let penalty = other.penalty;
    let target = other.target;
    while (j + 1 < n) {
      const t = ts[j + 1] as number;
      if (lastT + 1 + penalty > target) target = lastT + 1 + penalty;
      if (bounded && t >= target) break;
      penalty = 2 * (t - lastT);
      lastT = t;
      j++;
    }
    // The target is where the general step would set it: it takes the same maximum again.
    other.target = target;
    if (j !== this.j) {
      other.penalty = penalty;
      this.j = this.#runTo = j;
    }
    return lastT;
  }

  /** Raises later values so that the current one is not below the last emitted (CounterAdjustingIterator). */
  adjust(lastEmitted: number): void {
    const v = this.value();
    if (lastEmitted > v) this.offset += lastEmitted - v;
  }

  /** Records that the merge emitted the current sample. */
  emit(): void {
    if (this.#runFrom >= 0 && this.#runTo === this.j - 1 && this.#runOffset === this.offset) {
      this.#runTo = this.j;
      return;
    }
    this.flush();
    this.#runFrom = this.#runTo = this.j;
    this.#runOffset = this.offset;
  }

  /** Writes out the pending emitted samples: the chunk itself if they are all of it, unchanged. */
  flush(): void {
    const from = this.#runFrom;
    if (from < 0) return;
    this.#runFrom = -1;
    const to = this.#runTo + 1;
    if (from === 0 && to === this.n && this.#runOffset === 0) {
      this.out.push(this.chunks[this.#ci] as ChunkMeta);
      return;
    }
    let vs = this.vs;
    if (this.#runOffset !== 0) {
      vs = adjusted.length >= to ? adjusted : (adjusted = new Float64Array(Math.max(to, 2 * adjusted.length)));
      for (let k = from; k < to; k++) vs[k] = raised(this.vs[k] as number, this.#runOffset);
    }
    const chunk = XORChunk.fromBytes(xorSamplesBytes(this.ts, vs, from, to).slice());
    this.out.push({ minTime: this.ts[from] as number, maxTime: this.ts[to - 1] as number, chunk });
  }

  /** Decodes chunk `ci` (or the first non-empty one after it) and stands at its first sample. */
  #open(ci: number): boolean {
    this.flush();
    for (; ci < this.chunks.length; ci++) {
      const bytes = (this.chunks[ci] as ChunkMeta).chunk.bytes;
      const count = bytes.length < 2 ? 0 : ((bytes[0] as number) << 8) | (bytes[1] as number);
      if (this.ts.length < count) {
        this.ts = this.buffers.ts = new Float64Array(count);
        this.vs = this.buffers.vs = new Float64Array(count);
      }
      this.n = appendXORSamples(bytes, this.ts, this.vs, 0);
      this.#ci = ci;
      this.j = 0;
      if (this.n > 0) return true;
    }
    this.alive = false;
    return false;
  }
}

/** Moves a replica to its pending target (PenaltyDedupIterator's #settle). */
function settle(r: Replica): void {
  if (r.target !== Number.NEGATIVE_INFINITY) r.seek(r.target);
  r.target = Number.NEGATIVE_INFINITY;
}

/** Scratch for the values of a raised run, as it is encoded. */
let adjusted = new Float64Array(128);

/**
 * The penalty merge of two replicas, step for step as PenaltyDedupIterator takes it (see there): the
 * replica that emitted takes its next sample; the other is only moved to its target where it could
 * be picked.
 */
function mergeTwo(aChunks: readonly ChunkMeta[], bChunks: readonly ChunkMeta[], counter: boolean): ChunkMeta[] {
  const out: ChunkMeta[] = [];
  const a = new Replica(aChunks, out, buffers[0]);
  const b = new Replica(bChunks, out, buffers[1]);
  a.next();
  b.next();
  let lastT = Number.NEGATIVE_INFINITY;
  let useA = true;
  const pick = (cur: Replica, other: Replica, t: number, penalty: number) => {
    other.penalty = penalty;
    cur.penalty = 0;
    lastT = t;
  };
  for (;;) {
    const known = lastT !== Number.NEGATIVE_INFINITY;
    // Most steps keep the replica that emitted: taken in bulk.
    if (known) lastT = useA ? a.follow(b, lastT) : b.follow(a, lastT);
    const wasA: boolean = useA;
    // The last emitted value is only needed to adjust counters on a switch.
    const lastValue = counter && known ? (wasA ? a : b).value() : 0;
    let picked = false;
    if (known) {
      const cur = useA ? a : b;
      const other = useA ? b : a;
      cur.next();
      const target = lastT + 1 + other.penalty;
      if (target > other.target) other.target = target;
      if (cur.alive && (!other.alive || cur.t() < other.target)) {
        const t = cur.t();
        pick(cur, other, t, 2 * (t - lastT));
        picked = true;
      } else {
        settle(a);
        settle(b);
      }
    }
    if (!picked) {
      if (!a.alive) {
        useA = false;
        if (!b.alive) break;
        lastT = b.t();
        b.penalty = 0;
      } else if (!b.alive) {
        useA = true;
        lastT = a.t();
        a.penalty = 0;
      } else {
        const ta = a.t();
        const tb = b.t();
        useA = ta <= tb;
        const chosen = useA ? ta : tb;
        pick(useA ? a : b, useA ? b : a, chosen, known ? 2 * (chosen - lastT) : INITIAL_PENALTY_MS);
      }
      if (useA !== wasA && known && counter) {
        if (a.alive) a.adjust(lastValue);
        if (b.alive) b.adjust(lastValue);
      }
    }
    (useA ? b : a).flush();
    (useA ? a : b).emit();
  }
  a.flush();
  b.flush();
  return out;
}
