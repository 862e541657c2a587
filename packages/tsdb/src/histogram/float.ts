/**
 * Native histograms with float counts (Prometheus' histogram.FloatHistogram): what PromQL computes with.
 * Bucket counts are absolute (not delta-encoded), in span order. See types.ts for the bucket layout.
 */
import { addMismatchedCustomLayouts, accumulateCustomBuckets, customBoundsMatch, emptyCustomCounts, intersectCustomBounds } from './custom.js';
import { IncompatibleSchemaError } from './errors.js';
import { formatFloatHistogram } from './format.js';
import { addLayouts, compactLayout, mergedBuckets, reduceLayout, spansMatch, type IndexedBuckets } from './spans.js';
import { CounterResetHint, CUSTOM_BUCKETS_SCHEMA, type Span } from './types.js';
import { reconcileZeroBuckets, zeroCountForLargerThreshold } from './zero.js';

export interface FloatHistogramFields {
  counterResetHint?: CounterResetHint;
  schema: number;
  zeroThreshold?: number;
  zeroCount?: number;
  count: number;
  sum: number;
  positiveSpans?: Span[];
  negativeSpans?: Span[];
  positiveBuckets?: number[];
  negativeBuckets?: number[];
  customValues?: number[];
}

export class FloatHistogram {
  counterResetHint: CounterResetHint;
  schema: number;
  zeroThreshold: number;
  zeroCount: number;
  count: number;
  sum: number;
  positiveSpans: Span[];
  negativeSpans: Span[];
  /** Absolute counts, in span order. */
  positiveBuckets: number[];
  negativeBuckets: number[];
  /** Upper bounds of the custom buckets (schema −53 only), ascending, without +Inf. */
  customValues: number[];

  constructor(f: FloatHistogramFields) {
    this.counterResetHint = f.counterResetHint ?? CounterResetHint.Unknown;
    this.schema = f.schema;
    this.zeroThreshold = f.zeroThreshold ?? 0;
    this.zeroCount = f.zeroCount ?? 0;
    this.count = f.count;
    this.sum = f.sum;
    this.positiveSpans = f.positiveSpans ?? [];
    this.negativeSpans = f.negativeSpans ?? [];
    this.positiveBuckets = f.positiveBuckets ?? [];
    this.negativeBuckets = f.negativeBuckets ?? [];
    this.customValues = f.customValues ?? [];
  }

  /** Whether the histogram has custom bucket bounds (schema −53, NHCB). */
  usesCustomBuckets(): boolean {
    return this.schema === CUSTOM_BUCKETS_SCHEMA;
  }

  /**
   * A deep copy. As in Prometheus, a custom-bucket histogram's copy has no zero bucket and no negative
   * buckets, and shares customValues (which are treated as immutable).
   */
  copy(): FloatHistogram {
    const custom = this.usesCustomBuckets();
    return new FloatHistogram({
      counterResetHint: this.counterResetHint,
      schema: this.schema,
      zeroThreshold: custom ? 0 : this.zeroThreshold,
      zeroCount: custom ? 0 : this.zeroCount,
      count: this.count,
      sum: this.sum,
      positiveSpans: copySpans(this.positiveSpans),
      positiveBuckets: this.positiveBuckets.slice(),
      negativeSpans: custom ? [] : copySpans(this.negativeSpans),
      negativeBuckets: custom ? [] : this.negativeBuckets.slice(),
      customValues: custom ? this.customValues : [],
    });
  }

  /**
   * A deep copy in the lower (or equal) exponential `targetSchema`. Like Prometheus' CopyToSchema, a
   * copy with a different schema has the counter reset hint Unknown.
   */
  copyToSchema(targetSchema: number): FloatHistogram {
    if (targetSchema === this.schema) return this.copy();
    this.checkReducibleTo(targetSchema, targetSchema > this.schema);
    const pos = reduceLayout(this.positiveSpans, this.positiveBuckets, this.schema, targetSchema);
    const neg = reduceLayout(this.negativeSpans, this.negativeBuckets, this.schema, targetSchema);
    return new FloatHistogram({
      schema: targetSchema,
      zeroThreshold: this.zeroThreshold,
      zeroCount: this.zeroCount,
      count: this.count,
      sum: this.sum,
      positiveSpans: pos.spans,
      positiveBuckets: pos.buckets,
      negativeSpans: neg.spans,
      negativeBuckets: neg.buckets,
    });
  }

