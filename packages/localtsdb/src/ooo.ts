/**
 * A series' out-of-order samples, as Prometheus' head keeps them (tsdb/ooo_head.go, head_append.go
 * memSeries.insert): float samples taken within the out-of-order window that are not after the series'
 * last sample. They go into a chunk kept sorted, of at most `capMax` samples
 * (--tsdb.out-of-order.cap-max); a full one is XOR-encoded and set aside, and the next starts empty. The
 * chunks set aside overlap each other and the series' in-order chunks: readers merge them.
 *
 * A sample at a time the open chunk already holds is a resend and dropped, as Prometheus drops it
 * (whatever its value: an out-of-order duplicate is not an error there).
 */
import { type ChunkMeta, XORChunk, xorSamplesBytes } from '@strata/tsdb';

/** Samples per chunk of an out-of-order block, as Prometheus cuts them. */
const BLOCK_CHUNK_SAMPLES = 120;

export class OOOSamples {
  /** Encoded chunks, each sorted, in the order they were filled. */
  readonly #done: ChunkMeta[] = [];
  /** The open chunk: n sorted samples (typed, so that a stale marker's NaN payload is kept). */
  #ts: Float64Array;
  #vs: Float64Array;
  #n = 0;
  #minTime = Infinity;
  #maxTime = -Infinity;

  constructor(capMax: number) {
    this.#ts = new Float64Array(capMax);
    this.#vs = new Float64Array(capMax);
  }

  /** Oldest sample held (Infinity when none). */
  get minTime(): number {
    return this.#minTime;
  }

  /** Latest sample held (-Infinity when none). */
  get maxTime(): number {
    return this.#maxTime;
  }

  /** Samples held. */
  get size(): number {
    return this.#done.length * this.#ts.length + this.#n;
  }

  /** Inserts a sample in time order; false (dropped) if the open chunk has one at `t` already. */
  insert(t: number, v: number): boolean {
    const ts = this.#ts;
    let i = this.#n;
    while (i > 0 && (ts[i - 1] as number) > t) i--;
    if (i > 0 && ts[i - 1] === t) return false;
    ts.copyWithin(i + 1, i, this.#n);
    this.#vs.copyWithin(i + 1, i, this.#n);
    ts[i] = t;
    this.#vs[i] = v;
    this.#n++;
    if (t < this.#minTime) this.#minTime = t;
    if (t > this.#maxTime) this.#maxTime = t;
    if (this.#n === ts.length) {
      this.#done.push(this.#encodeOpen());
      this.#n = 0;
    }
    return true;
  }

  /** The chunks overlapping [mint, maxt], in the order they were filled, the open one last (encoded now). */
  chunksIn(mint: number, maxt: number): ChunkMeta[] {
    const out = this.#done.filter((c) => c.maxTime >= mint && c.minTime <= maxt);
    if (this.#n > 0 && (this.#ts[this.#n - 1] as number) >= mint && (this.#ts[0] as number) <= maxt) out.push(this.#encodeOpen());
    return out;
  }

  /** Every sample held, the chunks set aside first, in the order they were filled. */
  *samples(): Generator<[t: number, v: number]> {
    for (const c of this.#done) {
      const it = c.chunk.iterator();
      while (it.next()) yield [it.atT(), it.atFloat()];
    }
    for (let i = 0; i < this.#n; i++) yield [this.#ts[i] as number, this.#vs[i] as number];
  }

  #encodeOpen(): ChunkMeta {
    return xorChunk(this.#ts, this.#vs, 0, this.#n);
  }
}

function xorChunk(ts: Float64Array, vs: Float64Array, from: number, to: number): ChunkMeta {
  return { minTime: ts[from] as number, maxTime: ts[to - 1] as number, chunk: XORChunk.fromBytes(xorSamplesBytes(ts, vs, from, to).slice()) };
}

/**
 * The samples of `parts` (one series' out-of-order samples, in the order they were taken) sorted by time,
 * one per time (the one taken first), cut into chunks of at most BLOCK_CHUNK_SAMPLES that do not cross a
 * multiple of `width`: the chunks of the out-of-order blocks, one per window.
 */
export function oooBlockChunks(parts: readonly OOOSamples[], width: number): ChunkMeta[] {
  // Typed arrays keep the values' bits: a stale marker's NaN payload survives them.
  const ts = new Float64Array(parts.reduce((n, p) => n + p.size, 0));
  const vs = new Float64Array(ts.length);
  let taken = 0;
  for (const part of parts) {
    for (const [t, v] of part.samples()) {
      ts[taken] = t;
      vs[taken++] = v;
    }
  }
  const order = Array.from(ts.keys()).sort((a, b) => (ts[a] as number) - (ts[b] as number) || a - b);
  const sortedTs = new Float64Array(order.length);
  const sortedVs = new Float64Array(order.length);
  let n = 0;
  for (const i of order) {
    if (n > 0 && sortedTs[n - 1] === ts[i]) continue;
    sortedTs[n] = ts[i] as number;
    sortedVs[n++] = vs[i] as number;
  }
  const out: ChunkMeta[] = [];
  for (let from = 0; from < n; ) {
    const windowEnd = (Math.floor((sortedTs[from] as number) / width) + 1) * width;
    let to = from + 1;
    while (to < n && to - from < BLOCK_CHUNK_SAMPLES && (sortedTs[to] as number) < windowEnd) to++;
    out.push(xorChunk(sortedTs, sortedVs, from, to));
    from = to;
  }
  return out;
}
