import { mkdir } from 'node:fs/promises';
import { blocksPlugin, BlocksRefresher, BlocksView, MetaFetcher, type Relabeler, type TimeBound } from '@strata/block';
import type { DedupFunc } from '@strata/dedup';
import { InstrumentedBucket, type Bucket } from '@strata/objstore';
import { collectProcessMetrics, httpServing, nopLogger, Prober, startHttpServer, type HttpServer, type Logger, type ServingConfig } from '@strata/runtime';
import type { FastifyPluginAsync } from 'fastify';
import { Registry } from 'prom-client';
import { BucketCompactor, type BlockTransfer, type CompactorStep } from './compactor.js';
import { DOWNSAMPLE_RANGE_1H, DOWNSAMPLE_RANGE_5M, RES_1H, RES_5M, RES_RAW } from './downsample.js';
import { CompactorMetrics } from './metrics.js';

export { BucketCompactor, type BlockTransfer, type BucketCompactorOptions, type CompactorStep } from './compactor.js';
export { CompactorMetrics } from './metrics.js';
export { mergeBlocks, type MergeBlocksOptions, type MergeResult } from './merge.js';
export { plan, splitByRange, firstOverlappingRun, compactionRanges, DEFAULT_RANGES } from './planner.js';
export { groupBlocks, findDuplicates, streamLabels, type Group } from './group.js';
export * from './downsample.js';
export { blocksToDelete, type RetentionPolicy } from './retention.js';
export { verifyLocalBlock, findCorruptBlocks } from './verify.js';

export interface CompactorConfig extends ServingConfig {
  bucket: Bucket;
  dataDir: string;
  /** Keep running, one iteration every `waitIntervalMs`; otherwise run one iteration. */
  wait: boolean;
  waitIntervalMs: number;
  /**
   * --compact.cleanup-interval: with `wait`, blocks past their deletion delay and aborted uploads are
   * also deleted this often while iterations run or wait, not only at the end of each (0: only there).
   */
  cleanupIntervalMs?: number;
  consistencyDelayMs: number;
  /** --block-meta-fetch-concurrency: meta.json reads at once (default 32). */
  metaFetchConcurrency?: number;
  /** Retention of raw, 5m and 1h blocks in ms; 0 keeps them forever. */
  retentionRawMs: number;
  retention5mMs: number;
  retention1hMs: number;
  downsampling: boolean;
  replicaLabels: readonly string[];
  /** `penalty` for HA Prometheus pairs (needs replica labels); `chain` (Thanos' default "") for identical replicas. */
  dedupFunc: DedupFunc;
  verticalCompaction: boolean;
  /** --compact.concurrency: groups compacted in parallel. */
  concurrency: number;
  /** --downsample.concurrency: blocks downsampled in parallel (default 1). */
  downsampleConcurrency?: number;
  deleteDelayMs: number;
  relabel?: Relabeler;
  /** --min-time / --max-time: only blocks overlapping this range (as of each sync) are worked on. */
  timeRange?: { min: TimeBound; max: TimeBound };
  /** Serve /metrics and probes here (port 0 picks one); none without it. */
  httpAddress?: string;
  /** Serve the block viewer (`/blocks`, `/api/v1/blocks`) with /metrics and the probes (default; Thanos' --web.disable turns it off). */
  blockViewer?: boolean;
  /** --web.route-prefix: its routes' prefix. */
  routePrefix?: string;
  /** --bucket-web-label: the external label the block viewer (`/blocks`) titles groups of blocks with. */
  blockViewerLabel?: string;
  /** --block-viewer.global.sync-block-interval (default 1m) and …-timeout (default 5m): the block viewer's reads of the bucket. */
  blockViewerSyncIntervalMs?: number;
  blockViewerSyncTimeoutMs?: number;
  logger?: Logger;
  ranges?: readonly number[];
  /** Run only this step (Thanos' `tools bucket downsample` and `tools bucket retention`), not a whole iteration. */
  only?: CompactorStep;
  transfer?: BlockTransfer;
  /** --compact.block-max-index-size (bytes; default 64 GiB): see BucketCompactorOptions. */
  maxBlockIndexSize?: number;
}

