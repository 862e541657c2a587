/**
 * Evaluates an expression over all steps of a query at once, synchronously, from series the engine
 * selected beforehand. Mirrors Prometheus' evaluator: lookback for instant selectors, sliding windows for
 * range functions, subqueries as nested evaluations on absolute step multiples, step-invariant subtrees
 * evaluated once.
 */
import { dropMetricName, METRIC_IDENTITY, type NameRules } from './names.js';
import { CounterResetHint, type FloatHistogram, isStaleNaN, METRIC_NAME, type Labels, type Series } from '@strata/tsdb';
import type { AggregateExpr, BinaryExpr, Call, Expr, MatrixSelector, RangeExtension, SubqueryExpr, TimeModifiers, VectorSelector } from '../parser/ast.js';
import { exprType, isSetOp, walk } from '../parser/ast.js';
import type { FunctionContext, VectorFunction } from '../functions/context.js';
import { extendFloats } from '../functions/extended.js';
import { HISTOGRAM_FUNCTIONS } from '../functions/histogram.js';
import { LABEL_FUNCTIONS } from '../functions/label.js';
import { MATH_FUNCTIONS } from '../functions/math.js';
import { absentAt, absentLabels, MISC_FUNCTIONS } from '../functions/misc.js';
import { overTimeFunctions } from '../functions/over_time.js';
import { COUNTER_FUNCTIONS, COUNTS_RESETS, countResets, rateFunctions } from '../functions/rate.js';
import { stepTimes, TIME_FUNCTIONS } from '../functions/time.js';
import { X_FUNCTION_NAMES, X_FUNCTIONS, X_LOOKBACK } from '../functions/xrate.js';
import type { RangeFunction, Window } from '../functions/window.js';
import { goFloat } from '../format.js';
import { aggregate } from './aggregate.js';
import { type Annotate, negate, scalarBinop, setBinop, vectorBinop, vectorScalarBinop } from './binary.js';
import { latestSampleFrom, SampleBuffer } from './buffer.js';
import { EvalError, TooManySamplesError } from './errors.js';
import { enrichWithInfo } from './info.js';
import { smoothedSelector } from './smoothed.js';
import { isStepInvariant } from './invariant.js';
import { addTelemetry, type NodeTelemetry } from './explain.js';
import {
  histogramWeight, SeriesBuilder, StepSeries, dropMetricNames, makeStepRange, stepTime, type ScalarValue, type StepRange, type StepValue, type VectorValue,
} from './steps.js';

export interface EvalOptions extends NameRules {
  readonly lookbackDelta: number;
  readonly subqueryStep: number;
  readonly maxSamples: number;
}

export interface EvalStats {
  samplesRead: number;
  peakSamples: number;
  currentSamples: number;
}

/** State shared by an evaluation and its nested (subquery, step-invariant) evaluations. */
export interface EvalShared {
  readonly opts: EvalOptions;
  readonly input: string;
  readonly data: ReadonlyMap<VectorSelector, readonly Series[]>;
  readonly queryStart: number;
  readonly queryEnd: number;
  readonly stats: EvalStats;
  readonly annotations: Set<string>;
  checkAbort(): void;
  readonly rangeFunctions: Record<string, RangeFunction>;
  readonly isRangeQuery: boolean;
  /** The query step (ms); 0 for instant queries. */
  readonly queryStep: number;
  /** The selectors read as Prometheus' HistogramStatsIterator reads them (histogramStatsSelectors). */
  readonly histogramStatsSelectors: ReadonlySet<VectorSelector>;
  /** The selection of each info() call's info series (infoSelector). */
  readonly infoSelectors: ReadonlyMap<Call, VectorSelector>;
  /** When the query is analyzed: what evaluating each node cost, summed over its evaluations. */
  readonly telemetry?: Map<Expr, NodeTelemetry>;
}

/**
 * What a selector's steps hold: its samples; their times in seconds (timestamp()); or the times of its
 * float samples with histograms kept (info(), which rejects histograms).
 */
type SelectorOutput = 'samples' | 'timestamps' | 'floatTimestamps';

