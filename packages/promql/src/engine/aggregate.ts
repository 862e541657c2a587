/** Aggregation operators over instant vectors, per step, groups keyed by their output labels. */
import { Labels, METRIC_NAME } from '@strata/tsdb';
import type { AggregateExpr } from '../parser/ast.js';
import { formatFloatPlain, goFloat } from '../format.js';
import { kahanC, kahanSumInc } from '../functions/kahan.js';
import { quantile } from '../functions/quantile.js';
import { EvalError } from './errors.js';
import { labelsHash } from './labelhash.js';
import { isValidLabelName } from './names.js';
import { SeriesBuilder, type StepSeries, type VectorValue } from './steps.js';

export interface AggregateContext {
  readonly steps: number;
  readonly compat: 2 | 3;
  /** Scalar parameter per step (k, φ), if any. */
  readonly param: Float64Array | null;
  /** count_values' label name. */
  readonly label: string;
  warn(message: string): void;
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
 * another), each group's values still added in series order.
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
  for (let from = 0; from < ctx.steps; from += block) {
    const to = Math.min(ctx.steps, from + block);
    count.fill(0);
    for (let j = 0; j < input.series.length; j++) {
      const s = input.series[j] as StepSeries;
      // The accumulators of the series' group at step i are at x = base + i.
      const base = (of[j] as number) * block - from;
      for (let i = from; i < to; i++) {
        if (s.has[i] !== 1) continue;
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
  if (Number.isNaN(k)) throw new EvalError('Parameter value is NaN');
  if (Math.abs(k) >= 2 ** 63) throw new EvalError(`Scalar value ${k} overflows int64`);
  return Math.trunc(k);
}

/** topk, bottomk, limitk: the input series themselves, k per group per step. */
function selectK(e: AggregateExpr, input: VectorValue, ctx: AggregateContext): VectorValue {
  const { of, groups } = assignGroups(e, input.series);
  const series = input.series;
  const out = new SeriesBuilder(ctx.steps);
  // Each input series' output series, looked up by its labels once, when it is first chosen.
  const outOf: (StepSeries | undefined)[] = new Array<StepSeries | undefined>(series.length);
  const members: number[][] = groups.map(() => []);
  const best: number[] = [];
  const top = e.op === 'topk';
  for (let i = 0; i < ctx.steps; i++) {
    const k = kParam(ctx, i);
    if (k < 1) continue;
    for (const m of members) m.length = 0;
    for (let j = 0; j < series.length; j++) if ((series[j] as StepSeries).has[i] === 1) (members[of[j] as number] as number[]).push(j);
    for (const m of members) {
      const chosen = e.op === 'limitk' ? m.slice(0, k) : rankFirst(m, k, series, i, top, best);
      for (const j of chosen) {
        const s = series[j] as StepSeries;
        let o = outOf[j];
        if (o === undefined) o = outOf[j] = out.series(s.labels, s.dropName);
        out.set(o, i, s.vals[i] as number);
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
      if ((ratio >= 0 && offset < ratio) || (ratio < 0 && offset >= 1 + ratio)) out.set(out.series(s.labels, s.dropName), i, s.vals[i] as number);
    });
  }
  return out.result();
}

function quantileAggregate(e: AggregateExpr, input: VectorValue, ctx: AggregateContext): VectorValue {
  const { of, groups } = assignGroups(e, input.series);
  const out = new SeriesBuilder(ctx.steps);
  const values: number[][] = groups.map(() => []);
  for (let i = 0; i < ctx.steps; i++) {
    const q = (ctx.param as Float64Array)[i] as number;
    if (ctx.compat === 3 && (q < 0 || q > 1 || Number.isNaN(q))) ctx.warn(`PromQL warning: quantile value should be between 0 and 1, got ${goFloat(q)}`);
    for (const v of values) v.length = 0;
    input.series.forEach((s, j) => s.has[i] === 1 && (values[of[j] as number] as number[]).push(s.vals[i] as number));
    values.forEach((v, g) => {
      if (v.length > 0) out.set(out.series(groups[g] as Labels), i, quantile(q, v));
    });
  }
  return out.result();
}

function countValues(e: AggregateExpr, input: VectorValue, ctx: AggregateContext): VectorValue {
  const label = ctx.label;
  if (!isValidLabelName(label, ctx.compat)) throw new EvalError(`invalid label name ${JSON.stringify(label)}`);
  const { of, groups } = assignGroups(e, input.series, label);
  const out = new SeriesBuilder(ctx.steps);
  const counts = new Map<string, { labels: Labels; n: number }>();
  for (let i = 0; i < ctx.steps; i++) {
    counts.clear();
    input.series.forEach((s, j) => {
      if (s.has[i] !== 1) return;
      const labels = (groups[of[j] as number] as Labels).with(label, formatFloatPlain(s.vals[i] as number));
      const k = labels.key();
      const c = counts.get(k);
      if (c === undefined) counts.set(k, { labels, n: 1 });
      else c.n++;
    });
    for (const c of counts.values()) out.set(out.series(c.labels), i, c.n);
  }
  return out.result();
}
