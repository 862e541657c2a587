/**
 * A lean iterator for the most common series the engine reads: tsdb's ChunkSeriesSamples (time-ordered
 * chunks that do not overlap, as a block or a store sends them). It chains the chunks' own iterators
 * without the range and deletion checks of tsdb's general ChunksSampleIterator, which the engine does
 * not need: it bounds every read by time itself.
 */
import { ChunkSeriesSamples, type ChunkMeta, type SampleIterator, type Series, ValueType } from '@strata/tsdb';

class ChainedChunksIterator implements SampleIterator {
  #chunks: readonly ChunkMeta[];
  #i = -1;
  #it: SampleIterator | undefined;
  /** A chunk iterator of an earlier series, recycled for this one's first chunk. */
  #spare: SampleIterator | undefined;
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
    this.#err = null;
    this.#done = false;
  }

  next(): ValueType {
    if (this.#done) return ValueType.None;
    for (;;) {
      const it = this.#it;
      if (it !== undefined) {
        const type = it.next();
        if (type !== ValueType.None) return type;
        this.#err = it.err();
        if (this.#err !== null) return this.#stop();
      }
      const c = this.#chunks[++this.#i];
      if (c === undefined) return this.#stop();
      this.#it = c.chunk.iterator(it ?? this.#spare);
    }
  }

  #stop(): ValueType {
    this.#done = true;
    return ValueType.None;
  }

  seek(t: number): ValueType {
    if (this.#done) return ValueType.None;
    // Chunks that end before t are skipped undecoded.
    if (this.#it === undefined) while (this.#i + 1 < this.#chunks.length && (this.#chunks[this.#i + 1] as ChunkMeta).maxTime < t) this.#i++;
    else if (this.#it.atT() >= t) return ValueType.Float;
    for (;;) {
      const type = this.next();
      if (type === ValueType.None || (this.#it as SampleIterator).atT() >= t) return type;
    }
  }

  atT(): number {
    return (this.#it as SampleIterator).atT();
  }

  atFloat(): number {
    return (this.#it as SampleIterator).atFloat();
  }

  err(): Error | null {
    return this.#err;
  }
}

/**
 * The series' samples: chained chunk iterators for chunked series, the series' own iterator otherwise.
 * `reuse`, an iterator from an earlier call that its caller is done with, is recycled where it fits: a
 * query reads thousands of series one after another.
 */
export function seriesIterator(series: Series, reuse?: SampleIterator): SampleIterator {
  if (!(series instanceof ChunkSeriesSamples)) return series.iterator(reuse);
  if (!(reuse instanceof ChainedChunksIterator)) return new ChainedChunksIterator(series.chunks);
  reuse.reset(series.chunks);
  return reuse;
}
