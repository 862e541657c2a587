import { ValueType, type ChunkMeta, type SampleIterator } from '@strata/tsdb';

/**
 * A replica's iterator as the penalty merge sees it: it can be told the last value emitted before a
 * switch to it, so that a counter replica that lags behind never makes the merged series go down.
 */
export interface AdjustableIterator extends SampleIterator {
  /** False when adjustAtValue never changes anything: the merge then need not keep the last emitted value. */
  readonly adjusts: boolean;
  adjustAtValue(lastEmitted: number): void;
}

/** Passes samples through; switching replicas changes nothing. */
export class PlainIterator implements AdjustableIterator {
  readonly adjusts: boolean = false;
  constructor(protected readonly it: SampleIterator) {}
  next(): ValueType {
    return this.it.next();
  }
  seek(t: number): ValueType {
    return this.it.seek(t);
  }
  atT(): number {
    return this.it.atT();
  }
  atFloat(): number {
    return this.it.atFloat();
  }
  err(): Error | null {
    return this.it.err();
  }
  adjustAtValue(_lastEmitted: number): void {}
}

/**
 * For counters (the selector sits under rate, increase, irate or resets): when the merge switches to
 * this replica and its value is below the last emitted one, every later value is raised by the
 * difference, so the switch does not look like a counter reset (Thanos issue #2401). Resets inside one
 * replica still show.
 */
export class CounterAdjustingIterator extends PlainIterator {
  override readonly adjusts = true;
  #offset = 0;

  override atFloat(): number {
    return super.atFloat() + this.#offset;
  }

  override adjustAtValue(lastEmitted: number): void {
    const v = this.atFloat();
    if (lastEmitted > v) this.#offset += lastEmitted - v;
  }
}

/** The functions under which Thanos treats a deduplicated series as a counter. */
export function isCounterFunc(func: string | undefined): boolean {
  return func === 'rate' || func === 'increase' || func === 'irate' || func === 'resets';
}

/**
 * A replica that is a list of time-ordered, non-overlapping chunks (what the querier gets from stores
 * for raw data), as one lean iterator: the chunks' own iterators chained, chunks that end before a
 * seek target skipped undecoded, and the counter adjustment built in. It replaces PlainIterator or
 * CounterAdjustingIterator over tsdb's general ChunksSampleIterator, whose range and deletion checks
 * and extra layers cost more per sample than the merge itself.
 */
export class ChunksReplicaIterator implements AdjustableIterator {
  readonly #chunks: readonly ChunkMeta[];
  #i = -1;
  #it: SampleIterator | undefined;
  #type: ValueType = ValueType.None;
  #err: Error | null = null;
  #done = false;
  #offset = 0;

  constructor(
    chunks: readonly ChunkMeta[],
    /** Raise the values after a switch to this replica, as CounterAdjustingIterator does. */
    readonly adjusts: boolean,
  ) {
    this.#chunks = chunks;
  }

  next(): ValueType {
    if (this.#done) return ValueType.None;
    for (;;) {
      const it = this.#it;
      if (it !== undefined) {
        const type = it.next();
        if (type !== ValueType.None) return (this.#type = type);
        this.#err = it.err();
        if (this.#err !== null) return this.#stop();
      }
      const c = this.#chunks[++this.#i];
      if (c === undefined) return this.#stop();
      this.#it = c.chunk.iterator(it);
    }
  }

  seek(t: number): ValueType {
    if (this.#done) return ValueType.None;
    if (this.#it !== undefined && this.#it.atT() >= t) return this.#type;
    // Chunks that end before t are never decoded.
    let skipped = false;
    while (this.#i + 1 < this.#chunks.length && (this.#chunks[this.#i + 1] as ChunkMeta).maxTime < t) {
      this.#i++;
      skipped = true;
    }
    if (skipped) this.#it = undefined;
    for (;;) {
      const type = this.next();
      if (type === ValueType.None || (this.#it as SampleIterator).atT() >= t) return type;
    }
  }

  #stop(): ValueType {
    this.#done = true;
    return (this.#type = ValueType.None);
  }

  atT(): number {
    return (this.#it as SampleIterator).atT();
  }

  atFloat(): number {
    return (this.#it as SampleIterator).atFloat() + this.#offset;
  }

  err(): Error | null {
    return this.#err;
  }

  adjustAtValue(lastEmitted: number): void {
    if (!this.adjusts) return;
    const v = this.atFloat();
    if (lastEmitted > v) this.#offset += lastEmitted - v;
  }
}
