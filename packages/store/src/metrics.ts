import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The store gateway's own metrics, Thanos' names with the strata_ prefix. */
export interface StoreMetrics {
  blocksLoaded: Gauge;
  blockLoads: Counter;
  blockLoadFailures: Counter;
  blockDrops: Counter;
  syncs: Counter;
  syncFailures: Counter;
  syncDuration: Histogram;
  indexHeadersBuilt: Counter;
  blocksQueried: Histogram;
  dataFetched: Histogram<'data_type'>;
  dataSizeFetched: Histogram<'data_type'>;
  objectRequests: Histogram;
  objectBytes: Histogram;
  getAllDuration: Histogram;
  queriesDropped: Counter<'reason'>;
}

const COUNT_BUCKETS = [0, 1, 10, 100, 1_000, 10_000, 100_000, 1_000_000];
const BYTE_BUCKETS = [0, 1024, 16_384, 262_144, 1_048_576, 16_777_216, 268_435_456];

export function storeMetrics(registry: Registry): StoreMetrics {
  const registers = [registry];
  return {
    blocksLoaded: new Gauge({ name: 'strata_bucket_store_blocks_loaded', help: 'Blocks currently loaded.', registers }),
    blockLoads: new Counter({ name: 'strata_bucket_store_block_loads_total', help: 'Blocks loaded (index-header read or built).', registers }),
    blockLoadFailures: new Counter({ name: 'strata_bucket_store_block_load_failures_total', help: 'Blocks that failed to load.', registers }),
    blockDrops: new Counter({ name: 'strata_bucket_store_block_drops_total', help: 'Blocks dropped because they left the bucket or the filters.', registers }),
    syncs: new Counter({ name: 'strata_bucket_store_syncs_total', help: 'Bucket syncs.', registers }),
    syncFailures: new Counter({ name: 'strata_bucket_store_sync_failures_total', help: 'Bucket syncs that failed.', registers }),
    syncDuration: new Histogram({ name: 'strata_bucket_store_sync_duration_seconds', help: 'Duration of bucket syncs.', registers, buckets: [0.01, 0.1, 1, 10, 60, 300] }),
    indexHeadersBuilt: new Counter({ name: 'strata_bucket_store_indexheader_builds_total', help: 'Index-headers built from the bucket (not found on local disk).', registers }),
    blocksQueried: new Histogram({ name: 'strata_bucket_store_series_blocks_queried', help: 'Blocks read per Series call.', registers, buckets: COUNT_BUCKETS }),
    dataFetched: new Histogram({
      name: 'strata_bucket_store_series_data_fetched',
      help: 'Series and chunks returned per Series call.',
      labelNames: ['data_type'],
      registers,
      buckets: COUNT_BUCKETS,
    }),
    dataSizeFetched: new Histogram({
      name: 'strata_bucket_store_series_data_size_fetched_bytes',
      help: 'Chunk bytes returned per Series call.',
      labelNames: ['data_type'],
      registers,
      buckets: BYTE_BUCKETS,
    }),
    objectRequests: new Histogram({ name: 'strata_bucket_store_query_object_requests', help: 'Object-store requests made per Series or label call.', registers, buckets: COUNT_BUCKETS }),
    objectBytes: new Histogram({ name: 'strata_bucket_store_query_object_bytes_fetched', help: 'Object-store bytes fetched per Series call.', registers, buckets: BYTE_BUCKETS }),
    getAllDuration: new Histogram({ name: 'strata_bucket_store_series_get_all_duration_seconds', help: 'Time to read all series of a Series call.', registers, buckets: [0.001, 0.01, 0.1, 1, 10, 60] }),
    queriesDropped: new Counter({ name: 'strata_bucket_store_queries_dropped_total', help: 'Series calls refused by a limit.', labelNames: ['reason'], registers }),
  };
}

/** A counter's value for one label set, added to in place. */
export interface CountCell {
  value: number;
}

/**
 * A counter whose increments on hot paths (a cache lookup, a range read) are plain additions to cells,
 * handed to prom-client when /metrics is scraped: prom-client hashes the label set on every inc(),
 * which costs more than the lookup counted. Returns a function making the cell of one label set
 * (exposed from the start, at 0).
 */
export function scrapedCounter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): (labels: Record<L, string>) => CountCell {
  const cells: { labels: Record<L, string>; cell: CountCell }[] = [];
  new Counter<L>({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const { labels, cell } of cells) this.inc(labels, cell.value);
    },
  });
  return (labels) => {
    const cell = { value: 0 };
    cells.push({ labels, cell });
    return cell;
  };
}
