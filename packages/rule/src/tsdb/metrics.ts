import { Counter, Gauge, type Registry } from 'prom-client';
import type { Head } from './head.js';

/** Prometheus' TSDB metrics (tsdb/head.go, db.go, compact.go, wlog) for the ruler's TSDB, under their names. */
export class RuleDBMetrics {
  readonly samplesAppended: Counter<'type'>;
  readonly outOfOrderSamples: Counter<'type'>;
  readonly outOfBoundSamples: Counter<'type'>;
  readonly blocksLoaded: Gauge;
  readonly compactions: Counter;
  readonly compactionsFailed: Counter;
  readonly walCorruptions: Counter;

  constructor(registry: Registry, head: Head) {
    const registers = [registry];
    const byType = { labelNames: ['type'] as const, registers };
    new Gauge({
      name: 'prometheus_tsdb_head_series',
      help: 'Total number of series in the head block.',
      registers,
      collect() {
        this.set(head.numSeries);
      },
    });
    // Prometheus reports an empty head's times as they are stored: MaxInt64 and MinInt64.
    new Gauge({
      name: 'prometheus_tsdb_head_min_time',
      help: 'Minimum time bound of the head block. The unit is decided by the library consumer.',
      registers,
      collect() {
        const t = head.minTime;
        this.set(Number.isFinite(t) ? t : Number.MAX_SAFE_INTEGER);
      },
    });
    new Gauge({
      name: 'prometheus_tsdb_head_max_time',
      help: 'Maximum timestamp of the head block. The unit is decided by the library consumer.',
      registers,
      collect() {
        const t = head.maxTime;
        this.set(Number.isFinite(t) ? t : Number.MIN_SAFE_INTEGER);
      },
    });
    this.samplesAppended = new Counter({ name: 'prometheus_tsdb_head_samples_appended_total', help: 'Total number of appended samples.', ...byType });
    this.outOfOrderSamples = new Counter({ name: 'prometheus_tsdb_out_of_order_samples_total', help: 'Total number of out of order samples ingestion failed attempts due to out of order being disabled.', ...byType });
    this.outOfBoundSamples = new Counter({ name: 'prometheus_tsdb_out_of_bound_samples_total', help: 'Total number of out of bound samples ingestion failed attempts with out of order support disabled.', ...byType });
    this.blocksLoaded = new Gauge({ name: 'prometheus_tsdb_blocks_loaded', help: 'Number of currently loaded data blocks', registers });
    this.compactions = new Counter({ name: 'prometheus_tsdb_compactions_total', help: 'Total number of compactions that were executed for the partition.', registers });
    this.compactionsFailed = new Counter({ name: 'prometheus_tsdb_compactions_failed_total', help: 'Total number of compactions that failed for the partition.', registers });
    this.walCorruptions = new Counter({ name: 'prometheus_tsdb_wal_corruptions_total', help: 'Total number of WAL corruptions.', registers });
  }
}
