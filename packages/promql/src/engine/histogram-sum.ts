/**
 * Compensated sums and means of native histograms, as Prometheus 3.x's sum and avg aggregations compute
 * them (FloatHistogram.KahanAdd): every count, the sum and every bucket summed with Neumaier
 * compensation, so that e.g. 1e100 + x - 1e100 keeps x.
 */
import { CounterResetHint, FloatHistogram, IncompatibleSchemaError, type ArithmeticOutcome, type Span } from '@strata/tsdb';
import { kahanC, kahanSumInc } from '../functions/kahan.js';

/** A running sum and its compensation term, which always has the sum's bucket layout. Never mutated. */
export class KahanHistogram {
  readonly sum: FloatHistogram;
  readonly comp: FloatHistogram;

  private constructor(sum: FloatHistogram, comp: FloatHistogram) {
    this.sum = sum;
    this.comp = comp;
  }

  static of(h: FloatHistogram): KahanHistogram {
    const sum = h.copy();
    return new KahanHistogram(sum, zeroed(sum));
  }

  /**
   * This sum plus `h`. The plain sum of both decides the result's schema, zero bucket, custom bounds,
   * bucket layout and counter reset hint; the values are then summed slot by slot in that layout.
   * @throws IncompatibleSchemaError when one has exponential and the other custom buckets.
   */
  add(h: FloatHistogram): { result: KahanHistogram; outcome: ArithmeticOutcome } {
    const next = this.sum.copy();
    const outcome = next.add(h);
    const sum = aligned(this.sum, next);
    const comp = aligned(this.comp, next);
    const other = aligned(h, next);
    const c = zeroed(next);
    next.zeroCount = kahanSumInc(other.zeroCount, sum.zeroCount, comp.zeroCount);
    c.zeroCount = kahanC();
    next.count = kahanSumInc(other.count, sum.count, comp.count);
    c.count = kahanC();
    next.sum = kahanSumInc(other.sum, sum.sum, comp.sum);
    c.sum = kahanC();
    addBuckets(next.positiveBuckets, c.positiveBuckets, sum.positiveBuckets, comp.positiveBuckets, other.positiveBuckets);
    addBuckets(next.negativeBuckets, c.negativeBuckets, sum.negativeBuckets, comp.negativeBuckets, other.negativeBuckets);
    return { result: new KahanHistogram(next, c), outcome };
  }

  /** Sum and compensation scaled by `f` (a positive factor: the counter reset hint stays). */
  mul(f: number): KahanHistogram {
    return new KahanHistogram(this.sum.copy().mul(f), this.comp.copy().mul(f));
  }

  div(d: number): KahanHistogram {
    return new KahanHistogram(this.sum.copy().div(d), this.comp.copy().div(d));
  }

  /** Whether a count, the sum or a bucket of the sum went infinite (Prometheus' HasOverflow). */
  hasOverflow(): boolean {
    const s = this.sum;
    return infinite(s.count) || infinite(s.sum) || infinite(s.zeroCount) || s.positiveBuckets.some(infinite) || s.negativeBuckets.some(infinite);
  }

  /** The compensated value: the sum with its compensation added, slot by slot, in a new histogram. */
  value(): FloatHistogram {
    const v = this.sum.copy();
    const c = this.comp;
    v.zeroCount += c.zeroCount;
    v.count += c.count;
    v.sum += c.sum;
    for (let k = 0; k < v.positiveBuckets.length; k++) v.positiveBuckets[k] = (v.positiveBuckets[k] as number) + (c.positiveBuckets[k] as number);
    for (let k = 0; k < v.negativeBuckets.length; k++) v.negativeBuckets[k] = (v.negativeBuckets[k] as number) + (c.negativeBuckets[k] as number);
    return v;
  }
}

function infinite(v: number): boolean {
  return v === Infinity || v === -Infinity;
}

/** Slot by slot: sum[k] + comp[k] + other[k] into outSum[k] and outComp[k]. */
function addBuckets(outSum: number[], outComp: number[], sum: readonly number[], comp: readonly number[], other: readonly number[]): void {
  for (let k = 0; k < outSum.length; k++) {
    outSum[k] = kahanSumInc(other[k] as number, sum[k] as number, comp[k] as number);
    outComp[k] = kahanC();
  }
}

/** A histogram of `h`'s layout with all counts 0. */
function zeroed(h: FloatHistogram): FloatHistogram {
  const z = h.copy();
  z.zeroCount = 0;
  z.count = 0;
  z.sum = 0;
  z.positiveBuckets.fill(0);
  z.negativeBuckets.fill(0);
  return z;
}

/**
 * `h` in the layout of `target`, a sum `h` took part in: as is when it already has that layout (same
 * schema, zero bucket and bounds, and as many buckets, which then are the same ones), else added to an
 * empty histogram of that layout, which merges its buckets into the target's schema, zero bucket and
 * custom bounds, and its buckets then placed by index (such a sum may leave out empty buckets).
 */
