/** Buffers of samples: a series' samples loaded from its iterator, or the samples of an in-memory series. */
import {
  appendXORSamples, type ChunkMeta, ChunkSeriesSamples, CounterResetHint, Encoding, FloatHistogram, isBulkSeries, isStaleNaN, SampleBuffer as TsdbSampleBuffer,
  type SampleIterator, type SampleWindow, type Series, ValueType,
} from '@strata/tsdb';

/** The engine's sample buffer: tsdb's, loaded from a series window by window. */
export class SampleBuffer extends TsdbSampleBuffer {
  /** The last load's iterator (of a chunk or of a series), recycled by the next. */
  #it: SampleIterator | undefined;

  /** The window of the bulk paths, one object rewritten per load. */
  readonly #filter: SampleWindow = { mint: 0, maxt: 0, dropStale: false };

  /**
   * Loads the samples with mint ≤ t ≤ maxt, optionally without stale markers. A chunked series' XOR
   * chunks are decoded in one call each (tsdb's appendXORSamples), and a bulk series (merged replicas)
   * writes its samples in one call, with no call per sample.
   */
  load(series: Series, mint: number, maxt: number, dropStale: boolean): void {
    this.reset();
    const filter = this.#filter;
    filter.mint = mint;
    filter.maxt = maxt;
    filter.dropStale = dropStale;
    if (series instanceof ChunkSeriesSamples) {
      for (const c of series.chunks) {
        if (c.maxTime < mint) continue;
        if (c.minTime > maxt) break;
        const chunk = c.chunk;
        if (chunk.encoding === Encoding.XOR) {
          const from = this.n;
          this.reserve(from + chunk.numSamples());
          this.n = appendXORSamples(chunk.bytes, this.ts, this.vs, from, filter);
          this.floatsWritten(from);
        } else {
          const it = chunk.iterator(this.#it);
          this.#it = it;
          this.#read(it, mint, maxt, dropStale);
        }
      }
    } else if (isBulkSeries(series)) {
      series.appendSamples(this, filter);
    } else {
      const it = series.iterator(this.#it);
      this.#it = it;
      this.#read(it, mint, maxt, dropStale);
    }
  }

  /**
   * Turns the loaded histograms into what Prometheus' HistogramStatsIterator yields to selectors that only
   * feed histogram_count, histogram_sum and histogram_avg: schema, count and sum alone (no buckets; the
   * schema keeps exponential and custom ones from mixing) and a counter reset hint, which a histogram
   * without one gets from comparing it with the histogram read before it, as that iterator detects resets
   * on the fly (so that aggregating them can see both resets and non-resets). Step i reads the samples
   * from `refAt(i) - window` on; where Prometheus seeks past samples to that start instead of reading on
   * (a sample lies between step i-1's reference time and it), the previous histogram is forgotten.
   */
  histogramStats(refAt: (i: number) => number, steps: number, window: number): void {
    const hs = this.hs;
    if (hs === null) return;
    const ts = this.ts;
    let last: FloatHistogram | undefined;
    let step = 1;
    for (let k = 0; k < this.n; k++) {
      const t = ts[k] as number;
      // The steps whose reading starts after the previous sample and at or before this one.
      for (; step < steps && refAt(step) - window <= t; step++) {
        if (k > 0 && (ts[k - 1] as number) >= refAt(step - 1)) last = undefined;
      }
      const h = hs[k];
      if (h === undefined) continue;
      let hint = h.counterResetHint;
      if (hint === CounterResetHint.Unknown && last !== undefined) {
        hint = h.detectReset(last) ? CounterResetHint.CounterReset : CounterResetHint.NotCounterReset;
      }
      hs[k] = new FloatHistogram({ schema: h.schema, count: h.count, sum: h.sum, counterResetHint: hint });
      last = h;
    }
  }

  /** Appends the iterator's samples from mint up to maxt. */
  #read(it: SampleIterator, mint: number, maxt: number, dropStale: boolean): void {
    let type = it.seek(mint);
    while (type !== ValueType.None) {
      const t = it.atT();
      if (t > maxt) break;
      if (type === ValueType.Float) {
        const v = it.atFloat();
        // Only a NaN can be a stale marker: the cheap test first.
        if (!dropStale || v === v || !isStaleNaN(v)) this.push(t, v);
      } else {
        const h = (it.atFloatHistogram as () => FloatHistogram)();
        // A stale histogram (sum = stale NaN) is kept as the float stale marker it stands for.
        if (isStaleNaN(h.sum)) {
          if (!dropStale) this.push(t, h.sum);
        } else {
          this.pushHistogram(t, h);
        }
      }
      type = it.next();
    }
    const err = it.err();
    if (err !== null) throw err;
  }
}

/**
 * Where an instant selector's reading of `series` can start for reference times from `ref` on, reading
 * nothing before `mint`: of a chunked series, the last chunk that starts at or before `ref` holds the
 * latest sample at `ref`, so the chunks before it need no decoding.
 */
export function latestSampleFrom(series: Series, mint: number, ref: number): number {
  if (!(series instanceof ChunkSeriesSamples)) return mint;
  const chunks = series.chunks;
  let k = chunks.length - 1;
  while (k >= 0 && (chunks[k] as ChunkMeta).minTime > ref) k--;
  return k >= 0 ? Math.max(mint, (chunks[k] as ChunkMeta).minTime) : mint;
}
