import { Counter, Gauge, type Registry } from 'prom-client';
import type { ExemplarStorage } from './exemplars.js';
import type { Head } from './head.js';

/**
 * Prometheus' TSDB metrics (tsdb/head.go, db.go, compact.go, wlog) under their names, for any number of
 * TSDBs on one registry: each TSDB's are told apart by `labelNames` (none for the ruler's single TSDB;
 * `tenant` for the receiver's, as Thanos' MultiTSDB wraps each tenant's registerer with it).
 */
export class TSDBMetrics {
  readonly #labelNames: readonly string[];
  readonly #heads = new Map<Head, Record<string, string>>();
  readonly #samplesAppended: Counter;
  readonly #outOfOrderSamples: Counter;
  readonly #outOfBoundSamples: Counter;
  readonly #tooOldSamples: Counter;
  readonly #outOfOrderAppended: Counter;
  readonly #blocksLoaded: Gauge;
  readonly #compactions: Counter;
  readonly #compactionsFailed: Counter;
  readonly #walCorruptions: Counter;
  readonly #exemplarsAppended: Counter;
  readonly #outOfOrderExemplars: Counter;
  /** Each TSDB's exemplar storage, if it keeps exemplars. */
  readonly #exemplars = new Map<Head, { labels: Record<string, string>; storage: ExemplarStorage }>();

  constructor(registry: Registry, labelNames: readonly string[] = []) {
    this.#labelNames = labelNames;
    const registers = [registry];
    const own = { labelNames: [...labelNames], registers };
    const byType = { labelNames: [...labelNames, 'type'], registers };
    const heads = this.#heads;
    const headGauge = (name: string, help: string, value: (h: Head) => number) => perTsdbGauge(name, help, own, () => heads.entries(), value);
    headGauge('prometheus_tsdb_head_series', 'Total number of series in the head block.', (h) => h.numSeries);
    // Prometheus reports an empty head's times as they are stored: MaxInt64 and MinInt64.
    headGauge('prometheus_tsdb_head_min_time', 'Minimum time bound of the head block. The unit is decided by the library consumer.', (h) => (Number.isFinite(h.minTime) ? h.minTime : Number.MAX_SAFE_INTEGER));
    headGauge('prometheus_tsdb_head_max_time', 'Maximum timestamp of the head block. The unit is decided by the library consumer.', (h) => (Number.isFinite(h.maxTime) ? h.maxTime : Number.MIN_SAFE_INTEGER));
    this.#samplesAppended = new Counter({ name: 'prometheus_tsdb_head_samples_appended_total', help: 'Total number of appended samples.', ...byType });
    this.#outOfOrderSamples = new Counter({ name: 'prometheus_tsdb_out_of_order_samples_total', help: 'Total number of out of order samples ingestion failed attempts due to out of order being disabled.', ...byType });
    this.#outOfBoundSamples = new Counter({ name: 'prometheus_tsdb_out_of_bound_samples_total', help: 'Total number of out of bound samples ingestion failed attempts with out of order support disabled.', ...byType });
    this.#tooOldSamples = new Counter({ name: 'prometheus_tsdb_too_old_samples_total', help: 'Total number of out of order samples ingestion failed attempts due to out of order support enabled, but sample outside of time window.', ...byType });
    this.#outOfOrderAppended = new Counter({ name: 'prometheus_tsdb_head_out_of_order_samples_appended_total', help: 'Total number of appended out of order samples.', ...byType });
    this.#blocksLoaded = new Gauge({ name: 'prometheus_tsdb_blocks_loaded', help: 'Number of currently loaded data blocks', ...own });
    this.#compactions = new Counter({ name: 'prometheus_tsdb_compactions_total', help: 'Total number of compactions that were executed for the partition.', ...own });
    this.#compactionsFailed = new Counter({ name: 'prometheus_tsdb_compactions_failed_total', help: 'Total number of compactions that failed for the partition.', ...own });
    this.#walCorruptions = new Counter({ name: 'prometheus_tsdb_wal_corruptions_total', help: 'Total number of WAL corruptions.', ...own });
    this.#exemplarsAppended = new Counter({ name: 'prometheus_tsdb_exemplar_exemplars_appended_total', help: 'Total number of appended exemplars.', ...own });
    this.#outOfOrderExemplars = new Counter({ name: 'prometheus_tsdb_exemplar_out_of_order_exemplars_total', help: 'Total number of out of order exemplar ingestion failed attempts.', ...own });
    const exemplars = this.#exemplars;
    const exemplarGauge = (name: string, help: string, value: (s: ExemplarStorage) => number) =>
      perTsdbGauge(name, help, own, function* () {
        for (const { labels, storage } of exemplars.values()) yield [storage, labels] as const;
      }, value);
    exemplarGauge('prometheus_tsdb_exemplar_exemplars_in_storage', 'Number of exemplars currently in circular storage.', (s) => s.size);
    exemplarGauge('prometheus_tsdb_exemplar_max_exemplars', 'Total number of exemplars the exemplar storage can store, resizeable.', (s) => s.max);
  }

