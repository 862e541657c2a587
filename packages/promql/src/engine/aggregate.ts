/** Aggregation operators over instant vectors, per step, groups keyed by their output labels. */
import { formatGoFloat, Labels, labelsHash, METRIC_NAME, quoteGo, type FloatHistogram } from '@strata/tsdb';
import type { AggregateExpr } from '../parser/ast.js';
import { formatFloatPlain, goFloat } from '../format.js';
import { kahanC, kahanSumInc } from '../functions/kahan.js';
import { quantile } from '../functions/quantile.js';
import { EvalError } from './errors.js';
import { HistogramGroup, type HistogramAggregationEvents } from './histogram-sum.js';
import { isValidLabelName } from './names.js';
import { SeriesBuilder, type StepSeries, type VectorValue } from './steps.js';

export interface AggregateContext {
  readonly steps: number;
  readonly compat: 2 | 3;
  /** Scalar parameter per step (k, φ), if any. */
  readonly param: Float64Array | null;
  /** count_values' label name. */
  readonly label: string;
  /** An annotation at the parameter. */
  warn(message: string): void;
  /** An annotation at character offset `pos` of the query. */
  annotate(message: string, pos: number): void;
}

/**
 * The annotation of an aggregation that skips histograms: Prometheus places it at the argument, but for
 * topk and bottomk at the aggregation.
 */
function ignoredHistograms(e: AggregateExpr, ctx: AggregateContext): void {
  ctx.annotate(`PromQL info: ignored histogram in ${e.op} aggregation`, e.op === 'topk' || e.op === 'bottomk' ? e.pos.start : e.expr.pos.start);
}

/** Flags of the steps at which some series has a histogram; null when none has. */
function histogramSteps(series: readonly StepSeries[], steps: number): Uint8Array | null {
  let out: Uint8Array | null = null;
  for (const s of series) {
    const hists = s.hists;
    if (hists === null) continue;
    out ??= new Uint8Array(steps);
    for (let i = 0; i < steps; i++) if (hists[i] !== undefined) out[i] = 1;
  }
  return out;
}


/** Assigns each series its group: index into `groups`. */
function assignGroups(e: AggregateExpr, series: readonly StepSeries[], exclude?: string): { of: Int32Array; groups: Labels[] } {
  const index = new Map<string, number>();
  const groups: Labels[] = [];
  const of = new Int32Array(series.length);
  // One set of names for all series (keep/without would build one per call from an array).
  const names = new Set(e.without ? [...e.grouping, METRIC_NAME] : e.grouping);
  series.forEach((s, j) => {
    let g = e.without ? s.labels.without(names) : s.labels.keep(names);
    if (exclude !== undefined) g = g.without([exclude]);
    const k = g.key();
    let gi = index.get(k);
    if (gi === undefined) {
      gi = groups.length;
      index.set(k, gi);
      groups.push(g);
    }
    of[j] = gi;
  });
  return { of, groups };
}

export function aggregate(e: AggregateExpr, input: VectorValue, ctx: AggregateContext): VectorValue {
  switch (e.op) {
    case 'topk':
    case 'bottomk':
    case 'limitk':
      return selectK(e, input, ctx);
    case 'quantile':
      return quantileAggregate(e, input, ctx);
    case 'count_values':
      return countValues(e, input, ctx);
    case 'limit_ratio':
      return limitRatio(input, ctx);
    default:
      return accumulate(e, input, ctx);
  }
}

/**
 * sum, avg, count, min, max, group, stddev, stdvar: per-group accumulators, filled series by series over a
 * block of steps at a time (each series' values are read in order, not one step of every series after
 * another), each group's values still added in series order. Histograms are taken in a pass of their
 * own per block (see HistogramAccumulation); min, max, stddev and stdvar ignore them.
 */
