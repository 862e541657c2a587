import { scrapedHistogram, type HistogramCell } from '@strata/runtime';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * What one Series or label call is observed in, its tenant's (Thanos' `tenant` label: the
 * `thanos-tenant` metadata of the call, `default-tenant` without). Observed on every call (see
 * scrapedHistogram).
 */
export interface CallMetrics {
  blocksQueried: HistogramCell;
  seriesFetched: HistogramCell;
  chunksFetched: HistogramCell;
  chunkBytesFetched: HistogramCell;
  objectRequests: HistogramCell;
  objectBytes: HistogramCell;
  getAllDuration: HistogramCell;
  /** Calls a limit refused, by the limit. */
  dropped(reason: string): void;
}

/** Thanos' tenant of a call that names none (tenancy.DefaultTenant). */
export const DEFAULT_TENANT = 'default-tenant';

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
  /** The per-call metrics of a tenant's calls (`undefined`: the default tenant's), made on its first call. */
  forTenant(tenant: string | undefined): CallMetrics;
}

const COUNT_BUCKETS = [0, 1, 10, 100, 1_000, 10_000, 100_000, 1_000_000];
const BYTE_BUCKETS = [0, 1024, 16_384, 262_144, 1_048_576, 16_777_216, 268_435_456];

export function storeMetrics(registry: Registry): StoreMetrics {
  const registers = [registry];
  const histogram = (name: string, help: string, buckets: readonly number[], labelNames: readonly string[] = []) => scrapedHistogram(registry, name, help, [...labelNames, 'tenant'], buckets);
  const blocksQueried = histogram('strata_bucket_store_series_blocks_queried', 'Blocks read per Series call.', COUNT_BUCKETS);
  const dataFetched = histogram('strata_bucket_store_series_data_fetched', 'Series and chunks returned per Series call.', COUNT_BUCKETS, ['data_type']);
  const dataSizeFetched = histogram('strata_bucket_store_series_data_size_fetched_bytes', 'Chunk bytes returned per Series call.', BYTE_BUCKETS, ['data_type']);
  const objectRequests = histogram('strata_bucket_store_query_object_requests', 'Object-store requests made per Series or label call.', COUNT_BUCKETS);
  const objectBytes = histogram('strata_bucket_store_query_object_bytes_fetched', 'Object-store bytes fetched per Series call.', BYTE_BUCKETS);
  const getAllDuration = histogram('strata_bucket_store_series_get_all_duration_seconds', 'Time to read all series of a Series call.', [0.001, 0.01, 0.1, 1, 10, 60]);
  const queriesDropped = dropped(registers);
  const tenants = new Map<string, CallMetrics>();
  const forTenant = (name: string | undefined): CallMetrics => {
    const tenant = name ?? DEFAULT_TENANT;
    let m = tenants.get(tenant);
    if (m === undefined) {
      m = {
        blocksQueried: blocksQueried({ tenant }),
        seriesFetched: dataFetched({ data_type: 'series', tenant }),
        chunksFetched: dataFetched({ data_type: 'chunks', tenant }),
        chunkBytesFetched: dataSizeFetched({ data_type: 'chunks', tenant }),
        objectRequests: objectRequests({ tenant }),
        objectBytes: objectBytes({ tenant }),
        getAllDuration: getAllDuration({ tenant }),
        dropped: (reason) => queriesDropped.inc({ reason, tenant }),
      };
      tenants.set(tenant, m);
    }
    return m;
  };
  // The default tenant's series exist from the start, as they did before calls named tenants.
  forTenant(undefined);
  return {
    blocksLoaded: new Gauge({ name: 'strata_bucket_store_blocks_loaded', help: 'Blocks currently loaded.', registers }),
    blockLoads: new Counter({ name: 'strata_bucket_store_block_loads_total', help: 'Blocks loaded (index-header read or built).', registers }),
    blockLoadFailures: new Counter({ name: 'strata_bucket_store_block_load_failures_total', help: 'Blocks that failed to load.', registers }),
    blockDrops: new Counter({ name: 'strata_bucket_store_block_drops_total', help: 'Blocks dropped because they left the bucket or the filters.', registers }),
    syncs: new Counter({ name: 'strata_bucket_store_syncs_total', help: 'Bucket syncs.', registers }),
    syncFailures: new Counter({ name: 'strata_bucket_store_sync_failures_total', help: 'Bucket syncs that failed.', registers }),
    syncDuration: new Histogram({ name: 'strata_bucket_store_sync_duration_seconds', help: 'Duration of bucket syncs.', registers, buckets: [0.01, 0.1, 1, 10, 60, 300] }),
    indexHeadersBuilt: new Counter({ name: 'strata_bucket_store_indexheader_builds_total', help: 'Index-headers built from the bucket (not found on local disk).', registers }),
    forTenant,
  };
}

/** Calls refused by a limit, by the limit and tenant; every reason exposed from the start at 0 (the default tenant's), so that rates and alerts over it work before the first refusal. */
function dropped(registers: Registry[]): Counter<'reason' | 'tenant'> {
  const c = new Counter({ name: 'strata_bucket_store_queries_dropped_total', help: 'Series and label calls refused by a limit.', labelNames: ['reason', 'tenant'], registers });
  for (const reason of ['samples', 'series', 'bytes', 'chunk-bytes']) c.inc({ reason, tenant: DEFAULT_TENANT }, 0);
  return c;
}
