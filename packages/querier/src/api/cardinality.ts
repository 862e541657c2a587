import { compareStrings, METRIC_NAME, type Labels } from '@strata/tsdb';

/** One line of a cardinality list, as Prometheus' TSDB status writes it. */
export interface CardinalityStat {
  name: string;
  value: number;
}

/** Prometheus' TSDB status (`/api/v1/status/tsdb`) lists, the top `limit` of each. */
export interface CardinalityLists {
  seriesCountByMetricName: CardinalityStat[];
  labelValueCountByLabelName: CardinalityStat[];
  memoryInBytesByLabelName: CardinalityStat[];
  seriesCountByLabelValuePair: CardinalityStat[];
}

/**
 * Cardinality statistics over a set of distinct series, as Prometheus' head computes them from its
 * postings (tsdb/index MemPostings.Stats): series per metric name, values per label name, bytes of
 * values per label name (the UTF-8 lengths of its distinct values, as Prometheus 2.42 measures them;
 * later versions estimate their own memory per series, which depends on how they were built), and
 * series per label pair. Prometheus orders ties as its map iteration falls; here they go
 * by name, so that an answer can be compared.
 */
export class CardinalityStats {
  /** Series per label value, per label name. */
  readonly #pairs = new Map<string, Map<string, number>>();
  #series = 0;

  /** Counts one series; each series must be added once. */
  add(labels: Labels): void {
    this.#series++;
    for (const { name, value } of labels) {
      let values = this.#pairs.get(name);
      if (values === undefined) this.#pairs.set(name, (values = new Map()));
      values.set(value, (values.get(value) ?? 0) + 1);
    }
  }

  get numSeries(): number {
    return this.#series;
  }

  /** Distinct label pairs (name and value) over all series. */
  get numLabelPairs(): number {
    let n = 0;
    for (const values of this.#pairs.values()) n += values.size;
    return n;
  }

  lists(limit: number): CardinalityLists {
    const byMetricName: CardinalityStat[] = [];
    const valuesByName: CardinalityStat[] = [];
    const bytesByName: CardinalityStat[] = [];
    const byPair: CardinalityStat[] = [];
    for (const [name, values] of this.#pairs) {
      valuesByName.push({ name, value: values.size });
      let bytes = 0;
      for (const [value, series] of values) {
        if (name === METRIC_NAME) byMetricName.push({ name: value, value: series });
        byPair.push({ name: `${name}=${value}`, value: series });
        bytes += Buffer.byteLength(value);
      }
      bytesByName.push({ name, value: bytes });
    }
    return {
      seriesCountByMetricName: top(byMetricName, limit),
      labelValueCountByLabelName: top(valuesByName, limit),
      memoryInBytesByLabelName: top(bytesByName, limit),
      seriesCountByLabelValuePair: top(byPair, limit),
    };
  }
}

/** The `limit` largest, largest first, ties by name. */
function top(stats: CardinalityStat[], limit: number): CardinalityStat[] {
  return stats.sort((a, b) => b.value - a.value || compareStrings(a.name, b.name)).slice(0, limit);
}
