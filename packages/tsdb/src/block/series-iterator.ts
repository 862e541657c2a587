import { ValueType, type ChunkMeta, type SampleIterator } from '../chunkenc/chunk.js';
import type { FloatHistogram } from '../histogram/float.js';
import type { Histogram } from '../histogram/types.js';
import type { Interval } from '../tombstones/tombstones.js';

/**
 * Iterates the samples of a series' chunks (time-ordered, non-overlapping) within [mint, maxt], skipping
 * deleted intervals (sorted, closed). Chunks outside the range are never decoded.
 */
export class ChunksSampleIterator implements SampleIterator {
  readonly #chunks: readonly ChunkMeta[];
  readonly #mint: number;
  readonly #maxt: number;
  readonly #deleted: readonly Interval[];
  #i = -1;
  #it: SampleIterator | undefined;
  #del = 0;
  #t = 0;
  #v = 0;
  #type: ValueType = ValueType.None;
  #err: Error | null = null;
  #done = false;

  constructor(chunks: readonly ChunkMeta[], mint: number, maxt: number, deleted: readonly Interval[] = []) {
    this.#chunks = chunks;
    this.#mint = mint;
    this.#maxt = maxt;
    this.#deleted = deleted;
  }

  next(): ValueType {
    if (this.#done) return ValueType.None;
    for (;;) {
      const type = this.#it === undefined ? ValueType.None : this.#it.next();
      if (type === ValueType.None) {
        if (this.#it !== undefined && this.#it.err() !== null) return this.#stop(this.#it.err());
        if (!this.#nextChunk()) return this.#stop(null);
        continue;
      }
      const it = this.#it as SampleIterator;
      const t = it.atT();
      if (t < this.#mint) continue;
      if (t > this.#maxt) return this.#stop(null);
      if (this.#isDeleted(t)) continue;
      this.#t = t;
      // A histogram is read from the chunk's iterator, which stays on it until the next call.
      if (type === ValueType.Float) this.#v = it.atFloat();
      return (this.#type = type);
    }
  }

  seek(t: number): ValueType {
    if (this.#done) return ValueType.None;
    if (this.#it !== undefined && this.#t >= t && this.#i >= 0) return this.#type;
    // Skip whole chunks that end before t, then step through samples.
    while (this.#i + 1 < this.#chunks.length && (this.#chunks[this.#i + 1] as ChunkMeta).maxTime < t) {
      this.#i++;
      this.#it = undefined;
    }
    for (;;) {
      const vt = this.next();
      if (vt === ValueType.None || this.#t >= t) return vt;
    }
  }

  #nextChunk(): boolean {
    for (;;) {
      this.#i++;
      const c = this.#chunks[this.#i];
      if (c === undefined || c.minTime > this.#maxt) return false;
      if (c.maxTime < this.#mint) continue;
      this.#it = c.chunk.iterator(this.#it);
      return true;
    }
  }

  #isDeleted(t: number): boolean {
    const d = this.#deleted;
    while (this.#del < d.length && (d[this.#del] as Interval).maxt < t) this.#del++;
    const iv = d[this.#del];
    return iv !== undefined && iv.mint <= t;
  }

  #stop(err: Error | null): ValueType {
    this.#done = true;
    this.#err = err;
    return ValueType.None;
  }

  atT(): number {
    return this.#t;
  }

  atFloat(): number {
    return this.#v;
  }

  atHistogram(): Histogram {
    return (this.#it as Required<SampleIterator>).atHistogram();
  }

  atFloatHistogram(): FloatHistogram {
    return (this.#it as Required<SampleIterator>).atFloatHistogram();
  }

  err(): Error | null {
    return this.#err;
  }
}

/**
 * The samples of time-ordered, non-overlapping chunks (as a block or a store sends them), the chunks'
 * own iterators chained, without ChunksSampleIterator's range and deletion checks: for readers that
 * bound every read by time themselves (the PromQL engine, the penalty merge), where those checks cost
 * more per sample than the reader's own work. Chunks that end before a seek target are never decoded;
 * `reset` moves it to another series, recycling the chunk iterator.
 */
export class ChainedChunksIterator implements SampleIterator {
  #chunks: readonly ChunkMeta[];
  #i = -1;
  #it: SampleIterator | undefined;
  /** A chunk iterator of an earlier series or skipped chunk, recycled for the next chunk opened. */
  #spare: SampleIterator | undefined;
  #type: ValueType = ValueType.None;
  #err: Error | null = null;
  #done = false;

  constructor(chunks: readonly ChunkMeta[]) {
    this.#chunks = chunks;
  }

  /** Starts over on another series' chunks, keeping the chunk iterator for reuse. */
  reset(chunks: readonly ChunkMeta[]): void {
    this.#chunks = chunks;
    this.#i = -1;
    this.#spare = this.#it ?? this.#spare;
    this.#it = undefined;
    this.#type = ValueType.None;
    this.#err = null;
    this.#done = false;
  }

  next(): ValueType {
    if (this.#done) return ValueType.None;
    for (;;) {
      const it = this.#it;
      if (it !== undefined) {
        const type = it.next();
        if (type !== ValueType.None) return (this.#type = type);
        this.#err = it.err();
        if (this.#err !== null) return this.#stop();
      }
      const c = this.#chunks[++this.#i];
      if (c === undefined) return this.#stop();
      this.#it = c.chunk.iterator(it ?? this.#spare);
    }
  }

  seek(t: number): ValueType {
    if (this.#done) return ValueType.None;
    if (this.#it !== undefined && this.#it.atT() >= t) return this.#type;
    // Chunks that end before t (and so the rest of the current one) are never decoded.
    let skipped = false;
    while (this.#i + 1 < this.#chunks.length && (this.#chunks[this.#i + 1] as ChunkMeta).maxTime < t) {
      this.#i++;
      skipped = true;
    }
    if (skipped && this.#it !== undefined) {
      this.#spare = this.#it;
      this.#it = undefined;
    }
    for (;;) {
      const type = this.next();
      if (type === ValueType.None || (this.#it as SampleIterator).atT() >= t) return type;
    }
  }

  #stop(): ValueType {
    this.#done = true;
    return (this.#type = ValueType.None);
  }

  atT(): number {
    return (this.#it as SampleIterator).atT();
  }

  atFloat(): number {
    return (this.#it as SampleIterator).atFloat();
  }

  atHistogram(): Histogram {
    return (this.#it as Required<SampleIterator>).atHistogram();
  }

  atFloatHistogram(): FloatHistogram {
    return (this.#it as Required<SampleIterator>).atFloatHistogram();
  }

  err(): Error | null {
    return this.#err;
  }
}
