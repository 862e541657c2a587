/**
 * Bucket layouts (spans + counts in span order): walking them by bucket index, building them from
 * buckets in ascending index order, merging schemas, comparing layouts. The layout rules are those of
 * Prometheus' model/histogram (generic.go, float_histogram.go).
 */
import { exponentialBound, targetIndex } from './bounds.js';
import { EXPONENTIAL_SCHEMA_MIN, type Span } from './types.js';

/** Visits one bucket by index; returning false stops the walk. */
export type IndexVisitor = (index: number, count: number) => boolean | void;

/** Walks buckets in ascending index order; false when the visitor stopped it. */
export function forEachIndex(spans: readonly Span[], buckets: readonly number[], visit: IndexVisitor): boolean {
  let index = 0;
  let b = 0;
  for (const span of spans) {
    index += span.offset;
    for (let j = 0; j < span.length; j++, index++, b++) {
      // Spans promising more buckets than there are only occur in invalid histograms: stop there.
      if (b >= buckets.length) return true;
      if (visit(index, buckets[b] as number) === false) return false;
    }
  }
  return true;
}

/** Walks buckets in descending index order; false when the visitor stopped it. */
export function forEachIndexDescending(
  spans: readonly Span[],
  buckets: readonly number[],
  visit: IndexVisitor,
): boolean {
  let index = 0;
  for (const span of spans) index += span.offset + span.length;
  let b = buckets.length - 1;
  for (let i = spans.length - 1; i >= 0; i--) {
    const span = spans[i] as Span;
    for (let j = 0; j < span.length; j++) {
      index--;
      if (b < 0) return true;
      if (visit(index, buckets[b--] as number) === false) return false;
    }
    index -= span.offset;
  }
  return true;
}

/** Buckets as parallel arrays of indexes (ascending) and counts. */
export interface IndexedBuckets {
  index: number[];
  count: number[];
}

/**
 * The buckets of a layout in `schema` merged into `targetSchema` (≤ schema; equal for no merging), as
 * Prometheus' floatBucketIterator yields them: consecutive buckets falling into one target bucket are
 * summed. With an exponential target schema, leading buckets whose upper bound is ≤ absoluteStartValue
 * are left out (the buckets inside a zero bucket of that width).
 */
export function mergedBuckets(
  spans: readonly Span[],
  buckets: readonly number[],
  schema: number,
  targetSchema: number,
  absoluteStartValue = 0,
): IndexedBuckets {
  const out: IndexedBuckets = { index: [], count: [] };
  const skipBelowStart = absoluteStartValue !== 0 && targetSchema >= EXPONENTIAL_SCHEMA_MIN;
  let startReached = !skipBelowStart;
  const emit = (index: number, count: number): void => {
    if (!startReached && exponentialBound(index, targetSchema) <= absoluteStartValue) return;
    startReached = true;
    out.index.push(index);
    out.count.push(count);
  };
  if (schema === targetSchema) {
    forEachIndex(spans, buckets, emit);
    return out;
  }
  let current = 0;
  let sum = 0;
  let any = false;
  forEachIndex(spans, buckets, (index, count) => {
    const t = targetIndex(index, schema, targetSchema);
    if (any && t === current) {
      sum += count;
      return;
    }
    if (any) emit(current, sum);
    current = t;
    sum = count;
    any = true;
  });
  if (any) emit(current, sum);
  return out;
}

/**
 * Builds a layout from buckets given in ascending index order (a repeated index adds to the previous
 * bucket). Buckets at most maxEmptyBuckets apart share a span, the gap filled with empty buckets.
 */
export class LayoutBuilder {
  readonly spans: Span[] = [];
  readonly buckets: number[] = [];
  private last = 0;

  constructor(private readonly maxEmptyBuckets = 0) {}

