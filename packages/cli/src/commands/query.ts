import type { Command } from 'commander';
import { PROMQL_FEATURE_NAMES, promqlFeatures, type PromqlFeatures } from '@strata/promql';
import { CONN_METRIC_LABELS, DEFAULT_SELECT_TELEMETRY, DEFAULT_TENANCY, start, type ConnMetricLabel, type SelectTelemetryBuckets, type TenancyConfig } from '@strata/querier';
import { corsOrigin, isDnsEndpoint, leaveWorkers, runWorkerPool, serveAsWorker, workerSlot, workersMetrics } from '@strata/runtime';
import type { Compression } from '@strata/storeapi';
import { Relabeler } from '@strata/block';
import { Labels } from '@strata/tsdb';
import { parseDuration, parseLabelFlags, parseUrlPath } from '../flags.js';
import {
  clientTlsFromFlags,
  flagValues,
  growHeapBetweenFullCollections,
  intFlag,
  loggerFromFlags,
  repeatable,
  runUntilSignal,
  serverTlsFromFlags,
  signedDuration,
  servingFromFlags,
  withGrpcClientTlsFlags,
  tracingConfigFromFlags,
  startTracingFor,
  withServingFlags,
  withTenantFlags,
  tenantSourceFromFlags,
  yamlFlag,
  choiceFlag,
} from './component.js';

