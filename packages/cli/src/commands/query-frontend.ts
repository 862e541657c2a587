import type { Command } from 'commander';
import { parseResponseCacheConfig, start } from '@strata/frontend';
import { parseDuration } from '../flags.js';
import { intFlag, loggerFromFlags, runUntilSignal, signedDuration, webConfigFromFlags, withHttpConfigFlag, withLogFlags, yamlFlag } from './component.js';

/** `strata query-frontend`: split and cached range queries in front of a querier, with `thanos query-frontend`'s flags. */
export function register(program: Command): void {
  const cmd = program
    .command('query-frontend')
    .description('Split range queries, and label and series requests, by day; answer them from results caches where it can and the querier for the rest, in parallel and retried; pass every other request through')
    .option('--http-address <host:port>', 'listen address for the Prometheus API, /metrics and probes', '0.0.0.0:10902')
    .option('--query-frontend.downstream-url <url>', "the querier's HTTP API", 'http://localhost:9090')
    .option('--query-frontend.compress-responses', 'gzip or deflate answers for clients that accept it', false)
    .option('--query-frontend.log-queries-longer-than <duration>', 'log range queries slower than this, with their parameters (0: none; negative: every one)', '0')
    .option('--query-range.split-interval <duration>', 'split range queries at multiples of this and run the pieces in parallel (0: no splitting, and no caching)', '24h')
    .option('--query-range.align-range-with-step', 'move start and end onto multiples of the step, as Grafana asks, so that answers can be cached', true)
    .option('--no-query-range.align-range-with-step', 'keep start and end as asked (only step-aligned pieces are cached)')
    .option('--query-range.max-query-length <duration>', 'refuse range queries longer than this (0: any)', '0')
    .option('--query-range.max-query-parallelism <n>', 'pieces of one range query sent to the querier at once', '14')
    .option('--query-range.max-retries-per-request <n>', 'attempts per request to the querier when it fails or answers 5xx', '5')
    .option('--query-range.response-cache-max-freshness <duration>', 'answers for times more recent than this are not cached: they may still change', '1m')
    .option('--query-range.response-cache-config <yaml>', 'the results cache in Thanos\' YAML, e.g. "type: IN-MEMORY\nconfig: {max_size: 512MB}" (without it, nothing is cached)')
    .option('--query-range.response-cache-config-file <path>', 'file with the results cache configuration')
    .option('--labels.split-interval <duration>', 'split label names, label values and series requests at multiples of this (0: send them on whole, uncached)', '24h')
    .option('--labels.max-query-parallelism <n>', 'pieces of one label or series request sent to the querier at once', '14')
    .option('--labels.max-retries-per-request <n>', 'attempts per label or series request to the querier when it fails or answers 5xx', '5')
    .option('--labels.response-cache-max-freshness <duration>', 'pieces of label and series requests ending more recently than this are not cached', '1m')
    .option('--labels.response-cache-config <yaml>', 'a results cache for label and series answers, in the same YAML (without it, they are not cached)')
    .option('--labels.response-cache-config-file <path>', 'file with the label and series results cache configuration');
  withLogFlags(withHttpConfigFlag(cmd)).action(async (o: Record<string, unknown>) => {
    const logger = loggerFromFlags(o);
    const cacheConfig = await yamlFlag(o, 'query-range.response-cache-config');
    const labelsCacheConfig = await yamlFlag(o, 'labels.response-cache-config');
    const splitInterval = parseDuration(String(o['queryRange.splitInterval']));
    const frontend = await start({
      httpAddress: String(o.httpAddress),
      ...(await webConfigFromFlags(o)),
      downstreamUrl: downstreamUrl(String(o['queryFrontend.downstreamUrl'])),
      compressResponses: o['queryFrontend.compressResponses'] === true,
      range: {
        splitInterval,
        alignRangeWithStep: o['queryRange.alignRangeWithStep'] !== false,
        maxQueryLength: parseDuration(String(o['queryRange.maxQueryLength'])),
        maxQueryParallelism: intFlag(o['queryRange.maxQueryParallelism'], '--query-range.max-query-parallelism'),
        maxCacheFreshness: parseDuration(String(o['queryRange.responseCacheMaxFreshness'])),
        logQueriesLongerThan: signedDuration(String(o['queryFrontend.logQueriesLongerThan'])),
      },
      maxRetries: intFlag(o['queryRange.maxRetriesPerRequest'], '--query-range.max-retries-per-request'),
      ...(cacheConfig !== undefined ? { responseCacheBytes: parseResponseCacheConfig(cacheConfig, '--query-range.response-cache-config').maxBytes } : {}),
      labels: {
        splitInterval: parseDuration(String(o['labels.splitInterval'])),
        maxQueryParallelism: intFlag(o['labels.maxQueryParallelism'], '--labels.max-query-parallelism'),
        maxCacheFreshness: parseDuration(String(o['labels.responseCacheMaxFreshness'])),
      },
      labelsMaxRetries: intFlag(o['labels.maxRetriesPerRequest'], '--labels.max-retries-per-request'),
      ...(labelsCacheConfig !== undefined ? { labelsResponseCacheBytes: parseResponseCacheConfig(labelsCacheConfig, '--labels.response-cache-config').maxBytes } : {}),
      logger,
    });
    if (cacheConfig === undefined && splitInterval > 0) logger.info('no --query-range.response-cache-config: range queries are split but not cached');
    logger.info('query frontend ready', { http: frontend.httpAddress });
    await runUntilSignal(logger, () => frontend.stop());
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