/** The windows of one series of a range vector at every step (see Evaluator#windows). */
interface WindowBounds {
  readonly lo: Int32Array;
  readonly hi: Int32Array;
  /** Where each step's window ends (ms). */
  readonly refs: Float64Array;
  /** The windows' length (ms). */
  readonly range: number;
}

/**
 * How far the windows of a range reach beyond it (ms) before and after: a lookback delta for `anchored`
 * and `smoothed` (after it too), X_LOOKBACK before the range of Thanos' x-functions.
 */
export function rangeReach(ext: RangeExtension | undefined, func: string, lookback: number): { before: number; after: number } {
  if (X_FUNCTION_NAMES.has(func)) return { before: X_LOOKBACK, after: 0 };
  if (ext === undefined) return { before: 0, after: 0 };
  return { before: lookback, after: ext === 'smoothed' ? lookback : 0 };
}

/** One series of a range vector: its samples, in time order. */
export interface RangeSeries {
  readonly labels: Labels;
  readonly ts: Float64Array;
  readonly vs: Float64Array;
  /** The histogram of each sample that is one (its `vs` slot unused); null when none is. */
  readonly hs: readonly (FloatHistogram | undefined)[] | null;
  readonly n: number;
  /** Its `__name__` is due for delayed removal. */
  readonly dropName: boolean;
}

const VECTOR_FUNCTIONS: Record<string, VectorFunction> = {
  ...MATH_FUNCTIONS, ...LABEL_FUNCTIONS, ...TIME_FUNCTIONS, ...HISTOGRAM_FUNCTIONS, ...MISC_FUNCTIONS,
};
const KEEPS_METRIC_NAME = new Set(['last_over_time', 'first_over_time']);
const COUNTER_SUFFIXES = ['_total', '_sum', '_count', '_bucket'];

export function rangeFunctionsFor(compat: 2 | 3): Record<string, RangeFunction> {
  return { ...overTimeFunctions(compat), ...rateFunctions(compat), ...X_FUNCTIONS };
}

/** `line:col` of a character offset, as Prometheus appends to annotations. */
function position(input: string, pos: number): string {
  const before = input.slice(0, pos);
  const line = before.split('\n').length;
  return `${line}:${pos - (before.lastIndexOf('\n') + 1) + 1}`;
}

/** Functions of a histogram's count and sum only, and the functions and (trim) operators that need its buckets. */
const STATS_ONLY_FUNCTIONS = new Set(['histogram_count', 'histogram_sum', 'histogram_avg']);
const BUCKET_FUNCTIONS = new Set(['histogram_quantile', 'histogram_quantiles', 'histogram_fraction']);
const BUCKET_OPERATORS: ReadonlySet<string> = new Set(['</', '>/']);

/**
 * The selectors Prometheus reads through its HistogramStatsIterator (its detectHistogramStatsDecoding):
 * those under histogram_count, histogram_sum or histogram_avg with nothing above them that needs buckets:
 * no histogram_quantile(s) or histogram_fraction, no trim operator, and no subquery (whose counter reset
 * detection needs them).
 */
export function histogramStatsSelectors(root: Expr): Set<VectorSelector> {
  const out = new Set<VectorSelector>();
  walk(root, (node, path) => {
    if (node.kind !== 'vectorSelector') return;
    let statsOnly = false;
    for (const p of path) {
      if (p.kind === 'subquery' || (p.kind === 'binary' && BUCKET_OPERATORS.has(p.op)) || (p.kind === 'call' && BUCKET_FUNCTIONS.has(p.func.name))) return;
      if (p.kind === 'call' && STATS_ONLY_FUNCTIONS.has(p.func.name)) statsOnly = true;
    }
    if (statsOnly) out.add(node);
  });
  return out;
}

function unwrap(e: Expr): Expr {
  while (e.kind === 'paren') e = e.expr;
  return e;
}

export class Evaluator {
  readonly #range: StepRange;
  readonly #shared: EvalShared;
  readonly #buf = new SampleBuffer();