  /** Merges the buckets into the lower exponential `targetSchema`, in place. */
  reduceResolution(targetSchema: number): this {
    this.checkReducibleTo(targetSchema, targetSchema >= this.schema);
    const pos = reduceLayout(this.positiveSpans, this.positiveBuckets, this.schema, targetSchema);
    const neg = reduceLayout(this.negativeSpans, this.negativeBuckets, this.schema, targetSchema);
    this.positiveSpans = pos.spans;
    this.positiveBuckets = pos.buckets;
    this.negativeSpans = neg.spans;
    this.negativeBuckets = neg.buckets;
    this.schema = targetSchema;
    return this;
  }

  private checkReducibleTo(targetSchema: number, notLower: boolean): void {
    if (this.usesCustomBuckets()) throw new Error('cannot reduce resolution when there are custom buckets');
    if (targetSchema === CUSTOM_BUCKETS_SCHEMA) throw new Error('cannot reduce resolution to custom buckets schema');
    if (notLower) throw new Error(`cannot reduce resolution from schema ${this.schema} to ${targetSchema}`);
  }

  /** Prometheus' FloatHistogram.String(), e.g. `{count:3, sum:5, [-1,-0.5):1, [-0.001,0.001]:1, (0.5,1]:1}`. */
  toString(): string {
    return formatFloatHistogram(this);
  }

  /**
   * Scales counts, sum and buckets by `factor`, in place. A negative factor makes it a gauge histogram
   * (its counts no longer behave like counters).
   */
  mul(factor: number): this {
    this.scale((v) => v * factor);
    if (factor < 0) this.counterResetHint = CounterResetHint.Gauge;
    return this;
  }

  /**
   * Divides counts, sum and buckets by `divisor`, in place. Division by zero leaves ±Inf or NaN in the
   * count, sum and zero count and, as in Prometheus, removes all buckets.
   */
  div(divisor: number): this {
    this.zeroCount /= divisor;
    this.count /= divisor;
    this.sum /= divisor;
    if (divisor === 0) {
      this.positiveSpans = [];
      this.positiveBuckets = [];
      this.negativeSpans = [];
      this.negativeBuckets = [];
      return this;
    }
    scaleArray(this.positiveBuckets, (v) => v / divisor);
    scaleArray(this.negativeBuckets, (v) => v / divisor);
    if (divisor < 0) this.counterResetHint = CounterResetHint.Gauge;
    return this;
  }

  private scale(f: (v: number) => number): void {
    this.zeroCount = f(this.zeroCount);
    this.count = f(this.count);
    this.sum = f(this.sum);
    scaleArray(this.positiveBuckets, f);
    scaleArray(this.negativeBuckets, f);
  }

  /**
   * Adds `other` to this histogram, in place (Prometheus' Add): zero thresholds are widened to a common
   * one, the result has the lower of both schemas, custom-bucket histograms with different bounds are
   * reconciled to the bounds both have. The result may have empty buckets; see compact().
   * @throws IncompatibleSchemaError when one has exponential and the other custom buckets.
   */
  add(other: FloatHistogram): ArithmeticOutcome {
    return this.combine(other, false);
  }

  /**
   * Subtracts `other` from this histogram, in place (Prometheus' Sub), like add(). The counter reset
   * hint is adjusted as by add(); PromQL's `-` operator then makes the result a gauge itself.
   * @throws IncompatibleSchemaError when one has exponential and the other custom buckets.
   */
  sub(other: FloatHistogram): ArithmeticOutcome {
    return this.combine(other, true);
  }

