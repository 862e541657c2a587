/**
 * The histogram functions: histogram_quantile(s) and histogram_fraction over classic `le` buckets and
 * native histograms, and the functions of native histograms alone (histogram_count, histogram_sum, …).
 */
import { type FloatHistogram, Labels, METRIC_NAME, quoteGo } from '@strata/tsdb';
import { SeriesBuilder } from '../engine/steps.js';
import type { StepSeries } from '../engine/steps.js';
import { almostEqual } from '../float.js';
import { EvalError } from '../engine/errors.js';
import { formatFloatPlain, goFloat } from '../format.js';
import type { Expr } from '../parser/ast.js';
import { parseGoFloat } from '../parser/literals.js';
import type { VectorValue } from '../engine/steps.js';
import { scalarArg, stringArg, vectorArg, type FunctionContext, type VectorFunction } from './context.js';
import { histogramAvg, histogramFraction, histogramQuantile, histogramQuantileV2, histogramStddev, histogramStdvar } from './histogram-quantile.js';

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
  const v = parseGoFloat(s);
  return typeof v === 'number' ? v : NaN;
}

/** Prometheus' maybeAddMetricName: the metric name is only known while its removal is delayed. */
function forMetric(message: string, labels: Labels, ctx: FunctionContext): string {
  const name = ctx.delayedNameRemoval ? labels.get(METRIC_NAME) : '';
  return name === '' ? message : `${message} for metric name ${quoteGo(name)}`;
}

/** Computes a float from a native histogram at step i of series `s`. */
type NativeCompute = (h: FloatHistogram, step: number, s: StepSeries) => number;

/**
 * Evaluates `classic` per classic histogram and step, and `native` per native histogram sample.
 * Classic buckets (float samples) are grouped by their labels without `le` (with the metric name, so
 * same-labelled histograms of two metrics collide in the output). A group's series are put in the order
 * of their bounds once (a stable sort, as Prometheus sorts each step's buckets), so each step only
 * gathers the counts present; each output series is looked up once. A native histogram labelled as a
 * group at a step where the group has buckets is Prometheus' conflict: neither is evaluated.
 */
