/** histogram_quantile and histogram_fraction over classic `le` buckets. */
import { Labels, METRIC_NAME } from '@strata/tsdb';
import { SeriesBuilder } from '../engine/steps.js';
import type { StepSeries } from '../engine/steps.js';
import { almostEqual } from '../float.js';
import { EvalError } from '../engine/errors.js';
import { formatFloatPlain, goFloat } from '../format.js';
import type { Expr } from '../parser/ast.js';
import { parseNumber } from '../parser/literals.js';
import type { VectorValue } from '../engine/steps.js';
import { scalarArg, stringArg, vectorArg, type FunctionContext, type VectorFunction } from './context.js';

const SMALL_DELTA_TOLERANCE = 1e-12;

/**
 * One classic histogram's buckets at one step, as Prometheus' BucketQuantile takes them once sorted:
 * bounds ascending, equal bounds merged (their counts summed in the order of their series), in arrays
 * reused from step to step rather than an object per bucket per step.
 */
class Buckets {
  upper: Float64Array;
  count: Float64Array;
  length = 0;
  /** Whether `normalize` had to raise counts to make them monotonic. */
  forcedMonotonic = false;

  constructor(capacity: number) {
    this.upper = new Float64Array(Math.max(1, capacity));
    this.count = new Float64Array(Math.max(1, capacity));
  }

  /** Adds a bucket; bounds come in ascending order. */
  add(upper: number, count: number): void {
    const n = this.length;
    if (n > 0 && this.upper[n - 1] === upper) {
      this.count[n - 1] = (this.count[n - 1] as number) + count;
      return;
    }
    this.upper[n] = upper;
    this.count[n] = count;
    this.length = n + 1;
  }
}

/**
 * Forces counts to be monotonic (ignoring relative deltas below 1e-12), noting whether they had to be
 * raised; false when the highest bound is not +Inf.
 */
function normalize(b: Buckets): boolean {
  if (b.upper[b.length - 1] !== Infinity) return false;
  const count = b.count;
  let prev = count[0] as number;
  for (let i = 1; i < b.length; i++) {
    const c = count[i] as number;
    if (c === prev) continue;
    if (almostEqual(prev, c, SMALL_DELTA_TOLERANCE)) {
      count[i] = prev;
      continue;
    }
    if (c < prev) {
      count[i] = prev;
      b.forcedMonotonic = true;
      continue;
    }
    prev = c;
  }
  return true;
}

/** The φ-quantile of classic buckets (Prometheus' BucketQuantile). */
function bucketQuantile(q: number, b: Buckets): number {
  if (Number.isNaN(q)) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  if (!normalize(b)) return NaN;
  const n = b.length;
  const { upper, count } = b;
  if (n < 2) return NaN;
  const observations = count[n - 1] as number;
  if (observations === 0) return NaN;
  let rank = q * observations;
  let i = 0;
  while (i < n - 1 && (count[i] as number) < rank) i++;
  if (i === n - 1) return upper[n - 2] as number;
  if (i === 0 && (upper[0] as number) <= 0) return upper[0] as number;
  let start = 0;
  const end = upper[i] as number;
  let inBucket = count[i] as number;
  if (i > 0) {
    start = upper[i - 1] as number;
    inBucket -= count[i - 1] as number;
    rank -= count[i - 1] as number;
  }
  return start + (end - start) * (rank / inBucket);
}

/**
 * The fraction of observations between `lower` and `upper`, interpolating linearly inside finite buckets.
 * A first bucket with a bound ≤ 0 starts at -Inf and, like the +Inf bucket, holds its mass at the infinite end.
 */
function bucketFraction(lower: number, upper: number, b: Buckets): number {
  if (!normalize(b)) return NaN;
  const total = b.count[b.length - 1] as number;
  if (total === 0 || Number.isNaN(lower) || Number.isNaN(upper)) return NaN;
  if (lower >= upper) return 0;
  const cumulative = (v: number): number => {
    if (v === -Infinity) return 0;
    if (v === Infinity) return total;
    let i = 0;
    while ((b.upper[i] as number) < v) i++;
    const prev = i > 0 ? (b.count[i - 1] as number) : 0;
    const bound = b.upper[i] as number;
    if (bound === Infinity) return prev;
    const start = i > 0 ? (b.upper[i - 1] as number) : bound > 0 ? 0 : -Infinity;
    if (start === -Infinity) return b.count[i] as number;
    if (v <= start) return prev;
    return prev + (((b.count[i] as number) - prev) * (v - start)) / (bound - start);
  };
  return (cumulative(upper) - cumulative(lower)) / total;
}

/** An `le` bound as Go's strconv.ParseFloat reads it; NaN when malformed. */
function parseLe(s: string): number {
  return parseNumber(s) ?? NaN;
}

/**
 * Evaluates `compute` per classic histogram and step: buckets are grouped by their labels without `le`
 * (with the metric name, so same-labelled histograms of two metrics collide in the output). A group's
 * series are put in the order of their bounds once (a stable sort, as Prometheus sorts each step's
 * buckets), so each step only gathers the counts present; each group's output series is looked up once.
 */
