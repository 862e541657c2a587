import { ValueType, type SampleIterator } from './chunkenc/chunk.js';
import type { FloatHistogram } from './histogram/float.js';
import type { Histogram } from './histogram/types.js';

/**
 * Prometheus' chained merge (storage.ChainedSeriesMerge): the union of all replicas' samples in time
 * order, samples with the same timestamp collapsed into one (the first replica's). Right for replicas
 * that hold identical samples, such as Receive replication; also how a dump reads overlapping blocks.
 */
export class ChainMergeIterator implements SampleIterator {
  readonly #its: SampleIterator[];
  /** Current sample type of each iterator, None once exhausted. */
  readonly #types: ValueType[];
  #cur = -1;
  #started = false;

  constructor(its: readonly SampleIterator[]) {
    this.#its = [...its];
    this.#types = this.#its.map(() => ValueType.None);
  }

  #start(): void {
    this.#started = true;
    for (let i = 0; i < this.#its.length; i++) this.#types[i] = (this.#its[i] as SampleIterator).next();
  }

  #pick(): ValueType {
    // Replicas are few (2–3), so a linear scan beats a heap.
    let best = -1;
    let bestT = Infinity;
    for (let i = 0; i < this.#its.length; i++) {
      if (this.#types[i] === ValueType.None) continue;
      const t = (this.#its[i] as SampleIterator).atT();
      if (t < bestT) {
        bestT = t;
        best = i;
      }
    }
    this.#cur = best;
    return best < 0 ? ValueType.None : (this.#types[best] as ValueType);
  }

  next(): ValueType {
    if (!this.#started) {
      this.#start();
      return this.#pick();
    }
    if (this.#cur < 0) return ValueType.None;
    const lastT = (this.#its[this.#cur] as SampleIterator).atT();
    for (let i = 0; i < this.#its.length; i++) {
      const it = this.#its[i] as SampleIterator;
      while (this.#types[i] !== ValueType.None && it.atT() <= lastT) this.#types[i] = it.next();
    }
    return this.#pick();
  }

  seek(t: number): ValueType {
    if (!this.#started) this.#start();
    else if (this.#cur >= 0 && (this.#its[this.#cur] as SampleIterator).atT() >= t) return this.#types[this.#cur] as ValueType;
    for (let i = 0; i < this.#its.length; i++) {
      if (this.#types[i] !== ValueType.None) this.#types[i] = (this.#its[i] as SampleIterator).seek(t);
    }
    return this.#pick();
  }

  atT(): number {
    return (this.#its[this.#cur] as SampleIterator).atT();
  }

  atFloat(): number {
    return (this.#its[this.#cur] as SampleIterator).atFloat();
  }

  atHistogram(): Histogram {
    return (this.#its[this.#cur] as Required<SampleIterator>).atHistogram();
  }

  atFloatHistogram(): FloatHistogram {
    return (this.#its[this.#cur] as Required<SampleIterator>).atFloatHistogram();
  }

  err(): Error | null {
    for (const it of this.#its) {
      const e = it.err();
      if (e) return e;
    }
    return null;
  }
}
