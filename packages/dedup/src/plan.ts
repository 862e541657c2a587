import {
  ALL_SAMPLES, appendXORSamples, ArraySampleIterator, xorAppendedNaN, Encoding, isStaleNaN, SampleBuffer, type BulkSeries, type ChunkMeta, type Labels, type SampleIterator,
  type SampleWindow,
} from '@strata/tsdb';
import { raised } from './adjustable.js';
import { initialPenalty } from './penalty.js';

/**
 * The penalty merge (penalty.ts) of replicas made of XOR chunks, written by the reader's request
 * straight into its sample buffer: while the merge follows one replica, it copies that replica's
 * decoded samples in runs, so the PromQL engine decodes each chunk it reads once (in the merge) rather
 * than once to plan the merge and again to evaluate; a counter replica raised after a switch is raised
 * as it is copied. The replica not followed is only decoded where the merge could switch to it: its
 * chunks that end before the furthest point it had to reach are skipped by their time bounds, and the
 * merge stops at the reader's maxt.
 *
 * The same samples as `penaltyMerge` over ChunksReplicaIterators (checked on random replicas in the
 * tests). `of` returns undefined where it does not apply: a chunk not XOR-encoded, or a counter over
 * more than two replicas (the pairwise fold adjusts the replicas inside an earlier merge, which the
 * merged samples no longer allow).
 */
export class PenaltyMergedSeries implements BulkSeries {
  private constructor(
    readonly labels: Labels,
    private readonly replicas: readonly (readonly ChunkMeta[])[],
    private readonly counter: boolean,
  ) {}

  static of(labels: Labels, replicas: readonly (readonly ChunkMeta[])[], counter: boolean): PenaltyMergedSeries | undefined {
    if (replicas.length === 0) throw new Error('PenaltyMergedSeries needs at least one replica');
    if (counter && replicas.length > 2) return undefined;
    if (replicas.some((r) => r.some((c) => c.chunk.encoding !== Encoding.XOR))) return undefined;
    return new PenaltyMergedSeries(labels, replicas, counter);
  }

  iterator(): SampleIterator {
    const buf = new SampleBuffer();
    this.appendSamples(buf, ALL_SAMPLES);
    return new ArraySampleIterator(buf.ts.subarray(0, buf.n), buf.vs.subarray(0, buf.n));
  }

  appendSamples(buf: SampleBuffer, window: SampleWindow): void {
    const [first, ...rest] = this.replicas as [readonly ChunkMeta[], ...(readonly ChunkMeta[])[]];
    if (rest.length === 0) rest.push([]);
    // More than two replicas fold pairwise, each merge but the last into a buffer of its own.
    let merged: SampleBuffer | undefined;
    for (let i = 0; i < rest.length; i++) {
      const last = i === rest.length - 1;
      const into = last ? buf : new SampleBuffer();
      const out = new Output(into, last ? window : ALL_SAMPLES);
      const a = merged === undefined ? new Replica(first, buffers[0], out) : Replica.decoded(merged, out);
      mergeTwo(a, new Replica(rest[i] as readonly ChunkMeta[], buffers[1], out), this.counter, out);
      merged = into;
    }
  }
}

/**
 * Where the merge writes: the reader's buffer, within its window. A replica may decode a chunk that lies
 * wholly inside the window straight into the buffer, past its end (the `owner` of that room), so that
 * what the merge emits from it is kept where it is instead of copied; anyone else about to write there
 * first has the owner move its chunk to its own arrays.
 */
class Output {
  /** A sample past maxt was reached: nothing later is wanted. */
  done = false;
  /** The replica whose decoded chunk lies in the buffer past `buf.n`, if any. */
  owner: Replica | undefined;
  constructor(
    readonly buf: SampleBuffer,
    private readonly window: SampleWindow,
  ) {}

  get maxt(): number {
    return this.window.maxt;
  }

  /** Whether every sample of the chunk is in the window (it may be decoded into the buffer). */
  holds(c: ChunkMeta): boolean {
    return c.minTime >= this.window.mint && c.maxTime <= this.window.maxt;
  }

  /** Makes the room past the buffer's end free for `writer`. */
  claim(writer: Replica): void {
    const owner = this.owner;
    this.owner = undefined;
    if (owner !== undefined && owner !== writer) owner.evacuate();
  }

