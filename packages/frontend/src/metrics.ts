import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The query frontend's own metrics (besides the request metrics every component has). */
export class FrontendMetrics {
  readonly queries: Counter<'op'>;
  readonly splitQueries: Counter;
  readonly downstreamRequests: Counter<'code'>;
  readonly downstreamRetries: Counter;
  readonly downstreamDuration: Histogram;
  readonly cacheLookups: Counter<'result'>;
  readonly cacheEvictedBytes: Counter;

  constructor(registry: Registry, cache?: { readonly bytes: number; readonly items: number }) {
    this.queries = new Counter({
      name: 'strata_frontend_queries_total',
      help: 'Requests the frontend answered, by how: query_range (split and cached) or passthrough (sent on whole).',
      labelNames: ['op'],
      registers: [registry],
    });
    for (const op of ['query_range', 'passthrough']) this.queries.inc({ op }, 0);
    this.splitQueries = new Counter({
      name: 'strata_frontend_split_queries_total',
      help: 'Range queries sent downstream for pieces of split range queries (the gaps the cache did not hold).',
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
      help: 'Pieces of range queries looked up in the results cache: hit (answered from it whole), partial (gaps fetched), miss.',
      labelNames: ['result'],
      registers: [registry],
    });
    for (const result of ['hit', 'partial', 'miss']) this.cacheLookups.inc({ result }, 0);
    this.cacheEvictedBytes = new Counter({
      name: 'strata_frontend_results_cache_evicted_bytes_total',
      help: 'Bytes of cached answers evicted to keep the results cache within its size.',
      registers: [registry],
    });
    if (cache !== undefined) {
      new Gauge({
        name: 'strata_frontend_results_cache_bytes',
        help: 'Bytes of answers in the results cache.',
        registers: [registry],
        collect() {
          this.set(cache.bytes);
        },
      });
      new Gauge({
        name: 'strata_frontend_results_cache_items',
        help: 'Range queries (by query, step, parameters and split interval) with answers in the results cache.',
        registers: [registry],
        collect() {
          this.set(cache.items);
        },
      });
    }
  }
}
