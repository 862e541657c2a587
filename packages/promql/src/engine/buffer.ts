/** Buffers of samples: a series' samples loaded from its iterator, or the samples of an in-memory series. */
import { isStaleNaN, SampleBuffer as TsdbSampleBuffer, type SampleIterator, type Series, ValueType } from '@strata/tsdb';
import { seriesIterator } from './chunks.js';
import { EvalError } from './errors.js';

/** The engine's sample buffer: tsdb's, loaded from a series window by window. */
export class SampleBuffer extends TsdbSampleBuffer {
  /** The last load's iterator, recycled by the next. */
  #it: SampleIterator | undefined;

  /** Loads the samples with mint ≤ t ≤ maxt, optionally without stale markers. */
  load(series: Series, mint: number, maxt: number, dropStale: boolean): void {
    this.n = 0;
    const it = seriesIterator(series, this.#it);
    this.#it = it;
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
}