  private combine(other: FloatHistogram, negate: boolean): ArithmeticOutcome {
    const custom = this.usesCustomBuckets();
    if (custom !== other.usesCustomBuckets()) throw new IncompatibleSchemaError();
    const counterResetCollision = this.adjustCounterReset(other);
    if (!custom) {
      const otherZeroCount = reconcileZeroBuckets(this, other);
      this.zeroCount = negate ? this.zeroCount - otherZeroCount : this.zeroCount + otherZeroCount;
    }
    this.count = negate ? this.count - other.count : this.count + other.count;
    this.sum = negate ? this.sum - other.sum : this.sum + other.sum;

    if (custom) {
      if (customBoundsMatch(this.customValues, other.customValues)) {
        this.setPositive(addLayouts(this.schema, 0, negate, this.positiveSpans, this.positiveBuckets, other.positiveSpans, other.positiveBuckets));
        return { counterResetCollision, nhcbBoundsReconciled: false };
      }
      const common = intersectCustomBounds(this.customValues, other.customValues);
      this.setPositive(
        addMismatchedCustomLayouts(
          negate,
          { spans: this.positiveSpans, buckets: this.positiveBuckets, bounds: this.customValues },
          { spans: other.positiveSpans, buckets: other.positiveBuckets, bounds: other.customValues },
          common,
        ),
      );
      this.customValues = common;
      return { counterResetCollision, nhcbBoundsReconciled: true };
    }

    // The result has the lower resolution of both.
    if (other.schema < this.schema) this.reduceResolution(other.schema);
    const otherPos = reduceLayout(other.positiveSpans, other.positiveBuckets, other.schema, this.schema);
    const otherNeg = reduceLayout(other.negativeSpans, other.negativeBuckets, other.schema, this.schema);
    this.setPositive(addLayouts(this.schema, this.zeroThreshold, negate, this.positiveSpans, this.positiveBuckets, otherPos.spans, otherPos.buckets));
    const neg = addLayouts(this.schema, this.zeroThreshold, negate, this.negativeSpans, this.negativeBuckets, otherNeg.spans, otherNeg.buckets);
    this.negativeSpans = neg.spans;
    this.negativeBuckets = neg.buckets;
    return { counterResetCollision, nhcbBoundsReconciled: false };
  }

  private setPositive(layout: { spans: Span[]; buckets: number[] }): void {
    this.positiveSpans = layout.spans;
    this.positiveBuckets = layout.buckets;
  }

  /**
   * The counter reset hint of a sum or difference (Prometheus' adjustCounterReset): gauge if either is
   * one, unknown if either is; true for the collision of CounterReset with NotCounterReset.
   */
  private adjustCounterReset(other: FloatHistogram): boolean {
    const mine = this.counterResetHint;
    const theirs = other.counterResetHint;
    if (theirs === mine || mine === CounterResetHint.Gauge) return false;
    if (theirs === CounterResetHint.Gauge) {
      this.counterResetHint = CounterResetHint.Gauge;
      return false;
    }
    if (mine === CounterResetHint.Unknown) return false;
    this.counterResetHint = CounterResetHint.Unknown;
    return theirs !== CounterResetHint.Unknown;
  }

  /**
   * Whether both hold the same data (Prometheus' Equals): same schema, bounds and bucket layout (spans
   * may be split differently), and bit-identical numbers, so NaN equals NaN but not the stale marker.
   * The counter reset hint is not compared.
   */
  equals(other: FloatHistogram): boolean {
    if (this.schema !== other.schema || !sameBits(this.count, other.count) || !sameBits(this.sum, other.sum)) return false;
    if (this.usesCustomBuckets() && !customBoundsMatch(this.customValues, other.customValues)) return false;
    return (
      this.zeroThreshold === other.zeroThreshold &&
      sameBits(this.zeroCount, other.zeroCount) &&
      spansMatch(this.negativeSpans, other.negativeSpans) &&
      sameBucketBits(this.negativeBuckets, other.negativeBuckets) &&
      spansMatch(this.positiveSpans, other.positiveSpans) &&
      sameBucketBits(this.positiveBuckets, other.positiveBuckets)
    );
  }

  /**
   * Removes empty buckets, in place (Prometheus' Compact): runs of at most maxEmptyBuckets empty buckets
   * between populated ones are kept within one span.
   */
  compact(maxEmptyBuckets: number): this {
    this.setPositive(compactLayout(this.positiveSpans, this.positiveBuckets, maxEmptyBuckets));
    const neg = compactLayout(this.negativeSpans, this.negativeBuckets, maxEmptyBuckets);
    this.negativeSpans = neg.spans;
    this.negativeBuckets = neg.buckets;
    return this;
  }