function perHistogram(
  input: VectorValue, bucketsArg: Expr, ctx: FunctionContext, compute: (buckets: Buckets, step: number) => number,
  infoName = ctx.call.func.name,
): VectorValue {
  const steps = ctx.range.steps;
  const groupIndex = new Map<string, number>();
  const groups: Labels[] = [];
  const members: number[][] = [];
  const upper: number[] = [];
  input.series.forEach((s, j) => {
    const le = s.labels.get('le');
    const bound = le === '' ? NaN : parseLe(le);
    upper.push(bound);
    if (Number.isNaN(bound)) {
      ctx.annotate(`PromQL warning: bucket label "le" is missing or has a malformed value of "${le}" for metric name "${s.labels.get(METRIC_NAME)}"`, bucketsArg.pos.start);
      return;
    }
    const g = s.labels.without(['le']);
    let gi = groupIndex.get(g.key());
    if (gi === undefined) {
      gi = groups.length;
      groupIndex.set(g.key(), gi);
      groups.push(g);
      members.push([]);
    }
    (members[gi] as number[]).push(j);
  });
  for (const m of members) m.sort((a, b) => (upper[a] as number) - (upper[b] as number));
  const out = new SeriesBuilder(steps);
  const targets: (StepSeries | undefined)[] = groups.map(() => undefined);
  // The largest group's size, without spreading one argument per group into Math.max (a query without
  // aggregation has a group per histogram: tens of thousands).
  const buckets = new Buckets(members.reduce((most, m) => Math.max(most, m.length), 0));
  const series = input.series;
  for (let i = 0; i < steps; i++) {
    for (let g = 0; g < groups.length; g++) {
      buckets.length = 0;
      buckets.forcedMonotonic = false;
      for (const j of members[g] as number[]) {
        const s = series[j] as StepSeries;
        if (s.has[i] === 1) buckets.add(upper[j] as number, s.vals[i] as number);
      }
      if (buckets.length === 0) continue;
      const labels = groups[g] as Labels;
      const value = compute(buckets, i);
      if (buckets.forcedMonotonic && ctx.compat === 3) {
        ctx.annotate(
          `PromQL info: input to ${infoName} needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#${infoName}) for metric name "${labels.get(METRIC_NAME)}"`,
          bucketsArg.pos.start,
        );
      }
      const target = (targets[g] ??= out.seriesWithoutName(labels, ctx.delayedNameRemoval));
      out.set(target, i, value);
    }
  }
  return out.result();
}

function warnOutOfRange(q: Float64Array, arg: Expr, ctx: FunctionContext): void {
  if (ctx.compat !== 3) return;
  for (const phi of q) {
    if (!(phi >= 0 && phi <= 1)) ctx.annotate(`PromQL warning: quantile value should be between 0 and 1, got ${goFloat(phi)}`, arg.pos.start);
  }
}

/** A quantile as a label value, in OpenMetrics' canonical float form (`0.0`, `0.25`, `+Inf`). */
function quantileLabel(q: number): string {
  const s = formatFloatPlain(q);
  return /^-?\d+$/.test(s) ? `${s}.0` : s;
}

export const HISTOGRAM_FUNCTIONS: Record<string, VectorFunction> = {
  histogram_quantile: (args, ctx) => {
    const q = scalarArg(args, 0);
    warnOutOfRange(q, ctx.call.args[0] as Expr, ctx);
    return perHistogram(vectorArg(args, 1), ctx.call.args[1] as Expr, ctx, (b, i) => bucketQuantile(q[i] as number, b));
  },
  /** Several quantiles at once, each output series labelled with its quantile. */
  histogram_quantiles: (args, ctx) => {
    const input = vectorArg(args, 0);
    const label = stringArg(args, 1);
    if (input.series.some((s) => s.labels.has(label))) {
      throw new EvalError(`label ${JSON.stringify(label)} of histogram_quantiles() already exists on the input series`);
    }
    const out = new SeriesBuilder(ctx.range.steps);
    for (let k = 2; k < args.length; k++) {
      const q = scalarArg(args, k);
      warnOutOfRange(q, ctx.call.args[k] as Expr, ctx);
      const v = perHistogram(input, ctx.call.args[0] as Expr, ctx, (b, i) => bucketQuantile(q[i] as number, b), 'histogram_quantile');
      for (const s of v.series) {
        for (let i = 0; i < ctx.range.steps; i++) {
          if (s.has[i] === 1) out.set(out.series(s.labels.with(label, quantileLabel(q[i] as number)), s.dropName), i, s.vals[i] as number);
        }
      }
    }
    return out.result();
  },
  histogram_fraction: (args, ctx) => {
    const lower = scalarArg(args, 0);
    const upper = scalarArg(args, 1);
    return perHistogram(vectorArg(args, 2), ctx.call.args[2] as Expr, ctx, (b, i) => bucketFraction(lower[i] as number, upper[i] as number, b));
  },
};