function accumulate(e: AggregateExpr, input: VectorValue, ctx: AggregateContext): VectorValue {
  const { of, groups } = assignGroups(e, input.series);
  const n = groups.length;
  // Steps per block: accumulators for n groups × block steps, at most 64 Ki of each.
  const block = Math.max(1, Math.min(64, Math.floor(65_536 / Math.max(1, n))));
  const count = new Float64Array(n * block);
  const value = new Float64Array(n * block);
  const comp = new Float64Array(n * block);
  const mean = new Float64Array(n * block);
  const incremental = new Uint8Array(n * block);
  const out = new SeriesBuilder(ctx.steps);
  const outSeries = groups.map((g) => out.series(g));
  // A group whose labels kept a name due for delayed removal (`by (__name__)`) inherits the removal.
  input.series.forEach((s, j) => {
    if (s.dropName) (outSeries[of[j] as number] as StepSeries).dropName = true;
  });
  const op = e.op;
  const kahan = ctx.compat === 3;
  const present = input.series.map((s) => s.floatPresence());
  let hists: HistogramAccumulation | null = null;
  if (input.series.some((s) => s.hists !== null)) {
    if (op === 'sum' || op === 'avg' || op === 'count' || op === 'group') {
      hists = new HistogramAccumulation(e, input.series, of, n, present, block, ctx, (g, i, h) => out.setHist(outSeries[g] as StepSeries, i, h));
    } else {
      ignoredHistograms(e, ctx);
    }
  }
  for (let from = 0; from < ctx.steps; from += block) {
    const to = Math.min(ctx.steps, from + block);
    count.fill(0);
    for (let j = 0; j < input.series.length; j++) {
      const s = input.series[j] as StepSeries;
      const has = present[j] as Uint8Array;
      // The accumulators of the series' group at step i are at x = base + i.
      const base = (of[j] as number) * block - from;
      for (let i = from; i < to; i++) {
        if (has[i] !== 1) continue;
        const x = base + i;
        const v = s.vals[i] as number;
        const c = ++count[x];
        if (c === 1 && kahan && (op === 'stddev' || op === 'stdvar')) {
          // 3.x applies the update to the first sample too, so a NaN or infinite sample makes the result NaN.
          mean[x] = v;
          value[x] = 0 * (v - v);
          continue;
        }
        if (c === 1) {
          value[x] = op === 'stddev' || op === 'stdvar' ? 0 : v;
          mean[x] = v;
          comp[x] = 0;
          incremental[x] = 0;
          continue;
        }
        switch (op) {
          case 'sum':
            if (kahan) {
              value[x] = kahanSumInc(v, value[x] as number, comp[x] as number);
              comp[x] = kahanC();
            } else value[x] = (value[x] as number) + v;
            break;
          case 'avg':
            if (kahan) avgKahan(x, v, c, value, comp, mean, incremental);
            else {
              mean[x] = incrementalMean(mean[x] as number, comp[x] as number, v, c);
              comp[x] = kahanC();
            }
            break;
          case 'min':
            if ((value[x] as number) > v || Number.isNaN(value[x] as number)) value[x] = v;
            break;
          case 'max':
            if ((value[x] as number) < v || Number.isNaN(value[x] as number)) value[x] = v;
            break;
          case 'stddev':
          case 'stdvar': {
            const delta = v - (mean[x] as number);
            mean[x] = (mean[x] as number) + delta / c;
            value[x] = (value[x] as number) + delta * (v - (mean[x] as number));
            break;
          }
          default:
            break;
        }
      }
    }
    hists?.block(from, to, count);
    for (let g = 0; g < n; g++) {
      for (let i = from; i < to; i++) {
        const x = g * block + i - from;
        const c = count[x] as number;
        if (c === 0) continue;
        let r: number;
        switch (op) {
          case 'sum':
            r = kahan && Number.isFinite(value[x] as number) ? (value[x] as number) + (comp[x] as number) : (value[x] as number);
            break;
          case 'avg':
            if (c === 1) r = mean[x] as number;
            else if (!kahan) r = Number.isFinite(mean[x] as number) ? (mean[x] as number) + (comp[x] as number) : (mean[x] as number);
            else if (incremental[x] === 1) r = (mean[x] as number) + (comp[x] as number);
            else r = ((value[x] as number) + (comp[x] as number)) / c;
            break;
          case 'count':
            r = c;
            break;
          case 'group':
            r = 1;
            break;
          case 'stdvar':
            r = (value[x] as number) / c;
            break;
          case 'stddev':
            r = Math.sqrt((value[x] as number) / c);
            break;
          default:
            r = value[x] as number;
        }
        out.set(outSeries[g] as StepSeries, i, r);
      }
    }
  }
  return { type: 'vector', series: outSeries.filter((s) => s.count() > 0) };
}

/**
 * The histograms of accumulate()'s input, one block of steps at a time, after its floats: count and group
 * count them beside the floats (in `count`); sum and avg aggregate them per group and step unless the group
 * has floats at that step too, which then yields nothing (Prometheus' mixed warning). Such steps and those
 * with a histogram result get count 0, so that the float results pass them over.
 */
