import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The frontend's results caches: range query answers, and label and series answers. */
export type CacheName = 'query_range' | 'labels';

/** What the cache gauges read. */
export interface CacheSize {
  readonly bytes: number;
  readonly items: number;
}

/** The query frontend's own metrics (besides the request metrics every component has). */
export class FrontendMetrics {
  readonly queries: Counter<'op'>;
  readonly splitQueries: Counter;
  readonly downsampledExtraQueries: Counter;
  readonly verticalSharding: Counter<'op' | 'result'>;
  readonly downstreamRequests: Counter<'code'>;
  readonly downstreamRetries: Counter;
  readonly downstreamDuration: Histogram;
  readonly cacheLookups: Counter<'cache' | 'result'>;
  readonly cacheEvictedBytes: Counter<'cache'>;

  /** `cached`: the caches there are; `sizes`: those kept in this process (memcached's and redis' are not counted here). */
  constructor(registry: Registry, cached: readonly CacheName[], sizes: Partial<Record<CacheName, CacheSize>>) {
    this.queries = new Counter({
      name: 'strata_frontend_queries_total',
      help: 'Requests the frontend answered, by how: query_range and labels (label names, values and series; split and cached), query (instant queries sent in vertical shards) or passthrough (sent on whole).',
      labelNames: ['op'],
      registers: [registry],
    });
    for (const op of ['query_range', 'query', 'labels', 'passthrough']) this.queries.inc({ op }, 0);
    this.splitQueries = new Counter({
      name: 'strata_frontend_split_queries_total',
      help: 'Range queries sent downstream for pieces of split range queries (the gaps the cache did not hold).',
      registers: [registry],
    });
    this.downsampledExtraQueries = new Counter({
      name: 'strata_frontend_downsampled_extra_queries_total',
      help: 'Range queries sent again at a coarser max_source_resolution for the start of a piece that max_source_resolution=auto left empty (--query-range.request-downsampled).',
      registers: [registry],
    });
    this.verticalSharding = new Counter({
      name: 'strata_frontend_vertical_sharding_queries_total',
      help: 'Range (query_range) and instant (query) queries by whether they went downstream as --query-frontend.vertical-shards shards (sharded) or whole (whole: nothing to shard them by, or their answer cannot be put together from shards).',
      labelNames: ['op', 'result'],
      registers: [registry],
    });
    this.downstreamRequests = new Counter({
      name: 'strata_frontend_downstream_requests_total',
      help: 'Requests to the downstream querier, by status code (0: no answer).',
      labelNames: ['code'],
      registers: [registry],
    });
    this.downstreamRetries = new Counter({
      name: 'strata_frontend_downstream_retries_total',
      help: 'Requests to the downstream querier sent again after a 5xx answer or no answer.',
      registers: [registry],
    });
    this.downstreamDuration = new Histogram({
      name: 'strata_frontend_downstream_request_duration_seconds',
      help: 'Time until the downstream querier answered a request.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers: [registry],
    });
    this.cacheLookups = new Counter({
      name: 'strata_frontend_results_cache_lookups_total',
      help: 'Pieces of split requests looked up in a results cache: hit (answered from it whole), partial (gaps fetched), miss.',
      labelNames: ['cache', 'result'],
      registers: [registry],
    });
    this.cacheEvictedBytes = new Counter({
      name: 'strata_frontend_results_cache_evicted_bytes_total',
      help: 'Bytes of cached answers evicted to keep a results cache within its size.',
      labelNames: ['cache'],
      registers: [registry],
    });
    for (const cache of cached) for (const result of ['hit', 'partial', 'miss']) this.cacheLookups.inc({ cache, result }, 0);
    const held = Object.entries(sizes) as [CacheName, CacheSize][];
    for (const [cache] of held) this.cacheEvictedBytes.inc({ cache }, 0);
    if (held.length === 0) return;
    new Gauge({
      name: 'strata_frontend_results_cache_bytes',
      help: 'Bytes of answers in a results cache.',
      labelNames: ['cache'],
      registers: [registry],
      collect() {
        for (const [cache, size] of held) this.set({ cache }, size.bytes);
      },
    });
    new Gauge({
      name: 'strata_frontend_results_cache_items',
      help: 'Keys with answers in a results cache (a range query by query, step, parameters and split interval; a label or series request by parameters and range).',
      labelNames: ['cache'],
      registers: [registry],
      collect() {
        for (const [cache, size] of held) this.set({ cache }, size.items);
      },
    });
  }
}