/** `strata query`: the Prometheus-compatible query API over every StoreAPI endpoint, with `thanos query`'s flags. */
export function register(program: Command): void {
  const cmd = program
    .command('query')
    .description('Answer PromQL over every Prometheus replica and all of history: fan-out, deduplication, partial response')
    .option('--http-address <host:port>', 'listen address for the HTTP API, /metrics and probes', '0.0.0.0:10902')
    .option('--grpc-address <host:port>', "listen address for the querier's own StoreAPI (for stacking queriers)", '0.0.0.0:10901')
    .option('--endpoint <host:port>', 'StoreAPI endpoint (sidecar, store gateway, querier), or found by DNS as Thanos does: dns+host:port (its A/AAAA addresses), dnssrv+name (its SRV records), dnssrvnoa+name (SRV targets by name); repeatable', repeatable, [])
    .option(
      '--endpoint-strict <host:port>',
      'StoreAPI endpoint always queried, even while its Info call fails, so that its failure shows in every answer that could need its data (a warning, or an error without partial response), as Thanos; static addresses only; repeatable',
      repeatable,
      [],
    )
    .option(
      '--endpoint-group <host:port>',
      'replicas of one StoreAPI server behind a DNS name (store gateways over the same blocks), asked as one endpoint: each call goes to one of the addresses the name stands for, in turn, and to another when that one cannot be reached, as Thanos; repeatable',
      repeatable,
      [],
    )
    .option('--endpoint-group-strict <host:port>', 'an --endpoint-group always queried, even while its Info call fails, as --endpoint-strict; repeatable', repeatable, [])
    .option('--endpoint.sd-files <path>', 'file service discovery of endpoints (YAML/JSON target groups), re-read every 5s; repeatable', repeatable, [])
    .option(
      '--endpoint.sd-config-file <path>',
      "Thanos' endpoint configuration (YAML: endpoints with address, strict, group and client_config), re-read when it changes and every --endpoint.sd-config-reload-interval; adds to the --endpoint* flags",
    )
    .option('--endpoint.sd-config <yaml>', 'the endpoint configuration inline, instead of --endpoint.sd-config-file')
    .option('--endpoint.sd-config-reload-interval <duration>', 'how often --endpoint.sd-config-file is read again besides when it is seen to change', '5m')
    .option('--store <host:port>', 'deprecated name of --endpoint, as in Thanos; repeatable', repeatable, [])
    .option('--store.sd-files <path>', 'deprecated name of --endpoint.sd-files, as in Thanos; repeatable', repeatable, [])
    .option('--store-strict <host:port>', 'deprecated name of --endpoint-strict, as in Thanos; repeatable', repeatable, [])
    .option('--store.sd-interval <duration>', "Thanos' fallback interval of its SD-file reads: accepted; Strata reads the SD files at every refresh of the endpoints (5s)", '5m')
    .option('--store.sd-dns-interval <duration>', 'how often endpoints given as dns+, dnssrv+ or dnssrvnoa+ are looked up again', '30s')
    .option('--endpoint.info-timeout <duration>', 'timeout of the Info call each endpoint is asked every 5s', '5s')
    .option('--store.unhealthy-timeout <duration>', 'how long an endpoint that keeps failing its Info call stays listed (as unhealthy) before it is dropped', '5m')
    .option('--query.replica-label <label>', 'label that tells HA replicas apart; deduplicated; repeatable', repeatable, [])
    .option('--deduplication.func <func>', 'penalty (for HA Prometheus pairs) or chain (replicas with identical samples)', 'penalty')
    .option('--query.timeout <duration>', 'maximum time to process a query', '2m')
    .option('--query.max-concurrent <n>', 'maximum number of queries processed at once', '20')
    .option(
      '--query.active-query-path <dir>',
      "directory of the queries.active file, which keeps the queries being evaluated; the next start logs those a crash cut short, as Prometheus and Thanos do (one file per --query.workers process; '': off)",
      '',
    )
    .option('--query.max-concurrent-select <n>', 'selects (selector reads) one query runs at once; each asks every matching endpoint at once', '4')
    .option('--query.lookback-delta <duration>', 'how far back an instant selector looks for a sample', '5m')
    .option('--query.metadata.default-time-range <duration>', 'the range /api/v1/series and /api/v1/labels read when the request gives no start and end, back from now (0s: all time)', '0s')
    .option('--query.log-queries-longer-than <duration>', 'log API requests slower than this, with their parameters (0: none; negative: every request), as Thanos\' query frontend', '0')
    .option('--query.max-samples <n>', 'most samples a query may hold in memory at once, as Prometheus\' flag; past it the query fails (422)', '50000000')
    .option('--storage.remote.read-sample-limit <n>', "Prometheus' flag: most samples one query of a remote read (/api/v1/read) may return in a non-streamed answer (0: no limit)", '50000000')
    .option('--storage.remote.read-concurrent-limit <n>', "Prometheus' flag: remote read requests answered at once; more wait (0: no limit)", '10')
    .option('--storage.remote.read-max-bytes-in-frame <n>', "Prometheus' flag: chunk bytes of a series in one frame of a streamed remote read before it goes on in the next", '1048576')
    .option('--query.default-evaluation-interval <duration>', 'step of subqueries that give none (`x[1h:]`)', '1m')
    .option('--query.partial-response', 'answer with the data available when an endpoint fails, with a warning', true)
    .option('--no-query.partial-response', 'fail a query when any endpoint fails')
    .option('--query.auto-downsampling', 'read downsampled data as the step allows (max_source_resolution=auto)', false)
    .option('--query.promql-compat <version>', "PromQL: 3 (current Prometheus) or 2 (Prometheus 2.42's syntax, functions and evaluation; 3.x's newer functions with --enable-feature=promql-experimental-functions)", '3')
    .option(
      '--enable-feature <names>',
      `experimental PromQL features by Prometheus' names, comma-separated; repeatable: ${PROMQL_FEATURE_NAMES.join(', ')}`,
      repeatable,
      [],
    )
    .option('--grpc-compression <algorithm>', 'compression of requests to the endpoints: none, snappy (as Thanos; grpc-go endpoints then answer compressed too), gzip or deflate', 'none')
    .option('--store.response-timeout <duration>', 'give up on an endpoint that does not answer a request within this time (0 = never)', '0')
    .option('--web.route-prefix <path>', 'prefix for all HTTP routes (default: --web.external-prefix)')
    .option('--web.external-prefix <path>', 'path the querier is reached under through a reverse proxy, where the web UI calls the API', '')
    .option('--web.cors.origin <regex>', 'origins whose browser requests to the API get CORS headers, as Prometheus\' flag (anchored regex)', '.*')
    .option('--web.disable-cors', 'set no CORS headers (Thanos\' flag)', false)
    .option('--query.default-step <duration>', "the web UI's smallest graph step: its range queries take a 250th of the range, or this if more, as Thanos' UI", '1s')
    .option('--web.prefix-header <name>', 'request header (such as X-Forwarded-Prefix) giving that path per request; ignored with --web.external-prefix', '')
    .option(
      '--query.workers <n>',
      'processes that serve queries, sharing the HTTP and gRPC addresses, so that the querier uses as many cores (Node runs one process\' JavaScript on one core); each holds a querier\'s memory; /metrics sums theirs',
      '1',
    )
    .option('--query.enforce-tenancy', 'a request sees only its tenant\'s series: each selection gets the matcher <--query.tenant-label-name>="<tenant>" in place of its own on that label, as Thanos', false)
    .option('--query.telemetry.request-duration-seconds-quantiles <seconds>', `bucket of strata_store_api_query_duration_seconds, the duration of a select's fan-out; repeatable (default ${DEFAULT_SELECT_TELEMETRY.durationSeconds.join(', ')})`, repeatable, [])
    .option('--query.telemetry.request-samples-quantiles <n>', `its samples_le label's bounds: the samples a select returned; repeatable (default ${DEFAULT_SELECT_TELEMETRY.samples.join(', ')})`, repeatable, [])
    .option('--query.telemetry.request-series-seconds-quantiles <n>', `its series_le label's bounds: the series a select returned; repeatable (default ${DEFAULT_SELECT_TELEMETRY.series.join(', ')})`, repeatable, [])
    .option('--store.limits.request-series <n>', 'most series one select may bring back from the endpoints, before deduplication; past it the query fails (0: no limit)', '0')
    .option('--store.limits.request-samples <n>', 'most samples one select may bring back from the endpoints, before deduplication; past it the query fails (0: no limit)', '0')
    .option(
      '--query.mode <mode>',
      "local, or distributed as Thanos': the parts of a query that each leaf querier (an endpoint serving the Query API) can evaluate over its own partition are asked of them, the rest evaluated here",
      'local',
    )
    .option(
      '--query.partition-label <label>',
      "in distributed mode, an external label whose values tell the leaf queriers' partitions apart; repeatable (default: every external label of the leaves but the replica labels)",
      repeatable,
      [],
    )
    .option(
      '--query.promql-engine <engine>',
      "Thanos' engine choice, prometheus or thanos: Strata evaluates PromQL with its own engine either way, with Prometheus' semantics, which Thanos' engine also answers with; thanos is logged as such, and offers the x-functions with --query.enable-x-functions",
      'prometheus',
    )
    .option(
      '--query.enable-x-functions',
      "offer Thanos' extended rate functions xrate, xincrease and xdelta to queries evaluated with the thanos engine (--query.promql-engine=thanos, or a request's engine=thanos), as Thanos does; leaf queriers in distributed mode need it too",
      false,
    )
    .option('--query.tenant-label-name <label>', 'the label naming the tenant of a series', DEFAULT_TENANCY.labelName)
    .option(
      '--selector.relabel-config <yaml>',
      "relabel rules over the endpoints' external label sets selecting the TSDBs to read, as Thanos' (keep, drop, hashmod, …): an endpoint none of whose sets is kept is not asked, one of whose sets some are is asked for those alone",
    )
    .option('--selector.relabel-config-file <path>', 'file with the relabel rules')
    .option(
      '--selector-label <name="value">',
      'a label this querier stands for to a querier stacked on it: added to every label set it announces; a request whose matchers on it do not match its value is answered empty, and matchers on it are dropped; repeatable',
      repeatable,
      [],
    )
    .option('--alert.query-url <url>', "Thanos' URL for alerts' source: accepted; Strata's querier relays the alerts of its endpoints as they are and sends none")
    .option(
      '--query.conn-metric.label <label>',
      `labels of strata_store_nodes_grpc_connections beside state: external_labels and/or store_type, as Thanos' (default both); repeatable`,
      repeatable,
      [],
    );
  withServingFlags(withTenantFlags(withGrpcClientTlsFlags(cmd), 'query', 'default-tenant-id'), { grpc: true, requestLogging: true }).action(async (o: Record<string, unknown>) => {
    growHeapBetweenFullCollections();
    const logger = loggerFromFlags(o);
    const compat = String(o['query.promqlCompat']);
    if (compat !== '2' && compat !== '3') throw new Error(`--query.promql-compat must be 2 or 3, not ${compat}`);
    const promqlFeatures = featuresFlag(o.enableFeature as string[]);
    const mode = choiceFlag(o['query.mode'], '--query.mode', ['local', 'distributed']);
    parseDuration(String(o['store.sdInterval']));
    const engine = choiceFlag(o['query.promqlEngine'], '--query.promql-engine', ['prometheus', 'thanos']);
    if (engine === 'thanos') logger.info("--query.promql-engine=thanos: Strata evaluates PromQL with its own engine, with Prometheus' semantics, as Thanos' engine answers");
    const xFunctions = o['query.enableXFunctions'] === true;
    if (xFunctions && engine !== 'thanos') logger.info('--query.enable-x-functions: the x-functions are offered to queries that ask for engine=thanos, as in Thanos, without --query.promql-engine=thanos');
    const dedupFunc = String(o['deduplication.func']);
    if (dedupFunc !== 'penalty' && dedupFunc !== 'chain') throw new Error(`--deduplication.func must be penalty or chain, not ${dedupFunc}`);
    // Thanos' deprecated names of the same flags still serve: deployments written for Thanos before 0.21 use them.
    const endpoints = [...(o.endpoint as string[]), ...(o.store as string[])];
    const sdFiles = [...(o['endpoint.sdFiles'] as string[]), ...(o['store.sdFiles'] as string[])];
    const strictEndpoints = [...(o.endpointStrict as string[]), ...(o.storeStrict as string[])];
    const discovered = strictEndpoints.find(isDnsEndpoint);
    if (discovered !== undefined) throw new Error(`--endpoint-strict takes static addresses only, not ${discovered}`);
    const endpointGroups = o.endpointGroup as string[];
    const strictEndpointGroups = o.endpointGroupStrict as string[];
    const endpointConfig = endpointConfigFromFlags(o);
    if (endpointConfig === undefined && [endpoints, sdFiles, strictEndpoints, endpointGroups, strictEndpointGroups].every((given) => given.length === 0)) {
      logger.warn('no --endpoint, --endpoint-strict, --endpoint-group, --endpoint.sd-files or --endpoint.sd-config given: every query will be empty');
    }
    const externalPrefix = parseUrlPath(String(o['web.externalPrefix']));
    const prefixHeader = String(o['web.prefixHeader']);
    // As in Thanos and Prometheus, routes are served under the external prefix unless told otherwise.
    const prefix = parseUrlPath(String(o['web.routePrefix'] ?? '')) || externalPrefix;
    const compression = String(o.grpcCompression);
    if (!isCompression(compression)) throw new Error(`--grpc-compression must be none, snappy, gzip or deflate, not ${compression}`);
    const grpcTls = await serverTlsFromFlags(o);
    const clientTls = await clientTlsFromFlags(o);
    const serving = await servingFromFlags(o, logger);
    const tenancy = tenancyFromFlags(o);
    const tracingConfig = await tracingConfigFromFlags(o);
    const relabelText = await yamlFlag(o, 'selector.relabel-config');
    const selectorRelabel = relabelText !== undefined ? Relabeler.fromYaml(relabelText, '--selector.relabel-config') : undefined;
    const selectorLabels = Labels.from(parseLabelFlags(o.selectorLabel as string[]));
    const workers = intFlag(o['query.workers'], '--query.workers');
    const slot = workerSlot();
    if (workers > 1 && slot === undefined) {
      logger.info('starting query workers', { workers });
      // The workers' own grace periods, and time to stop after them.
      return runWorkerPool({ count: workers, logger, stopTimeoutMs: Math.max(serving.httpGracePeriodMs ?? 0, serving.grpcGracePeriodMs ?? 0) + 10_000 });
    }
    // Each worker traces what it serves; the primary serves nothing.
    const tracing = startTracingFor(tracingConfig, 'query', logger);
    const querier = await start({
      httpAddress: String(o.httpAddress),
      ...serving,
      grpcAddress: String(o.grpcAddress),
      ...(grpcTls !== undefined ? { grpcTls } : {}),
      ...(clientTls !== undefined ? { clientTls } : {}),
      clientCompression: compression,
      endpoints,
      strictEndpoints,
      endpointGroups,
      strictEndpointGroups,
      tenancy,
      selectTelemetry: selectTelemetryFromFlags(o),
      seriesLimits: { series: intFlag(o['store.limits.requestSeries'], '--store.limits.request-series', 0), samples: intFlag(o['store.limits.requestSamples'], '--store.limits.request-samples', 0) },
      endpointSdFiles: sdFiles,
      ...(selectorRelabel !== undefined ? { selectorRelabel } : {}),
      selectorLabels,
      ...(mode === 'distributed' ? { distributed: { partitionLabels: o['query.partitionLabel'] as string[] } } : {}),
      connMetricLabels: connMetricLabelsFlag(o['query.connMetric.label'] as string[]),
      ...(endpointConfig !== undefined ? { endpointConfig } : {}),
      endpointConfigReloadIntervalMs: parseDuration(String(o['endpoint.sdConfigReloadInterval'])),
      endpointDnsIntervalMs: parseDuration(String(o['store.sdDnsInterval'])),
      endpointInfoTimeoutMs: parseDuration(String(o['endpoint.infoTimeout'])),
      unhealthyTimeoutMs: parseDuration(String(o['store.unhealthyTimeout'])),
      replicaLabels: o['query.replicaLabel'] as string[],
      dedupFunc,
      timeoutMs: parseDuration(String(o['query.timeout'])),
      maxConcurrent: intFlag(o['query.maxConcurrent'], '--query.max-concurrent'),
      maxConcurrentSelect: intFlag(o['query.maxConcurrentSelect'], '--query.max-concurrent-select'),
      lookbackDeltaMs: parseDuration(String(o['query.lookbackDelta'])),
      defaultEvaluationIntervalMs: parseDuration(String(o['query.defaultEvaluationInterval'])),
      metadataTimeRangeMs: parseDuration(String(o['query.metadata.defaultTimeRange'])),
      maxSamples: intFlag(o['query.maxSamples'], '--query.max-samples'),
      remoteRead: {
        sampleLimit: intFlag(o['storage.remote.readSampleLimit'], '--storage.remote.read-sample-limit', 0),
        concurrentLimit: intFlag(o['storage.remote.readConcurrentLimit'], '--storage.remote.read-concurrent-limit', 0),
        maxBytesInFrame: intFlag(o['storage.remote.readMaxBytesInFrame'], '--storage.remote.read-max-bytes-in-frame'),
      },
      logQueriesLongerThanMs: signedDuration(String(o['query.logQueriesLongerThan'])),
      corsOrigin: o['web.disableCors'] === true ? null : corsOriginFlag(String(o['web.cors.origin'])),
      partialResponse: o['query.partialResponse'] !== false,
      autoDownsampling: o['query.autoDownsampling'] === true,
      promqlCompat: compat === '2' ? 2 : 3,
      promqlFeatures: { ...promqlFeatures, xFunctions },
      promqlEngine: engine === 'thanos' ? 'thanos' : 'prometheus',
      storeResponseTimeoutMs: parseDuration(String(o['store.responseTimeout'])),
      ...(prefix !== '' ? { routePrefix: prefix } : {}),
      ui: { ...(externalPrefix !== '' ? { externalPrefix } : {}), ...(prefixHeader !== '' ? { prefixHeader } : {}), defaultStepSeconds: parseDuration(String(o['query.defaultStep'])) / 1000 },
      logger: slot !== undefined ? logger.with({ worker: slot }) : logger,
      flags: flagValues(cmd),
      ...(slot !== undefined ? { metrics: workersMetrics } : {}),
      ...activeQueryFile(String(o['query.activeQueryPath']), slot),
    });
    logger.info('querier ready', { http: querier.httpAddress, grpc: querier.grpcAddress ?? '', ...(slot !== undefined ? { worker: slot } : {}) });
    if (slot !== undefined) serveAsWorker(querier.registry);
    await runUntilSignal(logger, async () => {
      await querier.stop();
      await tracing.stop();
    });
    leaveWorkers();
  });
}

