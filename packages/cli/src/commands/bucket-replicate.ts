import type { Command } from 'commander';
import { IgnoreDeletionMarkFilter, MetaFetcher, TimeBound, TimePartitionFilter } from '@strata/block';
import { joinKey, type Bucket } from '@strata/objstore';
import { Labels, matchLabels, META_FILENAME, parseSelector, type BlockMeta, type Matcher } from '@strata/tsdb';
import { parseDuration, parseTime } from '../flags.js';
import { checkBlockIds, repeatable } from './component.js';
import { requiredBucketFromFlags, withObjstoreFlags } from './objstore-flags.js';
import type { CommandIO } from './tools-bucket.js';

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
}

export interface ReplicateResult {
  copied: string[];
  /** Already in the target bucket. */
  present: string[];
}

/** `strata tools bucket replicate`, after `thanos tools bucket replicate` (one run). */
export function registerReplicate(bucket: Command): void {
  const cmd = bucket
    .command('replicate')
    .description('Copy blocks to another bucket: those the filters select that it does not have, meta.json last so that no partial block is ever visible there; blocks marked for deletion are left out');
  withObjstoreFlags(withObjstoreFlags(cmd, 'objstore', 'the bucket to copy from'), 'objstore-to', 'the bucket to copy to')
    .option('--matcher <selector>', 'only blocks whose external labels match, e.g. {cluster="eu"}', '{}')
    .option('--resolution <duration>', 'only blocks of this resolution (0s, 5m, 1h); repeatable or comma-separated (default: all)', repeatable, [])
    .option('--compaction <level>', 'only blocks of this compaction level; repeatable or comma-separated (default: all)', repeatable, [])
    .option('--id <ulid>', 'only this block; repeatable or comma-separated (default: all)', repeatable, [])
    .option('--min-time <time>', 'only blocks ending at or after this time (RFC3339 or relative, e.g. -2w)', '0000-01-01T00:00:00Z')
    .option('--max-time <time>', 'only blocks starting at or before this time (RFC3339 or relative)', '9999-12-31T23:59:59Z')
    .action(async (o: Record<string, unknown>) => {
      const ids = o.id as string[];
      checkBlockIds(ids);
      const selector = String(o.matcher).trim();
      const opts: ReplicateOptions = {
        matchers: selector === '{}' ? [] : parseSelector(selector),
        resolutions: (o.resolution as string[]).map(parseDuration),
        levels: (o.compaction as string[]).map((l) => {
          const n = Number(l);
          if (!Number.isInteger(n) || n < 1) throw new Error(`--compaction: want a level of 1 or more, not ${JSON.stringify(l)}`);
          return n;
        }),
        ids,
        minTime: parseTime(String(o.minTime)),
        maxTime: parseTime(String(o.maxTime)),
      };
      const from = await requiredBucketFromFlags(o, 'objstore');
      const to = await requiredBucketFromFlags(o, 'objstore-to').catch(async (e: unknown) => {
        await from.close();
        throw e;
      });
      try {
        await runReplicate(from, to, opts);
      } finally {
        await Promise.all([from.close(), to.close()]);
      }
    });
}

/** Copies the selected blocks `to` lacks, oldest first; returns what it copied and what was there already. */
export async function runReplicate(from: Bucket, to: Bucket, opts: ReplicateOptions, io: CommandIO = { out: process.stdout, err: process.stderr }): Promise<ReplicateResult> {
  const fetcher = new MetaFetcher(from, { filters: [new TimePartitionFilter(TimeBound.at(opts.minTime), TimeBound.at(opts.maxTime)), new IgnoreDeletionMarkFilter(0)] });
  const selected = [...(await fetcher.fetch()).metas.values()].filter((m) => selects(opts, m)).sort((a, b) => a.minTime - b.minTime || (a.ulid < b.ulid ? -1 : 1));
  const result: ReplicateResult = { copied: [], present: [] };
  for (const [i, m] of selected.entries()) {
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