export interface Compactor {
  readonly httpAddress: string | undefined;
  readonly metrics: CompactorMetrics;
  /** Settles when a single-run compactor has finished (rejects if the run failed); in wait mode, after stop(). */
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

/** Thanos' startup checks: retention must not delete raw or 5m data before it could be downsampled. */
function checkConfig(c: CompactorConfig): void {
  if (c.dedupFunc === 'penalty' && c.replicaLabels.length === 0) throw new Error('--deduplication.func=penalty needs at least one --deduplication.replica-label');
  if (!c.downsampling) return;
  if (c.retentionRawMs !== 0 && c.retentionRawMs < DOWNSAMPLE_RANGE_5M) throw new Error('raw retention must be at least 40h when downsampling is enabled');
  if (c.retention5mMs !== 0 && c.retention5mMs < DOWNSAMPLE_RANGE_1H) throw new Error('5m retention must be at least 10d when downsampling is enabled');
}

/** Starts `strata compact`: one iteration, or one every wait interval until stopped. */
export async function start(config: CompactorConfig): Promise<Compactor> {
  checkConfig(config);
  const logger = config.logger ?? nopLogger;
  const registry = new Registry();
  collectProcessMetrics(registry);
  const metrics = new CompactorMetrics(registry);
  const prober = new Prober('compact', registry);
  await mkdir(config.dataDir, { recursive: true });
  // Counted in this registry, so that /metrics shows the compactor's object-store operations.
  const bucket = new InstrumentedBucket(config.bucket, registry);
  const compactor = new BucketCompactor({
    bucket,
    dataDir: config.dataDir,
    logger,
    metrics,
    consistencyDelayMs: config.consistencyDelayMs,
    ...(config.metaFetchConcurrency !== undefined ? { metaFetchConcurrency: config.metaFetchConcurrency } : {}),
    deleteDelayMs: config.deleteDelayMs,
    retention: { [RES_RAW]: config.retentionRawMs, [RES_5M]: config.retention5mMs, [RES_1H]: config.retention1hMs },
    downsampling: config.downsampling,
    replicaLabels: config.replicaLabels,
    dedupFunc: config.dedupFunc,
    verticalCompaction: config.verticalCompaction,
    concurrency: config.concurrency,
    ...(config.downsampleConcurrency !== undefined ? { downsampleConcurrency: config.downsampleConcurrency } : {}),
    ...(config.relabel ? { relabel: config.relabel } : {}),
    ...(config.timeRange ? { timeRange: config.timeRange } : {}),
    ...(config.ranges ? { ranges: config.ranges } : {}),
    ...(config.transfer ? { transfer: config.transfer } : {}),
    ...(config.maxBlockIndexSize !== undefined ? { maxBlockIndexSize: config.maxBlockIndexSize } : {}),
  });
  let http: HttpServer | undefined;
  let viewer: BlocksRefresher | undefined;
  if (config.httpAddress !== undefined) {
    const plugins: FastifyPluginAsync[] = [];
    if (config.blockViewer !== false) {
      // The block viewer shows every block in the bucket, read on a timer of its own, as Thanos' global view.
      const blocks = new BlocksView(config.blockViewerLabel);
      viewer = new BlocksRefresher({
        fetcher: new MetaFetcher(bucket, config.metaFetchConcurrency !== undefined ? { concurrency: config.metaFetchConcurrency } : {}),
        view: blocks,
        intervalMs: config.blockViewerSyncIntervalMs ?? 60_000,
        timeoutMs: config.blockViewerSyncTimeoutMs ?? 5 * 60_000,
        onRefresh: (err) => {
          if (err !== undefined) logger.warn('block viewer: reading the bucket failed; the blocks read before stay shown', { err });
        },
      });
      plugins.push(blocksPlugin({ global: blocks }));
    }
    http = await startHttpServer({
      address: config.httpAddress,
      registry,
      prober,
      logger,
      plugins,
      ...(config.routePrefix !== undefined ? { routePrefix: config.routePrefix } : {}),
      ...httpServing(config),
    });
    viewer?.start();
  }
  prober.healthy();
  prober.ready();

  let stopped = false;
  let wake: (() => void) | undefined;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const run = async (): Promise<void> => {
    if (!config.wait) {
      await compactor.runIteration(config.only);
      logger.info(`${config.only ?? 'compaction'} iteration done`);
      return;
    }
    while (!stopped) {
      try {
        await compactor.runIteration(config.only);
        logger.info(`${config.only ?? 'compaction'} iteration done; waiting`, { wait_interval_ms: config.waitIntervalMs });
      } catch (e) {
        logger.error(`${config.only ?? 'compaction'} iteration failed; retrying after the wait interval`, { err: e as Error });
      }
      if (!stopped) await sleep(config.waitIntervalMs);
    }
  };
  const done = run();
  // Callers of a single run observe failures through `done`; keep a rejection from being unhandled meanwhile.
  done.catch(() => {});
  const cleaner = backgroundCleanup(compactor, config, logger);

  return {
    httpAddress: http?.address,
    metrics,
    done,
    async stop() {
      prober.notReady('stopping');
      stopped = true;
      wake?.();
      await cleaner?.stop();
      await done.catch(() => {});
      viewer?.stop();
      await http?.close();
    },
  };
}
/**
 * Cleanup every `cleanupIntervalMs` in wait mode (Thanos' --compact.cleanup-interval), so that a long
 * compaction does not hold up deletions; a cleanup still running when the next is due is not doubled.
 */
function backgroundCleanup(compactor: BucketCompactor, config: CompactorConfig, logger: Logger): { stop(): Promise<void> } | undefined {
  const every = config.cleanupIntervalMs ?? 0;
  if (!config.wait || config.only !== undefined || every <= 0) return undefined;
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    running ??= compactor
      .cleanup()
      .catch((e: unknown) => logger.warn('background cleanup failed; trying again at the next interval', { err: e as Error }))
      .finally(() => (running = undefined));
  }, every);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

export { rewriteBlock, type DeletionRequest, type RewriteOptions, type RewriteResult } from './rewrite.js';
export { repairBlock, REPAIR_SOURCE, type RepairResult } from './repair.js';
