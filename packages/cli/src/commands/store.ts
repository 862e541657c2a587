import type { Command } from 'commander';
import { parseBytes } from '@strata/objstore';
import { start } from '@strata/store';
import { parseDuration, parseTimeBound } from '../flags.js';
import {
  blockViewerFromFlags,
  choiceFlag,
  growHeapBetweenFullCollections,
  intFlag,
  loggerFromFlags,
  runUntilSignal,
  serverTlsFromFlags,
  servingFromFlags,
  tracingConfigFromFlags,
  startTracingFor,
  yamlFlag,
  withBlockViewerFlags,
  withServingFlags,
} from './component.js';
import { requiredBucketFromFlags, withObjstoreFlags } from './objstore-flags.js';

/** `strata store`: the store gateway, serving every block in the bucket over the StoreAPI, with `thanos store`'s flags. */
export function register(program: Command): void {
  const cmd = withObjstoreFlags(program.command('store').description('Serve the blocks in object storage over the StoreAPI, reading only what each query needs with range requests'), 'objstore', 'the bucket to serve')
    .option('--data-dir <dir>', 'local directory for index-headers and cached block metas', './data')
    .option('--grpc-address <host:port>', 'listen address for the StoreAPI', '0.0.0.0:10901')
    .option('--http-address <host:port>', 'listen address for /metrics and probes', '0.0.0.0:10902')
    .option('--sync-block-duration <duration>', 'how often to sync block metas with the bucket', '15m')
    .option('--block-sync-concurrency <n>', 'blocks loaded in parallel during a sync', '20')
    .option('--block-meta-fetch-concurrency <n>', 'meta.json files read from the bucket at once during a sync', '32')
    .option('--min-time <time>', 'serve only data at or after this time: RFC3339, Unix seconds or relative like -2w')
    .option('--max-time <time>', 'serve only data at or before this time: RFC3339, Unix seconds or relative like -1d')
    .option('--selector.relabel-config <yaml>', 'relabel rules over external labels and __block_id selecting the blocks to serve')
    .option('--selector.relabel-config-file <path>', 'file with the relabel rules')
    .option('--index-cache-size <bytes>', 'memory for cached postings, expanded postings and series (e.g. 250MB, base 1024; replaced by --index-cache.config)', '250MB')
    .option('--index-cache.config <yaml>', 'the index cache in Thanos\' YAML, e.g. "type: IN-MEMORY\nconfig: {max_size: 1GB, max_item_size: 16MB}\nenabled_items: [Postings, Series]", or "type: MEMCACHED\nconfig: {addresses: [dns+memcached:11211]}\nttl: 24h" or "type: REDIS\nconfig: {addr: redis:6379}" to share it between store gateways')
    .option('--index-cache.config-file <path>', 'file with the index cache configuration')
    .option('--chunk-pool-size <bytes>', 'most chunk bytes the Series calls in flight may hold at once (as Thanos\' chunk pool); a call that would take more fails with ResourceExhausted (0 = no bound). Without a caching bucket, read buffers are kept for reuse up to an eighth of it', '2GB')
    .option(
      '--store.caching-bucket.config <yaml>',
      'cache chunk reads in memory, memcached or redis (Thanos caching bucket YAML), e.g. "type: IN-MEMORY\nconfig: {max_size: 1GiB, max_item_size: 16MiB}\nchunk_subrange_size: 16000\nmax_chunks_get_range_requests: 3", or "type: MEMCACHED\nconfig: {addresses: [dns+memcached:11211]}"',
    )
    .option('--store.caching-bucket.config-file <path>', 'file with the caching bucket configuration')
    .option('--store.limits.request-samples <n>', 'maximum samples one Series call may return (default 0: no limit)')
    .option('--store.limits.request-series <n>', 'maximum series one Series call may touch, summed over its blocks (default 0: no limit)')
    .option('--store.grpc.series-sample-limit <n>', 'former name of --store.limits.request-samples')
    .option('--store.grpc.touched-series-limit <n>', 'former name of --store.limits.request-series')
    .option(
      '--store.grpc.downloaded-bytes-limit <bytes>',
      'most bytes one Series, label names or label values call may read from the bucket (e.g. 1GB); past it the call fails with ResourceExhausted. What the caches answer is not counted (0: no limit)',
      '0',
    )
    .option('--store.grpc.series-max-concurrency <n>', 'Series calls processed at once; more wait', '20')
    .option('--store.enable-index-header-lazy-reader', "Thanos' flag, always so in Strata: a block's index-header is opened on its first query and closed once idle", false)
    .option('--consistency-delay <duration>', 'ignore blocks uploaded more recently than this', '0s')
    .option('--ignore-deletion-marks-delay <duration>', 'stop serving a block this long after it was marked for deletion', '24h')
    .option('--bucket-web-label <label>', 'external label the block viewer (/loaded, /blocks on --http-address) titles groups of blocks with')
    .option('--cache-index-header', "Thanos' flag, always so in Strata: index-headers are kept in --data-dir, so that a restart reads none again", true)
    .option('--no-cache-index-header', 'not offered: Strata keeps index-headers in --data-dir all the same (a warning says so)')
    .option('--store.index-header-lazy-download-strategy <strategy>', "Thanos' eager or lazy: Strata builds a block's index-header when the block loads (eager) and opens it on first use", 'eager')
    .option('--store.enable-lazy-expanded-postings', "Thanos' flag: accepted; Strata intersects a selection's postings from the smallest list on, reading each by range", false)
    .option('--store.posting-group-max-key-series-ratio <ratio>', "Thanos' tuning of lazy expanded postings: accepted, see --store.enable-lazy-expanded-postings", '100')
    .option('--matcher-cache-size <n>', "Thanos' cache of compiled regex matchers: accepted; a query's matchers are compiled once for all its blocks", '0')
    .option('--block-discovery-strategy <strategy>', "Thanos' concurrent or recursive listing of the bucket: Strata lists its top level and reads each block's meta.json, as concurrent does", 'concurrent');
  withServingFlags(withBlockViewerFlags(cmd), { grpc: true, requestLogging: true }).action(async (o: Record<string, unknown>) => {
    growHeapBetweenFullCollections();
    const logger = loggerFromFlags(o);
    const tracing = startTracingFor(await tracingConfigFromFlags(o), 'store', logger);
    const serving = await servingFromFlags(o, logger);
    const relabelConfig = await yamlFlag(o, 'selector.relabel-config');
    const cachingBucketConfig = await yamlFlag(o, 'store.caching-bucket.config');
    const indexCacheConfig = await yamlFlag(o, 'index-cache.config');
    const minTime = o.minTime as string | undefined;
    const maxTime = o.maxTime as string | undefined;
    const grpcTls = await serverTlsFromFlags(o);
    const bucket = await requiredBucketFromFlags(o, 'objstore');
    choiceFlag(o['store.indexHeaderLazyDownloadStrategy'], '--store.index-header-lazy-download-strategy', ['eager', 'lazy']);
    choiceFlag(o.blockDiscoveryStrategy, '--block-discovery-strategy', ['concurrent', 'recursive']);
    intFlag(o.matcherCacheSize, '--matcher-cache-size', 0);
    if (o.cacheIndexHeader === false) logger.warn('--no-cache-index-header: Strata keeps index-headers in --data-dir all the same');
    const store = await start({
      bucket,
      dataDir: String(o.dataDir),
      grpcAddress: String(o.grpcAddress),
      ...(grpcTls !== undefined ? { grpcTls } : {}),
      httpAddress: String(o.httpAddress),
      ...blockViewerFromFlags(o),
      ...(o.bucketWebLabel !== undefined ? { blockViewerLabel: String(o.bucketWebLabel) } : {}),
      ...serving,
      syncIntervalMs: parseDuration(String(o.syncBlockDuration)),
      blockSyncConcurrency: intFlag(o.blockSyncConcurrency, '--block-sync-concurrency', 1),
      metaFetchConcurrency: intFlag(o.blockMetaFetchConcurrency, '--block-meta-fetch-concurrency'),
      ...(minTime !== undefined ? { minTime: parseTimeBound(minTime) } : {}),
      ...(maxTime !== undefined ? { maxTime: parseTimeBound(maxTime) } : {}),
      ...(relabelConfig !== undefined ? { relabelConfig } : {}),
      indexCacheBytes: parseBytes(String(o.indexCacheSize), '--index-cache-size'),
      ...(indexCacheConfig !== undefined ? { indexCacheConfig } : {}),
      chunkPoolBytes: parseBytes(String(o.chunkPoolSize), '--chunk-pool-size'),
      ...(cachingBucketConfig !== undefined ? { cachingBucketConfig } : {}),
      seriesSampleLimit: intFlag(o['store.limits.requestSamples'] ?? o['store.grpc.seriesSampleLimit'] ?? 0, '--store.limits.request-samples', 0),
      seriesLimit: intFlag(o['store.limits.requestSeries'] ?? o['store.grpc.touchedSeriesLimit'] ?? 0, '--store.limits.request-series', 0),
      downloadedBytesLimit: parseBytes(String(o['store.grpc.downloadedBytesLimit']), '--store.grpc.downloaded-bytes-limit'),
      seriesMaxConcurrency: intFlag(o['store.grpc.seriesMaxConcurrency'], '--store.grpc.series-max-concurrency', 1),
      consistencyDelayMs: parseDuration(String(o.consistencyDelay)),
      ignoreDeletionMarksDelayMs: parseDuration(String(o.ignoreDeletionMarksDelay)),
      logger,
    });
    logger.info('store gateway ready', { grpc: store.grpcAddress, http: store.httpAddress });
    await runUntilSignal(logger, async () => {
      await store.stop();
      await bucket.close();
      await tracing.stop();
    });
  });
}
