/** Buffers of samples: a series' samples loaded from its iterator, or the samples of an in-memory series. */
import {
  ChunkSeriesSamples, isStaleNaN, SampleBuffer as TsdbSampleBuffer, XORIterator, type SampleIterator, type Series, ValueType,
} from '@strata/tsdb';
import { EvalError } from './errors.js';

/** The engine's sample buffer: tsdb's, loaded from a series window by window. */
export class SampleBuffer extends TsdbSampleBuffer {
  /** The last load's iterator (of a chunk or of a series), recycled by the next. */
  #it: SampleIterator | undefined;

  /**
   * Loads the samples with mint ≤ t ≤ maxt, optionally without stale markers. A chunked series' XOR
   * chunks that lie wholly within the range are decoded in one call each, with no call per sample.
   */
  load(series: Series, mint: number, maxt: number, dropStale: boolean): void {
    this.n = 0;
    if (series instanceof ChunkSeriesSamples) {
      for (const c of series.chunks) {
        if (c.maxTime < mint) continue;
        if (c.minTime > maxt) break;
        const it = c.chunk.iterator(this.#it);
        this.#it = it;
        if (it instanceof XORIterator && c.minTime >= mint && c.maxTime <= maxt) this.#readWhole(it, c.chunk.numSamples(), mint, maxt, dropStale);
        else this.#read(it, mint, maxt, dropStale);
      }
    } else {
      const it = series.iterator(this.#it);
      this.#it = it;
      this.#read(it, mint, maxt, dropStale);
    }
  }

  /** Appends the iterator's samples from mint up to maxt. */
  #read(it: SampleIterator, mint: number, maxt: number, dropStale: boolean): void {
    let type = it.seek(mint);
    while (type !== ValueType.None) {
      if (type !== ValueType.Float) throw new EvalError('native histogram samples are not supported');
      const t = it.atT();
      if (t > maxt) break;
      const v = it.atFloat();
      // Only a NaN can be a stale marker: the cheap test first.
      if (!dropStale || v === v || !isStaleNaN(v)) this.push(t, v);
      type = it.next();
    }
    const err = it.err();
    if (err !== null) throw err;
  }

  /** Appends a whole chunk whose time bounds say it lies within [mint, maxt]; samples outside (bounds that lie) are dropped. */
  #readWhole(it: XORIterator, samples: number, mint: number, maxt: number, dropStale: boolean): void {
    const from = this.n;
    this.reserve(from + samples);
    const { ts, vs } = this;
    let n = from;
    while (it.next() === ValueType.Float) {
      const v = it.atFloat();
      ts[n] = it.atT();
      vs[n] = v;
      if (!dropStale || v === v || !isStaleNaN(v)) n++;
    }
    this.n = n;
    const err = it.err();
    if (err !== null) throw err;
    if (this.n > from && ((ts[from] as number) < mint || (ts[this.n - 1] as number) > maxt)) {
      let k = from;
      for (let i = from; i < this.n; i++) {
        const t = ts[i] as number;
        if (t < mint || t > maxt) continue;
        ts[k] = t;
        vs[k++] = vs[i] as number;
      }
      this.n = k;
    }
  }
}
