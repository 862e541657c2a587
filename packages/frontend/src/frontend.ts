import { collectProcessMetrics, compressResponses, DEFAULT_TENANT_SOURCE, type TenantSource, httpServing, type ServingConfig, corsOrigin, corsResponses, createLogger, logIfSlow, Prober, remoteCacheClient, remoteCacheText, startHttpServer, type Logger, type RemoteCacheClient } from '@strata/runtime';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Registry } from 'prom-client';
import { RemoteResults, ResultsCache, type CacheCompression, type EntriesCache, type Extent } from './cache.js';
import { Downstream, DownstreamConnections } from './downstream.js';
import type { DownstreamTransport } from './tripperconfig.js';
import { LabelsHandler, type CachedSet, type LabelsOptions } from './labels.js';
import { InstantHandler } from './instant.js';
import { FrontendMetrics, type CacheName } from './metrics.js';
import { passThroughPlugin } from './proxy.js';
import { ForcedQueryStats } from './querystats.js';
import { RangeHandler, type RangeOptions } from './range.js';
import { requestParams } from './request.js';
import type { SplitOptions } from './split.js';

export interface FrontendConfig extends ServingConfig {
  httpAddress: string;
  /** The querier's HTTP API (Thanos' --query-frontend.downstream-url). */
  downstreamUrl: string;
  /** How it is connected to (Thanos' --query-frontend.downstream-tripper-config); default DEFAULT_DOWNSTREAM_TRANSPORT. */
  downstreamTransport?: DownstreamTransport;
  /** Range queries (Thanos' --query-range.* flags, and --query-frontend.vertical-shards for instant queries too); other requests are passed through with its retries. */
  range?: Partial<RangeOptions>;
  /** Label names, label values and series (Thanos' --labels.* flags). */
  labels?: Partial<LabelsOptions>;
  /** Log API requests slower than this (ms; 0: none, below 0: all), as --query-frontend.log-queries-longer-than. */
  logQueriesLongerThan?: number;
  /**
   * Headers whose value names the tenant of a request in the slow query log (`org_id`; the first one
   * a request has, else `anonymous`), as Thanos' --query-frontend.org-id-header.
   */
  orgIdHeaders?: readonly string[];
  /** The request header naming the user in the slow query log's `remote_user` (else the basic-auth user), as Thanos' --query-frontend.slow-query-logs-user-header. */
  slowQueryLogsUserHeader?: string;
  /**
   * Only these request headers go on to the querier (Thanos' --query-frontend.forward-header); without
   * them, every one but the connection's own (authorization included).
   */
  forwardHeaders?: readonly string[];
  /**
   * Where a request's tenant comes from (Thanos' --query-frontend.tenant-header, --query-frontend.default-tenant,
   * --query-frontend.tenant-certificate-field): each tenant's answers are cached apart, and the tenant
   * header always goes on to the querier.
   */
  tenant?: TenantSource;
  /** Compress the answers kept in memcached or redis (Thanos' --cache-compression-type; the in-memory cache holds them parsed). */
  cacheCompression?: CacheCompression;
  /**
   * Answer browsers from other origins as Prometheus' API does (CORS headers, 204 to a preflight), for
   * every origin; false: no CORS headers (Thanos' --web.disable-cors).
   */
  cors?: boolean;
  /** Gzip or deflate answers for clients that accept it (Thanos' --query-frontend.compress-responses). */
  compressResponses?: boolean;
  /**
   * Ask the querier for its stats of every query, and log them per request (`query stats`), give them
   * back in a Server-Timing header and count them by tenant (Thanos' --query-frontend.force-query-stats).
   */
  forceQueryStats?: boolean;
  logger?: Logger;
  /** The clock (ms) the cache's freshness cutoff is taken from. */
  now?: () => number;
}

export interface Frontend {
  readonly httpAddress: string;
  readonly registry: Registry;
  stop(): Promise<void>;
}

/** Thanos' defaults (without a cache unless one is configured). */
export const DEFAULT_SPLIT_OPTIONS: SplitOptions = {
  splitInterval: 24 * 3_600_000,
  maxQueryParallelism: 14,
  maxRetries: 5,
  maxCacheFreshness: 60_000,
  partialResponse: true,
};

export const DEFAULT_RANGE_OPTIONS: RangeOptions = {
  ...DEFAULT_SPLIT_OPTIONS,
  alignRangeWithStep: true,
  maxQueryLength: 0,
  requestDownsampled: true,
  minSplitInterval: 0,
  maxSplitInterval: 0,
  horizontalShards: 0,
  verticalShards: 0,
};

export const DEFAULT_LABELS_OPTIONS: LabelsOptions = { ...DEFAULT_SPLIT_OPTIONS, defaultTimeRange: 24 * 3_600_000 };

/**
 * Starts the query frontend: in front of a querier, it splits range queries, and label and series
 * requests, at each split interval, answers the pieces from its results caches where it can and sends
 * the rest downstream in parallel (retrying failures), and passes every other request through.
 */