/** Where --query.active-query-path keeps the active queries: its queries.active, or a file per worker process. */
function activeQueryFile(dir: string, slot: number | undefined): { activeQueries?: { dir: string; file?: string } } {
  if (dir === '') return {};
  return { activeQueries: { dir, ...(slot !== undefined ? { file: `queries.worker-${slot}.active` } : {}) } };
}

function featuresFlag(values: readonly string[]): PromqlFeatures {
  try {
    return promqlFeatures(values);
  } catch (e) {
    throw new Error(`--enable-feature: ${(e as Error).message}`);
  }
}

function connMetricLabelsFlag(values: readonly string[]): readonly ConnMetricLabel[] {
  if (values.length === 0) return CONN_METRIC_LABELS;
  const names = values.flatMap((v) => v.split(',')).map((v) => v.trim());
  const unknown = names.find((n) => !(CONN_METRIC_LABELS as readonly string[]).includes(n));
  if (unknown !== undefined) throw new Error(`--query.conn-metric.label must be external_labels or store_type, not ${JSON.stringify(unknown)}`);
  return [...new Set(names as ConnMetricLabel[])];
}

function isCompression(s: string): s is Compression {
  return s === 'none' || s === 'snappy' || s === 'gzip' || s === 'deflate';
}

function corsOriginFlag(pattern: string): RegExp {
  try {
    return corsOrigin(pattern);
  } catch (e) {
    throw new Error(`--web.cors.origin: invalid regex ${JSON.stringify(pattern)}: ${(e as Error).message}`);
  }
}