  push(index: number, count: number): void {
    const n = this.buckets.length;
    if (n === 0) {
      this.spans.push({ offset: index, length: 1 });
    } else {
      const gap = index - this.last - 1;
      if (gap === -1) {
        this.buckets[n - 1] = (this.buckets[n - 1] as number) + count;
        return;
      }
      if (gap < -1) throw new RangeError(`bucket index ${index} after ${this.last}: spans out of order`);
      if (gap <= this.maxEmptyBuckets) {
        (this.spans[this.spans.length - 1] as Span).length += gap + 1;
        for (let k = 0; k < gap; k++) this.buckets.push(0);
      } else {
        this.spans.push({ offset: gap, length: 1 });
      }
    }
    this.buckets.push(count);
    this.last = index;
  }
}

/**
 * Prometheus' compactBuckets: empty buckets (count 0) are dropped unless they lie between populated
 * buckets at most maxEmptyBuckets apart; populated buckets that close share one span.
 */
export function compactLayout(
  spans: readonly Span[],
  buckets: readonly number[],
  maxEmptyBuckets: number,
): { spans: Span[]; buckets: number[] } {
  if (isCompact(spans, buckets, maxEmptyBuckets)) return { spans: spans.slice(), buckets: buckets.slice() };
  const out = new LayoutBuilder(maxEmptyBuckets);
  forEachIndex(spans, buckets, (index, count) => {
    if (count !== 0) out.push(index, count);
  });
  return out;
}

function isCompact(spans: readonly Span[], buckets: readonly number[], maxEmptyBuckets: number): boolean {
  for (const b of buckets) if (b === 0) return false;
  for (let i = 0; i < spans.length; i++) {
    const s = spans[i] as Span;
    if (s.length === 0 || (i > 0 && s.offset <= maxEmptyBuckets)) return false;
  }
  return true;
}

/**
 * Prometheus' addBuckets: the buckets of B (already in A's schema) added to (or, with `negate`,
 * subtracted from) those of A; B's leading buckets with an upper bound ≤ threshold are ignored (they
 * are inside A's zero bucket). The result has every bucket of either layout.
 */
export function addLayouts(
  schema: number,
  threshold: number,
  negate: boolean,
  spansA: readonly Span[],
  bucketsA: readonly number[],
  spansB: readonly Span[],
  bucketsB: readonly number[],
): { spans: Span[]; buckets: number[] } {
  const a = mergedBuckets(spansA, bucketsA, schema, schema);
  const b = mergedBuckets(spansB, bucketsB, schema, schema, threshold);
  const out = new LayoutBuilder();
  let i = 0;
  let j = 0;
  while (i < a.index.length || j < b.index.length) {
    const ia = i < a.index.length ? (a.index[i] as number) : Infinity;
    const ib = j < b.index.length ? (b.index[j] as number) : Infinity;
    if (ia <= ib) out.push(ia, a.count[i++] as number);
    if (ib <= ia) {
      const c = b.count[j++] as number;
      out.push(ib, negate ? -c : c);
    }
  }
  return out;
}

/** Prometheus' reduceResolution for absolute counts: the layout merged into the lower targetSchema. */
export function reduceLayout(
  spans: readonly Span[],
  buckets: readonly number[],
  schema: number,
  targetSchema: number,
): { spans: Span[]; buckets: number[] } {
  const out = new LayoutBuilder();
  forEachIndex(spans, buckets, (index, count) => out.push(targetIndex(index, schema, targetSchema), count));
  return out;
}

/**
 * Whether two span lists describe the same bucket indexes (Prometheus' spansMatch): zero-length spans
 * and spans directly adjacent to their predecessor do not make a difference.
 */
export function spansMatch(a: readonly Span[], b: readonly Span[]): boolean {
  const ra = indexRanges(a);
  const rb = indexRanges(b);
  return ra.length === rb.length && ra.every((v, i) => v === rb[i]);
}

/** Start and end (exclusive) of each maximal run of consecutive indexes, flattened. */
function indexRanges(spans: readonly Span[]): number[] {
  const out: number[] = [];
  let index = 0;
  for (const span of spans) {
    index += span.offset;
    if (span.length === 0) continue;
    if (out.length > 0 && out[out.length - 1] === index) out[out.length - 1] = index + span.length;
    else out.push(index, index + span.length);
    index += span.length;
  }
  return out;
}
