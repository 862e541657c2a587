import type { Command } from 'commander';
import { blocksPlugin, BlocksRefresher, BlocksView, LabelShardedFilter, MetaFetcher, Relabeler, TimePartitionFilter, type MetaFilter, type TimeBound } from '@strata/block';
import type { Bucket } from '@strata/objstore';
import { collectProcessMetrics, httpServing, Prober, startHttpServer, type Logger, type ServingConfig } from '@strata/runtime';
import { Counter, Gauge, Registry } from 'prom-client';
import { parseDuration, parseTimeBound } from '../flags.js';
import { blockViewerFromFlags, loggerFromFlags, runUntilSignal, servingFromFlags, startTracingFor, tracingConfigFromFlags, withBlockViewerRouteFlags, withServingFlags, yamlFlag } from './component.js';
import { requiredBucketFromFlags, withObjstoreFlags } from './objstore-flags.js';
import { withRelabelSelectorFlags, withTimeRangeFlags } from './tools-bucket.js';

export interface BucketWebOptions {
  bucket: Bucket;
  httpAddress: string;
  /** --http.config and --http-grace-period. */
  serving?: ServingConfig;
  routePrefix?: string;
  /** How often the blocks are read from the bucket again. */
  refreshMs: number;
  /** A refresh that takes longer fails (the blocks read before stay shown). */
  timeoutMs: number;
  /** The external label that titles groups of blocks. */
  label: string;
  /** Relabel rules over external labels and __block_id selecting the blocks shown. */
  relabelConfig?: string;
  /** Only blocks overlapping this range are shown (--min-time, --max-time; relative bounds read again at each refresh). */
  timeRange?: { min: TimeBound; max: TimeBound };
  logger: Logger;
}

export interface BucketWeb {
  readonly httpAddress: string;
  readonly view: BlocksView;
  /** Reads the bucket's blocks again now. */
  refresh(): Promise<void>;
  stop(): Promise<void>;
}

/** `strata tools bucket web`: Thanos' block viewer over a bucket, its blocks read again every `refreshMs`. */
export async function startBucketWeb(opts: BucketWebOptions): Promise<BucketWeb> {
  const registry = new Registry();
  collectProcessMetrics(registry);
  const refreshes = new Counter({ name: 'strata_bucket_web_refreshes_total', help: 'Reads of the bucket’s blocks.', registers: [registry] });
  const failures = new Counter({ name: 'strata_bucket_web_refresh_failures_total', help: 'Reads of the bucket’s blocks that failed or timed out.', registers: [registry] });
  const lastSuccess = new Gauge({ name: 'strata_bucket_web_last_successful_refresh_timestamp_seconds', help: 'When the blocks shown were read.', registers: [registry] });
  const prober = new Prober('bucket-web', registry);
  const view = new BlocksView(opts.label);
  const filters: MetaFilter[] = [
    ...(opts.timeRange !== undefined ? [new TimePartitionFilter(opts.timeRange.min, opts.timeRange.max)] : []),
    ...(opts.relabelConfig !== undefined ? [new LabelShardedFilter(Relabeler.fromYaml(opts.relabelConfig, '--selector.relabel-config'))] : []),
  ];
  const refresher = new BlocksRefresher({
    fetcher: new MetaFetcher(opts.bucket, { filters }),
    view,
    intervalMs: opts.refreshMs,
    timeoutMs: opts.timeoutMs,
    onRefresh: (err, unreadable) => {
      refreshes.inc();
      for (const [id, e] of unreadable) opts.logger.warn('block meta.json unreadable; block not shown', { block: id, err: e });
      if (err !== undefined) {
        failures.inc();
        opts.logger.error('reading the bucket failed; the blocks read before stay shown', { err });
        return;
      }
      lastSuccess.setToCurrentTime();
      prober.ready();
    },
  });
  const http = await startHttpServer({
    address: opts.httpAddress,
    registry,
    prober,
    logger: opts.logger,
    plugins: [blocksPlugin({ global: view })],
    ...(opts.routePrefix !== undefined ? { routePrefix: opts.routePrefix } : {}),
    ...httpServing(opts.serving ?? {}),
  });
  prober.healthy();
  refresher.start();
  return {
    httpAddress: http.address,
    view,
    refresh: () => refresher.refresh(),
    stop: async () => {
      refresher.stop();
      await http.close();
    },
  };
}

/** Registers `strata tools bucket web`, with `thanos tools bucket web`'s flags. */
export function registerWeb(bucket: Command): void {
  const cmd = withObjstoreFlags(bucket.command('web').description("Serve the block viewer: the bucket's blocks on a timeline (/blocks) and Thanos' blocks API (/api/v1/blocks), read again every --refresh"), 'objstore', 'the bucket')
    .option('--http-address <host:port>', 'listen address for the block viewer, /metrics and probes', '0.0.0.0:10902')
    .option('--refresh <duration>', "how often the bucket's blocks are read again", '30m')
    .option('--timeout <duration>', 'how long a read of the blocks may take', '5m')
    .option('--label <label>', 'external label to title groups of blocks with', '');
  withServingFlags(withBlockViewerRouteFlags(withRelabelSelectorFlags(withTimeRangeFlags(cmd, 'shown'), 'shown')), { grpc: false, requestLogging: false }).action(async (o: Record<string, unknown>) => {
    const logger = loggerFromFlags(o);
    const tracing = startTracingFor(await tracingConfigFromFlags(o), 'bucket-web', logger);
    const relabelConfig = await yamlFlag(o, 'selector.relabel-config');
    const { routePrefix } = blockViewerFromFlags(o);
    const web = await startBucketWeb({
      bucket: await requiredBucketFromFlags(o, 'objstore'),
      httpAddress: String(o.httpAddress),
      serving: await servingFromFlags(o, logger),
      ...(routePrefix !== undefined ? { routePrefix } : {}),
      refreshMs: parseDuration(String(o.refresh)),
      timeoutMs: parseDuration(String(o.timeout)),
      label: String(o.label),
      ...(relabelConfig !== undefined ? { relabelConfig } : {}),
      timeRange: { min: parseTimeBound(String(o.minTime)), max: parseTimeBound(String(o.maxTime)) },
      logger,
    });
    logger.info('bucket web started', { http: web.httpAddress });
    await runUntilSignal(logger, async () => {
      await web.stop();
      await tracing.stop();
    });
  });
}
