/**
 * The chunk and sample-iterator contracts shared by every reader of samples (block reader, remote read,
 * StoreAPI client, PromQL engine).
 *
 * Iterators follow Prometheus' chunkenc.Iterator: `next()` moves to the next sample and says what type
 * it is; the current sample is read with `atT()`/`atFloat()` (or, for native histograms,
 * `atHistogram()`/`atFloatHistogram()`). Nothing is allocated per float sample.
 */
import type { FloatHistogram } from '../histogram/float.js';
import type { Histogram } from '../histogram/types.js';

/** Type of the sample an iterator is positioned on. */
export const ValueType = { None: 0, Float: 1, Histogram: 2, FloatHistogram: 3 } as const;
export type ValueType = (typeof ValueType)[keyof typeof ValueType];

/**
 * Chunk encodings as stored in chunk segment files and sent over remote read and the StoreAPI. `Aggr`
 * (0xFF) is Thanos' downsampled aggregate chunk, found only in block files (aggr.ts).
 */
export const Encoding = { XOR: 1, Histogram: 2, FloatHistogram: 3, Aggr: 0xff } as const;
export type Encoding = (typeof Encoding)[keyof typeof Encoding];

export interface SampleIterator {
  /** Advances to the next sample; returns its type, or `ValueType.None` at the end (or on error). */
  next(): ValueType;
  /** Advances to the first sample with timestamp ≥ t; stays put if already there. */
  seek(t: number): ValueType;
  /** Timestamp (ms) of the current sample. */
  atT(): number;
  /** Value of the current float sample. */
  atFloat(): number;
  /**
   * The current sample of a `ValueType.Histogram` iterator (integer counts). Iterators that never yield
   * histograms leave it out. The caller may keep the histogram and never changes it (it copies one to
   * compute with), so iterators may hand out one they share, and need not copy theirs.
   */
  atHistogram?(): Histogram;
  /**
   * The current histogram sample with float counts: for `ValueType.FloatHistogram`, and for
   * `ValueType.Histogram` converted. Kept and never changed by the caller, as atHistogram's.
   */
  atFloatHistogram?(): FloatHistogram;
  /** The error that ended iteration early, if any. */
  err(): Error | null;
}

export interface Chunk {
  readonly encoding: Encoding;
  /** The encoded chunk data as stored (for XOR: BE16 sample count, then the bit stream). */
  readonly bytes: Uint8Array;
  numSamples(): number;
  /** An iterator over the chunk; `reuse` may be recycled to avoid an allocation. */
  iterator(reuse?: SampleIterator): SampleIterator;
}

/** A chunk with its inclusive time bounds (first and last sample). */
export interface ChunkMeta {
  readonly minTime: number;
  readonly maxTime: number;
  readonly chunk: Chunk;
}

/** An iterator that is always exhausted. */
export const EMPTY_ITERATOR: SampleIterator = {
  next: () => ValueType.None,
  seek: () => ValueType.None,
  atT: () => {
    throw new Error('atT() on an exhausted iterator');
  },
  atFloat: () => {
    throw new Error('atFloat() on an exhausted iterator');
  },
  err: () => null,
};
