/** Buffers of samples: a series' samples loaded from its iterator, or the samples of an in-memory series. */
import { type Series, ValueType } from '@strata/tsdb';
import { EvalError } from './errors.js';

const bits = new DataView(new ArrayBuffer(8));

/** Prometheus' stale marker: a NaN with the exact bits 0x7ff0000000000002. */
export function isStaleNaN(v: number): boolean {
  if (v === v) return false;
  bits.setFloat64(0, v);
  return bits.getUint32(0) === 0x7ff00000 && bits.getUint32(4) === 2;
}

export const STALE_NAN: number = (() => {
  bits.setUint32(0, 0x7ff00000);
  bits.setUint32(4, 2);
  return bits.getFloat64(0);
})();

/** A growable, reusable pair of time and value arrays. */
export class SampleBuffer {
  ts: Float64Array;
  vs: Float64Array;
  n = 0;

  constructor(capacity = 1024) {
    this.ts = new Float64Array(capacity);
    this.vs = new Float64Array(capacity);
  }

  /** Loads the samples with mint ≤ t ≤ maxt, optionally without stale markers. */
  load(series: Series, mint: number, maxt: number, dropStale: boolean): void {
    this.n = 0;
    const it = series.iterator();
    let type = it.seek(mint);
    while (type !== ValueType.None) {
      if (type !== ValueType.Float) throw new EvalError('native histogram samples are not supported');
      const t = it.atT();
      if (t > maxt) break;
      const v = it.atFloat();
      if (!dropStale || !isStaleNaN(v)) this.push(t, v);
      type = it.next();
    }
    const err = it.err();
    if (err !== null) throw err;
  }

  push(t: number, v: number): void {
    if (this.n === this.ts.length) {
      const ts = new Float64Array(this.n * 2);
      const vs = new Float64Array(this.n * 2);
      ts.set(this.ts);
      vs.set(this.vs);
      this.ts = ts;
      this.vs = vs;
    }
    this.ts[this.n] = t;
    this.vs[this.n] = v;
    this.n++;
  }
}
