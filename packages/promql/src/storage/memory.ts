/** An in-memory Queryable: series appended in time order, selected by matchers. For tests and the conformance runner. */
import { Labels, METRIC_NAME, type Matcher, matchLabels, type SampleIterator, type Series, ValueType } from '@strata/tsdb';
import { SampleBuffer } from '../engine/buffer.js';
import type { Querier, Queryable, SelectHints, SeriesSet } from '../storage.js';

class MemSeries implements Series {
  readonly labels: Labels;
  readonly #samples = new SampleBuffer(8);

  constructor(labels: Labels) {
    this.labels = labels;
  }

  append(t: number, v: number): void {
    const s = this.#samples;
    const last = s.n > 0 ? (s.ts[s.n - 1] as number) : -Infinity;
    // A sample at the last timestamp replaces it, as Prometheus' test storage does for repeated load lines.
    if (t === last) {
      s.vs[s.n - 1] = v;
      return;
    }
    if (t < last) throw new Error(`out of order sample for ${this.labels.toString()}: ${t} after ${last}`);
    s.push(t, v);
  }

  iterator(): SampleIterator {
    const s = this.#samples;
    return new ArrayIterator(s.ts, s.vs, s.n);
  }

  overlaps(mint: number, maxt: number): boolean {
    const s = this.#samples;
    return s.n > 0 && (s.ts[0] as number) <= maxt && (s.ts[s.n - 1] as number) >= mint;
  }
}

class ArrayIterator implements SampleIterator {
  #i = -1;
  constructor(
    private readonly ts: Float64Array,
    private readonly vs: Float64Array,
    private readonly n: number,
  ) {}

  next(): ValueType {
    if (this.#i < this.n) this.#i++;
    return this.#i < this.n ? ValueType.Float : ValueType.None;
  }

  seek(t: number): ValueType {
    if (this.#i < 0) this.#i = 0;
    if (this.#i < this.n && (this.ts[this.#i] as number) < t) {
      // Binary search for the first sample at or after t.
      let lo = this.#i + 1;
      let hi = this.n;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((this.ts[mid] as number) < t) lo = mid + 1;
        else hi = mid;
      }
      this.#i = lo;
    }
    return this.#i < this.n ? ValueType.Float : ValueType.None;
  }

  atT(): number {
    return this.ts[this.#i] as number;
  }

  atFloat(): number {
    return this.vs[this.#i] as number;
  }

  err(): Error | null {
    return null;
  }
}

export class MemoryStorage implements Queryable {
  readonly #series = new Map<string, MemSeries>();
  #sorted: MemSeries[] | null = null;
  /** Series by metric name, in label order: the postings a selector with a metric name starts from. */
  #byName: Map<string, MemSeries[]> | null = null;

  /** Appends a float sample; samples of one series must come in time order (an equal time overwrites). */
  append(labels: Labels, t: number, v: number): void {
    const key = labels.key();
    let s = this.#series.get(key);
    if (s === undefined) {
      s = new MemSeries(labels);
      this.#series.set(key, s);
      this.#sorted = null;
      this.#byName = null;
    }
    s.append(t, v);
  }

  clear(): void {
    this.#series.clear();
    this.#sorted = null;
    this.#byName = null;
  }

  querier(mint: number, maxt: number): Querier {
    if (this.#sorted === null) this.#sorted = [...this.#series.values()].sort((a, b) => Labels.compare(a.labels, b.labels));
    const all = this.#sorted;
    if (this.#byName === null) {
      this.#byName = new Map();
      for (const s of all) {
        const name = s.labels.get(METRIC_NAME);
        const list = this.#byName.get(name);
        if (list === undefined) this.#byName.set(name, [s]);
        else list.push(s);
      }
    }
    const byName = this.#byName;
    const inRange = (s: MemSeries): boolean => s.overlaps(mint, maxt);
    return {
      select: (hints: SelectHints, matchers: readonly Matcher[]): Promise<SeriesSet> => {
        const name = matchers.find((m) => m.name === METRIC_NAME && m.type === '=');
        const candidates = name === undefined ? all : (byName.get(name.value) ?? []);
        const series = candidates.filter((s) => inRange(s) && s.overlaps(hints.start, hints.end) && matchLabels(matchers, s.labels));
        return Promise.resolve({ series });
      },
      labelNames: (matchers: readonly Matcher[]) => {
        const names = new Set<string>();
        for (const s of all) if (inRange(s) && matchLabels(matchers, s.labels)) for (const l of s.labels) names.add(l.name);
        return Promise.resolve([...names].sort());
      },
      labelValues: (name: string, matchers: readonly Matcher[]) => {
        const values = new Set<string>();
        for (const s of all) {
          const v = s.labels.get(name);
          if (v !== '' && inRange(s) && matchLabels(matchers, s.labels)) values.add(v);
        }
        return Promise.resolve([...values].sort());
      },
      close: () => undefined,
    };
  }
}
