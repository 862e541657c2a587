import type { Command } from 'commander';
import { IgnoreDeletionMarkFilter, MetaFetcher, TimeBound, TimePartitionFilter, type MetaFilter } from '@strata/block';
import { joinKey, type Bucket } from '@strata/objstore';
import { Labels, matchLabels, META_FILENAME, parseSelector, type BlockMeta, type Matcher } from '@strata/tsdb';
import { parseDuration, parseTime } from '../flags.js';
import { collectProcessMetrics, httpServing, Prober, startHttpServer, type Logger, type ServingConfig } from '@strata/runtime';
import { Counter, Registry } from 'prom-client';
import { checkBlockIds, intFlag, loggerFromFlags, repeatable, runUntilSignal, servingFromFlags, startTracingFor, tracingConfigFromFlags, withServingFlags } from './component.js';
import { requiredBucketFromFlags, withObjstoreFlags } from './objstore-flags.js';
import { loggedIO, type CommandIO } from './tools-bucket.js';

export interface ReplicateOptions {
  /** Selects blocks by their external labels. */
  matchers: readonly Matcher[];
  /** Resolutions (ms) to copy; empty: all. */
  resolutions: readonly number[];
  /** Compaction levels to copy; empty: all. */
  levels: readonly number[];
  /** Only these blocks; empty: all. */
  ids: readonly string[];
  minTime: number;
  maxTime: number;
  /** Leave out blocks marked for deletion (Thanos' --ignore-marked-for-deletion); otherwise they are copied, without their mark. */
  ignoreMarkedForDeletion: boolean;
}

export interface ReplicateResult {
  copied: string[];
  /** Already in the target bucket. */
  present: string[];
}

/** Thanos' interval between replication runs when not told --single-run. */
export const REPLICATE_INTERVAL_MS = 60_000;

/** `strata tools bucket replicate`, after `thanos tools bucket replicate`. */
export function registerReplicate(bucket: Command): void {
  const cmd = bucket
    .command('replicate')
    .description(
      'Copy blocks to another bucket: those the filters select that it does not have, meta.json last so that no partial block is ever visible there. Runs again every minute until SIGINT or SIGTERM, serving /metrics and the probes, unless --single-run or --id',
    );
  withServingFlags(withObjstoreFlags(withObjstoreFlags(cmd, 'objstore', 'the bucket to copy from'), 'objstore-to', 'the bucket to copy to'), { grpc: false, requestLogging: false })
    .option('--http-address <host:port>', 'listen address for /metrics and the probes while replicating', '0.0.0.0:10902')
    .option('--matcher <selector>', 'only blocks whose external labels match, e.g. {cluster="eu"}', '{}')
    .option('--resolution <duration>', 'only blocks of this resolution (0s, 5m, 1h); repeatable or comma-separated (default: all)', repeatable, [])
    .option('--compaction-min <level>', 'only blocks of at least this compaction level', '1')
    .option('--compaction-max <level>', 'only blocks of at most this compaction level', '4')
    .option('--compaction <level>', 'only blocks of this compaction level; repeatable or comma-separated; overrides --compaction-min and --compaction-max', repeatable, [])
    .option('--id <ulid>', 'only this block; repeatable or comma-separated (default: all); with it, replication runs once', repeatable, [])
    .option('--min-time <time>', 'only blocks ending at or after this time (RFC3339 or relative, e.g. -2w)', '0000-01-01T00:00:00Z')
    .option('--max-time <time>', 'only blocks starting at or before this time (RFC3339 or relative)', '9999-12-31T23:59:59Z')
    .option('--single-run', 'replicate once, then exit', false)
    .option('--ignore-marked-for-deletion', 'leave out blocks marked for deletion (without it they are copied, without their mark, as Thanos copies them)', false)
    .action(async (o: Record<string, unknown>) => {
      const logger = loggerFromFlags(o);
      const opts = replicateOptionsFromFlags(o);
      const tracing = startTracingFor(await tracingConfigFromFlags(o), 'replicate', logger);
      const serving = await servingFromFlags(o, logger);
      const from = await requiredBucketFromFlags(o, 'objstore');
      const to = await requiredBucketFromFlags(o, 'objstore-to').catch(async (e: unknown) => {
        await from.close();
        throw e;
      });
      try {
        const replicator = await startReplicator({ from, to, opts, httpAddress: String(o.httpAddress), serving, singleRun: o.singleRun === true || opts.ids.length > 0, logger, io: loggedIO(logger) });
        logger.info('replicating', { http: replicator.httpAddress, single_run: o.singleRun === true });
        if (o.singleRun === true || opts.ids.length > 0) {
          try {
            await replicator.done;
          } finally {
            await replicator.stop();
          }
        } else await runUntilSignal(logger, () => replicator.stop());
      } finally {
        await Promise.all([from.close(), to.close(), tracing.stop()]);
      }
    });
}

/** The selection the flags make; --compaction, where given, overrides --compaction-min and --compaction-max. */
export function replicateOptionsFromFlags(o: Record<string, unknown>): ReplicateOptions {
  const ids = o.id as string[];
  checkBlockIds(ids);
  const selector = String(o.matcher).trim();
  let levels = (o.compaction as string[]).map((l) => intFlag(l, '--compaction'));
  if (levels.length === 0) {
    const [min, max] = [intFlag(o.compactionMin, '--compaction-min'), intFlag(o.compactionMax, '--compaction-max')];
    if (min > max) throw new Error(`--compaction-min (${min}) must be at most --compaction-max (${max})`);
    levels = Array.from({ length: max - min + 1 }, (_, i) => min + i);
  }
  return {
    matchers: selector === '{}' ? [] : parseSelector(selector),
    resolutions: (o.resolution as string[]).map(parseDuration),
    levels,
    ids,
    minTime: parseTime(String(o.minTime)),
    maxTime: parseTime(String(o.maxTime)),
    ignoreMarkedForDeletion: o.ignoreMarkedForDeletion === true,
  };
}

