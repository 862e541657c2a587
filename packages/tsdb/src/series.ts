import { ChunksSampleIterator } from './block/series-iterator.js';
import { type ChunkMeta, type SampleIterator, ValueType } from './chunkenc/chunk.js';
import { histogramToFloat } from './histogram/convert.js';
import { FloatHistogram } from './histogram/float.js';
import type { Histogram } from './histogram/types.js';
import type { Labels } from './labels/labels.js';

/** A series of samples, iterated in time order. */
export interface Series {
  readonly labels: Labels;
  iterator(reuse?: SampleIterator): SampleIterator;
}

/** The samples a reader wants from a series: mint ≤ t ≤ maxt, optionally without stale markers. */
export interface SampleWindow {
  mint: number;
  maxt: number;
  dropStale: boolean;
}

/** The window of every sample, stale markers included. */
export const ALL_SAMPLES: Readonly<SampleWindow> = Object.freeze({ mint: Number.NEGATIVE_INFINITY, maxt: Number.POSITIVE_INFINITY, dropStale: false });

/**
 * A series that can also write its samples into a reader's buffer in one call (the PromQL engine's
 * bulk path, as it decodes XOR chunks), rather than handing them out one at a time through an iterator.
 */
export interface BulkSeries extends Series {
  appendSamples(buf: SampleBuffer, window: SampleWindow): void;
}

export function isBulkSeries(s: Series): s is BulkSeries {
  return typeof (s as Partial<BulkSeries>).appendSamples === 'function';
}

/** A series as encoded chunks, time-ordered; chunks of one series may overlap only across replicas. */
export interface ChunkSeries {
  readonly labels: Labels;
  readonly chunks: readonly ChunkMeta[];
}

/** A ChunkSeries (non-overlapping chunks) read as samples. */
export class ChunkSeriesSamples implements Series {
  constructor(
    readonly labels: Labels,
    readonly chunks: readonly ChunkMeta[],
  ) {}

  iterator(): SampleIterator {
    return new ChunksSampleIterator(this.chunks, -Infinity, Infinity);
  }
}

/**
 * Iterates samples held in parallel arrays (timestamps ascending); `seek` binary-searches. Where `hs`
 * holds a histogram, the sample is that histogram (of float counts, or integer ones) and its `vs` slot
 * is ignored.
 */
export class ArraySampleIterator implements SampleIterator {
  #i = -1;

  constructor(
    private readonly ts: ArrayLike<number>,
    private readonly vs: ArrayLike<number>,
    private readonly hs: ArrayLike<FloatHistogram | Histogram | undefined> | null = null,
  ) {}

  #type(): ValueType {
    if (this.#i >= this.ts.length) return ValueType.None;
    const h = this.hs?.[this.#i];
    if (h === undefined) return ValueType.Float;
    return h instanceof FloatHistogram ? ValueType.FloatHistogram : ValueType.Histogram;
  }

  next(): ValueType {
    this.#i++;
    return this.#type();
  }

  seek(t: number): ValueType {
    if (this.#i < 0) this.#i = 0;
    if (this.#i < this.ts.length && (this.ts[this.#i] as number) >= t) return this.#type();
    let lo = this.#i;
    let hi = this.ts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.ts[mid] as number) < t) lo = mid + 1;
      else hi = mid;
    }
    this.#i = lo;
    return this.#type();
  }

  atT(): number {
    return this.ts[this.#i] as number;
  }

  atFloat(): number {
    return this.vs[this.#i] as number;
  }

  atHistogram(): Histogram {
    return (this.hs as ArrayLike<Histogram>)[this.#i] as Histogram;
  }

  atFloatHistogram(): FloatHistogram {
    const h = (this.hs as ArrayLike<FloatHistogram | Histogram>)[this.#i] as FloatHistogram | Histogram;
    return h instanceof FloatHistogram ? h : histogramToFloat(h);
  }

  err(): Error | null {
    return null;
  }
}

/**
 * Growable parallel arrays of samples (timestamps and values), reused across series. Histogram samples
 * go in `hs`, allocated on the first one; their `vs` slot holds 0.
 */
export class SampleBuffer {
  ts: Float64Array;
  vs: Float64Array;
  /** The histogram of each sample that is one; null while none is. */
  hs: (FloatHistogram | undefined)[] | null = null;
  n = 0;

  constructor(capacity = 1024) {
    this.ts = new Float64Array(capacity);
    this.vs = new Float64Array(capacity);
  }

  reset(): void {
    this.n = 0;
    this.hs = null;
  }

  push(t: number, v: number): void {
    if (this.n === this.ts.length) this.reserve(this.n + 1);
    if (this.hs !== null) this.hs[this.n] = undefined;
    this.ts[this.n] = t;
    this.vs[this.n++] = v;
  }

  pushHistogram(t: number, h: FloatHistogram): void {
    if (this.n === this.ts.length) this.reserve(this.n + 1);
    this.hs ??= [];
    // Slots written as floats before the first histogram (or by the bulk XOR path) are filled in first.
    while (this.hs.length < this.n) this.hs.push(undefined);
    this.hs[this.n] = h;
    this.ts[this.n] = t;
    this.vs[this.n++] = 0;
  }

  /** Marks samples from..n-1, written straight into `ts`/`vs`, as floats. */
  floatsWritten(from: number): void {
    if (this.hs !== null) for (let i = from; i < this.n; i++) this.hs[i] = undefined;
  }

  /** Makes room for `capacity` samples in all (for writing into `ts` and `vs` directly). */
  reserve(capacity: number): void {
    if (capacity <= this.ts.length) return;
    const size = Math.max(capacity, this.ts.length * 2);
    const ts = new Float64Array(size);
    const vs = new Float64Array(size);
    ts.set(this.ts.subarray(0, this.n));
    vs.set(this.vs.subarray(0, this.n));
    this.ts = ts;
    this.vs = vs;
  }
}

/** The samples of `inner` from `mint` to `maxt` (ms, both included). */
export class TimeBoundIterator implements SampleIterator {
  #started = false;

  constructor(
    private readonly inner: SampleIterator,
    private readonly mint: number,
    private readonly maxt: number,
  ) {}

  next(): ValueType {
    const vt = this.#started ? this.inner.next() : this.inner.seek(this.mint);
    this.#started = true;
    return this.#bounded(vt);
  }

  seek(t: number): ValueType {
    this.#started = true;
    return this.#bounded(this.inner.seek(Math.max(t, this.mint)));
  }

  #bounded(vt: ValueType): ValueType {
    return vt !== ValueType.None && this.inner.atT() > this.maxt ? ValueType.None : vt;
  }

  atT(): number {
    return this.inner.atT();
  }

  atFloat(): number {
    return this.inner.atFloat();
  }

  atHistogram(): Histogram {
    return (this.inner as Required<SampleIterator>).atHistogram();
  }

  atFloatHistogram(): FloatHistogram {
    return (this.inner as Required<SampleIterator>).atFloatHistogram();
  }

  err(): Error | null {
    return this.inner.err();
  }
}
