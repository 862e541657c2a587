import type { DedupFunc } from '@strata/dedup';
import type { PromqlFeatures } from '@strata/promql';
import { collectProcessMetrics, corsOrigin, createLogger, grpcServerMetrics, grpcServing, httpServing, Prober, startHttpServer, type HttpServer, type Logger, type ServingConfig } from '@strata/runtime';
import { serveStore, type ClientTLS, type Compression, type SeriesLimits, type ServerTLS, type ServingStore } from '@strata/storeapi';
import { Counter, Registry } from 'prom-client';
import { ActiveQueryTracker } from './api/activequeries.js';
import { EngineMetrics, QueryGate, RemoteReadGate } from './api/metrics.js';
import { apiPlugin } from './api/plugin.js';
import type { ApiContext, PromqlEngineName } from './api/context.js';
import { queryApiServer } from './api/queryapi.js';
import { uiPlugin, type UiOptions } from './ui/plugin.js';
import type { DnsResolver } from '@strata/runtime';
import { EndpointSet, type ConnMetricLabel } from './endpoints/endpointset.js';
import { EndpointConfigFile } from './endpoints/sdconfig.js';
import { DEFAULT_TENANCY, type TenancyConfig } from './tenancy.js';
import { SelectTelemetry, type SelectTelemetryBuckets } from './proxy/telemetry.js';
import { ProxyStore } from './proxy/proxy.js';
import { TsdbSelector } from './proxy/selector.js';
import type { Relabeler } from '@strata/block';
import type { Labels } from '@strata/tsdb';
import { DEFAULT_REMOTE_READ_LIMITS, type RemoteReadLimits } from './api/remoteread.js';

/** `strata query`'s configuration; flag names after Thanos' in comments. */
export interface QuerierConfig extends ServingConfig {
  /** --http-address */
  httpAddress: string;
  /** --grpc-address: the querier's own StoreAPI, for stacking, and Thanos' Query API; omitted = not served. */
  grpcAddress?: string;
  /** --grpc-server-tls-cert, --grpc-server-tls-key, --grpc-server-tls-client-ca: TLS of the querier's own StoreAPI. */
  grpcTls?: ServerTLS;
  /** --grpc-client-tls-*: TLS to the endpoints. */
  clientTls?: ClientTLS;
  /** --grpc-compression: how requests to the endpoints are compressed. */
  clientCompression?: Compression;
  /** --endpoint (repeatable) */
  endpoints: string[];
  /** --endpoint-strict: static endpoints queried even while their Info call fails. */
  strictEndpoints?: string[];
  /** --endpoint-group, --endpoint-group-strict: DNS names of replicas asked as one endpoint. */
  endpointGroups?: string[];
  strictEndpointGroups?: string[];
  /** --endpoint.sd-files */
  endpointSdFiles?: string[];
  /** --endpoint.sd-config-file (`path`, watched) or --endpoint.sd-config (`content`), with --endpoint.sd-config-reload-interval (default 5m). */
  endpointConfig?: { path: string } | { content: string };
  endpointConfigReloadIntervalMs?: number;
  /** --store.sd-dns-interval: how often `dns+`, `dnssrv+` and `dnssrvnoa+` endpoints are looked up again (default 30s). */
  endpointDnsIntervalMs?: number;
  /** Where those are looked up (default: the system's resolver). */
  dnsResolver?: DnsResolver;
  /** --endpoint.info-timeout (ms) */
  endpointInfoTimeoutMs?: number;
  /** --store.unhealthy-timeout (ms) */
  unhealthyTimeoutMs?: number;
  /** --query.replica-label */
  replicaLabels?: string[];
  /** --deduplication.func */
  dedupFunc?: DedupFunc;
  /** --query.timeout (ms) */
  timeoutMs?: number;
  /** --query.max-concurrent */
  maxConcurrent?: number;
  /** --query.max-concurrent-select */
  maxConcurrentSelect?: number;
  /** --query.log-queries-longer-than (ms; 0: off, below 0: every request) */
  logQueriesLongerThanMs?: number;
  /** --query.lookback-delta (ms) */
  lookbackDeltaMs?: number;
  /** --web.cors.origin (anchored regex; default every origin); null: no CORS headers (--web.disable-cors). */
  corsOrigin?: RegExp | null;
  /** --query.max-samples */
  maxSamples?: number;
  /** Prometheus' --storage.remote.read-sample-limit, -concurrent-limit and -max-bytes-in-frame (of /api/v1/read). */
  remoteRead?: RemoteReadLimits;
  /** --query.metadata.default-time-range (ms; 0 = all time) */
  metadataTimeRangeMs?: number;
  /** --query.default-evaluation-interval (ms): the step of subqueries without one. */
  defaultEvaluationIntervalMs?: number;
  /** --query.partial-response */
  partialResponse?: boolean;
  /** --query.auto-downsampling */
  autoDownsampling?: boolean;
  /** --query.promql-compat */
  promqlCompat?: 2 | 3;
  /** --enable-feature: the PromQL engine features it turns on; `xFunctions`: --query.enable-x-functions. */
  promqlFeatures?: PromqlFeatures;
  /** --query.promql-engine: the engine of queries that name none (default prometheus); the thanos one offers the x-functions. */
  promqlEngine?: PromqlEngineName;
  /** --store.response-timeout (ms; 0 = none) */
  storeResponseTimeoutMs?: number;
  /** --web.route-prefix */
  routePrefix?: string;
  /** --web.external-prefix and --web.prefix-header, for the web UI. */
  ui?: UiOptions;
  /** Endpoint Info refresh interval (ms). */
  endpointRefreshMs?: number;
  logger?: Logger;
  /** Flags as given, for /api/v1/status/flags. */
  flags?: Record<string, string>;
  /** --query.telemetry.request-duration-seconds-quantiles, --query.telemetry.request-samples-quantiles, --query.telemetry.request-series-seconds-quantiles. */
  selectTelemetry?: SelectTelemetryBuckets;
  /** --store.limits.request-series, --store.limits.request-samples: what one select may bring back from the endpoints (0: no limit). */
  seriesLimits?: SeriesLimits;
  /** --selector.relabel-config: relabel rules over the endpoints' external label sets selecting the TSDBs read. */
  selectorRelabel?: Relabeler;
  /** --selector-label: the labels this querier announces to a querier stacked on it. */
  selectorLabels?: Labels;
  /** --query.mode=distributed, with --query.partition-label: queries pushed down to the leaf queriers where they can be. */
  distributed?: { partitionLabels: readonly string[] };
  /** --query.conn-metric.label: strata_store_nodes_grpc_connections' labels beside its state (default external_labels and store_type). */
  connMetricLabels?: readonly ConnMetricLabel[];
  /** --query.tenant-header, --query.default-tenant-id, --query.tenant-certificate-field, --query.enforce-tenancy, --query.tenant-label-name. */
  tenancy?: TenancyConfig;
  /**
   * --query.active-query-path: the directory of the file that keeps the queries being evaluated, whose
   * leftovers the next start logs; `file` is its name (one per worker process).
   */
  activeQueries?: { dir: string; file?: string };
  /** What /metrics answers, where not this querier's own metrics (one of --query.workers answers with every worker's). */
  metrics?: () => Promise<string>;
}