export interface ReplicatorOptions {
  from: Bucket;
  to: Bucket;
  opts: ReplicateOptions;
  httpAddress: string;
  serving?: ServingConfig;
  /** One run, then `done` resolves (or rejects with the run's error); otherwise a run every `intervalMs` until stopped, a failed one logged and counted. */
  singleRun: boolean;
  intervalMs?: number;
  logger: Logger;
  io?: CommandIO;
}

export interface Replicator {
  readonly httpAddress: string;
  /** Settles when the single run, or the loop once stopped, is over. */
  readonly done: Promise<void>;
  /** Stops after the block being copied, then closes the HTTP server (letting requests finish for the grace period). */
  stop(): Promise<void>;
}

/** Replication as Thanos' `tools bucket replicate` runs it: its runs, with /metrics and the probes served meanwhile. */
export async function startReplicator(r: ReplicatorOptions): Promise<Replicator> {
  const registry = new Registry();
  collectProcessMetrics(registry);
  const runs = new Counter({ name: 'strata_replicate_replication_runs_total', help: 'Replication runs, by result (success or error).', labelNames: ['result'], registers: [registry] });
  for (const result of ['success', 'error']) runs.inc({ result }, 0);
  const copied = new Counter({ name: 'strata_replicate_blocks_replicated_total', help: 'Blocks copied to the target bucket.', registers: [registry] });
  const present = new Counter({ name: 'strata_replicate_blocks_already_replicated_total', help: 'Blocks found already in the target bucket.', registers: [registry] });
  const prober = new Prober('replicate', registry);
  const http = await startHttpServer({ address: r.httpAddress, registry, prober, logger: r.logger, ...httpServing(r.serving ?? {}) });
  prober.healthy();
  const abort = new AbortController();
  let wake = () => {};
  const runOnce = async () => {
    const res = await runReplicate(r.from, r.to, r.opts, r.io, abort.signal);
    runs.inc({ result: 'success' });
    copied.inc(res.copied.length);
    present.inc(res.present.length);
    r.logger.info('ran replication successfully', { copied: res.copied.length, present: res.present.length });
  };
  prober.ready();
  const done = (async () => {
    if (r.singleRun) return runOnce().catch((e: unknown) => {
      runs.inc({ result: 'error' });
      throw e;
    });
    while (!abort.signal.aborted) {
      // As Thanos: whatever the error, the next run comes.
      await runOnce().catch((err: unknown) => {
        runs.inc({ result: 'error' });
        r.logger.error('running replication failed', { err: err instanceof Error ? err : String(err) });
      });
      if (abort.signal.aborted) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, r.intervalMs ?? REPLICATE_INTERVAL_MS);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  })();
  return {
    httpAddress: http.address,
    done,
    stop: async () => {
      prober.notReady('stopping');
      abort.abort();
      wake();
      await done.catch(() => {});
      await http.close();
    },
  };
}

/** Copies the selected blocks `to` lacks, oldest first; returns what it copied and what was there already. */
export async function runReplicate(from: Bucket, to: Bucket, opts: ReplicateOptions, io: CommandIO = { out: process.stdout, err: process.stderr }, signal?: AbortSignal): Promise<ReplicateResult> {
  const filters: MetaFilter[] = [new TimePartitionFilter(TimeBound.at(opts.minTime), TimeBound.at(opts.maxTime))];
  if (opts.ignoreMarkedForDeletion) filters.push(new IgnoreDeletionMarkFilter(0));
  const fetcher = new MetaFetcher(from, { filters });
  const selected = [...(await fetcher.fetch()).metas.values()].filter((m) => selects(opts, m)).sort((a, b) => a.minTime - b.minTime || (a.ulid < b.ulid ? -1 : 1));
  const result: ReplicateResult = { copied: [], present: [] };
  for (const [i, m] of selected.entries()) {
    if (signal?.aborted === true) break;
    const step = `[${i + 1}/${selected.length}] block ${m.ulid}`;
    if (await to.exists(joinKey(m.ulid, META_FILENAME))) {
      result.present.push(m.ulid);
      io.err.write(`${step}: already in ${to.name}\n`);
      continue;
    }
    let bytes = 0;
    for await (const e of from.list(m.ulid, { recursive: true })) {
      const rel = e.name.slice(m.ulid.length + 1);
      // The block becomes visible with its meta.json, written last; its marks are the source bucket's business.
      if (rel === META_FILENAME || rel.endsWith('-mark.json')) continue;
      await to.upload(e.name, await from.get(e.name));
      bytes += e.size ?? 0;
    }
    await to.upload(joinKey(m.ulid, META_FILENAME), await from.get(joinKey(m.ulid, META_FILENAME)));
    result.copied.push(m.ulid);
    io.out.write(`${m.ulid}\n`);
    io.err.write(`${step}: copied ${bytes} bytes to ${to.name}\n`);
  }
  return result;
}

function selects(opts: ReplicateOptions, m: BlockMeta): boolean {
  if (opts.ids.length > 0 && !opts.ids.includes(m.ulid)) return false;
  if (opts.resolutions.length > 0 && !opts.resolutions.includes(m.thanos?.downsample.resolution ?? 0)) return false;
  if (opts.levels.length > 0 && !opts.levels.includes(m.compaction.level)) return false;
  return opts.matchers.length === 0 || matchLabels(opts.matchers, Labels.from(m.thanos?.labels ?? {}));
}
