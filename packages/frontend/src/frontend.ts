import { compressResponses, createLogger, Prober, startHttpServer, type Logger, type WebConfig } from '@strata/runtime';
import type { FastifyPluginAsync } from 'fastify';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { ResultsCache, type Extent } from './cache.js';
import { Downstream } from './downstream.js';
import { LabelsHandler, type CachedSet, type LabelsOptions } from './labels.js';
import { FrontendMetrics } from './metrics.js';
import { passThroughPlugin } from './proxy.js';
import { logIfSlow, RangeHandler, type RangeOptions } from './range.js';

export interface FrontendConfig {
  httpAddress: string;
  /** The querier's HTTP API (Thanos' --query-frontend.downstream-url). */
  downstreamUrl: string;
  range?: Partial<RangeOptions>;
  /** Attempts per downstream request (Thanos' --query-range.max-retries-per-request). */
  maxRetries?: number;
  /** Bytes of range query answers cached in memory; undefined: no results cache. */
  responseCacheBytes?: number;
  labels?: Partial<LabelsOptions>;
  /** Attempts per downstream label or series request (Thanos' --labels.max-retries-per-request). */
  labelsMaxRetries?: number;
  /** Bytes of label and series answers cached in memory (Thanos' --labels.response-cache-config); undefined: none. */
  labelsResponseCacheBytes?: number;
  /** Gzip or deflate answers for clients that accept it (Thanos' --query-frontend.compress-responses). */
  compressResponses?: boolean;
  httpWebConfig?: WebConfig;
  logger?: Logger;
  /** The clock (ms) the cache's freshness cutoff is taken from. */
  now?: () => number;
}

export interface Frontend {
  readonly httpAddress: string;
  readonly registry: Registry;
  stop(): Promise<void>;
}

export const DEFAULT_RANGE_OPTIONS: RangeOptions = {
  splitInterval: 24 * 3_600_000,
  alignRangeWithStep: true,
  maxQueryLength: 0,
  maxQueryParallelism: 14,
  maxCacheFreshness: 60_000,
  logQueriesLongerThan: 0,
};

export const DEFAULT_LABELS_OPTIONS: LabelsOptions = {
  splitInterval: 24 * 3_600_000,
  maxQueryParallelism: 14,
  maxCacheFreshness: 60_000,
};

/**
 * Starts the query frontend: in front of a querier, it splits range queries, and label and series
 * requests, at each split interval, answers the pieces from its results caches where it can and sends
 * the rest downstream in parallel (retrying failures), and passes every other request through.
 */
export async function start(cfg: FrontendConfig): Promise<Frontend> {
  const logger = cfg.logger ?? createLogger();
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const prober = new Prober('query-frontend', registry);
  const opts = { ...DEFAULT_RANGE_OPTIONS, ...cfg.range };
  const now = cfg.now ?? Date.now;
  // Evictions are counted by the metrics made with the caches (the callbacks run only once both exist).
  const rangeCache: ResultsCache<Extent> | undefined = cfg.responseCacheBytes !== undefined ? new ResultsCache(cfg.responseCacheBytes, (bytes) => metrics.cacheEvictedBytes.inc({ cache: 'query_range' }, bytes)) : undefined;
  const labelsCache: ResultsCache<CachedSet> | undefined =
    cfg.labelsResponseCacheBytes !== undefined ? new ResultsCache<CachedSet>(cfg.labelsResponseCacheBytes, (bytes) => metrics.cacheEvictedBytes.inc({ cache: 'labels' }, bytes)) : undefined;
  const metrics: FrontendMetrics = new FrontendMetrics(registry, { ...(rangeCache !== undefined ? { query_range: rangeCache } : {}), ...(labelsCache !== undefined ? { labels: labelsCache } : {}) });
  const downstream = new Downstream(cfg.downstreamUrl, cfg.maxRetries ?? 5, metrics);
  const range = new RangeHandler({ opts, downstream, cache: rangeCache, metrics, logger, now });
  const labels = new LabelsHandler({
    opts: { ...DEFAULT_LABELS_OPTIONS, ...cfg.labels },
    downstream: new Downstream(cfg.downstreamUrl, cfg.labelsMaxRetries ?? 5, metrics),
    cache: labelsCache,
    metrics,
    now,
  });
  const routes: FastifyPluginAsync = async (app) => {
    // Bodies stay bytes: passed through as they came, or read as a range query's form.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    if (cfg.compressResponses === true) compressResponses(app);
    app.addHook('onResponse', async (req, reply) => {
      if (req.routeOptions.url === '/api/v1/query_range') logIfSlow(logger, opts.logQueriesLongerThan, req, reply);
    });
    app.get('/api/v1/query_range', { schema: {} }, (req, reply) => range.handle(req, reply));
    app.post('/api/v1/query_range', { schema: {} }, (req, reply) => range.handle(req, reply));
    for (const url of ['/api/v1/labels', '/api/v1/series']) {
      app.get(url, { schema: {} }, (req, reply) => labels.handle(req, reply));
      app.post(url, { schema: {} }, (req, reply) => labels.handle(req, reply));
    }
    app.get('/api/v1/label/:name/values', { schema: {} }, (req, reply) => labels.handle(req, reply));
    await app.register(passThroughPlugin(downstream, metrics));
  };
  const http = await startHttpServer({ address: cfg.httpAddress, registry, prober, logger, plugins: [routes], ...(cfg.httpWebConfig !== undefined ? { web: cfg.httpWebConfig } : {}) });
  logger.info('query frontend started', { downstream: cfg.downstreamUrl, split_interval_ms: opts.splitInterval, results_cache_bytes: cfg.responseCacheBytes ?? 0, labels_cache_bytes: cfg.labelsResponseCacheBytes ?? 0 });
  prober.healthy();
  prober.ready();
  return {
    httpAddress: http.address,
    registry,
    async stop() {
      prober.notReady('stopping');
      await http.close();
    },
  };
}