  /** The metrics of the TSDB of `head`, labelled `labels` (a value for each of the label names). */
  of(head: Head, labels: Readonly<Record<string, string>> = {}, exemplars?: ExemplarStorage): DBMetrics {
    const missing = this.#labelNames.find((n) => labels[n] === undefined);
    if (missing !== undefined) throw new Error(`TSDB metrics need a value of label ${missing}`);
    const own = { ...labels };
    const float = { ...labels, type: 'float' };
    this.#heads.set(head, own);
    if (exemplars !== undefined) this.#exemplars.set(head, { labels: own, storage: exemplars });
    return {
      samplesAppended: this.#samplesAppended.labels(float),
      histogramsAppended: this.#samplesAppended.labels({ ...labels, type: 'histogram' }),
      exemplarsAppended: this.#exemplarsAppended.labels(own),
      outOfOrderExemplars: this.#outOfOrderExemplars.labels(own),
      outOfOrderSamples: this.#outOfOrderSamples.labels(float),
      outOfBoundSamples: this.#outOfBoundSamples.labels(float),
      tooOldSamples: this.#tooOldSamples.labels(float),
      outOfOrderAppended: this.#outOfOrderAppended.labels(float),
      outOfOrderHistogramsAppended: this.#outOfOrderAppended.labels({ ...labels, type: 'histogram' }),
      blocksLoaded: this.#blocksLoaded.labels(own),
      compactions: this.#compactions.labels(own),
      compactionsFailed: this.#compactionsFailed.labels(own),
      walCorruptions: this.#walCorruptions.labels(own),
      close: () => {
        this.#heads.delete(head);
        this.#exemplars.delete(head);
      },
    };
  }
}

/** A gauge of every TSDB's `T`, read when scraped. */
function perTsdbGauge<T>(name: string, help: string, own: { labelNames: string[]; registers: Registry[] }, each: () => Iterable<readonly [T, Record<string, string>]>, value: (t: T) => number): Gauge {
  return new Gauge({
    name,
    help,
    ...own,
    collect() {
      this.reset();
      for (const [t, labels] of each()) this.set(labels, value(t));
    },
  });
}

/** One TSDB's metrics (refused samples counted as floats, whatever their kind). */
export interface DBMetrics {
  readonly samplesAppended: Counter.Internal;
  readonly histogramsAppended: Counter.Internal;
  readonly exemplarsAppended: Counter.Internal;
  readonly outOfOrderExemplars: Counter.Internal;
  readonly outOfOrderSamples: Counter.Internal;
  readonly outOfBoundSamples: Counter.Internal;
  readonly tooOldSamples: Counter.Internal;
  readonly outOfOrderAppended: Counter.Internal;
  readonly outOfOrderHistogramsAppended: Counter.Internal;
  readonly blocksLoaded: Gauge.Internal<string>;
  readonly compactions: Counter.Internal;
  readonly compactionsFailed: Counter.Internal;
  readonly walCorruptions: Counter.Internal;
  /** Its head is no longer reported. */
  close(): void;
}