  constructor(range: StepRange, shared: EvalShared) {
    this.#range = range;
    this.#shared = shared;
  }

  eval(e: Expr): StepValue {
    const telemetry = this.#shared.telemetry;
    if (telemetry === undefined) return this.#evalHeld(e);
    const stats = this.#shared.stats;
    const started = performance.now();
    const read = stats.samplesRead;
    const held = stats.currentSamples;
    const peak = stats.peakSamples;
    stats.peakSamples = held;
    const v = this.#evalHeld(e);
    const own = { timeMs: performance.now() - started, samples: stats.samplesRead - read, peakSamples: stats.peakSamples - held };
    stats.peakSamples = Math.max(peak, stats.peakSamples);
    addTelemetry(telemetry, e, own);
    return v;
  }

  /** Evaluates `e`, counting the samples its value holds until its parent is done with it. */
  #evalHeld(e: Expr): StepValue {
    this.#shared.checkAbort();
    const stats = this.#shared.stats;
    const before = stats.currentSamples;
    const v = this.#range.steps > 1 && e.kind !== 'number' && e.kind !== 'string' && isStepInvariant(e)
      ? this.#evalOnce(e)
      : this.#evalNode(e);
    const held = stats.currentSamples;
    const own = pointsOf(v);
    this.#account(held + own);
    stats.currentSamples = before + own;
    return v;
  }

  #account(current: number): void {
    const stats = this.#shared.stats;
    if (current > stats.peakSamples) stats.peakSamples = current;
    if (current > this.#shared.opts.maxSamples) throw new TooManySamplesError();
  }

  #annotate(message: string, pos?: number): void {
    this.#shared.annotations.add(pos === undefined ? message : `${message} (${position(this.#shared.input, pos)})`);
  }

  /** Whether a selector's histograms are read as count and sum only, with counter resets detected on the fly. */
  #readsHistogramStats(vs: VectorSelector): boolean {
    return this.#shared.histogramStatsSelectors.has(vs);
  }

  #atTime(m: TimeModifiers): number | null {
    if (m.atAnchor === 'start') return this.#shared.queryStart;
    if (m.atAnchor === 'end') return this.#shared.queryEnd;
    return m.timestamp;
  }

  /** Evaluates at the first step only and repeats the value at every step. */
  #evalOnce(e: Expr): StepValue {
    const single = new Evaluator(makeStepRange(this.#range.start, this.#range.start, 0), this.#shared).#evalNode(e);
    const steps = this.#range.steps;
    if (single.type === 'scalar') return { type: 'scalar', vals: new Float64Array(steps).fill(single.vals[0] as number) };
    if (single.type === 'string') return single;
    const series = single.series.map((s) => {
      const o = new StepSeries(s.labels, steps);
      const h = s.histAt(0);
      if (h === undefined) o.vals.fill(s.vals[0] as number);
      else o.hists = new Array<FloatHistogram | undefined>(steps).fill(h);
      o.has.fill(1);
      o.dropName = s.dropName;
      return o;
    });
    return { type: 'vector', series };
  }

  #evalNode(e: Expr): StepValue {
    switch (e.kind) {
      case 'number':
        return { type: 'scalar', vals: new Float64Array(this.#range.steps).fill(e.value) };
      case 'string':
        return { type: 'string', value: e.value };
      case 'paren':
        return this.eval(e.expr);
      case 'unary': {
        const v = this.eval(e.expr);
        if (e.op === '+') return v;
        if (v.type === 'scalar') return { type: 'scalar', vals: v.vals.map((x) => -x) };
        return negate(v as VectorValue, this.#range.steps, this.#shared.opts.delayedNameRemoval);
      }
      case 'vectorSelector':
        return this.#vectorSelector(e, 'samples');
      case 'matrixSelector':
      case 'subquery':
        throw new EvalError(`unexpected range vector ${e.kind} in instant evaluation`);
      case 'call':
        return this.#call(e);
      case 'aggregate':
        return this.#aggregate(e);
      case 'binary':
        return this.#binary(e);
    }
  }

  #vectorSelector(vs: VectorSelector, output: SelectorOutput): VectorValue {
    const series = this.#shared.data.get(vs) ?? [];
    const at = this.#atTime(vs);
    const { steps } = this.#range;
    const lookback = this.#shared.opts.lookbackDelta;
    const closed = this.#shared.opts.compat === 2;
    const refAt = (i: number): number => (at ?? stepTime(this.#range, i)) - vs.offset;
    const first = refAt(0);
    const last = refAt(steps - 1);
    const buf = this.#buf;
    if (vs.extension === 'smoothed' && output === 'samples') {
      const smoothed = smoothedSelector(series, buf, refAt, steps, lookback, (m) => this.#annotate(m, vs.pos.start), () => this.#shared.checkAbort());
      this.#shared.stats.samplesRead += smoothed.read;
      return { type: 'vector', series: smoothed.series };
    }
    const stats = this.#readsHistogramStats(vs);
    const out: StepSeries[] = [];
    let read = 0;
    for (const s of series) {
      this.#shared.checkAbort();
      // Stale markers stay: a step whose latest sample is one has no value. Histogram stats are read from
      // the first step's lookback window on, as Prometheus reads them to detect counter resets.
      buf.load(s, stats ? first - lookback : latestSampleFrom(s, first - lookback, first), last, false);
      if (stats) buf.histogramStats(refAt, steps, lookback);
      const { ts, vs: values, hs, n } = buf;
      // ts[0, k) are the samples at or before the step's reference time.
      let k = 0;
      let o: StepSeries | null = null;
      for (let i = 0; i < steps; i++) {
        const ref = refAt(i);
        while (k < n && (ts[k] as number) <= ref) k++;
        if (k === 0) continue;
        const t = ts[k - 1] as number;
        if (closed ? t < ref - lookback : t <= ref - lookback) {
          // Past the last sample, no later step can have a value either.
          if (k === n) break;
          continue;
        }
        const h = hs === null ? undefined : hs[k - 1];
        const v = values[k - 1] as number;
        if (h !== undefined) {
          o ??= new StepSeries(s.labels, steps);
          if (output === 'timestamps') {
            o.has[i] = 1;
            o.vals[i] = t / 1000;
          } else {
            o.setHist(i, h);
          }
          read += histogramWeight(h);
        } else if (v === v || !isStaleNaN(v)) {
          o ??= new StepSeries(s.labels, steps);
          o.has[i] = 1;
          o.vals[i] = output === 'samples' ? v : t / 1000;
          read++;
        }
      }
      if (o !== null) out.push(o);
    }
    this.#shared.stats.samplesRead += read;
    if (output === 'timestamps') return dropMetricNames({ type: 'vector', series: out }, steps, this.#shared.opts.delayedNameRemoval);
    return { type: 'vector', series: out };
  }

  /** The series of a range-vector expression, as the function `func` reads it, with the reference time (ms) of each step. */
  #rangeSource(e: MatrixSelector | SubqueryExpr, func: string): {
    range: number; reach: { before: number; after: number }; refAt: (i: number) => number; each: (f: (s: RangeSeries) => void) => void;
  } {
    const mods: TimeModifiers = e.kind === 'matrixSelector' ? e.vs : e;
    const at = this.#atTime(mods);
    const refAt = (i: number): number => (at ?? stepTime(this.#range, i)) - mods.offset;
    if (e.kind === 'matrixSelector') {
      const series = this.#shared.data.get(e.vs) ?? [];
      const reach = rangeReach(e.vs.extension, func, this.#shared.opts.lookbackDelta);
      const mint = refAt(0) - e.range - reach.before;
      const maxt = refAt(this.#range.steps - 1) + reach.after;
      const buf = this.#buf;
      const stats = this.#readsHistogramStats(e.vs);
      return {
        range: e.range,
        reach,
        refAt,
        each: (f) => {
          for (const s of series) {
            this.#shared.checkAbort();
            buf.load(s, mint, maxt, true);
            if (stats) buf.histogramStats(refAt, this.#range.steps, e.range + reach.before);
            f({ labels: s.labels, ts: buf.ts, vs: buf.vs, hs: buf.hs, n: buf.n, dropName: false });
          }
        },
      };
    }
    const inner = this.#subqueryPoints(e, at);
    return { range: e.range, reach: rangeReach(undefined, '', 0), refAt, each: (f) => inner.forEach(f) };
  }

  /** Evaluates a subquery's expression on absolute multiples of its step covering all windows. */
  #subqueryPoints(sq: SubqueryExpr, at: number | null): RangeSeries[] {
    const step = sq.step > 0 ? sq.step : this.#shared.opts.subqueryStep;
    const from = (at ?? this.#range.start) - sq.offset - sq.range;
    const end = (at ?? this.#range.end) - sq.offset;
    let start = step * Math.floor(from / step);
    if (this.#shared.opts.compat === 2 ? start < from : start <= from) start += step;
    if (start > end) return [];
    const innerRange = makeStepRange(start, end, step);
    const v = new Evaluator(innerRange, this.#shared).eval(sq.expr) as VectorValue;
    const unhinted = new Map<FloatHistogram, FloatHistogram>();
    return v.series.map((s) => {
      const { ts, vs, hs } = s.points(innerRange);
      if (hs !== null) withoutCounterResetHints(hs, unhinted);
      return { labels: s.labels, ts, vs, hs, n: ts.length, dropName: s.dropName };
    });
  }

  /**
   * Walks the windows of a range vector series by series: `f(series, b)`, where step i's window is the
   * samples b.lo[i] ≤ k < b.hi[i], ending at b.refs[i] (one call per series, not per window; `b` is
   * reused from series to series). `func` is the function reading them.
   */
  #windows(e: MatrixSelector | SubqueryExpr, f: (s: RangeSeries, b: WindowBounds) => void, func = ''): void {
    const src = this.#rangeSource(e, func);
    const closed = this.#shared.opts.compat === 2;
    const { steps } = this.#range;
    const b: WindowBounds = { lo: new Int32Array(steps), hi: new Int32Array(steps), refs: new Float64Array(steps), range: src.range };
    for (let i = 0; i < steps; i++) b.refs[i] = src.refAt(i);
    let read = 0;
    src.each((s) => {
      const { ts, n } = s;
      // With histograms, a window counts their weight: prefix sums of the samples' weights.
      const weights = s.hs === null ? null : cumulativeWeights(s.hs, n);
      let lo = 0;
      let hi = 0;
      let widest = 0;
      for (let i = 0; i < steps; i++) {
        const ref = b.refs[i] as number;
        const from = ref - b.range - src.reach.before;
        const to = ref + src.reach.after;
        if (closed) while (lo < n && (ts[lo] as number) < from) lo++;
        else while (lo < n && (ts[lo] as number) <= from) lo++;
        if (hi < lo) hi = lo;
        while (hi < n && (ts[hi] as number) <= to) hi++;
        b.lo[i] = lo;
        b.hi[i] = hi;
        const held = weights === null ? hi - lo : (weights[hi] as number) - (weights[lo] as number);
        read += held;
        if (held > widest) widest = held;
      }
      // The widest window is the most this series holds at once.
      this.#account(this.#shared.stats.currentSamples + widest);
      f(s, b);
    });
    this.#shared.stats.samplesRead += read;
    // The function reading the windows is timed as the call; the windows count the samples they held.
    if (this.#shared.telemetry !== undefined) addTelemetry(this.#shared.telemetry, e, { samples: read, peakSamples: 0 });
  }

  /** A range vector at the single evaluation time, as raw samples (instant queries of `x[5m]`). */
  evalRangeVector(e: Expr): RangeSeries[] {
    const r = unwrap(e) as MatrixSelector | SubqueryExpr;
    const out: RangeSeries[] = [];
    const ext = r.kind === 'matrixSelector' ? r.vs.extension : undefined;
    this.#windows(r, (s, b) => {
      const lo = b.lo[0] as number;
      const hi = b.hi[0] as number;
      if (ext !== undefined) {
        if (s.hs !== null && s.hs.slice(lo, hi).some((h) => h !== undefined)) {
          throw new EvalError('smoothed and anchored modifiers do not work with native histograms');
        }
        const maxt = b.refs[0] as number;
        const x = extendFloats(s.ts, s.vs, lo, hi, maxt - b.range, maxt, ext === 'smoothed');
        if (x !== null) out.push({ labels: s.labels, ts: x.ts, vs: x.vs, hs: null, n: x.ts.length, dropName: s.dropName });
      } else if (hi > lo) {
        out.push({ labels: s.labels, ts: s.ts.slice(lo, hi), vs: s.vs.slice(lo, hi), hs: s.hs?.slice(lo, hi) ?? null, n: hi - lo, dropName: s.dropName });
      }
    });
    return out;
  }

  #call(c: Call): StepValue {
    const name = c.func.name;
    checkExtensionAllowed(c);
    const rangeFn = this.#shared.rangeFunctions[name];
    if (rangeFn !== undefined) return this.#rangeCall(c, rangeFn);
    if (name === 'absent_over_time') {
      const arg = unwrap(c.args[0] as Expr) as MatrixSelector | SubqueryExpr;
      const present = new Uint8Array(this.#range.steps);
      this.#windows(arg, (_s, b) => {
        for (let i = 0; i < present.length; i++) if ((b.hi[i] as number) > (b.lo[i] as number)) present[i] = 1;
      });
      return absentAt(absentLabels(arg), this.#range.steps, (i) => present[i] === 1);
    }
    if (name === 'timestamp') {
      const arg = unwrap(c.args[0] as Expr);
      if (arg.kind === 'vectorSelector') return this.#vectorSelector(arg, 'timestamps');
      const v = this.eval(arg) as VectorValue;
      return stepTimes(v, this.#range, this.#shared.opts.delayedNameRemoval);
    }
    if (name === 'info') return this.#info(c);
    if (this.#shared.isRangeQuery && name.startsWith('sort')) {
      this.#annotate('PromQL warning: sort is ineffective for range queries since results are always ordered by labels', c.pos.start);
    }
    const fn = VECTOR_FUNCTIONS[name];
    // The parser admits only functions the engine evaluates; reaching this is a bug, not user error.
    if (fn === undefined) throw new Error(`internal error: the parser accepted ${name}() but the engine has no evaluator for it`);
    const args = c.args.map((a) => this.eval(a));
    const ctx: FunctionContext = {
      range: this.#range,
      call: c,
      compat: this.#shared.opts.compat,
      delayedNameRemoval: this.#shared.opts.delayedNameRemoval,
      query: { start: this.#shared.queryStart, end: this.#shared.queryEnd, step: this.#shared.queryStep },
      annotate: (m, pos) => this.#annotate(m, pos),
    };
    return fn(args, ctx);
  }

  /** info(): the base series with the data labels of the info series the engine selected for the call. */
  #info(c: Call): VectorValue {
    const base = this.eval(c.args[0] as Expr) as VectorValue;
    const selector = this.#shared.infoSelectors.get(c);
    if (selector === undefined) throw new Error('internal error: the engine selected no info series for info()');
    const info = this.#vectorSelector(selector, 'floatTimestamps');
    // The info series' steps are held alongside the base series' while they are joined.
    this.#account(this.#shared.stats.currentSamples + pointsOf(info));
    return enrichWithInfo(base, info.series, c, this.#range.steps);
  }

  #rangeCall(c: Call, fn: RangeFunction): VectorValue {
    const matrixIndex = c.func.argTypes.indexOf('range vector');
    const arg = unwrap(c.args[matrixIndex] as Expr) as MatrixSelector | SubqueryExpr;
    const params = c.args.filter((_, k) => k !== matrixIndex).map((a) => (this.eval(a) as ScalarValue).vals);
    const steps = this.#range.steps;
    if (c.func.name === 'quantile_over_time' && this.#shared.opts.compat === 3) {
      for (const q of params[0] as Float64Array) {
        if (!(q >= 0 && q <= 1)) this.#annotate(`PromQL warning: quantile value should be between 0 and 1, got ${goFloat(q)}`, (c.args[0] as Expr).pos.start);
      }
    }
    const keepName = KEEPS_METRIC_NAME.has(c.func.name);
    const delayed = this.#shared.opts.delayedNameRemoval;
    // A selector's series are distinct label sets (as storage returns them); without their name they
    // stay distinct if they all had the same one, and then need no lookup by label set.
    const distinct = arg.kind === 'matrixSelector' && (keepName || delayed || sameMetricIdentity(this.#shared.data.get(arg.vs) ?? []));
    const checkCounter = this.#shared.opts.compat === 3 && COUNTER_FUNCTIONS.has(c.func.name);
    const out = new SeriesBuilder(steps);
    const countsResets = COUNTS_RESETS.has(c.func.name);
    // Prometheus reports a range function's annotations at its first argument.
    const annotationPos = (c.args[0] as Expr).pos.start;
    const w: Window = {
      ts: new Float64Array(0), vs: new Float64Array(0), hs: null, lo: 0, hi: 0, extension: arg.kind === 'matrixSelector' ? arg.vs.extension ?? null : null,
      rangeStart: 0, rangeEnd: 0, range: 0, t: 0,
      params: params.map(() => 0), metricName: '', annotate: (m) => this.#annotate(m, annotationPos), resets: new Int32Array(0), first: true,
    };
    this.#windows(arg, (s, b) => {
      let target: StepSeries | null = null;
      w.metricName = s.labels.get(METRIC_NAME);
      if (countsResets) {
        if (w.resets.length < s.n) w.resets = new Int32Array(s.ts.length);
        countResets(s.vs, s.n, w.resets);
      }
      w.ts = s.ts;
      w.vs = s.vs;
      w.hs = s.hs;
      w.range = arg.range;
      w.first = true;
      for (let i = 0; i < steps; i++) {
        const lo = b.lo[i] as number;
        const hi = b.hi[i] as number;
        if (hi === lo) continue;
        w.lo = lo;
        w.hi = hi;
        w.rangeEnd = b.refs[i] as number;
        w.rangeStart = w.rangeEnd - arg.range;
        w.t = stepTime(this.#range, i);
        for (let k = 0; k < params.length; k++) w.params[k] = (params[k] as Float64Array)[i] as number;
        const v = fn(w);
        w.first = false;
        if (v === undefined) continue;
        // Only float results: a rate of histograms is of a counter by their counter reset hints.
        if (checkCounter && typeof v === 'number' && w.metricName !== '' && !COUNTER_SUFFIXES.some((x) => w.metricName.endsWith(x))) {
          this.#annotate(
            `PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: ${JSON.stringify(w.metricName)}`,
            (c.args[matrixIndex] as Expr).pos.start,
          );
        }
        if (target === null) {
          if (distinct) target = out.distinct(keepName || delayed ? s.labels : dropMetricName(s.labels), keepName ? s.dropName : delayed);
          else target = keepName ? out.series(s.labels, s.dropName) : out.seriesWithoutName(s.labels, delayed);
        }
        if (typeof v === 'number') out.set(target, i, v);
        else out.setHist(target, i, v);
      }
    }, c.func.name);
    return out.result();
  }

  #aggregate(e: AggregateExpr): VectorValue {
    const param = e.param === null ? null : this.eval(e.param);
    const input = this.eval(e.expr) as VectorValue;
    return aggregate(e, input, {
      steps: this.#range.steps,
      compat: this.#shared.opts.compat,
      param: param !== null && param.type === 'scalar' ? param.vals : null,
      label: param !== null && param.type === 'string' ? param.value : '',
      warn: (m) => this.#annotate(m, (e.param as Expr).pos.start),
      annotate: (m, pos) => this.#annotate(m, pos),
    });
  }

  #binary(e: BinaryExpr): StepValue {
    const lhs = this.eval(e.lhs);
    const rhs = this.eval(e.rhs);
    const steps = this.#range.steps;
    const opts = this.#shared.opts;
    const annotate: Annotate = (m) => this.#annotate(m, e.pos.start);
    if (lhs.type === 'scalar' && rhs.type === 'scalar') return { type: 'scalar', vals: scalarBinop(e.op, lhs.vals, rhs.vals) };
    if (lhs.type === 'vector' && rhs.type === 'scalar') return vectorScalarBinop(e.op, lhs, rhs.vals, false, e.returnBool, steps, opts, annotate);
    if (lhs.type === 'scalar' && rhs.type === 'vector') return vectorScalarBinop(e.op, rhs, lhs.vals, true, e.returnBool, steps, opts, annotate);
    if (lhs.type !== 'vector' || rhs.type !== 'vector' || e.matching === null) {
      throw new EvalError(`invalid operand types ${exprType(e.lhs)} and ${exprType(e.rhs)} for binary operation`);
    }
    if (isSetOp(e.op)) return setBinop(e.op, lhs, rhs, e.matching, steps);
    return vectorBinop(e.op, lhs, rhs, e.matching, e.returnBool, steps, opts, annotate);
  }
}

/** The functions an `anchored` or `smoothed` range may feed, as Prometheus' AnchoredSafeFunctions and SmoothedSafeFunctions. */
const EXTENSION_SAFE: Record<RangeExtension, readonly string[]> = {
  anchored: ['changes', 'delta', 'increase', 'rate', 'resets'],
  smoothed: ['delta', 'increase', 'rate'],
};

/** Rejects an `anchored`/`smoothed` range given to a function that does not handle it, with Prometheus' error. */
function checkExtensionAllowed(c: Call): void {
  for (const a of c.args) {
    const arg = unwrap(a);
    const ext = arg.kind === 'matrixSelector' ? arg.vs.extension : undefined;
    if (ext === undefined) continue;
    const safe = EXTENSION_SAFE[ext];
    if (!safe.includes(c.func.name)) throw new EvalError(`${ext} modifier can only be used with: ${safe.join(', ')} - not with ${c.func.name}`);
  }
}

/**
 * Replaces the histograms of a subquery's points that say whether they follow a counter reset by
 * copies that leave it to detection, as Prometheus does (its PR 15987): a subquery repeats a sample at
 * several steps and skips others, so a hint would count a reset more than once or at the wrong sample.
 * `copies` keeps the one copy of a histogram repeated at several steps.
 */
function withoutCounterResetHints(hs: (FloatHistogram | undefined)[], copies: Map<FloatHistogram, FloatHistogram>): void {
  for (let k = 0; k < hs.length; k++) {
    const h = hs[k];
    if (h === undefined || (h.counterResetHint !== CounterResetHint.CounterReset && h.counterResetHint !== CounterResetHint.NotCounterReset)) continue;
    let c = copies.get(h);
    if (c === undefined) {
      c = h.copy();
      c.counterResetHint = CounterResetHint.Unknown;
      copies.set(h, c);
    }
    hs[k] = c;
  }
}

/** Whether all series have the same metric name (and the labels dropMetricName drops with it). */
function sameMetricIdentity(series: readonly Series[]): boolean {
  const first = series[0];
  if (first === undefined) return true;
  const identity = METRIC_IDENTITY.map((n) => first.labels.get(n));
  return series.every((s) => METRIC_IDENTITY.every((n, k) => s.labels.get(n) === identity[k]));
}

function pointsOf(v: StepValue): number {
  if (v.type === 'scalar') return v.vals.length;
  if (v.type === 'string') return 0;
  let n = 0;
  for (const s of v.series) n += s.weight();
  return n;
}

/** w[k] = the weight of samples 0…k−1: 1 per float, histogramWeight per histogram. */
function cumulativeWeights(hs: readonly (FloatHistogram | undefined)[], n: number): Float64Array {
  const w = new Float64Array(n + 1);
  for (let k = 0; k < n; k++) {
    const h = hs[k];
    w[k + 1] = (w[k] as number) + (h === undefined ? 1 : histogramWeight(h));
  }
  return w;
}