  /** Appends samples [from, to) of ts/vs, values raised by `offset`. */
  append(ts: Float64Array, vs: Float64Array, from: number, to: number, offset: number): void {
    const { mint, maxt, dropStale } = this.window;
    while (from < to && (ts[from] as number) < mint) from++;
    while (to > from && (ts[to - 1] as number) > maxt) {
      to--;
      this.done = true;
    }
    if (from >= to) return;
    const buf = this.buf;
    buf.reserve(buf.n + to - from);
    const outTs = buf.ts;
    const outVs = buf.vs;
    let n = buf.n;
    // Runs are short (a chunk at most): plain loops, no subarray views to allocate.
    if (offset === 0 && !dropStale) {
      for (let k = from; k < to; k++, n++) {
        outTs[n] = ts[k] as number;
        outVs[n] = vs[k] as number;
      }
    } else {
      for (let k = from; k < to; k++) {
        const v = vs[k] as number;
        // Only a NaN can be a stale marker: the cheap test first.
        if (v !== v && dropStale && isStaleNaN(v)) continue;
        outTs[n] = ts[k] as number;
        outVs[n++] = offset === 0 ? v : raised(v, offset);
      }
    }
    buf.n = n;
  }

  /**
   * Keeps the buffer's samples [from, to), decoded there in place (from ≥ buf.n, all inside the window):
   * moved down to the buffer's end if samples before them were skipped, values raised by `offset`.
   * `nan`: whether they may hold a NaN (xorAppendedNaN), which may be a stale marker to drop.
   */
  keep(from: number, to: number, offset: number, nan: boolean): void {
    const buf = this.buf;
    const ts = buf.ts;
    const vs = buf.vs;
    const dropStale = this.window.dropStale && nan;
    if (from === buf.n && offset === 0) {
      // Usually nothing moves: the samples stay where they are, up to a stale marker to drop.
      if (dropStale) while (from < to && vs[from] === vs[from]) from++;
      else from = to;
      buf.n = from;
      if (from === to) return;
    }
    let n = buf.n;
    for (let k = from; k < to; k++) {
      const v = vs[k] as number;
      if (v !== v && dropStale && isStaleNaN(v)) continue;
      ts[n] = ts[k] as number;
      vs[n++] = offset === 0 ? v : raised(v, offset);
    }
    buf.n = n;
  }
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

/**
 * One replica's chunks decoded one at a time (or samples merged already), with the samples the merge
 * emitted. A chunk is decoded into the replica's own arrays, or into the reader's buffer (see Output).
 */
class Replica {
  /**
   * The decoded chunk's index and its samples, which end at ts/vs[n - 1] (and start at 0 in the
   * replica's own arrays, or where the reader's buffer ended); the replica stands at sample `j`.
   */
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
  /** Whether the decoded chunk lies in the reader's buffer (ts and vs are the buffer's arrays), and may hold a NaN. */
  #inPlace = false;
  #nan = false;
  constructor(
    private readonly chunks: readonly ChunkMeta[],
    private readonly buffers: Buffers,
    private readonly out: Output,
  ) {
    this.ts = buffers.ts;
    this.vs = buffers.vs;
  }

