/**
 * Values during evaluation. An instant-vector expression is evaluated over all steps of the query at once
 * (as Prometheus' rangeEval does): each series holds one slot per step, dense, with a presence flag.
 */
import { dropMetricName } from './names.js';
import type { FloatHistogram, Labels } from '@strata/tsdb';
import { DUPLICATE_LABELSET, EvalError } from './errors.js';

/**
 * How many samples a histogram counts as in query statistics and the max-samples limit (Prometheus'
 * HPoint.size): its size in memory, in 16-byte float samples (a 168-byte struct, 8 bytes per span,
 * bucket and custom bound, 8 for the timestamp).
 */
export function histogramWeight(h: FloatHistogram): number {
  const items = h.positiveSpans.length + h.negativeSpans.length + h.positiveBuckets.length + h.negativeBuckets.length + h.customValues.length;
  return Math.floor((168 + 8 * items + 8) / 16);
}

/** The evaluation times: `start + i·interval` for i < steps (ms). */
export interface StepRange {
  readonly start: number;
  readonly end: number;
  readonly interval: number;
  readonly steps: number;
}

export function stepTime(r: StepRange, i: number): number {
  return r.start + i * r.interval;
}

export function makeStepRange(start: number, end: number, interval: number): StepRange {
  const steps = interval > 0 ? Math.floor((end - start) / interval) + 1 : 1;
  return { start, end, interval: interval > 0 ? interval : 1, steps };
}

/**
 * One series of an instant-vector expression over the steps. A step's value is a float in `vals`, or a
 * native histogram in `hists`. Histograms are never changed once made: an operation copies one to
 * compute another, so steps and series may share them.
 */
export class StepSeries {
  readonly labels: Labels;
  readonly vals: Float64Array;
  readonly has: Uint8Array;
  /** The histogram of each step whose value is one (its `vals` slot unused); null while none is. */
  hists: (FloatHistogram | undefined)[] | null = null;
  /**
   * Delayed name removal (Prometheus' promql-delayed-name-removal): `__name__` is still in `labels` but
   * goes at the end of evaluation.
   */
  dropName = false;

  /** `vals` and `has` may be given (of `steps` elements, zeroed), e.g. views of a StepSlab. */
  constructor(labels: Labels, steps: number, vals = new Float64Array(steps), has = new Uint8Array(steps)) {
    this.labels = labels;
    this.vals = vals;
    this.has = has;
  }

  /** The histogram at step i, or undefined for a float (or no value). */
  histAt(i: number): FloatHistogram | undefined {
    return this.hists === null ? undefined : this.hists[i];
  }

  /** Sets step i to a histogram. */
  setHist(i: number, h: FloatHistogram): void {
    this.hists ??= new Array<FloatHistogram | undefined>(this.has.length);
    this.hists[i] = h;
    this.has[i] = 1;
  }

  /**
   * The presence flags of the float steps: `has` itself while the series has no histogram, else a copy
   * without the histogram steps, so that float loops stay free of per-step histogram checks.
   */
  floatPresence(): Uint8Array {
    const hists = this.hists;
    if (hists === null) return this.has;
    const has = this.has.slice();
    for (let i = 0; i < has.length; i++) if (hists[i] !== undefined) has[i] = 0;
    return has;
  }

  count(): number {
    let n = 0;
    for (let i = 0; i < this.has.length; i++) n += this.has[i] as number;
    return n;
  }

  /** The samples the steps count as in Prometheus' statistics and limit: 1 per float, a histogram's weight. */
  weight(): number {
    const hists = this.hists;
    let n = this.count();
    if (hists !== null) for (const h of hists) if (h !== undefined) n += histogramWeight(h) - 1;
    return n;
  }

  /** The present steps as points: their times (ms, steps of `range`) and values, with histograms if any. */
  points(range: StepRange): { ts: Float64Array; vs: Float64Array; hs: (FloatHistogram | undefined)[] | null } {
    const n = this.count();
    const ts = new Float64Array(n);
    const vs = new Float64Array(n);
    const hists = this.hists;
    const hs = hists === null ? null : new Array<FloatHistogram | undefined>(n);
    let k = 0;
    for (let i = 0; i < range.steps; i++) {
      if (this.has[i] !== 1) continue;
      ts[k] = stepTime(range, i);
      if (hs !== null) hs[k] = (hists as (FloatHistogram | undefined)[])[i];
      vs[k++] = this.vals[i] as number;
    }
    return { ts, vs, hs };
  }
}

export interface VectorValue {
  readonly type: 'vector';
  readonly series: StepSeries[];
}

export interface ScalarValue {
  readonly type: 'scalar';
  readonly vals: Float64Array;
}

export interface StringValue {
  readonly type: 'string';
  readonly value: string;
}

export type StepValue = VectorValue | ScalarValue | StringValue;