function aligned(h: FloatHistogram, target: FloatHistogram): FloatHistogram {
  if (
    h.schema === target.schema &&
    h.zeroThreshold === target.zeroThreshold &&
    sameBounds(h.customValues, target.customValues) &&
    h.positiveBuckets.length === target.positiveBuckets.length &&
    h.negativeBuckets.length === target.negativeBuckets.length
  ) {
    return h;
  }
  const a = zeroed(target);
  a.add(h);
  const out = zeroed(target);
  out.zeroCount = a.zeroCount;
  out.count = a.count;
  out.sum = a.sum;
  placeBuckets(out.positiveBuckets, bucketIndexes(target.positiveSpans), a.positiveBuckets, bucketIndexes(a.positiveSpans));
  placeBuckets(out.negativeBuckets, bucketIndexes(target.negativeSpans), a.negativeBuckets, bucketIndexes(a.negativeSpans));
  return out;
}

/** The bucket index of each bucket of a span list (the first offset absolute, the others relative to the previous span's end). */
function bucketIndexes(spans: readonly Span[]): number[] {
  const out: number[] = [];
  let index = 0;
  for (const s of spans) {
    index += s.offset;
    for (let k = 0; k < s.length; k++) out.push(index++);
  }
  return out;
}

/** Counts with the indexes `fromIndexes` into `into`, whose buckets have the indexes `intoIndexes` (a superset; both ascending). */
function placeBuckets(into: number[], intoIndexes: readonly number[], from: readonly number[], fromIndexes: readonly number[]): void {
  let k = 0;
  fromIndexes.forEach((index, m) => {
    while (k < intoIndexes.length && (intoIndexes[k] as number) < index) k++;
    if (intoIndexes[k] !== index) throw new Error(`histogram sum: bucket ${index} is not in the sum's layout`);
    into[k] = from[m] as number;
  });
}

function sameBounds(a: readonly number[], b: readonly number[]): boolean {
  return a === b || (a.length === b.length && a.every((v, k) => v === b[k]));
}

/** What a group's histogram aggregation reports besides its value (the engine turns them into annotations). */
export interface HistogramAggregationEvents {
  /** Custom-bucket histograms with different bounds were reconciled. */
  reconciled(): void;
  /** The histogram of series `j` had exponential buckets and the group custom ones, or the other way round. */
  incompatible(j: number): void;
}

/**
 * sum or avg of the histograms of one group at one step, in series order (Prometheus' groupedAggregation
 * for histograms): a compensated sum, for avg divided by the count at the end, unless the sum would
 * overflow: from then on a compensated incremental mean.
 */
export class HistogramGroup {
  #sum: KahanHistogram;
  #mean: KahanHistogram | null = null;
  #count = 1;
  /** A histogram could not be added: the group has no value. */
  incompatible = false;
  #resetSeen = false;
  #notResetSeen = false;

  constructor(first: FloatHistogram) {
    this.#sum = KahanHistogram.of(first);
    this.#track(first);
  }

  /** Adds the histogram of series `j`. */
  add(h: FloatHistogram, j: number, avg: boolean, events: HistogramAggregationEvents): void {
    if (this.incompatible) return;
    this.#track(h);
    this.#count++;
    try {
      if (!avg) {
        this.#sum = this.#added(this.#sum, h, events);
        return;
      }
      if (this.#mean === null) {
        const sum = this.#added(this.#sum, h, events);
        if (!sum.hasOverflow()) {
          this.#sum = sum;
          return;
        }
        // The sum would overflow: continue with the mean of the histograms so far.
        this.#mean = this.#sum.div(this.#count - 1);
      }
      const n = this.#count;
      this.#mean = this.#added(this.#mean.mul((n - 1) / n), h.copy().div(n), events);
    } catch (err) {
      if (!(err instanceof IncompatibleSchemaError)) throw err;
      this.incompatible = true;
      events.incompatible(j);
    }
  }

  #added(acc: KahanHistogram, h: FloatHistogram, events: HistogramAggregationEvents): KahanHistogram {
    const { result, outcome } = acc.add(h);
    if (outcome.nhcbBoundsReconciled) events.reconciled();
    return result;
  }

  #track(h: FloatHistogram): void {
    if (h.counterResetHint === CounterResetHint.CounterReset) this.#resetSeen = true;
    else if (h.counterResetHint === CounterResetHint.NotCounterReset) this.#notResetSeen = true;
  }

  /** Whether histograms with the hints CounterReset and NotCounterReset were aggregated. */
  counterResetCollision(): boolean {
    return this.#resetSeen && this.#notResetSeen;
  }

  /** The sum, or for avg the mean, compacted. */
  result(avg: boolean): FloatHistogram {
    let v: FloatHistogram;
    if (!avg) v = this.#sum.value();
    else if (this.#mean !== null) v = this.#mean.value();
    else v = this.#sum.div(this.#count).value();
    return v.compact(0);
  }
}