class HistogramAccumulation {
  readonly #e: AggregateExpr;
  readonly #series: readonly StepSeries[];
  readonly #of: Int32Array;
  readonly #present: readonly Uint8Array[];
  readonly #block: number;
  readonly #ctx: AggregateContext;
  readonly #emit: (g: number, i: number, h: FloatHistogram) => void;
  /** The series that have histograms. */
  readonly #withHists: number[] = [];
  /**
   * sum/avg per group and step of the block: null when a float came first (Prometheus then leaves the
   * histograms alone, the result being void anyway), undefined without histograms.
   */
  readonly #groups: (HistogramGroup | null | undefined)[];
  readonly #events: HistogramAggregationEvents;

  constructor(
    e: AggregateExpr, series: readonly StepSeries[], of: Int32Array, groupCount: number, present: readonly Uint8Array[], block: number,
    ctx: AggregateContext, emit: (g: number, i: number, h: FloatHistogram) => void,
  ) {
    this.#e = e;
    this.#series = series;
    this.#of = of;
    this.#present = present;
    this.#block = block;
    this.#ctx = ctx;
    this.#emit = emit;
    series.forEach((s, j) => s.hists !== null && this.#withHists.push(j));
    this.#groups = e.op === 'sum' || e.op === 'avg' ? new Array<HistogramGroup | null | undefined>(groupCount * block) : [];
    const pos = e.expr.pos.start;
    this.#events = {
      reconciled: () => ctx.annotate('PromQL info: mismatched custom buckets were reconciled during aggregation', pos),
      incompatible: (j) => ctx.annotate(
        `PromQL warning: vector contains a mix of histograms with exponential and custom buckets schemas for metric name ${quoteGo((series[j] as StepSeries).labels.get(METRIC_NAME))}`,
        pos,
      ),
    };
  }

