/** histogram_quantile over classic `le` buckets (Prometheus' BucketQuantile). */
import { Labels, METRIC_NAME } from '@strata/tsdb';
import { SeriesBuilder } from '../engine/steps.js';
import type { StepSeries } from '../engine/steps.js';
import { almostEqual } from '../float.js';
import { goFloat } from '../format.js';
import type { Expr } from '../parser/ast.js';
import { dropMetricName } from '../engine/names.js';
import { scalarArg, vectorArg, type VectorFunction } from './context.js';

interface Bucket {
  upper: number;
  count: number;
}

const SMALL_DELTA_TOLERANCE = 1e-12;

/** The φ-quantile of classic buckets; `fixed` reports whether counts had to be made monotonic. */
export function bucketQuantile(q: number, buckets: Bucket[]): { value: number; forcedMonotonic: boolean } {
  if (Number.isNaN(q)) return { value: NaN, forcedMonotonic: false };
  if (q < 0) return { value: -Infinity, forcedMonotonic: false };
  if (q > 1) return { value: Infinity, forcedMonotonic: false };
  buckets.sort((a, b) => a.upper - b.upper);
  if ((buckets[buckets.length - 1] as Bucket).upper !== Infinity) return { value: NaN, forcedMonotonic: false };
  // Merge buckets with equal bounds.
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

function parseLe(s: string): number {
  const t = s.trim().toLowerCase();
  if (t === '+inf' || t === 'inf') return Infinity;
  if (t === '-inf') return -Infinity;
  if (t === 'nan') return NaN;
  return t === '' || !/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$|^[+-]?0x[0-9a-f]+$/.test(t) ? NaN : Number(t);
}

export const HISTOGRAM_FUNCTIONS: Record<string, VectorFunction> = {
  histogram_quantile: (args, ctx) => {
    const q = scalarArg(args, 0);
    const input = vectorArg(args, 1);
    const steps = ctx.range.steps;
    const groupIndex = new Map<string, number>();
    const groups: Labels[] = [];
    const groupNames: string[] = [];
    const groupOf: number[] = [];
    const upper: number[] = [];
    const vectorPos = (ctx.call.args[1] as Expr).pos.start;
    input.series.forEach((s) => {
      const le = s.labels.get('le');
      const bound = le === '' ? NaN : parseLe(le);
      if (Number.isNaN(bound)) {
        groupOf.push(-1);
        upper.push(NaN);
        ctx.annotate(`PromQL warning: bucket label "le" is missing or has a malformed value of "${le}" for metric name "${s.labels.get(METRIC_NAME)}"`, vectorPos);
        return;
      }
      // Grouped with the metric name, output without it: two histograms differing only in name collide.
      const g = s.labels.without(['le']);
      let gi = groupIndex.get(g.key());
      if (gi === undefined) {
        gi = groups.length;
        groupIndex.set(g.key(), gi);
        groups.push(g);
        groupNames.push(g.get(METRIC_NAME));
      }
      groupOf.push(gi);
      upper.push(bound);
    });
    if (ctx.compat === 3) {
      for (const phi of q) {
        if (!(phi >= 0 && phi <= 1)) ctx.annotate(`PromQL warning: quantile value should be between 0 and 1, got ${goFloat(phi)}`, (ctx.call.args[0] as Expr).pos.start);
      }
    }
    const out = new SeriesBuilder(steps);
    const buckets: Bucket[][] = groups.map(() => []);
    for (let i = 0; i < steps; i++) {
      const phi = q[i] as number;
      for (const b of buckets) b.length = 0;
      input.series.forEach((s: StepSeries, j) => {
        const g = groupOf[j] as number;
        if (g >= 0 && s.has[i] === 1) (buckets[g] as Bucket[]).push({ upper: upper[j] as number, count: s.vals[i] as number });
      });
      buckets.forEach((b, g) => {
        if (b.length === 0) return;
        const labels = groups[g] as Labels;
        const r = bucketQuantile(phi, b);
        if (r.forcedMonotonic && ctx.compat === 3) {
          ctx.annotate(
            `PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name "${groupNames[g]}"`,
            vectorPos,
          );
        }
        out.set(out.series(dropMetricName(labels)), i, r.value);
      });
    }
    return out.result();
  },
};
