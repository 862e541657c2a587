import type { Command } from 'commander';
import { parseDownstreamTransport, parseResponseCacheConfig, start, type CacheCompression, type ResponseCacheConfig, type SplitOptions } from '@strata/frontend';
import { parseDuration } from '../flags.js';
import { intFlag, loggerFromFlags, repeatable, runUntilSignal, signedDuration, servingFromFlags, tracingConfigFromFlags, startTracingFor, yamlFlag, withServingFlags, withTenantFlags, tenantSourceFromFlags } from './component.js';

/** `strata query-frontend`: split and cached range queries in front of a querier, with `thanos query-frontend`'s flags. */
export function register(program: Command): void {
  const cmd = program
    .command('query-frontend')
    .description('Split range queries, and label and series requests, by day; answer them from results caches where it can and the querier for the rest, in parallel and retried; pass every other request through')
    .option('--http-address <host:port>', 'listen address for the Prometheus API, /metrics and probes', '0.0.0.0:10902')
    .option('--query-frontend.downstream-url <url>', "the querier's HTTP API", 'http://localhost:9090')
    .option(
      '--query-frontend.downstream-tripper-config <yaml>',
      "how the querier is connected to, in Thanos' YAML: idle_conn_timeout (90s), response_header_timeout, tls_handshake_timeout (10s), max_idle_conns and max_idle_conns_per_host (100), max_conns_per_host, tls_config (ca_file, cert_file, key_file, server_name, insecure_skip_verify) for an https:// querier",
    )
    .option('--query-frontend.downstream-tripper-config-file <path>', 'file with that configuration')
    .option('--query-frontend.compress-responses', 'gzip or deflate answers for clients that accept it', false)
    .option('--query-frontend.enable-x-functions', "Thanos' flag letting its frontend read xrate, xincrease and xdelta when it splits and shards queries: Strata's frontend always reads them, so queries with them are split and sharded either way", false)
    .option(
      '--query-frontend.force-query-stats',
      "ask the querier for its stats of every query (stats=all) and log them per request (\"query stats\": the queriers' time, series and chunk bytes fetched, peak and total samples), give them back in a Server-Timing header and count them by tenant, as Thanos; a client that did not ask for stats gets none in its answer",
      false,
    )
    .option('--web.disable-cors', 'send no CORS headers (by default browsers from every origin are answered, as by the querier)', false)
    .option('--cache-compression-type <type>', "compress the answers kept in memcached or redis: snappy, or '' (none)", '')
    .option('--query-frontend.forward-header <name>', 'send only these request headers on to the querier (repeatable; without it, every header but the connection\'s own)', repeatable, [])
    .option('--query-frontend.slow-query-logs-user-header <name>', "the request header naming the user in the slow query log's remote_user (e.g. X-Grafana-User; without it, the basic-auth user)", '')
    .option('--query-frontend.org-id-header <name>', 'the request header naming the tenant in the slow query log as org_id (repeatable: the first present wins; none: anonymous)', repeatable, [])
    .option('--query-frontend.log-queries-longer-than <duration>', 'log API requests slower than this, with their parameters (0: none; negative: every one)', '0')
    .option('--query-range.align-range-with-step', 'move start and end onto multiples of the step, as Grafana asks, so that answers can be cached', true)
    .option('--no-query-range.align-range-with-step', 'keep start and end as asked (only step-aligned pieces are cached)')
    .option('--query-range.request-downsampled', 'for max_source_resolution=auto, ask again at 5m, then 1h, for the start of a range the answer left empty (raw data gone by retention before the downsampled data)', true)
    .option('--no-query-range.request-downsampled', 'answer max_source_resolution=auto queries with what the querier finds at step / 5 alone')
    .option('--query-range.max-query-length <duration>', 'refuse range queries longer than this (0: any)', '0')
    .option('--query-range.min-split-interval <duration>', 'split by range instead of at --query-range.split-interval (which must be 0): a range query longer than this in --query-range.horizontal-shards pieces of equal length (0: off)', '0')
    .option('--query-range.max-split-interval <duration>', 'with --query-range.min-split-interval: a range query of at least twice this is split into pieces this long', '0')
    .option('--query-range.horizontal-shards <n>', 'with --query-range.min-split-interval: the pieces a range query between the min and max split intervals is split into', '0')
    .option(
      '--query-frontend.vertical-shards <n>',
      'send each range or instant query that can be sharded (by the labels its aggregations and vector matchings keep) as this many queries over disjoint shards of the series, answered by as many queriers at once (0 or 1: whole)',
      '0',
    );
  withSplitFlags(cmd, 'query-range', 'range queries');
  withSplitFlags(cmd, 'labels', 'label names, label values and series requests').option(
    '--labels.default-time-range <duration>',
    'the range of label and series requests that give none, back from now (0: such requests go to the querier as they are)',
    '24h',
  );
  withServingFlags(withTenantFlags(cmd, 'query-frontend', 'default-tenant'), { grpc: false, requestLogging: true }).action(async (o: Record<string, unknown>) => {
    const logger = loggerFromFlags(o);
    const tracing = startTracingFor(await tracingConfigFromFlags(o), 'query-frontend', logger);
    const serving = await servingFromFlags(o, logger);
    const range = await splitOptions(o, 'query-range');
    const minSplitInterval = parseDuration(String(o['queryRange.minSplitInterval']));
    const tripper = await yamlFlag(o, 'query-frontend.downstream-tripper-config');
    const frontend = await start({
      httpAddress: String(o.httpAddress),
      ...serving,
      downstreamUrl: downstreamUrl(String(o['queryFrontend.downstreamUrl'])),
      ...(tripper !== undefined ? { downstreamTransport: parseDownstreamTransport(tripper, '--query-frontend.downstream-tripper-config') } : {}),
      compressResponses: o['queryFrontend.compressResponses'] === true,
      forceQueryStats: o['queryFrontend.forceQueryStats'] === true,
      cors: o['web.disableCors'] !== true,
      cacheCompression: cacheCompression(String(o.cacheCompressionType)),
      forwardHeaders: o['queryFrontend.forwardHeader'] as string[],
      orgIdHeaders: o['queryFrontend.orgIdHeader'] as string[],
      slowQueryLogsUserHeader: String(o['queryFrontend.slowQueryLogsUserHeader']),
      tenant: tenantSourceFromFlags(o, 'query-frontend', 'default-tenant'),
      range: {
        ...range,
        alignRangeWithStep: o['queryRange.alignRangeWithStep'] !== false,
        requestDownsampled: o['queryRange.requestDownsampled'] !== false,
        maxQueryLength: parseDuration(String(o['queryRange.maxQueryLength'])),
        minSplitInterval,
        maxSplitInterval: parseDuration(String(o['queryRange.maxSplitInterval'])),
        horizontalShards: intFlag(o['queryRange.horizontalShards'], '--query-range.horizontal-shards', 0),
        verticalShards: intFlag(o['queryFrontend.verticalShards'], '--query-frontend.vertical-shards', 0),
      },
      logQueriesLongerThan: signedDuration(String(o['queryFrontend.logQueriesLongerThan'])),
      labels: { ...(await splitOptions(o, 'labels')), defaultTimeRange: parseDuration(String(o['labels.defaultTimeRange'])) },
      logger,
    });
    if (range.cacheBytes === undefined && range.remote === undefined && (range.splitInterval > 0 || minSplitInterval > 0)) logger.info('no --query-range.response-cache-config: range queries are split but not cached');
    logger.info('query frontend ready', { http: frontend.httpAddress });
    await runUntilSignal(logger, async () => {
      await frontend.stop();
      await tracing.stop();
    });
  });
}

