import { ValueType, type SampleIterator } from '@strata/tsdb';

/**
 * A replica's iterator as the penalty merge sees it: it can be told the last value emitted before a
 * switch to it, so that a counter replica that lags behind never makes the merged series go down.
 */
export interface AdjustableIterator extends SampleIterator {
  adjustAtValue(lastEmitted: number): void;
}

/** Passes samples through; switching replicas changes nothing. */
export class PlainIterator implements AdjustableIterator {
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
