import { compressResponses, createLogger, Prober, startHttpServer, type Logger, type WebConfig } from '@strata/runtime';
import type { FastifyPluginAsync } from 'fastify';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { ResultsCache } from './cache.js';
import { Downstream } from './downstream.js';
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

/**
 * Starts the query frontend: in front of a querier, it splits range queries at each split interval,
 * answers the pieces from its results cache where it can and sends the rest downstream in parallel
 * (retrying failures), and passes every other request through.
 */
export async function start(cfg: FrontendConfig): Promise<Frontend> {
  const logger = cfg.logger ?? createLogger();
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const prober = new Prober('query-frontend', registry);
  const opts = { ...DEFAULT_RANGE_OPTIONS, ...cfg.range };
  // Evictions are counted by the metrics made with the cache (the callback runs only once both exist).
  const cache = cfg.responseCacheBytes !== undefined ? new ResultsCache(cfg.responseCacheBytes, (bytes) => metrics.cacheEvictedBytes.inc(bytes)) : undefined;
  const metrics = new FrontendMetrics(registry, cache);
  const downstream = new Downstream(cfg.downstreamUrl, cfg.maxRetries ?? 5, metrics);
  const range = new RangeHandler({ opts, downstream, cache, metrics, logger, now: cfg.now ?? Date.now });
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
    await app.register(passThroughPlugin(downstream, metrics));
  };
  const http = await startHttpServer({ address: cfg.httpAddress, registry, prober, logger, plugins: [routes], ...(cfg.httpWebConfig !== undefined ? { web: cfg.httpWebConfig } : {}) });
  logger.info('query frontend started', { downstream: cfg.downstreamUrl, split_interval_ms: opts.splitInterval, results_cache_bytes: cfg.responseCacheBytes ?? 0 });
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
