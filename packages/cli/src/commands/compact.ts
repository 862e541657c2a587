import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { Relabeler } from '@strata/block';
import { start } from '@strata/compactor';
import { parseDuration } from '../flags.js';
import { loggerFromFlags, repeatable, runUntilSignal, withLogFlags } from './component.js';
import { requiredBucketFromFlags, withObjstoreFlags } from './objstore-flags.js';

/** `strata compact`: compaction, offline deduplication, downsampling, retention and cleanup of a bucket, with `thanos compact`'s flags. */
export function register(program: Command): void {
  const cmd = withObjstoreFlags(program.command('compact').description('Compact, deduplicate, downsample and apply retention to the blocks in object storage; never halts the whole bucket'), 'objstore', 'the bucket to compact')
    .option('--data-dir <dir>', 'local scratch directory for blocks being compacted or downsampled', './data')
    .option('--http-address <host:port>', 'listen address for /metrics and probes', '0.0.0.0:10902')
    .option('--wait', 'keep running, one iteration every --wait-interval (default: one iteration, then exit)', false)
    .option('--wait-interval <duration>', 'time between iterations with --wait', '5m')
    .option('--consistency-delay <duration>', 'ignore blocks uploaded more recently than this (compactor-made blocks excepted)', '30m')
    .option('--retention.resolution-raw <duration>', 'delete raw blocks older than this (0d: keep forever)', '0d')
    .option('--retention.resolution-5m <duration>', 'delete 5m blocks older than this (0d: keep forever)', '0d')
    .option('--retention.resolution-1h <duration>', 'delete 1h blocks older than this (0d: keep forever)', '0d')
    .option('--downsampling.disable', 'do not downsample', false)
    .option('--deduplication.replica-label <label>', 'external label telling HA replicas apart; their blocks are merged into one (vertical compaction); repeatable', repeatable, [])
    .option('--deduplication.func <func>', '"" (chain: identical replicas, as Prometheus vertical compaction) or penalty (HA Prometheus pairs)', '')
    .option('--compact.enable-vertical-compaction', 'merge overlapping blocks of a group instead of skipping them', false)
    .option('--compact.concurrency <n>', 'groups compacted in parallel', '1')
    .option('--delete-delay <duration>', 'how long a block marked for deletion stays before it is deleted (0s: at once)', '48h')
    .option('--selector.relabel-config <yaml>', 'relabel rules over external labels and __block_id selecting the blocks to compact')
    .option('--selector.relabel-config-file <path>', 'file with the relabel rules');
  withLogFlags(cmd).action(async (o: Record<string, unknown>) => {
    const logger = loggerFromFlags(o);
    const inline = o['selector.relabelConfig'] as string | undefined;
    const file = o['selector.relabelConfigFile'] as string | undefined;
    if (inline !== undefined && file !== undefined) throw new Error('give only one of --selector.relabel-config and --selector.relabel-config-file');
    const relabelText = file !== undefined ? await readFile(file, 'utf8') : inline;
    const func = String(o['deduplication.func']);
    if (func !== '' && func !== 'penalty') throw new Error(`--deduplication.func must be "" or penalty, not ${func}`);
    const concurrency = Number(o['compact.concurrency']);
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`--compact.concurrency must be a positive integer, not ${String(o['compact.concurrency'])}`);
    const compactor = await start({
      bucket: await requiredBucketFromFlags(o, 'objstore'),
      dataDir: String(o.dataDir),
      httpAddress: String(o.httpAddress),
      wait: o.wait === true,
      waitIntervalMs: parseDuration(String(o.waitInterval)),
      consistencyDelayMs: parseDuration(String(o.consistencyDelay)),
      retentionRawMs: parseDuration(String(o['retention.resolutionRaw'])),
      retention5mMs: parseDuration(String(o['retention.resolution5m'])),
      retention1hMs: parseDuration(String(o['retention.resolution1h'])),
      downsampling: o['downsampling.disable'] !== true,
      replicaLabels: o['deduplication.replicaLabel'] as string[],
      dedupFunc: func === 'penalty' ? 'penalty' : 'chain',
      verticalCompaction: o['compact.enableVerticalCompaction'] === true,
      concurrency,
      deleteDelayMs: parseDuration(String(o.deleteDelay)),
      ...(relabelText !== undefined ? { relabel: Relabeler.fromYaml(relabelText, 'selector relabel config') } : {}),
      logger,
    });
    logger.info('compactor started', { http: compactor.httpAddress ?? '', wait: o.wait === true });
    if (o.wait === true) {
      await runUntilSignal(logger, () => compactor.stop());
      return;
    }
    try {
      await compactor.done;
    } finally {
      await compactor.stop();
    }
  });
}