function perHistogram(
  input: VectorValue, bucketsArg: Expr, ctx: FunctionContext, classic: (buckets: Buckets, step: number) => number,
  native: NativeCompute, infoName = ctx.call.func.name,
): VectorValue {
  const steps = ctx.range.steps;
  const groupIndex = new Map<string, number>();
  const groups: Labels[] = [];
  const members: number[][] = [];
  const upper: number[] = [];
  const series = input.series;
  /** Per series, the steps of its float samples: the buckets. */
  const floats: Uint8Array[] = [];
  /** The series with histograms, and the group each would conflict with (-1: none). */
  const natives: number[] = [];
  const conflictsWith: number[] = [];
  series.forEach((s, j) => {
    const present = s.floatPresence();
    floats.push(present);
    upper.push(NaN);
    if (s.hists !== null) natives.push(j);
    // A series of histograms only has no buckets, whatever its `le`.
    if (present !== s.has && !present.includes(1)) return;
    const le = s.labels.get('le');
    const bound = le === '' ? NaN : parseLe(le);
    upper[j] = bound;
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
  for (const j of natives) conflictsWith.push(groupIndex.get((series[j] as StepSeries).labels.key()) ?? -1);
  for (const m of members) m.sort((a, b) => (upper[a] as number) - (upper[b] as number));
  const out = new SeriesBuilder(steps);
  const targets: (StepSeries | undefined)[] = groups.map(() => undefined);
  const nativeTargets: (StepSeries | undefined)[] = natives.map(() => undefined);
  /** The step at which each group conflicted last (-1: never). */
  const conflictedAt = new Int32Array(groups.length).fill(-1);
  // The largest group's size, without spreading one argument per group into Math.max (a query without
  // aggregation has a group per histogram: tens of thousands).
  const buckets = new Buckets(members.reduce((most, m) => Math.max(most, m.length), 0));
  for (let i = 0; i < steps; i++) {
    for (let k = 0; k < natives.length; k++) {
      const s = series[natives[k] as number] as StepSeries;
      const h = s.histAt(i);
      if (h === undefined) continue;
      const g = conflictsWith[k] as number;
      if (g >= 0 && (members[g] as number[]).some((j) => (floats[j] as Uint8Array)[i] === 1)) {
        ctx.annotate(forMetric('PromQL warning: vector contains a mix of classic and native histograms', s.labels, ctx), bucketsArg.pos.start);
        conflictedAt[g] = i;
        continue;
      }
      const target = (nativeTargets[k] ??= out.seriesWithoutName(s.labels, ctx.delayedNameRemoval));
      out.set(target, i, native(h, i, s));
    }
    for (let g = 0; g < groups.length; g++) {
      if (conflictedAt[g] === i) continue;
      buckets.length = 0;
      buckets.forcedMonotonic = false;
      for (const j of members[g] as number[]) {
        if ((floats[j] as Uint8Array)[i] === 1) buckets.add(upper[j] as number, (series[j] as StepSeries).vals[i] as number);
      }
      if (buckets.length === 0) continue;
      const labels = groups[g] as Labels;
      const value = classic(buckets, i);
      if (buckets.forcedMonotonic && ctx.compat === 3) {
        ctx.annotate(
          forMetric(`PromQL info: input to ${infoName} needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#${infoName})`, labels, ctx),
          bucketsArg.pos.start,
        );
      }
      const target = (targets[g] ??= out.seriesWithoutName(labels, ctx.delayedNameRemoval));
      out.set(target, i, value);
    }
  }
  return out.result();
}

/** histogram_quantile of a native histogram, noting NaN observations at `arg` as Prometheus does. */
function nativeQuantile(q: Float64Array, arg: Expr, ctx: FunctionContext): NativeCompute {
  if (ctx.compat === 2) return (h, i) => histogramQuantileV2(q[i] as number, h);
  return (h, i, s) => histogramQuantile(q[i] as number, h, (effect) => {
    const message = `PromQL info: input to histogram_quantile has NaN observations, result is ${effect === 'nan' ? 'NaN' : 'skewed higher'}`;
    ctx.annotate(forMetric(message, s.labels, ctx), arg.pos.start);
  });
}

/** A function of a native histogram alone (histogram_count, …): float samples have no output. */
function ofNativeHistograms(f: (h: FloatHistogram) => number): VectorFunction {
  return (args, ctx) => {
    const out = new SeriesBuilder(ctx.range.steps);
    for (const s of vectorArg(args, 0).series) {
      const hists = s.hists;
      if (hists === null) continue;
      let o: StepSeries | null = null;
      for (let i = 0; i < hists.length; i++) {
        const h = hists[i];
        if (h === undefined) continue;
        o ??= out.seriesWithoutName(s.labels, ctx.delayedNameRemoval);
        out.set(o, i, f(h));
      }
    }
    return out.result();
  };
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
    const arg = ctx.call.args[1] as Expr;
    return perHistogram(vectorArg(args, 1), arg, ctx, (b, i) => bucketQuantile(q[i] as number, b), nativeQuantile(q, arg, ctx));
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
      const arg = ctx.call.args[0] as Expr;
      const v = perHistogram(input, arg, ctx, (b, i) => bucketQuantile(q[i] as number, b), nativeQuantile(q, arg, ctx), 'histogram_quantile');
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
    const arg = ctx.call.args[2] as Expr;
    return perHistogram(
      vectorArg(args, 2), arg, ctx, (b, i) => bucketFraction(lower[i] as number, upper[i] as number, b),
      (h, i, s) => histogramFraction(lower[i] as number, upper[i] as number, h, () => {
        const message = 'PromQL info: input to histogram_fraction has NaN observations, which are excluded from all fractions';
        ctx.annotate(forMetric(message, s.labels, ctx), arg.pos.start);
      }, ctx.compat),
    );
  },
  histogram_count: ofNativeHistograms((h) => h.count),
  histogram_sum: ofNativeHistograms((h) => h.sum),
  histogram_avg: ofNativeHistograms(histogramAvg),
  histogram_stddev: ofNativeHistograms(histogramStddev),
  histogram_stdvar: ofNativeHistograms(histogramStdvar),
};
