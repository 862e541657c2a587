import { ValueType, type FloatHistogram, type Histogram, type SampleIterator } from '@strata/tsdb';
import type { AdjustableIterator } from './adjustable.js';

/**
 * Thanos' penalty deduplication of two replicas of one series (pkg/dedup/iter.go). N replicas are
 * folded pairwise: ((r0 ⊕ r1) ⊕ r2) ⊕ ….
 *
 * The merge emits the earliest next sample of either replica, but a replica that was not picked may
 * only contribute samples more than `2 × (t_picked − t_last)` after the last emitted one. So while the
 * current replica keeps its scrape interval the merge sticks to it, and switches only across a gap of
 * more than about two intervals: the merged series has the sample rate of one replica, not the sum of both.
 *
 * Where the merge starts, no interval is known yet. Thanos then bars the other replica for 5 s only,
 * which keeps both replicas' first samples where they are further apart (replicas scrape at offsets
 * anywhere within the interval): every read that starts inside the data (a sidecar's, cut to the
 * range) counts a sample twice in its first window. Here the other replica's first sample is taken for
 * the same scrape as the first one picked and skipped, and its second may be picked: the cost of a
 * switch, at most, where the other replica's first sample was one of its own.
 *
 * Where the replica followed ends (its Prometheus stopped, or its data does: history deduplicated by
 * the compactor, without a replica label, meets a sidecar's recent data), Thanos still bars the other
 * for the penalty, two intervals, so that its next scrape is lost as well as the one that answers
 * the last sample emitted (thanos-io/thanos#7656). Here it is barred for one interval: a sample less
 * than an interval after the last one is that scrape's twin and skipped, the next is taken.
 *
 * Unlike Thanos, `seek` before the first `next` does not emit the first sample twice.
 */
export class PenaltyDedupIterator implements AdjustableIterator {
  readonly adjusts: boolean;
  #aType: ValueType;
  #bType: ValueType;
  /** Timestamp of the last emitted sample, where the replica `#useA` names stands; -Infinity before the first. */
  #lastT = Number.NEGATIVE_INFINITY;
  #penA = 0;
  #penB = 0;
  #useA = true;
  /** Where the replica not emitting has to be seeked before it is looked at (-Infinity: nowhere). */
  #aTarget = Number.NEGATIVE_INFINITY;
  #bTarget = Number.NEGATIVE_INFINITY;
  /** The value atFloat last returned, while it is the current sample's (saves reading it again on a switch). */
  #value = 0;
  #valueKnown = false;

  constructor(
    private readonly a: AdjustableIterator,
    private readonly b: AdjustableIterator,
  ) {
    this.adjusts = a.adjusts || b.adjusts;
    this.#aType = a.next();
    this.#bType = b.next();
  }

