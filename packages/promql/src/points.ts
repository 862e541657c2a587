/**
 * A matrix result series held as parallel arrays, the way Prometheus' []FPoint is one contiguous
 * slice: a 1,000-step query over thousands of series would otherwise allocate an object per point.
 * Where `hs` holds a histogram, that point is a histogram point (its `fs` slot unused). `floats` and
 * `histograms` build the point objects on first use, for callers that want them.
 */
import type { FloatHistogram, Labels } from '@strata/tsdb';
import type { FPoint, HPoint, SeriesPoints } from './value.js';

export class PackedSeriesPoints implements SeriesPoints {
  readonly labels: Labels;
  /** Point times (ms) and values; `length` points. */
  readonly ts: Float64Array;
  readonly fs: Float64Array;
  /** The histogram of each point that is one; null when none is. */
  readonly hs: readonly (FloatHistogram | undefined)[] | null;
  #floats: FPoint[] | undefined;
  #histograms: HPoint[] | undefined;

  constructor(labels: Labels, ts: Float64Array, fs: Float64Array, hs: readonly (FloatHistogram | undefined)[] | null = null) {
    this.labels = labels;
    this.ts = ts;
    this.fs = fs;
    this.hs = hs !== null && hs.some((h) => h !== undefined) ? hs : null;
  }

  get length(): number {
    return this.ts.length;
  }

  get floats(): FPoint[] {
    if (this.#floats === undefined) {
      const out: FPoint[] = [];
      for (let i = 0; i < this.ts.length; i++) if (this.hs?.[i] === undefined) out.push({ t: this.ts[i] as number, f: this.fs[i] as number });
      this.#floats = out;
    }
    return this.#floats;
  }

  get histograms(): HPoint[] {
    if (this.#histograms === undefined) {
      const out: HPoint[] = [];
      const hs = this.hs;
      if (hs !== null) {
        for (let i = 0; i < this.ts.length; i++) {
          const h = hs[i];
          if (h !== undefined) out.push({ t: this.ts[i] as number, h });
        }
      }
      this.#histograms = out;
    }
    return this.#histograms;
  }
}
