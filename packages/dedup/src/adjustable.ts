import { ChainedChunksIterator, ValueType, type ChunkMeta, type FloatHistogram, type Histogram, type SampleIterator } from '@strata/tsdb';

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
  atHistogram(): Histogram {
    return (this.it as Required<SampleIterator>).atHistogram();
  }
  atFloatHistogram(): FloatHistogram {
    return (this.it as Required<SampleIterator>).atFloatHistogram();
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
    return raised(super.atFloat(), this.#offset);
  }

  override adjustAtValue(lastEmitted: number): void {
    const v = this.atFloat();
    if (lastEmitted > v) this.#offset += lastEmitted - v;
  }
}

/**
 * A counter replica's value raised by its offset. A NaN is left as it is: adding to it would turn a
 * stale marker (a signalling NaN) into a plain NaN that the engine no longer drops; so is a value
 * without offset (-0 stays -0).
 */
export function raised(v: number, offset: number): number {
  return offset === 0 || v !== v ? v : v + offset;
}

/** The functions under which Thanos treats a deduplicated series as a counter. */
export function isCounterFunc(func: string | undefined): boolean {
  return func === 'rate' || func === 'increase' || func === 'irate' || func === 'resets';
}

/**
 * A replica that is a list of time-ordered, non-overlapping chunks (what the querier gets from stores
 * for raw data), as one lean iterator: tsdb's ChainedChunksIterator with the counter adjustment built
 * in, instead of PlainIterator or CounterAdjustingIterator over tsdb's general ChunksSampleIterator,
 * whose range and deletion checks and extra layer cost more per sample than the merge itself.
 */
export class ChunksReplicaIterator extends ChainedChunksIterator implements AdjustableIterator {
  #offset = 0;

  constructor(
    chunks: readonly ChunkMeta[],
    /** Raise the values after a switch to this replica, as CounterAdjustingIterator does. */
    readonly adjusts: boolean,
  ) {
    super(chunks);
  }

  override atFloat(): number {
    return raised(super.atFloat(), this.#offset);
  }

  adjustAtValue(lastEmitted: number): void {
    if (!this.adjusts) return;
    const v = this.atFloat();
    if (lastEmitted > v) this.#offset += lastEmitted - v;
  }
}
