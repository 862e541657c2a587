import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { Relabeler, TimeBound } from '@strata/block';
import { compactionRanges, start, type Compactor } from '@strata/compactor';
import { parseBytes } from '@strata/objstore';
import type { Logger } from '@strata/runtime';
import { parseDuration, parseTimeBound } from '../flags.js';
import {
  blockViewerFromFlags,
  choiceFlag,
  hashFuncFlag,
  intFlag,
  loggerFromFlags,
  repeatable,
  runUntilSignal,
  servingFromFlags,
  withBlockViewerFlags,
  toolAction,
  withToolFlags,
  tracingConfigFromFlags,
  startTracingFor,
  withServingFlags,
  yamlFlag,
} from './component.js';
import { requiredBucketFromFlags, withObjstoreFlags } from './objstore-flags.js';

/** Flags `strata compact` shares with `tools bucket retention`. */
function withRetentionFlags(cmd: Command): Command {
  return cmd
    .option('--consistency-delay <duration>', 'ignore blocks uploaded more recently than this (compactor-made blocks excepted)', '30m')
    .option('--retention.resolution-raw <duration>', 'delete raw blocks older than this (0d: keep forever)', '0d')
    .option('--retention.resolution-5m <duration>', 'delete 5m blocks older than this (0d: keep forever)', '0d')
    .option('--retention.resolution-1h <duration>', 'delete 1h blocks older than this (0d: keep forever)', '0d')
    .option('--selector.relabel-config <yaml>', 'relabel rules over external labels and __block_id selecting the blocks to work on')
    .option('--selector.relabel-config-file <path>', 'file with the relabel rules')
    .option('--min-time <time>', 'work only on blocks ending at or after this time: RFC3339, Unix seconds or relative like -2w (read again at every iteration)')
    .option('--max-time <time>', 'work only on blocks starting at or before this time: RFC3339, Unix seconds or relative like -1d');
}

/** A --min-time or --max-time flag; absent, `unbounded`. */
function timeBoundFlag(value: unknown, unbounded: number): TimeBound {
  return value === undefined ? TimeBound.at(unbounded) : parseTimeBound(String(value));
}

/** The compactor options those flags give. */
async function retentionFromFlags(o: Record<string, unknown>) {
  const relabelText = await yamlFlag(o, 'selector.relabel-config');
  return {
    consistencyDelayMs: parseDuration(String(o.consistencyDelay)),
    retentionRawMs: parseDuration(String(o['retention.resolutionRaw'])),
    retention5mMs: parseDuration(String(o['retention.resolution5m'])),
    retention1hMs: parseDuration(String(o['retention.resolution1h'])),
    ...(relabelText !== undefined ? { relabel: Relabeler.fromYaml(relabelText, 'selector relabel config') } : {}),
    ...(o.minTime !== undefined || o.maxTime !== undefined
      ? { timeRange: { min: timeBoundFlag(o.minTime, -Infinity), max: timeBoundFlag(o.maxTime, Infinity) } }
      : {}),
  };
}

/** Flags `strata compact` shares with `tools bucket downsample`. */
function withWorkFlags(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'local scratch directory for blocks being compacted or downsampled', './data')
    .option('--http-address <host:port>', 'listen address for /metrics and probes', '0.0.0.0:10902')
    .option('--wait-interval <duration>', 'time between iterations when running continuously', '5m')
    .option('--downsample.concurrency <n>', 'blocks downsampled in parallel (each downloaded, downsampled and uploaded by one worker)', '1');
}

/** Runs a compactor until it is done, or (`wait`) until Ctrl-C; then stops it, and runs `afterStop`. */
async function runCompactor(compactor: Compactor, wait: boolean, logger: Logger, afterStop: () => Promise<void> = async () => {}): Promise<void> {
  const stop = async () => {
    await compactor.stop();
    await afterStop();
  };
  if (wait) {
    await runUntilSignal(logger, stop);
    return;
  }
  try {
    await compactor.done;
  } finally {
    await stop();
  }
}

