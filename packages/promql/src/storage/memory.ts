/** An in-memory Queryable: series appended in time order, selected by matchers. For tests and the conformance runner. */
import {
  ArraySampleIterator, type FloatHistogram, Labels, METRIC_NAME, type Matcher, matchLabels, type SampleIterator, type Series,
} from '@strata/tsdb';
import { SampleBuffer } from '../engine/buffer.js';
import type { Querier, Queryable, SelectHints, SeriesSet } from '../storage.js';

class MemSeries implements Series {
  readonly labels: Labels;
  readonly #samples = new SampleBuffer(8);

  constructor(labels: Labels) {
    this.labels = labels;
  }

  /** Appends a float (`h` undefined) or a histogram sample. */
  append(t: number, v: number, h: FloatHistogram | undefined): void {
    const s = this.#samples;
    const last = s.n > 0 ? (s.ts[s.n - 1] as number) : -Infinity;
    if (t < last) throw new Error(`out of order sample for ${this.labels.toString()}: ${t} after ${last}`);
    // A sample at the last timestamp replaces it, as Prometheus' test storage does for repeated load lines.
    if (t === last) s.n--;
    if (h === undefined) s.push(t, v);
    else s.pushHistogram(t, h);
  }

  iterator(): SampleIterator {
    const s = this.#samples;
    return new ArraySampleIterator(s.ts.subarray(0, s.n), s.vs.subarray(0, s.n), s.hs);
  }

  overlaps(mint: number, maxt: number): boolean {
    const s = this.#samples;
    return s.n > 0 && (s.ts[0] as number) <= maxt && (s.ts[s.n - 1] as number) >= mint;
  }
}

export class MemoryStorage implements Queryable {
  readonly #series = new Map<string, MemSeries>();
  #sorted: MemSeries[] | null = null;
  /** Series by metric name, in label order: the postings a selector with a metric name starts from. */
  #byName: Map<string, MemSeries[]> | null = null;

  /** Appends a float sample; samples of one series must come in time order (an equal time overwrites). */
  append(labels: Labels, t: number, v: number): void {
    this.#seriesOf(labels).append(t, v, undefined);
  }

  /** Appends a native histogram sample, as `append` does a float. */
  appendHistogram(labels: Labels, t: number, h: FloatHistogram): void {
    this.#seriesOf(labels).append(t, 0, h);
  }

  #seriesOf(labels: Labels): MemSeries {
    const key = labels.key();
    let s = this.#series.get(key);
    if (s === undefined) {
      s = new MemSeries(labels);
      this.#series.set(key, s);
      this.#sorted = null;
      this.#byName = null;
    }
    return s;
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