  /**
   * Whether this histogram follows `previous` only after a counter reset (Prometheus' DetectReset): a
   * CounterReset/NotCounterReset hint decides; otherwise any count lower than before (total, zero
   * bucket, any bucket, buckets missing that were populated), a higher resolution or a narrower zero
   * bucket. Previous buckets are merged into this one's schema and zero bucket for the comparison.
   */
  detectReset(previous: FloatHistogram): boolean {
    if (this.counterResetHint === CounterResetHint.CounterReset) return true;
    if (this.counterResetHint === CounterResetHint.NotCounterReset) return false;
    // Unknown and gauge histograms alike are compared (PromQL warns about counter functions on gauges).
    if (this.count < previous.count) return true;
    if (this.usesCustomBuckets()) {
      if (!previous.usesCustomBuckets()) return true;
      if (!customBoundsMatch(this.customValues, previous.customValues)) return this.customBucketsDecreased(previous);
    }
    if (this.schema > previous.schema || this.zeroThreshold < previous.zeroThreshold) return true;
    const prevZero = zeroCountForLargerThreshold(previous, this.zeroThreshold);
    // The zero threshold cutting through a populated bucket of the previous histogram needs a reset.
    if (prevZero.threshold !== this.zeroThreshold) return true;
    if (this.zeroCount < prevZero.count) return true;
    return (
      bucketsDecreased(
        mergedBuckets(this.positiveSpans, this.positiveBuckets, this.schema, this.schema, this.zeroThreshold),
        mergedBuckets(previous.positiveSpans, previous.positiveBuckets, previous.schema, this.schema, this.zeroThreshold),
      ) ||
      bucketsDecreased(
        mergedBuckets(this.negativeSpans, this.negativeBuckets, this.schema, this.schema, this.zeroThreshold),
        mergedBuckets(previous.negativeSpans, previous.negativeBuckets, previous.schema, this.schema, this.zeroThreshold),
      )
    );
  }

  /** Custom buckets with different bounds: whether any bucket of the common bounds lost counts. */
  private customBucketsDecreased(previous: FloatHistogram): boolean {
    const common = intersectCustomBounds(this.customValues, previous.customValues);
    const mine = { spans: this.positiveSpans, buckets: this.positiveBuckets, bounds: this.customValues };
    const theirs = { spans: previous.positiveSpans, buckets: previous.positiveBuckets, bounds: previous.customValues };
    const now = accumulateCustomBuckets(emptyCustomCounts(common), false, mine, common);
    const before = accumulateCustomBuckets(emptyCustomCounts(common), false, theirs, common);
    return now.some((c, i) => c < (before[i] as number));
  }
}

/** What add() and sub() report besides the result (the engine turns them into annotations). */
export interface ArithmeticOutcome {
  /** One histogram had the hint CounterReset and the other NotCounterReset. */
  counterResetCollision: boolean;
  /** Custom-bucket histograms with different bounds were reconciled to their common bounds. */
  nhcbBoundsReconciled: boolean;
}

function copySpans(spans: readonly Span[]): Span[] {
  return spans.map((s) => ({ offset: s.offset, length: s.length }));
}

function scaleArray(values: number[], f: (v: number) => number): void {
  for (let i = 0; i < values.length; i++) values[i] = f(values[i] as number);
}

/**
 * Whether a populated bucket of `previous` is missing from `current` or has a higher count there (both
 * in the same schema).
 */
function bucketsDecreased(current: IndexedBuckets, previous: IndexedBuckets): boolean {
  let j = 0;
  for (let i = 0; i < previous.index.length; i++) {
    const index = previous.index[i] as number;
    const count = previous.count[i] as number;
    while (j < current.index.length && (current.index[j] as number) < index) j++;
    if (j < current.index.length && current.index[j] === index) {
      if ((current.count[j] as number) < count) return true;
    } else if (count !== 0) {
      return true;
    }
  }
  return false;
}

const bitsView = new Float64Array(2);
const bitsWords = new Uint32Array(bitsView.buffer);

/** Whether two doubles have the same bit pattern (Go's math.Float64bits comparison). */
function sameBits(a: number, b: number): boolean {
  bitsView[0] = a;
  bitsView[1] = b;
  return bitsWords[0] === bitsWords[2] && bitsWords[1] === bitsWords[3];
}

function sameBucketBits(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => sameBits(v, b[i] as number));
}