/** `strata compact`: compaction, offline deduplication, downsampling, retention and cleanup of a bucket, with `thanos compact`'s flags. */
export function register(program: Command): void {
  const cmd = withRetentionFlags(
    withWorkFlags(withObjstoreFlags(program.command('compact').description('Compact, deduplicate, downsample and apply retention to the blocks in object storage; never halts the whole bucket'), 'objstore', 'the bucket to compact')),
  )
    .option('-w, --wait', 'keep running, one iteration every --wait-interval (default: one iteration, then exit)', false)
    .option('--downsampling.disable', 'do not downsample', false)
    .option('--deduplication.replica-label <label>', 'external label telling HA replicas apart; their blocks are merged into one (vertical compaction); repeatable', repeatable, [])
    .option('--deduplication.func <func>', '"" (chain: identical replicas, as Prometheus vertical compaction) or penalty (HA Prometheus pairs)', '')
    .option('--compact.enable-vertical-compaction', 'merge overlapping blocks of a group instead of skipping them', false)
    .option('--compact.concurrency <n>', 'groups compacted in parallel', '1')
    .option('--compact.block-max-index-size <size>', "largest index a compacted block may get (Thanos' hidden flag): a plan whose sources' indexes reach 85% of it has its block with the largest index marked no-compact (reason index-size-exceeding) and is planned again without it", '64GB')
    .option('--block-meta-fetch-concurrency <n>', 'meta.json files read from the bucket at once', '32')
    .option('--debug.max-compaction-level <n>', 'highest compaction level: 1 leaves 2h blocks as they are, 2 compacts up to 8h, 3 up to 2d, 4 up to 14d (as Thanos)', '4')
    .option('--delete-delay <duration>', 'how long a block marked for deletion stays before it is deleted (0s: at once)', '48h')
    .option('--bucket-web-label <label>', 'external label the block viewer (/blocks on --http-address) titles groups of blocks with')
    .option('--block-viewer.global.sync-block-interval <duration>', "how often the block viewer reads the bucket's blocks", '1m')
    .option('--block-viewer.global.sync-block-timeout <duration>', "how long the block viewer's read of the bucket may take", '5m')
    .option('--compact.cleanup-interval <duration>', 'with --wait, also delete blocks past their deletion delay and aborted uploads this often, while iterations run or wait (0s: only at the end of each iteration)', '5m')
    .option('--block-files-concurrency <n>', 'files of one block downloaded or uploaded at once', '4')
    .option('--compact.blocks-fetch-concurrency <n>', 'source blocks of a compaction downloaded at once', '2')
    .option('--hash-func <func>', 'SHA256: record each uploaded file\'s SHA256 in meta.json, so that a later download skips a file it already has ("": none, as Thanos)', '')
    .option(
      '--compact.skip-block-with-out-of-order-chunks',
      "accepted as Thanos' deployments set it: Strata's compactor merges a series' overlapping or out-of-order chunks into order as it compacts, and marks a block it cannot read no-compact, without halting",
      false,
    )
    .option('--compact.progress-interval <duration>', "Thanos' interval of its background progress computation: accepted; Strata counts the compactions left (strata_compact_todo_compactions) at every iteration's sync", '5m')
    .option('--block-discovery-strategy <strategy>', "Thanos' concurrent or recursive listing of the bucket: Strata lists its top level and reads each block's meta.json, as concurrent does", 'concurrent')
    .option(
      '--debug.accept-malformed-index',
      "accepted as Thanos' deployments set it; Strata's compactor never halts the bucket on a block: one it cannot compact is marked no-compact with the reason, and the rest goes on",
      false,
    )
    .option(
      '--debug.halt-on-error',
      "Thanos' halt on a critical compaction error (on by default; --no-debug.halt-on-error exits instead): accepted; Strata's compactor neither halts nor exits on one, it skips the plan and counts it in strata_compact_group_skipped_total by reason",
      true,
    );
  withServingFlags(withBlockViewerFlags(cmd), { grpc: false, requestLogging: false }).action(async (o: Record<string, unknown>) => {
    const logger = loggerFromFlags(o);
    parseDuration(String(o['compact.progressInterval']));
    choiceFlag(o.blockDiscoveryStrategy, '--block-discovery-strategy', ['concurrent', 'recursive']);
    const tracing = startTracingFor(await tracingConfigFromFlags(o), 'compact', logger);
    const serving = await servingFromFlags(o, logger);
    const func = String(o['deduplication.func']);
    if (func !== '' && func !== 'penalty') throw new Error(`--deduplication.func must be "" or penalty, not ${func}`);
    const compactor = await start({
      bucket: await requiredBucketFromFlags(o, 'objstore'),
      dataDir: String(o.dataDir),
      httpAddress: String(o.httpAddress),
      ...serving,
      wait: o.wait === true,
      waitIntervalMs: parseDuration(String(o.waitInterval)),
      cleanupIntervalMs: parseDuration(String(o['compact.cleanupInterval'])),
      ...(await retentionFromFlags(o)),
      downsampling: o['downsampling.disable'] !== true,
      replicaLabels: o['deduplication.replicaLabel'] as string[],
      dedupFunc: func === 'penalty' ? 'penalty' : 'chain',
      verticalCompaction: o['compact.enableVerticalCompaction'] === true,
      concurrency: intFlag(o['compact.concurrency'], '--compact.concurrency'),
      maxBlockIndexSize: parseBytes(String(o['compact.blockMaxIndexSize']), '--compact.block-max-index-size'),
      metaFetchConcurrency: intFlag(o.blockMetaFetchConcurrency, '--block-meta-fetch-concurrency'),
      ranges: maxCompactionLevel(o['debug.maxCompactionLevel']),
      downsampleConcurrency: intFlag(o['downsample.concurrency'], '--downsample.concurrency'),
      deleteDelayMs: parseDuration(String(o.deleteDelay)),
      transfer: {
        filesConcurrency: intFlag(o.blockFilesConcurrency, '--block-files-concurrency'),
        blocksFetchConcurrency: intFlag(o['compact.blocksFetchConcurrency'], '--compact.blocks-fetch-concurrency'),
        hashFiles: hashFuncFlag(String(o.hashFunc)),
      },
      ...blockViewerFromFlags(o),
      ...(o.bucketWebLabel !== undefined ? { blockViewerLabel: String(o.bucketWebLabel) } : {}),
      blockViewerSyncIntervalMs: parseDuration(String(o['blockViewer.global.syncBlockInterval'])),
      blockViewerSyncTimeoutMs: parseDuration(String(o['blockViewer.global.syncBlockTimeout'])),
      logger,
    });
    logger.info('compactor started', { http: compactor.httpAddress ?? '', wait: o.wait === true });
    await runCompactor(compactor, o.wait === true, logger, () => tracing.stop());
  });
}

