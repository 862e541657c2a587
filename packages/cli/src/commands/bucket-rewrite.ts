import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { DELETION_MARK_FILENAME, downloadBlock, markBlock, Relabeler, uploadBlock, type RelabelConfig } from '@strata/block';
import { rewriteBlock, type DeletionRequest } from '@strata/compactor';
import type { Bucket } from '@strata/objstore';
import { parseSelector } from '@strata/tsdb';
import { withObjstoreFlags } from './objstore-flags.js';
import { checkBlockIds, hashFuncFlag, toolAction, withToolFlags, yamlFlag } from './component.js';
import { toolIO, type CommandIO } from './tools-bucket.js';

export interface RewriteCommandOptions {
  ids: readonly string[];
  deletions: readonly DeletionRequest[];
  relabels?: readonly RelabelConfig[];
  dryRun: boolean;
  /** Mark each source block for deletion once its rewrite is uploaded. */
  deleteBlocks: boolean;
  tmpDir?: string;
  /** Plain Prometheus blocks: the rewritten ones are uploaded without external labels (Thanos' --prom-blocks). */
  promBlocks?: boolean;
  /** Record each uploaded file's SHA256 in meta.json (--hash-func=SHA256). */
  hash?: boolean;
  /**
   * Write every change, in Thanos' words (`Deleted <series> <intervals>`, `Relabelled <series> <series>`),
   * to `change.log` in `<tmpDir>/<new block>/` (`<tmpDir>/<source block>/` when no block is written).
   */
  changeLog?: boolean;
}

/** `strata tools bucket rewrite`, after `thanos tools bucket rewrite` (series deletion and relabelling). */
export function registerRewrite(bucket: Command, withBucket: <T>(flags: Record<string, unknown>, fn: (b: Bucket) => Promise<T>) => Promise<T>): void {
  const cmd = withObjstoreFlags(
    bucket
      .command('rewrite')
      .description(
        'Rewrite blocks without the series a deletion config selects and with the labels a relabel config gives: a new block each, the source optionally marked for deletion. A dry run (the default) lists what would change',
      ),
    'objstore',
    'the bucket',
  )
    .requiredOption('--id <ulid...>', 'blocks to rewrite')
    .option('--prom-blocks', 'the blocks are plain Prometheus blocks: their rewrites are uploaded without external labels', false)
    .option('--hash-func <func>', 'SHA256: record each uploaded file\'s SHA256 in meta.json ("": none, as Thanos)', '')
    .option('--rewrite.add-change-log', 'write every change to change.log in <tmp.dir>/<new block ULID>/ (the source block\'s ULID in a dry run), as Thanos does', true)
    .option('--no-rewrite.add-change-log', 'write no change log')
    .option('--rewrite.to-delete-config <yaml>', 'deletions, as Thanos takes them: a YAML list of {matchers: \'{__name__="x", job="y"}\', intervals: [{mint, maxt}] (ms; optional)}')
    .option('--rewrite.to-delete-config-file <path>', 'file with the deletions')
    .option('--rewrite.to-relabel-config <yaml>', 'relabel rules applied to every series after the deletions (Prometheus relabel_configs; a series they drop is deleted, series they make equal are merged)')
    .option('--rewrite.to-relabel-config-file <path>', 'file with the relabel rules')
    .option('--dry-run', 'only list the series that would be deleted', true)
    .option('--no-dry-run', 'write, upload and (with --delete-blocks) replace the blocks')
    .option('--delete-blocks', 'mark each source block for deletion once its rewrite is uploaded', false)
    .option('--tmp.dir <dir>', 'scratch directory for the blocks being rewritten, and where change logs are left (default: the system temp dir)');
  withToolFlags(cmd).action(toolAction('bucket rewrite', async (o) => {
      const deletionText = await yamlFlag(o, 'rewrite.to-delete-config');
      const relabelText = await yamlFlag(o, 'rewrite.to-relabel-config');
      if (deletionText === undefined && relabelText === undefined) throw new Error('nothing to rewrite: give a deletion config (--rewrite.to-delete-config) or a relabel config (--rewrite.to-relabel-config), or both');
      const deletions = deletionText === undefined ? [] : parseDeletionConfig(deletionText);
      const relabels = relabelText === undefined ? [] : parseRelabelConfig(relabelText);
      const tmpDir = o['tmp.dir'] as string | undefined;
      const opts: RewriteCommandOptions = {
        ids: o.id as string[],
        deletions,
        relabels,
        dryRun: o.dryRun !== false,
        deleteBlocks: o.deleteBlocks === true,
        promBlocks: o.promBlocks === true,
        hash: hashFuncFlag(String(o.hashFunc)),
        changeLog: o['rewrite.addChangeLog'] !== false,
        ...(tmpDir !== undefined ? { tmpDir } : {}),
      };
      await withBucket(o, (b) => runRewrite(b, opts, toolIO(o)));
  }));
}

/** Intervals as Thanos' change log prints them (Go's %v of tombstones.Intervals); a whole series is all time. */
function goIntervals(intervals: readonly { mint: number; maxt: number }[] | undefined): string {
  const all = [{ mint: '-9223372036854775808', maxt: '9223372036854775807' }];
  return `[${(intervals ?? all).map((iv) => `{${iv.mint} ${iv.maxt}}`).join(' ')}]`;
}

/** Prometheus relabel rules (a YAML list, as in relabel_configs), checked as they will be applied. */
export function parseRelabelConfig(text: string): RelabelConfig[] {
  const doc: unknown = parseYaml(text);
  if (!Array.isArray(doc) || doc.length === 0) throw new Error('relabel config: want a non-empty YAML list of relabel rules');
  const configs = doc as RelabelConfig[];
  try {
    new Relabeler(configs);
  } catch (e) {
    throw new Error(`relabel config: ${(e as Error).message}`);
  }
  return configs;
}

