import { type ChunkMeta, type SampleIterator, ValueType } from './chunkenc/chunk.js';
import type { Labels } from './labels/labels.js';

/** A series of samples, iterated in time order. */
export interface Series {
  readonly labels: Labels;
  iterator(reuse?: SampleIterator): SampleIterator;
}

/** A series as encoded chunks, time-ordered; chunks of one series may overlap only across replicas. */
export interface ChunkSeries {
  readonly labels: Labels;
  readonly chunks: readonly ChunkMeta[];
}

/**
 * Iterates the samples of time-ordered, non-overlapping chunks as one stream. `seek` skips whole
 * chunks that end before the target without decoding them.
 */
export class ChunksIterator implements SampleIterator {
  #i = -1;
  #cur: SampleIterator | undefined;
  #err: Error | null = null;

  constructor(private readonly chunks: readonly ChunkMeta[]) {}

  #open(i: number): void {
    this.#i = i;
    const c = this.chunks[i];
    this.#cur = c === undefined ? undefined : c.chunk.iterator(this.#cur);
  }

  next(): ValueType {
    if (this.#i < 0) this.#open(0);
    while (this.#cur !== undefined) {
      const t = this.#cur.next();
      if (t !== ValueType.None) return t;
      const e = this.#cur.err();
      if (e) {
        this.#err = e;
        this.#cur = undefined;
        return ValueType.None;
      }
      this.#open(this.#i + 1);
    }
    return ValueType.None;
  }

  seek(t: number): ValueType {
    if (this.#i < 0) this.#open(0);
    let i = this.#i;
    while (i < this.chunks.length && (this.chunks[i] as ChunkMeta).maxTime < t) i++;
    if (i !== this.#i) this.#open(i);
    while (this.#cur !== undefined) {
      const type = this.#cur.seek(t);
      if (type !== ValueType.None) return type;
      const e = this.#cur.err();
      if (e) {
        this.#err = e;
        this.#cur = undefined;
        return ValueType.None;
      }
      this.#open(this.#i + 1);
    }
    return ValueType.None;
  }

  atT(): number {
    return (this.#cur as SampleIterator).atT();
  }

  atFloat(): number {
    return (this.#cur as SampleIterator).atFloat();
  }

  err(): Error | null {
    return this.#err;
  }
}

/** A ChunkSeries (non-overlapping chunks) read as samples. */
export class ChunkSeriesSamples implements Series {
  constructor(
    readonly labels: Labels,
    readonly chunks: readonly ChunkMeta[],
  ) {}

  iterator(): SampleIterator {
    return new ChunksIterator(this.chunks);
  }
}

/** Iterates samples held in two parallel arrays (timestamps ascending); `seek` binary-searches. */
export class ArraySampleIterator implements SampleIterator {
  #i = -1;

  constructor(
    private readonly ts: ArrayLike<number>,
    private readonly vs: ArrayLike<number>,
  ) {}

  next(): ValueType {
    this.#i++;
    return this.#i < this.ts.length ? ValueType.Float : ValueType.None;
  }

  seek(t: number): ValueType {
    if (this.#i < 0) this.#i = 0;
    if (this.#i < this.ts.length && (this.ts[this.#i] as number) >= t) return ValueType.Float;
    let lo = this.#i;
    let hi = this.ts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.ts[mid] as number) < t) lo = mid + 1;
      else hi = mid;
    }
    this.#i = lo;
    return lo < this.ts.length ? ValueType.Float : ValueType.None;
  }

  atT(): number {
    return this.ts[this.#i] as number;
  }

  atFloat(): number {
    return this.vs[this.#i] as number;
  }

  err(): Error | null {
    return null;
  }
}
