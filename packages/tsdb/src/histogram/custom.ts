/**
 * Histograms with custom bucket bounds (NHCB) whose bounds differ: Prometheus 3.x reconciles them to
 * the bounds both have, each bucket going into the reconciled bucket that contains it.
 */
import { forEachIndex, LayoutBuilder } from './spans.js';
import type { Span } from './types.js';

/** Whether two custom bound lists are the same (Prometheus' CustomBucketBoundsMatch). */
export function customBoundsMatch(a: readonly number[], b: readonly number[]): boolean {
  if (a === b) return true;
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** The bounds present in both ascending lists. */
export function intersectCustomBounds(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i] as number;
    const y = b[j] as number;
    if (x === y) {
      out.push(x);
      i++;
      j++;
    } else if (x < y) i++;
    else j++;
  }
  return out;
}

/**
 * Adds (or, with `negate`, subtracts) the counts of a custom-bucket layout over `bounds` into `into`,
 * regrouped into the buckets of `target` (a subset of `bounds`): `into` has one count per target
 * bucket, the last one for (last bound, +Inf]. Returns `into`.
 */
export function accumulateCustomBuckets(
  into: number[],
  negate: boolean,
  layout: CustomLayout,
  target: readonly number[],
): number[] {
  const { bounds } = layout;
  let t = 0;
  forEachIndex(layout.spans, layout.buckets, (index, count) => {
    let dest = target.length;
    if (index < bounds.length) {
      const upper = bounds[index] as number;
      // Both bound lists ascend, so the search goes on from the previous bucket's target.
      while (t < target.length && (target[t] as number) < upper) t++;
      if (t < target.length) dest = t;
    }
    into[dest] = negate ? (into[dest] as number) - count : (into[dest] as number) + count;
  });
  return into;
}

/** The buckets of a custom-bucket histogram with its bounds. */
export interface CustomLayout {
  spans: readonly Span[];
  buckets: readonly number[];
  bounds: readonly number[];
}

/** An all-zero count per bucket of the custom bounds `target` (including the +Inf bucket). */
export function emptyCustomCounts(target: readonly number[]): number[] {
  return new Array<number>(target.length + 1).fill(0);
}

/**
 * Prometheus' addCustomBucketsWithMismatches: A plus (or, with `negate`, minus) B, both regrouped into
 * the buckets of the common bounds; empty resulting buckets are left out.
 */
export function addMismatchedCustomLayouts(
  negate: boolean,
  a: CustomLayout,
  b: CustomLayout,
  common: readonly number[],
): { spans: Span[]; buckets: number[] } {
  const counts = emptyCustomCounts(common);
  accumulateCustomBuckets(counts, false, a, common);
  accumulateCustomBuckets(counts, negate, b, common);
  const out = new LayoutBuilder();
  counts.forEach((c, i) => {
    if (c !== 0) out.push(i, c);
  });
  return out;
}