export async function start(cfg: FrontendConfig): Promise<Frontend> {
  const logger = cfg.logger ?? createLogger();
  const registry = new Registry();
  collectProcessMetrics(registry);
  const prober = new Prober('query-frontend', registry);
  const opts: RangeOptions = { ...DEFAULT_RANGE_OPTIONS, ...cfg.range };
  validateDynamicSplit(opts);
  const labelsOpts: LabelsOptions = { ...DEFAULT_LABELS_OPTIONS, ...cfg.labels };
  const now = cfg.now ?? Date.now;
  const remotes: RemoteCacheClient[] = [];
  const sizes: Partial<Record<CacheName, ResultsCache<{ bytes: number }>>> = {};
  // Evictions are counted by the metrics made with the caches (the callbacks run only once both exist).
  const cacheOf = async <E extends { bytes: number }>(o: SplitOptions, name: CacheName): Promise<EntriesCache<E> | undefined> => {
    if (o.remote !== undefined) {
      const client = remoteCacheClient(o.remote.cache, { name: name.replace('_', '-'), registry, logger });
      await client.start();
      remotes.push(client);
      return new RemoteResults<E>(client, o.remote.expirationMs, `strata-frontend-v1-${name}`, cfg.cacheCompression);
    }
    if (o.cacheBytes === undefined) return undefined;
    const cache = new ResultsCache<E>(o.cacheBytes, (bytes) => metrics.cacheEvictedBytes.inc({ cache: name }, bytes));
    sizes[name] = cache;
    return cache;
  };
  const rangeCache = await cacheOf<Extent>(opts, 'query_range');
  const labelsCache = await cacheOf<CachedSet>(labelsOpts, 'labels');
  const cached: CacheName[] = [...(rangeCache !== undefined ? ['query_range' as const] : []), ...(labelsCache !== undefined ? ['labels' as const] : [])];
  const metrics: FrontendMetrics = new FrontendMetrics(registry, cached, sizes);
  const connections = new DownstreamConnections(cfg.downstreamUrl, cfg.downstreamTransport);
  const tenant = cfg.tenant ?? DEFAULT_TENANT_SOURCE;
  const downstream = new Downstream(connections, opts.maxRetries, metrics, tenant, cfg.forwardHeaders);
  const forcedStats = cfg.forceQueryStats === true ? new ForcedQueryStats(logger, registry, tenant) : undefined;
  const range = new RangeHandler({ opts, tenant, downstream, cache: rangeCache, metrics, now, ...(forcedStats !== undefined ? { forcedStats } : {}) });
  const instant = new InstantHandler({ verticalShards: opts.verticalShards, downstream, metrics, now, ...(forcedStats !== undefined ? { forcedStats } : {}) });
  const labels = new LabelsHandler({ opts: labelsOpts, tenant, downstream: new Downstream(connections, labelsOpts.maxRetries, metrics, tenant, cfg.forwardHeaders), cache: labelsCache, metrics, now });
  const routes: FastifyPluginAsync = async (app) => {
    // Bodies stay bytes: passed through as they came, or read as a range query's form.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    if (cfg.compressResponses === true) compressResponses(app);
    corsResponses(app, cfg.cors === false ? undefined : corsOrigin('.*'));
    app.addHook('onResponse', async (req, reply) => {
      if (!req.url.startsWith('/api/')) return;
      const params = requestParams(req);
      logIfSlow(logger, cfg.logQueriesLongerThan ?? 0, req, reply, reply.elapsedTime, params, { org_id: orgId(req, cfg.orgIdHeaders ?? []) }, { userHeader: cfg.slowQueryLogsUserHeader ?? '' });
      forcedStats?.report(req, reply, params);
    });
    app.get('/api/v1/query', { schema: {} }, (req, reply) => instant.handle(req, reply));
    app.post('/api/v1/query', { schema: {} }, (req, reply) => instant.handle(req, reply));
    app.get('/api/v1/query_range', { schema: {} }, (req, reply) => range.handle(req, reply));
    app.post('/api/v1/query_range', { schema: {} }, (req, reply) => range.handle(req, reply));
    for (const url of ['/api/v1/labels', '/api/v1/series']) {
      app.get(url, { schema: {} }, (req, reply) => labels.handle(req, reply));
      app.post(url, { schema: {} }, (req, reply) => labels.handle(req, reply));
    }
    app.get('/api/v1/label/:name/values', { schema: {} }, (req, reply) => labels.handle(req, reply));
    await app.register(passThroughPlugin(downstream, metrics));
  };
  const http = await startHttpServer({ address: cfg.httpAddress, registry, prober, logger, plugins: [routes], tenant, ...httpServing(cfg) });
  const cacheText = (o: SplitOptions) => (o.remote !== undefined ? remoteCacheText(o.remote.cache) : `${o.cacheBytes ?? 0} bytes in memory`);
  logger.info('query frontend started', { downstream: cfg.downstreamUrl, split_interval_ms: opts.splitInterval, min_split_interval_ms: opts.minSplitInterval, vertical_shards: opts.verticalShards, results_cache: cacheText(opts), labels_cache: cacheText(labelsOpts) });
  prober.healthy();
  prober.ready();
  return {
    httpAddress: http.address,
    registry,
    async stop() {
      prober.notReady('stopping');
      await http.close();
      for (const client of remotes) client.stop();
    },
  };
}

/** Thanos' rules for dynamic horizontal splitting: instead of a fixed split interval, and with all three of its settings. */
function validateDynamicSplit(o: RangeOptions): void {
  if (o.minSplitInterval <= 0) return;
  if (o.splitInterval !== 0) throw new Error('--query-range.min-split-interval and --query-range.split-interval cannot both be set: set --query-range.split-interval=0 for dynamic splitting');
  if (!(o.maxSplitInterval > 0) || !(o.horizontalShards > 1)) throw new Error('--query-range.min-split-interval needs --query-range.max-split-interval and --query-range.horizontal-shards (above 1) too');
}

/** The tenant a request names in the first of `headers` it has (Thanos' org id), else `anonymous`. */
function orgId(req: FastifyRequest, headers: readonly string[]): string {
  for (const h of headers) {
    const v = req.headers[h.toLowerCase()];
    if (v !== undefined && v !== '') return Array.isArray(v) ? (v[0] as string) : v;
  }
  return 'anonymous';
}