/**
 * Thanos' deletion config: a YAML list of `{matchers: "<selector>", intervals: [{mint, maxt}]}`, times
 * in ms and inclusive; without intervals the whole series goes.
 */
export function parseDeletionConfig(text: string): DeletionRequest[] {
  const doc: unknown = parseYaml(text);
  if (!Array.isArray(doc) || doc.length === 0) throw new Error('deletion config: want a non-empty YAML list of {matchers: "{…}"}');
  return doc.map((entry: unknown, i) => {
    const e = entry as { matchers?: unknown; intervals?: unknown } | null;
    if (typeof e?.matchers !== 'string') throw new Error(`deletion config entry ${i}: want matchers: a series selector string such as '{__name__="x"}'`);
    const matchers = parseSelector(e.matchers);
    if (e.intervals === undefined) return { matchers };
    if (!Array.isArray(e.intervals)) throw new Error(`deletion config entry ${i}: want intervals: a list of {mint, maxt} (ms)`);
    const intervals = e.intervals.map((iv: { mint?: unknown; maxt?: unknown } | null) => {
      const { mint, maxt } = iv ?? {};
      if (!Number.isSafeInteger(mint) || !Number.isSafeInteger(maxt) || (mint as number) > (maxt as number)) {
        throw new Error(`deletion config entry ${i}: interval ${JSON.stringify(iv)}: want integer mint ≤ maxt (ms)`);
      }
      return { mint: mint as number, maxt: maxt as number };
    });
    return { matchers, intervals };
  });
}

/** Rewrites each block; returns the new blocks' IDs (none in a dry run). */
export async function runRewrite(bucket: Bucket, opts: RewriteCommandOptions, io: CommandIO = { out: process.stdout, err: process.stderr }): Promise<string[]> {
  checkBlockIds(opts.ids);
  // As Thanos, --tmp.dir is made if missing.
  if (opts.tmpDir !== undefined) await mkdir(opts.tmpDir, { recursive: true });
  const scratch = await mkdtemp(join(opts.tmpDir ?? tmpdir(), 'strata-rewrite-'));
  const written: string[] = [];
  try {
    for (const [i, id] of opts.ids.entries()) {
      const step = `[${i + 1}/${opts.ids.length}] block ${id}`;
      io.err.write(`${step}: downloading\n`);
      await downloadBlock(bucket, id, scratch);
      const changesPath = join(scratch, `${id}.change.log`);
      const changes = opts.changeLog === true ? createWriteStream(changesPath) : undefined;
      const res = await rewriteBlock(join(scratch, id), scratch, {
        deletions: opts.deletions,
        relabels: opts.relabels ?? [],
        dryRun: opts.dryRun,
        onDeleted: (labels, intervals) => {
          changes?.write(`Deleted ${labels.toString()} ${goIntervals(intervals)}\n`);
          if (opts.dryRun) io.out.write(`would delete ${labels.toString()}${intervals === undefined ? '' : ` in ${intervals.map((iv) => `[${iv.mint}, ${iv.maxt}]`).join(' ')}`}\n`);
        },
        onRelabelled: (from, to) => {
          changes?.write(to === undefined ? `Deleted ${from.toString()} ${goIntervals(undefined)}\n` : `Relabelled ${from.toString()} ${to.toString()}\n`);
          if (opts.dryRun) io.out.write(to === undefined ? `would drop ${from.toString()}\n` : `would relabel ${from.toString()} to ${to.toString()}\n`);
        },
        onProgress: (read, deleted) => io.err.write(`${step}: ${read} series read, ${deleted} ${opts.dryRun ? 'to delete' : 'deleted'}\n`),
      }).finally(() => changes?.end());
      await rm(join(scratch, id), { recursive: true, force: true });
      if (changes !== undefined) {
        await finished(changes);
        const dir = join(opts.tmpDir ?? tmpdir(), res.meta?.ulid ?? id);
        await mkdir(dir, { recursive: true });
        await rename(changesPath, join(dir, 'change.log'));
        io.err.write(`${step}: change log in ${join(dir, 'change.log')}\n`);
      }
      if (opts.dryRun) {
        io.err.write(`${step}: dry run, ${res.seriesDeleted} of ${res.seriesRead} series would be deleted, ${res.seriesCut} cut, ${res.seriesRelabelled} relabelled; nothing written (--no-dry-run to rewrite)\n`);
        continue;
      }
      if (res.seriesDeleted + res.seriesCut + res.seriesRelabelled === 0) {
        // Nothing changes: the block stays as it is, not replaced by a copy.
        io.err.write(`${step}: no series changed, left unchanged\n`);
        continue;
      }
      if (res.meta !== undefined) {
        await uploadBlock(bucket, join(scratch, res.meta.ulid), { meta: res.meta, hash: opts.hash === true, promBlock: opts.promBlocks === true });
        await rm(join(scratch, res.meta.ulid), { recursive: true, force: true });
        written.push(res.meta.ulid);
        io.out.write(`${id} -> ${res.meta.ulid}\n`);
      }
      const replacement = res.meta !== undefined ? `rewritten into ${res.meta.ulid}` : 'every series deleted';
      io.err.write(`${step}: ${res.seriesDeleted} of ${res.seriesRead} series deleted, ${res.seriesCut} cut, ${res.seriesRelabelled} relabelled, ${replacement}\n`);
      if (opts.deleteBlocks) {
        await markBlock(bucket, id, DELETION_MARK_FILENAME, { details: `strata tools bucket rewrite: ${replacement}` });
        io.err.write(`${step}: marked for deletion\n`);
      }
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return written;
}