/** --endpoint.sd-config-file, or --endpoint.sd-config (at most one of them, as Thanos' paired flags). */
function endpointConfigFromFlags(o: Record<string, unknown>): { path: string } | { content: string } | undefined {
  const path = o['endpoint.sdConfigFile'] as string | undefined;
  const content = o['endpoint.sdConfig'] as string | undefined;
  if (path !== undefined && content !== undefined) throw new Error('give only one of --endpoint.sd-config and --endpoint.sd-config-file');
  if (path !== undefined) return { path };
  return content !== undefined ? { content } : undefined;
}

/** Thanos' tenancy flags. */
function tenancyFromFlags(o: Record<string, unknown>): TenancyConfig {
  return { ...tenantSourceFromFlags(o, 'query', 'default-tenant-id'), enforce: o['query.enforceTenancy'] === true, labelName: String(o['query.tenantLabelName']) };
}

/** Thanos' --query.telemetry.* bucket flags; a flag given replaces its defaults. */
function selectTelemetryFromFlags(o: Record<string, unknown>): SelectTelemetryBuckets {
  const numbers = (key: string, flag: string, fallback: readonly number[]): number[] => {
    const given = (o[key] as string[]).map((v) => {
      const n = Number(v);
      if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new Error(`--query.telemetry.${flag} takes numbers ≥ 0, not ${JSON.stringify(v)}`);
      return n;
    });
    return given.length > 0 ? [...new Set(given)].sort((a, b) => a - b) : [...fallback];
  };
  return {
    durationSeconds: numbers('query.telemetry.requestDurationSecondsQuantiles', 'request-duration-seconds-quantiles', DEFAULT_SELECT_TELEMETRY.durationSeconds),
    samples: numbers('query.telemetry.requestSamplesQuantiles', 'request-samples-quantiles', DEFAULT_SELECT_TELEMETRY.samples),
    series: numbers('query.telemetry.requestSeriesSecondsQuantiles', 'request-series-seconds-quantiles', DEFAULT_SELECT_TELEMETRY.series),
  };
}
