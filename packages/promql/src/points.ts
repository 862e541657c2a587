/**
 * A matrix result series held as two parallel arrays, the way Prometheus' []FPoint is one contiguous
 * slice: a 1,000-step query over thousands of series would otherwise allocate an object per point.
 * `floats` builds the point objects on first use, for callers that want them.
 */
import type { Labels } from '@strata/tsdb';
import type { FPoint, SeriesPoints } from './value.js';

export class PackedSeriesPoints implements SeriesPoints {
  readonly labels: Labels;
  /** Point times (ms) and values; `length` points. */
  readonly ts: Float64Array;
  readonly fs: Float64Array;
  #floats: FPoint[] | undefined;

  constructor(labels: Labels, ts: Float64Array, fs: Float64Array) {
    this.labels = labels;
    this.ts = ts;
    this.fs = fs;
  }

  get length(): number {
    return this.ts.length;
  }

  get floats(): FPoint[] {
    if (this.#floats === undefined) {
      const out = new Array<FPoint>(this.ts.length);
      for (let i = 0; i < out.length; i++) out[i] = { t: this.ts[i] as number, f: this.fs[i] as number };
      this.#floats = out;
    }
    return this.#floats;
  }
}