/** What the single-step tools leave at its defaults: no compaction, deduplication or deletion. */
const STEP_DEFAULTS = { replicaLabels: [], dedupFunc: 'chain', verticalCompaction: false, concurrency: 1, deleteDelayMs: 0 } as const;

/**
 * `strata tools bucket downsample` (Thanos' tool: downsamples the bucket continuously, every
 * --wait-interval, until Ctrl-C) and `strata tools bucket retention` (marks the blocks past their
 * resolution's retention for deletion, once; a compactor or `tools bucket cleanup` deletes them).
 */
export function registerBucketSteps(bucket: Command): void {
  const downsample = withWorkFlags(withObjstoreFlags(bucket.command('downsample').description('Downsample the blocks in object storage (raw to 5m, 5m to 1h) every --wait-interval until stopped'), 'objstore', 'the bucket'))
    .option('--block-files-concurrency <n>', 'files of one block downloaded or uploaded at once', '1')
    .option('--hash-func <func>', 'SHA256: record each uploaded file\'s SHA256 in meta.json, so that a later download skips a file it already has ("": none, as Thanos)', '');
  withServingFlags(downsample, { grpc: false, requestLogging: false }).action(async (o: Record<string, unknown>) => {
    const logger = loggerFromFlags(o);
    const tracing = startTracingFor(await tracingConfigFromFlags(o), 'downsample', logger);
    const compactor = await start({
      ...STEP_DEFAULTS,
      bucket: await requiredBucketFromFlags(o, 'objstore'),
      dataDir: String(o.dataDir),
      httpAddress: String(o.httpAddress),
      ...(await servingFromFlags(o, logger)),
      transfer: { filesConcurrency: intFlag(o.blockFilesConcurrency, '--block-files-concurrency'), hashFiles: hashFuncFlag(String(o.hashFunc)) },
      wait: true,
      waitIntervalMs: parseDuration(String(o.waitInterval)),
      consistencyDelayMs: 0,
      retentionRawMs: 0,
      retention5mMs: 0,
      retention1hMs: 0,
      downsampling: true,
      downsampleConcurrency: intFlag(o['downsample.concurrency'], '--downsample.concurrency'),
      only: 'downsample',
      logger,
    });
    logger.info('downsampler started', { http: compactor.httpAddress ?? '' });
    await runCompactor(compactor, true, logger, () => tracing.stop());
  });
  const retention = withRetentionFlags(withObjstoreFlags(bucket.command('retention').description('Mark the blocks older than their resolution\'s retention for deletion'), 'objstore', 'the bucket'))
    .option('--delete-delay <duration>', 'how long a block marked for deletion stays before a compactor or `tools bucket cleanup` deletes it (retention only marks); a block marked already is not marked again', '48h')
    .option('--block-sync-concurrency <n>', 'meta.json files read from the bucket at once', '20');
  withToolFlags(retention).action(toolAction('bucket retention', async (o) => {
    const logger = loggerFromFlags(o);
    const compactor = await start({
      ...STEP_DEFAULTS,
      deleteDelayMs: parseDuration(String(o.deleteDelay)),
      metaFetchConcurrency: intFlag(o.blockSyncConcurrency, '--block-sync-concurrency'),
      bucket: await requiredBucketFromFlags(o, 'objstore'),
      dataDir: join(tmpdir(), 'strata-retention'),
      wait: false,
      waitIntervalMs: 0,
      ...(await retentionFromFlags(o)),
      downsampling: false,
      only: 'retention',
      logger,
    });
    await runCompactor(compactor, false, logger);
  }));
}

/** --debug.max-compaction-level as the compaction windows it allows. */
function maxCompactionLevel(v: unknown): number[] {
  try {
    return compactionRanges(intFlag(v, '--debug.max-compaction-level'));
  } catch (e) {
    throw new Error(`--debug.max-compaction-level: ${(e as Error).message}`);
  }
}