  next(): ValueType {
    const wasA = this.#useA;
    const known = this.#lastT !== Number.NEGATIVE_INFINITY;
    const lastType = !known ? ValueType.None : wasA ? this.#aType : this.#bType;
    // The last emitted value is only needed to adjust counters on a switch.
    const lastValue = this.adjusts && lastType === ValueType.Float ? (this.#valueKnown ? this.#value : this.#current().atFloat()) : 0;
    this.#valueKnown = false;
    const t = this.#advance(known);
    if (t !== ValueType.None && this.#useA !== wasA && lastType === ValueType.Float && this.adjusts) {
      if (this.#aType === ValueType.Float) this.a.adjustAtValue(lastValue);
      if (this.#bType === ValueType.Float) this.b.adjustAtValue(lastValue);
    }
    return t;
  }

  #advance(known: boolean): ValueType {
    if (known) {
      // The replica that gave the last sample stands at #lastT with no penalty: it takes its next
      // sample. The other only has to get past its penalty window: it is not moved (its chunks not
      // decoded) while the first replica's next sample comes before that window ends, since it could
      // not be picked anyway. Seeks only go forward, so one seek to the furthest target later lands
      // where all of them would have.
      // Where it ends, the other replica is barred for one interval instead (see above).
      if (this.#useA) {
        if (this.#aType !== ValueType.None) this.#aType = this.a.next();
        const target = this.#lastT + 1 + this.#penB;
        if (this.#aType === ValueType.None) this.#bTarget = this.#lastT + Math.max(1, this.#penB / 2);
        else if (target > this.#bTarget) this.#bTarget = target;
        if (this.#keeps(this.a, this.#aType, this.#bType, this.#bTarget)) return this.#aType;
      } else {
        if (this.#bType !== ValueType.None) this.#bType = this.b.next();
        const target = this.#lastT + 1 + this.#penA;
        if (this.#bType === ValueType.None) this.#aTarget = this.#lastT + Math.max(1, this.#penA / 2);
        else if (target > this.#aTarget) this.#aTarget = target;
        if (this.#keeps(this.b, this.#bType, this.#aType, this.#aTarget)) return this.#bType;
      }
      this.#settle();
    }

    if (this.#aType === ValueType.None) {
      this.#useA = false;
      if (this.#bType !== ValueType.None) {
        this.#lastT = this.b.atT();
        this.#penB = 0;
      }
      return this.#bType;
    }
    if (this.#bType === ValueType.None) {
      this.#useA = true;
      this.#lastT = this.a.atT();
      this.#penA = 0;
      return this.#aType;
    }
    const ta = this.a.atT();
    const tb = this.b.atT();
    this.#useA = ta <= tb;
    const chosen = this.#useA ? ta : tb;
    const penalty = known ? 2 * (chosen - this.#lastT) : initialPenalty(chosen, this.#useA ? tb : ta);
    this.#pick(chosen, penalty);
    return this.#useA ? this.#aType : this.#bType;
  }

  /**
   * Whether the current replica's sample comes before the other's seek target, so the other (which
   * will stand at or after the target) cannot be picked, or the other has ended; if so, picks it.
   */
  #keeps(cur: AdjustableIterator, curType: ValueType, otherType: ValueType, otherTarget: number): boolean {
    if (curType === ValueType.None) return false;
    const t = cur.atT();
    if (otherType !== ValueType.None && t >= otherTarget) return false;
    this.#pick(t, 2 * (t - this.#lastT));
    return true;
  }

  /** Emits the sample at `t` of the replica `#useA` names; the other replica gets the penalty. */
  #pick(t: number, penalty: number): void {
    if (this.#useA) {
      this.#penB = penalty;
      this.#penA = 0;
    } else {
      this.#penA = penalty;
      this.#penB = 0;
    }
    this.#lastT = t;
  }

  /** Moves both replicas to their pending seek targets. */
  #settle(): void {
    if (this.#aTarget !== Number.NEGATIVE_INFINITY) {
      if (this.#aType !== ValueType.None) this.#aType = this.a.seek(this.#aTarget);
      this.#aTarget = Number.NEGATIVE_INFINITY;
    }
    if (this.#bTarget !== Number.NEGATIVE_INFINITY) {
      if (this.#bType !== ValueType.None) this.#bType = this.b.seek(this.#bTarget);
      this.#bTarget = Number.NEGATIVE_INFINITY;
    }
  }

  #current(): AdjustableIterator {
    return this.#useA ? this.a : this.b;
  }

  /** Steps with `next` rather than seeking the replicas, so gaps in one replica are not skipped. */
  seek(t: number): ValueType {
    if (this.#lastT === Number.NEGATIVE_INFINITY && this.next() === ValueType.None) return ValueType.None;
    for (;;) {
      const type = this.#useA ? this.#aType : this.#bType;
      if (type === ValueType.None) return ValueType.None;
      if (this.#lastT >= t) return type;
      if (this.next() === ValueType.None) return ValueType.None;
    }
  }

  /** The emitting replica stands at the last emitted sample. */
  atT(): number {
    return this.#lastT;
  }

  atFloat(): number {
    this.#value = this.#current().atFloat();
    this.#valueKnown = true;
    return this.#value;
  }

  atHistogram(): Histogram {
    return (this.#current() as Required<AdjustableIterator>).atHistogram();
  }

  atFloatHistogram(): FloatHistogram {
    return (this.#current() as Required<AdjustableIterator>).atFloatHistogram();
  }

  err(): Error | null {
    return this.a.err() ?? this.b.err();
  }

  adjustAtValue(lastEmitted: number): void {
    if (!this.adjusts) return;
    this.#valueKnown = false;
    this.#settle();
    if (this.#aType === ValueType.Float) this.a.adjustAtValue(lastEmitted);
    if (this.#bType === ValueType.Float) this.b.adjustAtValue(lastEmitted);
  }
}

/** The penalty of the replica not picked first, at `chosen`: one that skips its first sample, at `other` (PenaltyDedupIterator). */
export function initialPenalty(chosen: number, other: number): number {
  return other - chosen;
}

/** Folds replicas pairwise into one penalty-deduplicated iterator. */
export function penaltyMerge(replicas: readonly AdjustableIterator[]): SampleIterator {
  const [first, ...rest] = replicas;
  if (first === undefined) throw new Error('penaltyMerge needs at least one replica');
  let it: AdjustableIterator = first;
  for (const r of rest) it = new PenaltyDedupIterator(it, r);
  return it;
}