  /** A replica of samples merged already, standing before the first. */
  static decoded(samples: SampleBuffer, out: Output): Replica {
    const r = new Replica([], samples, out);
    r.n = samples.n;
    r.#ci = 0;
    r.j = -1;
    return r;
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
    const from = this.j;
    let j = from;
    let target = other.target;
    // The replica stands at the sample emitted last (ts[j] = lastT): the first step takes the penalty the
    // merge holds, each later one twice the distance between this replica's last two samples. Reading
    // them from ts, rather than carrying lastT and the penalty along, keeps the loop free of boxed numbers.
    let reach = lastT + 1 + other.penalty;
    while (j + 1 < n) {
      if (reach > target) target = reach;
      const t = ts[j + 1] as number;
      if (bounded && t >= target) break;
      reach = t + 1 + 2 * (t - (ts[j] as number));
      j++;
    }
    // The target is where the general step would set it: it takes the same maximum again.
    other.target = target;
    if (j === from) return lastT;
    other.penalty = 2 * ((ts[j] as number) - (ts[j - 1] as number));
    this.j = this.#runTo = j;
    return ts[j] as number;
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

  /** Writes out the pending emitted samples. */
  flush(): void {
    const from = this.#runFrom;
    if (from < 0) return;
    this.#runFrom = -1;
    if (this.#inPlace) {
      this.out.keep(from, this.#runTo + 1, this.#runOffset, this.#nan);
    } else {
      this.out.claim(this);
      this.out.append(this.ts, this.vs, from, this.#runTo + 1, this.#runOffset);
    }
  }

  /**
   * Another writer needs the buffer's room this replica's chunk lies in: the samples from the current
   * one on move to the replica's own arrays (before the pending ones are kept, which may raise them).
   */
  evacuate(): void {
    const rest = this.n - this.j;
    const own = this.#ownArrays(rest);
    own.ts.set(this.ts.subarray(this.j, this.n));
    own.vs.set(this.vs.subarray(this.j, this.n));
    this.flush();
    this.#inPlace = false;
    this.ts = own.ts;
    this.vs = own.vs;
    this.j = 0;
    this.n = rest;
  }

  /** The replica's own arrays, with room for `count` samples. */
  #ownArrays(count: number): Buffers {
    const own = this.buffers;
    if (own.ts.length < count) {
      own.ts = new Float64Array(count);
      own.vs = new Float64Array(count);
    }
    return own;
  }

  /**
   * Decodes chunk `ci` (or the first non-empty one after it) and stands at its first sample. A chunk
   * that starts past the reader's maxt stands for itself with its first timestamp: the merge decides
   * the same up to maxt without its other samples, and emitting it ends the output.
   */
  #open(ci: number): boolean {
    this.flush();
    const out = this.out;
    // What it had decoded into the buffer is behind it now.
    if (out.owner === this) out.owner = undefined;
    for (; ci < this.chunks.length; ci++) {
      const c = this.chunks[ci] as ChunkMeta;
      this.#ci = ci;
      if (c.minTime > out.maxt) {
        this.#inPlace = false;
        this.#use(this.#ownArrays(1), 0);
        this.ts[0] = c.minTime;
        this.vs[0] = 0;
        this.n = 1;
        return true;
      }
      const bytes = c.chunk.bytes;
      const count = bytes.length < 2 ? 0 : ((bytes[0] as number) << 8) | (bytes[1] as number);
      // Into the buffer when its room is free: the replica that opens chunks is mostly the one followed.
      this.#inPlace = out.owner === undefined && out.holds(c);
      if (this.#inPlace) {
        out.owner = this;
        out.buf.reserve(out.buf.n + count);
        this.#use(out.buf, out.buf.n);
      } else {
        this.#use(this.#ownArrays(count), 0);
      }
      this.n = appendXORSamples(bytes, this.ts, this.vs, this.j);
      this.#nan = xorAppendedNaN();
      if (this.n > this.j) return true;
      if (out.owner === this) out.owner = undefined;
    }
    this.#inPlace = false;
    this.alive = false;
    return false;
  }

  /** Decodes into `arrays` from index `at` on. */
  #use(arrays: Buffers, at: number): void {
    this.ts = arrays.ts;
    this.vs = arrays.vs;
    this.j = at;
  }
}

/** Moves a replica to its pending target (PenaltyDedupIterator's #settle). */
function settle(r: Replica): void {
  if (r.target !== Number.NEGATIVE_INFINITY) r.seek(r.target);
  r.target = Number.NEGATIVE_INFINITY;
}

/** The merge picked `cur`: the other replica is seeked past the penalty next. */
function pick(cur: Replica, other: Replica, penalty: number): void {
  other.penalty = penalty;
  cur.penalty = 0;
}

/**
 * The penalty merge of two replicas, step for step as PenaltyDedupIterator takes it (see there): the
 * replica that emitted takes its next sample; the other is only moved to its target where it could
 * be picked.
 */
function mergeTwo(a: Replica, b: Replica, counter: boolean, out: Output): void {
  a.next();
  b.next();
  // lastT stays a local (no closure writes it), so that it is never boxed.
  let lastT = Number.NEGATIVE_INFINITY;
  let useA = true;
  // Until the reader's maxt: later samples cannot change earlier ones.
  while (!out.done) {
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
      if (out.done) break;
      // A replica that has ended bars the other for one interval only (PenaltyDedupIterator).
      const target = lastT + 1 + other.penalty;
      if (!cur.alive) other.target = lastT + Math.max(1, other.penalty / 2);
      else if (target > other.target) other.target = target;
      if (cur.alive && (!other.alive || cur.t() < other.target)) {
        const t = cur.t();
        pick(cur, other, 2 * (t - lastT));
        lastT = t;
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
        pick(useA ? a : b, useA ? b : a, known ? 2 * (chosen - lastT) : initialPenalty(chosen, useA ? tb : ta));
        lastT = chosen;
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
}
