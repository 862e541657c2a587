import { scrapedHistogram, type HistogramCell } from '@strata/runtime';
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
  /** Observed on every Series call (see scrapedHistogram). */
  blocksQueried: HistogramCell;
  seriesFetched: HistogramCell;
  chunksFetched: HistogramCell;
  chunkBytesFetched: HistogramCell;
  objectRequests: HistogramCell;
  objectBytes: HistogramCell;
  getAllDuration: HistogramCell;
  queriesDropped: Counter<'reason'>;
}

const COUNT_BUCKETS = [0, 1, 10, 100, 1_000, 10_000, 100_000, 1_000_000];
const BYTE_BUCKETS = [0, 1024, 16_384, 262_144, 1_048_576, 16_777_216, 268_435_456];

export function storeMetrics(registry: Registry): StoreMetrics {
  const registers = [registry];
  const histogram = (name: string, help: string, buckets: readonly number[], labelNames: readonly string[] = []) => {
    const cell = scrapedHistogram(registry, name, help, labelNames, buckets);
    return (labels: Record<string, string> = {}) => cell(labels);
  };
  const dataFetched = histogram('strata_bucket_store_series_data_fetched', 'Series and chunks returned per Series call.', COUNT_BUCKETS, ['data_type']);
  return {
    blocksLoaded: new Gauge({ name: 'strata_bucket_store_blocks_loaded', help: 'Blocks currently loaded.', registers }),
    blockLoads: new Counter({ name: 'strata_bucket_store_block_loads_total', help: 'Blocks loaded (index-header read or built).', registers }),
    blockLoadFailures: new Counter({ name: 'strata_bucket_store_block_load_failures_total', help: 'Blocks that failed to load.', registers }),
    blockDrops: new Counter({ name: 'strata_bucket_store_block_drops_total', help: 'Blocks dropped because they left the bucket or the filters.', registers }),
    syncs: new Counter({ name: 'strata_bucket_store_syncs_total', help: 'Bucket syncs.', registers }),
    syncFailures: new Counter({ name: 'strata_bucket_store_sync_failures_total', help: 'Bucket syncs that failed.', registers }),
    syncDuration: new Histogram({ name: 'strata_bucket_store_sync_duration_seconds', help: 'Duration of bucket syncs.', registers, buckets: [0.01, 0.1, 1, 10, 60, 300] }),
    indexHeadersBuilt: new Counter({ name: 'strata_bucket_store_indexheader_builds_total', help: 'Index-headers built from the bucket (not found on local disk).', registers }),
    blocksQueried: histogram('strata_bucket_store_series_blocks_queried', 'Blocks read per Series call.', COUNT_BUCKETS)(),
    seriesFetched: dataFetched({ data_type: 'series' }),
    chunksFetched: dataFetched({ data_type: 'chunks' }),
    chunkBytesFetched: histogram('strata_bucket_store_series_data_size_fetched_bytes', 'Chunk bytes returned per Series call.', BYTE_BUCKETS, ['data_type'])({ data_type: 'chunks' }),
    objectRequests: histogram('strata_bucket_store_query_object_requests', 'Object-store requests made per Series or label call.', COUNT_BUCKETS)(),
    objectBytes: histogram('strata_bucket_store_query_object_bytes_fetched', 'Object-store bytes fetched per Series call.', BYTE_BUCKETS)(),
    getAllDuration: histogram('strata_bucket_store_series_get_all_duration_seconds', 'Time to read all series of a Series call.', [0.001, 0.01, 0.1, 1, 10, 60])(),
    queriesDropped: dropped(registers),
  };
}

/** Calls refused by a limit, by the limit; every reason exposed from the start at 0, so that rates and alerts over it work before the first refusal. */
function dropped(registers: Registry[]): Counter<'reason'> {
  const c = new Counter({ name: 'strata_bucket_store_queries_dropped_total', help: 'Series and label calls refused by a limit.', labelNames: ['reason'], registers });
  for (const reason of ['samples', 'series', 'bytes', 'chunk-bytes']) c.inc({ reason }, 0);
  return c;
}