/** The downstream URL, with `http://` when only host:port is given (as Thanos' examples write it). */
function downstreamUrl(s: string): string {
  const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(s) ? s : `http://${s}`;
  try {
    return new URL(url).toString();
  } catch {
    throw new Error(`--query-frontend.downstream-url: not a URL: ${JSON.stringify(s)}`);
  }
}

type SplitFlags = 'query-range' | 'labels';

/** The flags Thanos gives range queries (`--query-range.*`) and label and series requests (`--labels.*`) alike. */
function withSplitFlags(cmd: Command, prefix: SplitFlags, requests: string): Command {
  return cmd
    .option(`--${prefix}.split-interval <duration>`, `split ${requests} at multiples of this and send the pieces in parallel (0: send them whole, uncached)`, '24h')
    .option(`--${prefix}.max-query-parallelism <n>`, `pieces of one of the ${requests} sent to the querier at once`, '14')
    .option(`--${prefix}.max-retries-per-request <n>`, 'attempts per request to the querier when it fails or answers 5xx', '5')
    .option(`--${prefix}.response-cache-max-freshness <duration>`, 'answers for times more recent than this are not cached: they may still change', '1m')
    .option(`--${prefix}.response-cache-config <yaml>`, `a results cache for ${requests} in Thanos' YAML, e.g. "type: IN-MEMORY\nconfig: {max_size: 512MB}" "type: MEMCACHED\nconfig: {addresses: [dns+memcached:11211]}" or "type: REDIS\nconfig: {addr: redis:6379}" (without it, they are not cached)`)
    .option(`--${prefix}.response-cache-config-file <path>`, `file with the results cache configuration for ${requests}`)
    .option(`--${prefix}.partial-response`, `ask for a partial response (data with a warning when an endpoint fails) for ${requests} that do not say`, true)
    .option(`--no-${prefix}.partial-response`, `ask for no partial response for ${requests} that do not say`);
}

async function splitOptions(o: Record<string, unknown>, prefix: SplitFlags): Promise<SplitOptions> {
  const key = prefix === 'query-range' ? 'queryRange' : 'labels';
  const cacheConfig = await yamlFlag(o, `${prefix}.response-cache-config`);
  return {
    splitInterval: parseDuration(String(o[`${key}.splitInterval`])),
    maxQueryParallelism: intFlag(o[`${key}.maxQueryParallelism`], `--${prefix}.max-query-parallelism`),
    maxRetries: intFlag(o[`${key}.maxRetriesPerRequest`], `--${prefix}.max-retries-per-request`),
    maxCacheFreshness: parseDuration(String(o[`${key}.responseCacheMaxFreshness`])),
    partialResponse: o[`${key}.partialResponse`] !== false,
    ...(cacheConfig !== undefined ? cacheOptions(parseResponseCacheConfig(cacheConfig, `--${prefix}.response-cache-config`)) : {}),
  };
}

function cacheOptions(c: ResponseCacheConfig): Pick<SplitOptions, 'cacheBytes' | 'remote'> {
  return c.type === 'REMOTE' ? { remote: { cache: c.cache, expirationMs: c.expirationMs } } : { cacheBytes: c.maxBytes };
}


/** --cache-compression-type: Thanos' values. */
function cacheCompression(v: string): CacheCompression {
  if (v === '' || v === 'snappy') return v;
  throw new Error(`--cache-compression-type: want snappy or '' (none), not ${JSON.stringify(v)}`);
}
