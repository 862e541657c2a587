import { ValueType, type SampleIterator } from '@strata/tsdb';
import type { AdjustableIterator } from './adjustable.js';

/**
 * Thanos' penalty deduplication of two replicas of one series (pkg/dedup/iter.go). N replicas are
 * folded pairwise: ((r0 ⊕ r1) ⊕ r2) ⊕ ….
 *
 * The merge emits the earliest next sample of either replica, but a replica that was not picked may
 * only contribute samples more than `2 × (t_picked − t_last)` after the last emitted one (5 s before
 * any delta is known). So while the current replica keeps its scrape interval the merge sticks to it,
 * and switches only across a gap of more than about two intervals: the merged series has the sample
 * rate of one replica, not the sum of both.
 *
 * Unlike Thanos, `seek` before the first `next` does not emit the first sample twice.
 */
export const INITIAL_PENALTY_MS = 5000;

export class PenaltyDedupIterator implements AdjustableIterator {
  #aType: ValueType;
  #bType: ValueType;
  #lastT = Number.NEGATIVE_INFINITY;
  #penA = 0;
  #penB = 0;
  #useA = true;
  #started = false;

  constructor(
    private readonly a: AdjustableIterator,
    private readonly b: AdjustableIterator,
  ) {
    this.#aType = a.next();
    this.#bType = b.next();
  }

  next(): ValueType {
    const wasA = this.#useA;
    const lastType = this.#started ? (wasA ? this.#aType : this.#bType) : ValueType.None;
    const lastValue = lastType === ValueType.Float ? this.#current().atFloat() : 0;
    this.#started = true;
    const t = this.#advance();
    if (t !== ValueType.None && this.#useA !== wasA && lastType === ValueType.Float) {
      if (this.#aType === ValueType.Float) this.a.adjustAtValue(lastValue);
      if (this.#bType === ValueType.Float) this.b.adjustAtValue(lastValue);
    }
    return t;
  }

  #advance(): ValueType {
    const known = this.#lastT !== Number.NEGATIVE_INFINITY;
    if (this.#aType !== ValueType.None && known) this.#aType = this.a.seek(this.#lastT + 1 + this.#penA);
    if (this.#bType !== ValueType.None && known) this.#bType = this.b.seek(this.#lastT + 1 + this.#penB);

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
    const penalty = known ? 2 * (chosen - this.#lastT) : INITIAL_PENALTY_MS;
    if (this.#useA) {
      this.#penB = penalty;
      this.#penA = 0;
    } else {
      this.#penA = penalty;
      this.#penB = 0;
    }
    this.#lastT = chosen;
    return this.#useA ? this.#aType : this.#bType;
  }

  #current(): AdjustableIterator {
    return this.#useA ? this.a : this.b;
  }

  /** Steps with `next` rather than seeking the replicas, so gaps in one replica are not skipped. */
  seek(t: number): ValueType {
    if (!this.#started && this.next() === ValueType.None) return ValueType.None;
    for (;;) {
      const type = this.#useA ? this.#aType : this.#bType;
      if (type === ValueType.None) return ValueType.None;
      if (this.#current().atT() >= t) return type;
      if (this.next() === ValueType.None) return ValueType.None;
    }
  }

  atT(): number {
    return this.#current().atT();
  }

  atFloat(): number {
    return this.#current().atFloat();
  }

  err(): Error | null {
    return this.a.err() ?? this.b.err();
  }

  adjustAtValue(lastEmitted: number): void {
    if (this.#aType === ValueType.Float) this.a.adjustAtValue(lastEmitted);
    if (this.#bType === ValueType.Float) this.b.adjustAtValue(lastEmitted);
  }
}

/** Folds replicas pairwise into one penalty-deduplicated iterator. */
export function penaltyMerge(replicas: readonly AdjustableIterator[]): SampleIterator {
  const [first, ...rest] = replicas;
  if (first === undefined) throw new Error('penaltyMerge needs at least one replica');
  let it: AdjustableIterator = first;
  for (const r of rest) it = new PenaltyDedupIterator(it, r);
  return it;
}
