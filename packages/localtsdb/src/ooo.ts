/**
 * A series' out-of-order samples, as Prometheus' head keeps them (tsdb/ooo_head.go, head_append.go
 * memSeries.insert): samples (floats, or native histograms of integer or float counts) taken within the
 * out-of-order window that are not after the series' last sample. They go into a chunk kept sorted, of at
 * most `capMax` samples (--tsdb.out-of-order.cap-max); a full one is encoded (a chunk per run of one
 * kind) and set aside, and the next starts empty. The chunks set aside overlap each other and the
 * series' in-order chunks: readers merge them.
 *
 * A sample at a time the open chunk already holds is a resend and dropped, as Prometheus drops it
 * (whatever its value: an out-of-order duplicate is not an error there).
 */
import {
  ArraySampleIterator,
  ChainMergeIterator,
  type ChunkMeta,
  ChunksSampleIterator,
  encodeSeriesChunks,
  type FloatHistogram,
  type Histogram,
  XORChunk,
  xorSamplesBytes,
} from '@strata/tsdb';

/** Samples per chunk of an out-of-order block, as Prometheus cuts them. */
const BLOCK_CHUNK_SAMPLES = 120;

export class OOOSamples {
  /** Encoded chunks, each sorted, in the order they were filled. */
  readonly #done: ChunkMeta[] = [];
  /** The open chunk: n sorted samples (typed, so that a stale marker's NaN payload is kept). */
  readonly #ts: Float64Array;
  readonly #vs: Float64Array;
  /** The histogram of each open sample that is one; null while none is. */
  #hs: (Histogram | FloatHistogram | undefined)[] | null = null;
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

  /** Inserts a sample in time order: `h` where it is a histogram, else the float `v`; false (dropped) if the open chunk has one at `t` already. */
  insert(t: number, v: number, h?: Histogram | FloatHistogram): boolean {
    const ts = this.#ts;
    let i = this.#n;
    while (i > 0 && (ts[i - 1] as number) > t) i--;
    if (i > 0 && ts[i - 1] === t) return false;
    ts.copyWithin(i + 1, i, this.#n);
    this.#vs.copyWithin(i + 1, i, this.#n);
    ts[i] = t;
    this.#vs[i] = v;
    if (h !== undefined || this.#hs !== null) {
      this.#hs ??= new Array<undefined>(this.#n).fill(undefined);
      this.#hs.splice(i, 0, h);
    }
    this.#n++;
    if (t < this.#minTime) this.#minTime = t;
    if (t > this.#maxTime) this.#maxTime = t;
    if (this.#n === ts.length) {
      this.#done.push(...this.#encodeOpen());
      this.#n = 0;
      this.#hs = null;
    }
    return true;
  }

  /** The chunks overlapping [mint, maxt], in the order they were filled, the open one's last (encoded now). */
  chunksIn(mint: number, maxt: number): ChunkMeta[] {
    const out = this.#done.filter((c) => c.maxTime >= mint && c.minTime <= maxt);
    if (this.#n > 0 && (this.#ts[this.#n - 1] as number) >= mint && (this.#ts[0] as number) <= maxt) out.push(...this.#encodeOpen());
    return out;
  }

  /** The open chunk's samples encoded: one XOR chunk, or a chunk per run of one kind. */
  #encodeOpen(): ChunkMeta[] {
    const n = this.#n;
    if (this.#hs === null) return [{ minTime: this.#ts[0] as number, maxTime: this.#ts[n - 1] as number, chunk: XORChunk.fromBytes(xorSamplesBytes(this.#ts, this.#vs, 0, n).slice()) }];
    return encodeSeriesChunks(new ArraySampleIterator(this.#ts.subarray(0, n), this.#vs.subarray(0, n), this.#hs), n);
  }
}

/**
 * The samples of `parts` (one series' out-of-order samples, in the order they were taken) in time order,
 * one per time (the one taken first), in chunks of at most BLOCK_CHUNK_SAMPLES that do not cross a
 * multiple of `width`: the chunks of the out-of-order blocks, one per window.
 */
export function oooBlockChunks(parts: readonly OOOSamples[], width: number): ChunkMeta[] {
  const filled = parts.flatMap((p) => p.chunksIn(-Infinity, Infinity));
  const merged = encodeSeriesChunks(new ChainMergeIterator(filled.map((c) => new ChunksSampleIterator([c], -Infinity, Infinity))), BLOCK_CHUNK_SAMPLES);
  const out: ChunkMeta[] = [];
  for (const c of merged) {
    const first = Math.floor(c.minTime / width);
    const last = Math.floor(c.maxTime / width);
    if (first === last) {
      out.push(c);
      continue;
    }
    // Cut at each window's end.
    for (let w = first; w <= last; w++) out.push(...encodeSeriesChunks(new ChunksSampleIterator([c], w * width, (w + 1) * width - 1), BLOCK_CHUNK_SAMPLES));
  }
  return out;
}
