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

interface Bucket {
  upper: number;
  count: number;
}

const SMALL_DELTA_TOLERANCE = 1e-12;

/**
 * Sorts buckets by bound, merges equal bounds and forces counts to be monotonic (ignoring relative deltas
 * below 1e-12). Returns null when the highest bound is not +Inf, and whether counts had to be raised.
 */
function normalize(buckets: Bucket[]): { merged: Bucket[]; forcedMonotonic: boolean } | null {
  buckets.sort((a, b) => a.upper - b.upper);
  if ((buckets[buckets.length - 1] as Bucket).upper !== Infinity) return null;
  const merged: Bucket[] = [];
  for (const b of buckets) {
    const last = merged[merged.length - 1];
    if (last !== undefined && last.upper === b.upper) last.count += b.count;
    else merged.push({ upper: b.upper, count: b.count });
  }
  let forcedMonotonic = false;
  let prev = (merged[0] as Bucket).count;
  for (let i = 1; i < merged.length; i++) {
    const b = merged[i] as Bucket;
    if (b.count === prev) continue;
    if (almostEqual(prev, b.count, SMALL_DELTA_TOLERANCE)) {
      b.count = prev;
      continue;
    }
    if (b.count < prev) {
      b.count = prev;
      forcedMonotonic = true;
      continue;
    }
    prev = b.count;
  }
  return { merged, forcedMonotonic };
}

interface BucketResult {
  value: number;
  forcedMonotonic: boolean;
}

/** The φ-quantile of classic buckets (Prometheus' BucketQuantile). */
export function bucketQuantile(q: number, buckets: Bucket[]): BucketResult {
  if (Number.isNaN(q)) return { value: NaN, forcedMonotonic: false };
  if (q < 0) return { value: -Infinity, forcedMonotonic: false };
  if (q > 1) return { value: Infinity, forcedMonotonic: false };
  const norm = normalize(buckets);
  if (norm === null) return { value: NaN, forcedMonotonic: false };
  const { merged, forcedMonotonic } = norm;
  if (merged.length < 2) return { value: NaN, forcedMonotonic };
  const observations = (merged[merged.length - 1] as Bucket).count;
  if (observations === 0) return { value: NaN, forcedMonotonic };
  let rank = q * observations;
  let b = 0;
  while (b < merged.length - 1 && (merged[b] as Bucket).count < rank) b++;
  if (b === merged.length - 1) return { value: (merged[merged.length - 2] as Bucket).upper, forcedMonotonic };
  if (b === 0 && (merged[0] as Bucket).upper <= 0) return { value: (merged[0] as Bucket).upper, forcedMonotonic };
  let start = 0;
  const end = (merged[b] as Bucket).upper;
  let count = (merged[b] as Bucket).count;
  if (b > 0) {
    start = (merged[b - 1] as Bucket).upper;
    count -= (merged[b - 1] as Bucket).count;
    rank -= (merged[b - 1] as Bucket).count;
  }
  return { value: start + (end - start) * (rank / count), forcedMonotonic };
}

/**
 * The fraction of observations between `lower` and `upper`, interpolating linearly inside finite buckets.
 * A first bucket with a bound ≤ 0 starts at -Inf and, like the +Inf bucket, holds its mass at the infinite end.
 */
export function bucketFraction(lower: number, upper: number, buckets: Bucket[]): BucketResult {
  const norm = normalize(buckets);
  if (norm === null) return { value: NaN, forcedMonotonic: false };
  const { merged, forcedMonotonic } = norm;
  const total = (merged[merged.length - 1] as Bucket).count;
  if (total === 0 || Number.isNaN(lower) || Number.isNaN(upper)) return { value: NaN, forcedMonotonic };
  if (lower >= upper) return { value: 0, forcedMonotonic };
  const cumulative = (v: number): number => {
    if (v === -Infinity) return 0;
    if (v === Infinity) return total;
    let b = 0;
    while ((merged[b] as Bucket).upper < v) b++;
    const prev = b > 0 ? (merged[b - 1] as Bucket).count : 0;
    const bucket = merged[b] as Bucket;
    if (bucket.upper === Infinity) return prev;
    const start = b > 0 ? (merged[b - 1] as Bucket).upper : bucket.upper > 0 ? 0 : -Infinity;
    if (start === -Infinity) return bucket.count;
    if (v <= start) return prev;
    return prev + ((bucket.count - prev) * (v - start)) / (bucket.upper - start);
  };
  return { value: (cumulative(upper) - cumulative(lower)) / total, forcedMonotonic };
}

/** An `le` bound as Go's strconv.ParseFloat reads it; NaN when malformed. */
function parseLe(s: string): number {
  return parseNumber(s) ?? NaN;
}

/**
 * Evaluates `compute` per classic histogram and step: buckets are grouped by their labels without `le`
 * (with the metric name, so same-labelled histograms of two metrics collide in the output).
 */
function perHistogram(
  input: VectorValue, bucketsArg: Expr, ctx: FunctionContext, compute: (buckets: Bucket[], step: number) => BucketResult,
  infoName = ctx.call.func.name,
): VectorValue {
  const steps = ctx.range.steps;
  const groupIndex = new Map<string, number>();
  const groups: Labels[] = [];
  const groupOf: number[] = [];
  const upper: number[] = [];
  input.series.forEach((s) => {
    const le = s.labels.get('le');
    const bound = le === '' ? NaN : parseLe(le);
    if (Number.isNaN(bound)) {
      groupOf.push(-1);
      upper.push(NaN);
      ctx.annotate(`PromQL warning: bucket label "le" is missing or has a malformed value of "${le}" for metric name "${s.labels.get(METRIC_NAME)}"`, bucketsArg.pos.start);
      return;
    }
    const g = s.labels.without(['le']);
    let gi = groupIndex.get(g.key());
    if (gi === undefined) {
      gi = groups.length;
      groupIndex.set(g.key(), gi);
      groups.push(g);
    }
    groupOf.push(gi);
    upper.push(bound);
  });
  const out = new SeriesBuilder(steps);
  const buckets: Bucket[][] = groups.map(() => []);
  for (let i = 0; i < steps; i++) {
    for (const b of buckets) b.length = 0;
    input.series.forEach((s: StepSeries, j) => {
      const g = groupOf[j] as number;
      if (g >= 0 && s.has[i] === 1) (buckets[g] as Bucket[]).push({ upper: upper[j] as number, count: s.vals[i] as number });
    });
    buckets.forEach((b, g) => {
      if (b.length === 0) return;
      const labels = groups[g] as Labels;
      const r = compute(b, i);
      if (r.forcedMonotonic && ctx.compat === 3) {
        ctx.annotate(
          `PromQL info: input to ${infoName} needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#${infoName}) for metric name "${labels.get(METRIC_NAME)}"`,
          bucketsArg.pos.start,
        );
      }
      out.set(out.seriesWithoutName(labels, ctx.delayedNameRemoval), i, r.value);
    });
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
