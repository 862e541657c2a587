import { SampleBuffer, ValueType, type SampleIterator } from '@strata/tsdb';
import type { AdjustableIterator } from './adjustable.js';

/**
 * One replica of a series for the penalty merge, decoded up front into arrays. The merge seeks both
 * replicas at every sample it emits, so each replica is stepped through sample by sample anyway;
 * stepping through two flat arrays costs a fraction of stepping through chunk iterators behind
 * wrappers.
 *
 * With `counter` (the selector sits under rate, increase, irate or resets): when the merge switches to
 * this replica and its value is below the last emitted one, every later value is raised by the
 * difference, so the switch does not look like a counter reset (Thanos issue #2401). Resets inside one
 * replica still show.
 */
export class BufferedReplica implements AdjustableIterator {
  readonly #ts: Float64Array;
  readonly #vs: Float64Array;
  readonly #n: number;
  readonly #err: Error | null;
  readonly #counter: boolean;
  #i = -1;
  #offset = 0;

  private constructor(buf: SampleBuffer, err: Error | null, counter: boolean) {
    this.#ts = buf.ts;
    this.#vs = buf.vs;
    this.#n = buf.n;
    this.#err = err;
    this.#counter = counter;
  }

  /** Reads `it` to its end; a sample that is not a float ends it with an error, as the engine would. */
  static read(it: SampleIterator, counter: boolean): BufferedReplica {
    const buf = new SampleBuffer(256);
    let type = it.next();
    for (; type === ValueType.Float; type = it.next()) buf.push(it.atT(), it.atFloat());
    const err = type === ValueType.None ? it.err() : new Error('native histogram samples are not supported');
    return new BufferedReplica(buf, err, counter);
  }

  next(): ValueType {
    if (this.#i < this.#n) this.#i++;
    return this.#i < this.#n ? ValueType.Float : ValueType.None;
  }

  seek(t: number): ValueType {
    if (this.#i < 0) this.#i = 0;
    const ts = this.#ts;
    while (this.#i < this.#n && (ts[this.#i] as number) < t) this.#i++;
    return this.#i < this.#n ? ValueType.Float : ValueType.None;
  }

  atT(): number {
    return this.#ts[this.#i] as number;
  }

  atFloat(): number {
    return (this.#vs[this.#i] as number) + this.#offset;
  }

  err(): Error | null {
    return this.#err;
  }

  adjustAtValue(lastEmitted: number): void {
    if (!this.#counter) return;
    const v = this.atFloat();
    if (lastEmitted > v) this.#offset += lastEmitted - v;
  }
}
