/**
 * An instant selector's view of a series: the latest sample at or before each of a series of increasing
 * reference times, read straight from the series' iterator (as Prometheus' vectorSelector seeks its
 * iterator step by step) instead of copying the series into a buffer first.
 */
import { ChunkSeriesSamples, type ChunkMeta, type SampleIterator, type Series, ValueType } from '@strata/tsdb';
import { seriesIterator } from './chunks.js';
import { EvalError } from './errors.js';

export class LatestSample {
  /** The latest sample read so far, if `found`. */
  t = 0;
  v = 0;
  found = false;
  #it: SampleIterator | null = null;
  #type: ValueType = ValueType.None;

  /**
   * Starts on `series` for reference times from `ref` on, reading no sample before `mint`. Of a chunked
   * series, chunks before the last one that starts at or before `ref` are skipped undecoded: the latest
   * sample at `ref` is in that one.
   */
  reset(series: Series, mint: number, ref: number): void {
    // The previous series' iterator is done with: it is recycled.
    this.#it = seriesIterator(series, this.#it ?? undefined);
    let from = mint;
    if (series instanceof ChunkSeriesSamples) {
      const chunks = series.chunks;
      let k = chunks.length - 1;
      while (k >= 0 && (chunks[k] as ChunkMeta).minTime > ref) k--;
      if (k >= 0) from = Math.max(mint, (chunks[k] as ChunkMeta).minTime);
    }
    this.#type = this.#it.seek(from);
    this.found = false;
  }

  /** Reads forward through every sample at or before `ref`; false when the series has no more samples. */
  advance(ref: number): boolean {
    const it = this.#it as SampleIterator;
    let type = this.#type;
    while (type !== ValueType.None) {
      if (type !== ValueType.Float) throw new EvalError('native histogram samples are not supported');
      const t = it.atT();
      if (t > ref) break;
      this.t = t;
      this.v = it.atFloat();
      this.found = true;
      type = it.next();
    }
    this.#type = type;
    if (type !== ValueType.None) return true;
    const err = it.err();
    if (err !== null) throw err;
    return false;
  }
}