  block(from: number, to: number, count: Float64Array): void {
    const op = this.#e.op;
    const aggregating = op === 'sum' || op === 'avg';
    const groups = this.#groups;
    groups.fill(undefined);
    for (const j of this.#withHists) {
      const hists = (this.#series[j] as StepSeries).hists as (FloatHistogram | undefined)[];
      const g = this.#of[j] as number;
      const base = g * this.#block - from;
      for (let i = from; i < to; i++) {
        const h = hists[i];
        if (h === undefined) continue;
        const x = base + i;
        if (!aggregating) count[x] = (count[x] as number) + 1;
        else {
          const acc = groups[x];
          if (acc === undefined) groups[x] = count[x] !== 0 && this.#floatBefore(g, i, j) ? null : new HistogramGroup(h);
          else if (acc !== null) acc.add(h, j, op === 'avg', this.#events);
        }
      }
    }
    if (aggregating) this.#results(from, to, count);
  }

  #results(from: number, to: number, count: Float64Array): void {
    const pos = this.#e.expr.pos.start;
    const groups = this.#groups;
    for (let x = 0; x < groups.length; x++) {
      const acc = groups[x];
      if (acc === undefined) continue;
      const i = from + (x % this.#block);
      if (i >= to) continue;
      if (count[x] !== 0 || acc === null) {
        this.#ctx.annotate('PromQL warning: encountered a mix of histograms and floats for aggregation', pos);
        count[x] = 0;
        continue;
      }
      if (acc.incompatible) continue;
      if (acc.counterResetCollision()) this.#ctx.annotate('PromQL warning: conflicting counter resets during histogram aggregation', pos);
      this.#emit(Math.floor(x / this.#block), i, acc.result(this.#e.op === 'avg'));
    }
  }

  /** Whether a series before series j in group g has a float at step i. */
  #floatBefore(g: number, i: number, j: number): boolean {
    for (let k = 0; k < j; k++) if (this.#of[k] === g && (this.#present[k] as Uint8Array)[i] === 1) return true;
    return false;
  }
}

/** 2.x avg: compensated incremental mean, keeping an infinite mean unless NaN or the opposite infinity arrives. */
function incrementalMean(mean: number, c: number, v: number, count: number): number {
  if (!Number.isFinite(mean) && !Number.isNaN(mean)) {
    if ((!Number.isFinite(v) && !Number.isNaN(v) && mean > 0 === v > 0) || Number.isFinite(v)) {
      kahanSumInc(0, 0, c);
      return mean;
    }
  }
  return kahanSumInc(v / count - mean / count, mean, c);
}

/** 3.x avg: compensated sum until it would overflow, then a compensated incremental mean. */
function avgKahan(
  g: number, v: number, c: number, value: Float64Array, comp: Float64Array, mean: Float64Array, incremental: Uint8Array,
): void {
  if (incremental[g] === 0) {
    const s = kahanSumInc(v, value[g] as number, comp[g] as number);
    if (Number.isFinite(s) || Number.isNaN(s)) {
      value[g] = s;
      comp[g] = kahanC();
      return;
    }
    incremental[g] = 1;
    mean[g] = (value[g] as number) / (c - 1);
    comp[g] = (comp[g] as number) / (c - 1);
  }
  const m = mean[g] as number;
  if (!Number.isFinite(m) && !Number.isNaN(m)) {
    if (!Number.isFinite(v) && !Number.isNaN(v) && m > 0 === v > 0) return;
    if (Number.isFinite(v)) return;
  }
  const current = m + (comp[g] as number);
  mean[g] = kahanSumInc(v / c - current / c, m, comp[g] as number);
  comp[g] = kahanC();
}

function kParam(ctx: AggregateContext, i: number): number {
  const k = (ctx.param as Float64Array)[i] as number;
  // 3.x names a NaN; 2.x finds it, as an infinity, not convertible to int64 (Go's %v).
  if (Number.isNaN(k) && ctx.compat === 3) throw new EvalError('Parameter value is NaN');
  if (!(Math.abs(k) < 2 ** 63)) throw new EvalError(`Scalar value ${formatGoFloat(k)} overflows int64`);
  return Math.trunc(k);
}

/**
 * topk, bottomk, limitk: the input series themselves, k per group per step. limitk keeps histograms;
 * topk and bottomk rank the floats only, with an annotation at the steps that have histograms.
 */
function selectK(e: AggregateExpr, input: VectorValue, ctx: AggregateContext): VectorValue {
  const { of, groups } = assignGroups(e, input.series);
  const series = input.series;
  const limit = e.op === 'limitk';
  const present = limit ? series.map((s) => s.has) : series.map((s) => s.floatPresence());
  const ignored = limit ? null : histogramSteps(series, ctx.steps);
  const out = new SeriesBuilder(ctx.steps);
  // Each input series' output series, looked up by its labels once, when it is first chosen.
  const outOf: (StepSeries | undefined)[] = new Array<StepSeries | undefined>(series.length);
  const members: number[][] = groups.map(() => []);
  const best: number[] = [];
  const top = e.op === 'topk';
  for (let i = 0; i < ctx.steps; i++) {
    const k = kParam(ctx, i);
    if (k < 1) continue;
    if (ignored !== null && ignored[i] === 1) ignoredHistograms(e, ctx);
    for (const m of members) m.length = 0;
    for (let j = 0; j < series.length; j++) if ((present[j] as Uint8Array)[i] === 1) (members[of[j] as number] as number[]).push(j);
    for (const m of members) {
      const chosen = limit ? m.slice(0, k) : rankFirst(m, k, series, i, top, best);
      for (const j of chosen) {
        const s = series[j] as StepSeries;
        let o = outOf[j];
        if (o === undefined) o = outOf[j] = out.series(s.labels, s.dropName);
        out.copyStep(o, i, s);
      }
    }
  }
  return out.result();
}

/**
 * Whether value x ranks after y, best first: the greater for topk (`top`), the smaller for bottomk;
 * NaN last; equal values (infinities of one sign included) neither.
 */
function ranksAfter(x: number, y: number, top: boolean): boolean {
  if (x !== x) return y === y;
  return y === y && (top ? y > x : x > y);
}

/**
 * The first k of `members` (ascending indexes) at step i as a stable sort by rank orders them: for a
 * small k by insertion into the k best so far, kept in `into` (a dashboard's topk(3) over many series
 * compares each value with a few, not with log n others), else by that sort.
 */
function rankFirst(members: readonly number[], k: number, series: readonly StepSeries[], i: number, top: boolean, into: number[]): readonly number[] {
  if (k > 8) {
    const val = (j: number): number => (series[j] as StepSeries).vals[i] as number;
    return [...members].sort((a, b) => (ranksAfter(val(a), val(b), top) ? 1 : ranksAfter(val(b), val(a), top) ? -1 : 0)).slice(0, k);
  }
  into.length = 0;
  // Values read in place (no accessor closure per step, whose number results V8 boxes).
  for (const j of members) {
    const v = (series[j] as StepSeries).vals[i] as number;
    // Past every kept value that ranks after v; ties stay ahead of it, as in a stable sort.
    let p = into.length;
    while (p > 0 && ranksAfter((series[into[p - 1] as number] as StepSeries).vals[i] as number, v, top)) p--;
    if (p >= k) continue;
    if (into.length < k) into.push(j);
    for (let q = into.length - 1; q > p; q--) into[q] = into[q - 1] as number;
    into[p] = j;
  }
  return into;
}

/**
 * limit_ratio: at each step, the input series whose place in [0, 1) (their labels' hash over 2^64) falls
 * below the ratio, or for a negative ratio r at or above 1 + r, so that limit_ratio(r) and
 * limit_ratio(-(1 - r)) split the series. The same series at every step, as Prometheus chooses them;
 * grouping changes nothing, each series is kept or not on its own.
 */
function limitRatio(input: VectorValue, ctx: AggregateContext): VectorValue {
  const out = new SeriesBuilder(ctx.steps);
  const offsets = input.series.map((s) => Number(labelsHash(s.labels)) / 2 ** 64);
  const warned = new Set<number>();
  for (let i = 0; i < ctx.steps; i++) {
    let ratio = (ctx.param as Float64Array)[i] as number;
    if (Number.isNaN(ratio)) throw new EvalError('Ratio value is NaN');
    if (ratio === 0) continue;
    if (ratio < -1 || ratio > 1) {
      const capped = ratio < -1 ? -1 : 1;
      if (!warned.has(ratio)) ctx.warn(`PromQL warning: ratio value should be between -1 and 1, got ${goFloat(ratio)}, capping to ${goFloat(capped)}`);
      warned.add(ratio);
      ratio = capped;
    }
    input.series.forEach((s, j) => {
      if (s.has[i] !== 1) return;
      const offset = offsets[j] as number;
      if ((ratio >= 0 && offset < ratio) || (ratio < 0 && offset >= 1 + ratio)) out.copyStep(out.series(s.labels, s.dropName), i, s);
    });
  }
  return out.result();
}

/** quantile: of the floats; histograms are ignored, with an annotation. */
function quantileAggregate(e: AggregateExpr, input: VectorValue, ctx: AggregateContext): VectorValue {
  const { of, groups } = assignGroups(e, input.series);
  const present = input.series.map((s) => s.floatPresence());
  if (input.series.some((s) => s.hists !== null)) ignoredHistograms(e, ctx);
  const out = new SeriesBuilder(ctx.steps);
  const values: number[][] = groups.map(() => []);
  for (let i = 0; i < ctx.steps; i++) {
    const q = (ctx.param as Float64Array)[i] as number;
    if (ctx.compat === 3 && (q < 0 || q > 1 || Number.isNaN(q))) ctx.warn(`PromQL warning: quantile value should be between 0 and 1, got ${goFloat(q)}`);
    for (const v of values) v.length = 0;
    input.series.forEach((s, j) => (present[j] as Uint8Array)[i] === 1 && (values[of[j] as number] as number[]).push(s.vals[i] as number));
    values.forEach((v, g) => {
      if (v.length > 0) out.set(out.series(groups[g] as Labels), i, quantile(q, v));
    });
  }
  return out.result();
}

/** count_values: the samples per group and value; a histogram's value is its Prometheus string form. */
function countValues(e: AggregateExpr, input: VectorValue, ctx: AggregateContext): VectorValue {
  const label = ctx.label;
  if (!isValidLabelName(label, ctx.compat)) throw new EvalError(`invalid label name ${quoteGo(label)}`);
  const { of, groups } = assignGroups(e, input.series, label);
  // Prometheus groups the series with the value set as `label`: `without` that label counts all values together.
  const byValue = !(e.without && e.grouping.includes(label));
  const out = new SeriesBuilder(ctx.steps);
  const counts = new Map<string, { labels: Labels; n: number }>();
  for (let i = 0; i < ctx.steps; i++) {
    counts.clear();
    input.series.forEach((s, j) => {
      if (s.has[i] !== 1) return;
      const group = groups[of[j] as number] as Labels;
      const h = byValue ? s.histAt(i) : undefined;
      const labels = byValue ? group.with(label, h === undefined ? formatFloatPlain(s.vals[i] as number) : h.toString()) : group;
      const k = labels.key();
      const c = counts.get(k);
      if (c === undefined) counts.set(k, { labels, n: 1 });
      else c.n++;
    });
    for (const c of counts.values()) out.set(out.series(c.labels), i, c.n);
  }
  return out.result();
}