/**
 * Series per slab: the first slab of a builder holds a few, each next one twice as many, up to the most
 * (enough to matter). Most builders hold a handful of series (an aggregation's groups): a slab sized for
 * the most would be mostly unused, and V8 collects its young generation early for the size of
 * the buffers made since the last collection, used or not.
 */
const SLAB_FIRST_SERIES = 4;
const SLAB_MAX_SERIES = 64;

/**
 * Hands out the per-step arrays of many series as views of shared buffers: one buffer (and one backing
 * store outside the JS heap, which V8 counts towards collecting) per slab of series instead of two per series.
 */
class StepSlab {
  readonly #steps: number;
  #vals = new Float64Array(0);
  #has = new Uint8Array(0);
  #size = 0;
  #used = 0;

  constructor(steps: number) {
    this.#steps = steps;
  }

  series(labels: Labels): StepSeries {
    if (this.#used === this.#size) {
      this.#size = this.#size === 0 ? SLAB_FIRST_SERIES : Math.min(2 * this.#size, SLAB_MAX_SERIES);
      this.#vals = new Float64Array(this.#steps * this.#size);
      this.#has = new Uint8Array(this.#steps * this.#size);
      this.#used = 0;
    }
    const from = this.#used++ * this.#steps;
    const to = from + this.#steps;
    return new StepSeries(labels, this.#steps, this.#vals.subarray(from, to), this.#has.subarray(from, to));
  }
}

/**
 * Collects output series by label set; a label set written twice at one step is Prometheus'
 * duplicate-labelset error.
 */
export class SeriesBuilder {
  readonly #byKey = new Map<string, StepSeries>();
  readonly #list: StepSeries[] = [];
  readonly #slab: StepSlab;

  constructor(steps: number) {
    this.#slab = new StepSlab(steps);
  }

  series(labels: Labels, dropName = false): StepSeries {
    const key = labels.key();
    let s = this.#byKey.get(key);
    if (s === undefined) {
      s = this.#slab.series(labels);
      this.#byKey.set(key, s);
      this.#list.push(s);
    }
    if (dropName) s.dropName = true;
    return s;
  }

  /** A new output series with labels that the caller knows no other output has (no lookup by label set). */
  distinct(labels: Labels, dropName = false): StepSeries {
    const s = this.#slab.series(labels);
    s.dropName = dropName;
    this.#list.push(s);
    return s;
  }

  /** The output series of an operation that removes the metric name: now, or flagged when removal is delayed. */
  seriesWithoutName(labels: Labels, delayed: boolean): StepSeries {
    return delayed ? this.series(labels, true) : this.series(dropMetricName(labels));
  }

  set(s: StepSeries, i: number, v: number, duplicateMessage = DUPLICATE_LABELSET): void {
    if (s.has[i] === 1) throw new EvalError(duplicateMessage);
    s.has[i] = 1;
    s.vals[i] = v;
  }

  setHist(s: StepSeries, i: number, h: FloatHistogram, duplicateMessage = DUPLICATE_LABELSET): void {
    if (s.has[i] === 1) throw new EvalError(duplicateMessage);
    s.setHist(i, h);
  }

  /** Step i of `from`, a float or a histogram, into `s`. */
  copyStep(s: StepSeries, i: number, from: StepSeries, duplicateMessage = DUPLICATE_LABELSET): void {
    const h = from.histAt(i);
    if (h === undefined) this.set(s, i, from.vals[i] as number, duplicateMessage);
    else this.setHist(s, i, h, duplicateMessage);
  }

  result(): VectorValue {
    return { type: 'vector', series: this.#list };
  }
}

/** Re-keys series whose labels changed (e.g. after dropping `__name__`), merging those that became equal. */
export function relabel(
  input: readonly StepSeries[], steps: number, labelsOf: (s: StepSeries) => Labels, dropNameOf = (s: StepSeries): boolean => s.dropName,
): VectorValue {
  const out = new SeriesBuilder(steps);
  for (const s of input) {
    const o = out.series(labelsOf(s), dropNameOf(s));
    for (let i = 0; i < steps; i++) if (s.has[i] === 1) out.copyStep(o, i, s);
  }
  return out.result();
}

export function dropMetricNames(v: VectorValue, steps: number, delayed: boolean): VectorValue {
  if (delayed) return relabel(v.series, steps, (s) => s.labels, () => true);
  return relabel(v.series, steps, (s) => dropMetricName(s.labels));
}

/** The end of delayed name removal: flagged series lose their name; equal label sets then collide. */
export function removeDelayedNames(v: VectorValue, steps: number): VectorValue {
  if (!v.series.some((s) => s.dropName)) return v;
  return relabel(v.series, steps, (s) => (s.dropName ? dropMetricName(s.labels) : s.labels), () => false);
}