export interface Querier {
  /** host:port of the HTTP API. */
  readonly httpAddress: string;
  /** host:port of the StoreAPI, if served. */
  readonly grpcAddress: string | undefined;
  readonly endpoints: EndpointSet;
  readonly registry: Registry;
  stop(): Promise<void>;
}

/** Starts the querier: endpoint discovery, the HTTP API, and the StoreAPI (for stacking) with the Query API on its gRPC address. */
export async function start(cfg: QuerierConfig): Promise<Querier> {
  // A leaf asked through the Query API reads all of its data: rules that confine what this querier reads could not hold.
  if (cfg.distributed !== undefined && (cfg.selectorRelabel !== undefined || (cfg.selectorLabels?.size ?? 0) > 0)) {
    throw new Error('--query.mode=distributed does not combine with --selector.relabel-config or --selector-label: the leaf queriers would answer from all of their data');
  }
  const logger = (cfg.logger ?? createLogger()).with({ component: 'query' });
  const registry = new Registry();
  collectProcessMetrics(registry);
  const prober = new Prober('query', registry);
  const client = { ...(cfg.clientTls !== undefined ? { tls: cfg.clientTls } : {}), ...(cfg.clientCompression !== undefined ? { compression: cfg.clientCompression } : {}) };
  const endpointConfig =
    cfg.endpointConfig === undefined
      ? undefined
      : await EndpointConfigFile.open({
          ...cfg.endpointConfig,
          defaults: client,
          reloadIntervalMs: cfg.endpointConfigReloadIntervalMs ?? 5 * 60_000,
          onChange: () => void endpoints.refresh(),
          logger,
          registry,
        });
  const endpoints = new EndpointSet({
    endpoints: cfg.endpoints,
    strictEndpoints: cfg.strictEndpoints ?? [],
    endpointGroups: cfg.endpointGroups ?? [],
    strictEndpointGroups: cfg.strictEndpointGroups ?? [],
    sdFiles: cfg.endpointSdFiles ?? [],
    ...(endpointConfig !== undefined ? { config: endpointConfig } : {}),
    ...(cfg.endpointDnsIntervalMs !== undefined ? { dnsIntervalMs: cfg.endpointDnsIntervalMs } : {}),
    ...(cfg.dnsResolver !== undefined ? { resolver: cfg.dnsResolver } : {}),
    client,
    ...(cfg.endpointInfoTimeoutMs !== undefined ? { infoTimeoutMs: cfg.endpointInfoTimeoutMs } : {}),
    ...(cfg.unhealthyTimeoutMs !== undefined ? { unhealthyTimeoutMs: cfg.unhealthyTimeoutMs } : {}),
    logger,
    registry,
    ...(cfg.connMetricLabels !== undefined ? { connMetricLabels: cfg.connMetricLabels } : {}),
  });
  const stopEndpoints = () => {
    endpointConfig?.close();
    endpoints.stop();
  };
  await endpoints.refresh();
  endpoints.start(cfg.endpointRefreshMs ?? 5000);
  const proxy = new ProxyStore(endpoints, {
    responseTimeoutMs: cfg.storeResponseTimeoutMs ?? 0,
    telemetry: new SelectTelemetry(registry, cfg.selectTelemetry),
    ...(cfg.seriesLimits !== undefined ? { limits: cfg.seriesLimits } : {}),
    selector: new TsdbSelector({ ...(cfg.selectorRelabel !== undefined ? { relabel: cfg.selectorRelabel } : {}), ...(cfg.selectorLabels !== undefined ? { labels: cfg.selectorLabels } : {}) }),
  });

  const maxConcurrent = cfg.maxConcurrent ?? 20;
  const activeQueries = cfg.activeQueries !== undefined ? new ActiveQueryTracker(cfg.activeQueries.dir, maxConcurrent, logger, cfg.activeQueries.file) : undefined;
  const remoteReadLimits = cfg.remoteRead ?? DEFAULT_REMOTE_READ_LIMITS;
  const api: ApiContext = {
    proxy,
    endpoints,
    logger,
    gate: new QueryGate(maxConcurrent, registry),
    ...(activeQueries !== undefined ? { activeQueries } : {}),
    engineMetrics: new EngineMetrics(registry, maxConcurrent),
    defaults: {
      replicaLabels: cfg.replicaLabels ?? [],
      dedupFunc: cfg.dedupFunc ?? 'penalty',
      partialResponse: cfg.partialResponse ?? true,
      autoDownsampling: cfg.autoDownsampling ?? false,
      lookbackDelta: cfg.lookbackDeltaMs ?? 5 * 60_000,
      subqueryStep: cfg.defaultEvaluationIntervalMs ?? 60_000,
      metadataTimeRange: cfg.metadataTimeRangeMs ?? 0,
      maxSamples: cfg.maxSamples ?? 50_000_000,
      maxConcurrentSelect: cfg.maxConcurrentSelect ?? 4,
      logQueriesLongerThanMs: cfg.logQueriesLongerThanMs ?? 0,
      timeout: cfg.timeoutMs ?? 2 * 60_000,
      compat: cfg.promqlCompat ?? 3,
      features: cfg.promqlFeatures ?? {},
      engine: cfg.promqlEngine ?? 'prometheus',
    },
    corsOrigin: cfg.corsOrigin === null ? undefined : (cfg.corsOrigin ?? corsOrigin('.*')),
    flags: cfg.flags ?? {},
    tenancy: cfg.tenancy ?? DEFAULT_TENANCY,
    remoteRead: { limits: remoteReadLimits, gate: new RemoteReadGate(remoteReadLimits.concurrentLimit, registry) },
    ...(cfg.distributed !== undefined
      ? {
          distributed: {
            partitionLabels: cfg.distributed.partitionLabels,
            queries: new Counter({ name: 'strata_query_distributed_queries_total', help: 'Queries in distributed mode, by whether parts of them were asked of the leaf queriers (distributed) or not (local).', labelNames: ['mode'], registers: [registry] }),
          },
        }
      : {}),
  };
  let grpc: ServingStore | undefined;
  let http: HttpServer | undefined;
  try {
    if (cfg.grpcAddress !== undefined) {
      grpc = await serveStore(proxy, {
        address: cfg.grpcAddress,
        ...grpcServing(cfg, grpcServerMetrics(registry), logger),
        ...(cfg.grpcTls !== undefined ? { tls: cfg.grpcTls } : {}),
        queryApi: queryApiServer(api),
      });
      logger.info('serving StoreAPI and Query API', { address: grpc.address });
    }
    http = await startHttpServer({
      address: cfg.httpAddress,
      ...httpServing(cfg),
      registry,
      prober,
      logger,
      ...(cfg.routePrefix !== undefined ? { routePrefix: cfg.routePrefix } : {}),
      ...(cfg.metrics !== undefined ? { metrics: cfg.metrics } : {}),
      tenant: cfg.tenancy ?? DEFAULT_TENANCY,
      plugins: [
        apiPlugin(api),
        uiPlugin(cfg.ui),
      ],
    });
  } catch (e) {
    stopEndpoints();
    await grpc?.stop(0);
    activeQueries?.close();
    throw e;
  }
  prober.healthy();
  prober.ready();
  const httpServer = http;
  return {
    httpAddress: httpServer.address,
    grpcAddress: grpc?.address,
    endpoints,
    registry,
    async stop() {
      prober.notReady('stopping');
      await httpServer.close();
      await grpc?.stop();
      stopEndpoints();
      activeQueries?.close();
    },
  };
}
