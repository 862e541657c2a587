import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Command } from 'commander';
import {
  cleanPartialBlocks,
  ConsistencyDelayFilter,
  DEFAULT_VERIFY_ISSUES,
  deleteBlock,
  deleteMarkedBlocks,
  DELETION_MARK_FILENAME,
  downloadBlock,
  findDuplicatedCompactions,
  IgnoreDeletionMarkFilter,
  isMarkerFilename,
  LabelShardedFilter,
  markBlock,
  MetaFetcher,
  NO_COMPACT_MARK_FILENAME,
  NO_DOWNSAMPLE_MARK_FILENAME,
  Relabeler,
  TimePartitionFilter,
  uploadBlock,
  verifyBlocks,
  VERIFY_ISSUES,
  type MarkerFilename,
  type MetaFilter,
  type VerifyIssue,
  type VerifyIssueKind,
} from '@strata/block';
import { repairBlock } from '@strata/compactor';
import { joinKey, mapLimit, type Bucket } from '@strata/objstore';
import { isULID, META_FILENAME, parseMeta, type BlockMeta } from '@strata/tsdb';
import type { Logger } from '@strata/runtime';
import { parseDuration, parseLabelFlags, parseTimeBound } from '../flags.js';
import { registerReplicate, runReplicate } from './bucket-replicate.js';
import { registerWeb } from './bucket-web.js';
import { checkBlockIds, choiceFlag, collect, intFlag, loggerFromFlags, toolAction, withToolFlags, yamlFlag } from './component.js';
import { registerBucketSteps } from './compact.js';
import { bucketFromFlags, requiredBucketFromFlags, withObjstoreFlags } from './objstore-flags.js';
import { registerRewrite } from './bucket-rewrite.js';
import { formatDuration } from './tools-tsdb.js';

/** Where a command writes: results to `out`, progress and warnings to `err`. */
export interface CommandIO {
  out: Writable;
  err: Writable;
}

const stdio: CommandIO = { out: process.stdout, err: process.stderr };

/**
 * Results on stdout, progress and warnings as log lines (`warning: …` at warn level, the rest at info),
 * so that --log.level filters them and --log.format=json writes them as JSON, as Thanos' tools log.
 */
export function loggedIO(logger: Logger): CommandIO {
  let pending = '';
  const err = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      pending += chunk.toString();
      for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (line.startsWith('warning: ')) logger.warn(line.slice('warning: '.length));
        else logger.info(line);
      }
      cb();
    },
  });
  return { out: process.stdout, err };
}

/** The CommandIO of a tool run from the command line: its logs as --log.level and --log.format say. */
export function toolIO(o: Record<string, unknown>): CommandIO {
  return loggedIO(loggerFromFlags(o));
}

/** Thanos' --selector.relabel-config(-file): relabel rules over external labels and __block_id selecting the blocks. */
export function withRelabelSelectorFlags(cmd: Command, what: string): Command {
  return cmd
    .option('--selector.relabel-config <yaml>', `relabel rules over external labels and __block_id selecting the blocks ${what} (keep/drop, hashmod)`)
    .option('--selector.relabel-config-file <path>', 'file with the relabel rules');
}

/** Thanos' --min-time/--max-time of the bucket tools: blocks overlapping the range. */
export function withTimeRangeFlags(cmd: Command, what: string): Command {
  return cmd
    .option('--min-time <time>', `only blocks ${what} ending at or after this time: RFC3339, Unix seconds or relative like -2w`, '0000-01-01T00:00:00Z')
    .option('--max-time <time>', `only blocks ${what} starting at or before this time: RFC3339, Unix seconds or relative like -1d`, '9999-12-31T23:59:59Z');
}

/** The fetcher filters those flags give (only the flags the command has). */
export async function blockSelectorFilters(o: Record<string, unknown>): Promise<MetaFilter[]> {
  const relabel = await yamlFlag(o, 'selector.relabel-config');
  return [
    ...(o.minTime !== undefined ? [new TimePartitionFilter(parseTimeBound(String(o.minTime)), parseTimeBound(String(o.maxTime)))] : []),
    ...(relabel !== undefined ? [new LabelShardedFilter(Relabeler.fromYaml(relabel, '--selector.relabel-config'))] : []),
  ];
}

/** `p`, or an error once `ms` have passed (Thanos' --timeout of reading the blocks' metadata). */
async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than --timeout=${formatDuration(ms)}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const INSPECT_OUTPUTS = ['table', 'csv', 'tsv'] as const;

/** A repeated flag's values, one per use as Thanos' (a variadic option reads `--label=a="b"` as a string, and commas may be in a value). */
/** `strata tools bucket …`: inspect and repair blocks in object storage, after `thanos tools bucket`. */
export function register(tools: Command): void {
  const bucket = tools.command('bucket').description('Inspect and manage blocks in object storage');
  const withConfig = (c: Command) => withToolFlags(withObjstoreFlags(c, 'objstore', 'the bucket'));
  const timeoutFlag = (c: Command) => c.option('--timeout <duration>', "how long reading the blocks' meta.json from the bucket may take", '5m');

  timeoutFlag(withRelabelSelectorFlags(withTimeRangeFlags(withConfig(bucket.command('ls').description('List the blocks in the bucket')), 'listed'), 'listed'))
    .option('-o, --output <format>', 'table, wide or json', 'table')
    .option('--exclude-delete', 'leave out blocks marked for deletion', false)
    .action(toolAction('bucket ls', async (o) => {
      const filters = await blockSelectorFilters(o);
      await withBucket(o, (b) => runLs(b, { output: String(o.output), excludeDelete: o.excludeDelete === true, filters, timeoutMs: parseDuration(String(o.timeout)) }, toolIO(o)));
    }));

  timeoutFlag(withConfig(bucket.command('inspect').description('Show each block: time range, series, samples, chunks, compaction level, resolution, source, labels')))
    .option('--sort-by <columns...>', `sort by these columns (${INSPECT_COLUMNS.join(', ')})`, ['FROM', 'UNTIL'])
    .option('-l, --selector <label=value>', 'only blocks whose external labels match, e.g. cluster="c1" (repeatable)', collect, [])
    .option('--output <format>', 'table (aligned), csv or tsv: the same columns', 'table')
    .action(toolAction('bucket inspect', async (o) => {
      const output = choiceFlag(o.output, '--output', INSPECT_OUTPUTS) as InspectOutput;
      await withBucket(o, (b) => runInspect(b, { sortBy: o.sortBy as string[], selector: parseLabelFlags(o.selector as string[]), output, timeoutMs: parseDuration(String(o.timeout)) }, toolIO(o)));
    }));

  withConfig(bucket.command('upload-blocks').description('Upload TSDB blocks from a directory (backfill), setting their external labels; blocks already in the bucket are skipped'))
    .requiredOption('--path <dir>', 'directory containing block directories')
    .option('--label <name="value">', 'external label for the uploaded blocks (repeatable)', collect, [])
    .option('--hash-func <func>', 'record file hashes in meta.json: SHA256 or none', 'SHA256')
    .option('--shipper.upload-concurrency <n>', "files of one block uploaded at once (Thanos' flag)", '5')
    .option('--shipper.upload-compacted', "also upload blocks compacted locally (compaction level above 1); without it they are skipped, as Thanos' shipper skips them", false)
    .option('--concurrency <n>', "blocks uploaded in parallel (Strata's flag; each of them uploads --shipper.upload-concurrency files at once)", '2')
    .action(toolAction('bucket upload-blocks', async (o) => {
      await withBucket(o, (b) =>
        runUploadBlocks(
          b,
          {
            path: String(o.path),
            labels: parseLabelFlags(o.label as string[]),
            hash: String(o.hashFunc).toUpperCase() === 'SHA256',
            concurrency: intFlag(o.concurrency, '--concurrency'),
            filesConcurrency: intFlag(o['shipper.uploadConcurrency'], '--shipper.upload-concurrency'),
            uploadCompacted: o['shipper.uploadCompacted'] === true,
          },
          toolIO(o),
        ),
      );
    }));

  withConfig(bucket.command('mark').description('Mark blocks for deletion, no-compaction or no-downsampling, or with --remove take the mark away'))
    .requiredOption('--id <ulid...>', 'block IDs')
    .requiredOption('--marker <file>', `${DELETION_MARK_FILENAME}, ${NO_COMPACT_MARK_FILENAME} or ${NO_DOWNSAMPLE_MARK_FILENAME}`)
    .option('--details <text>', 'why the block is marked (required unless --remove)')
    .option('--remove', 'remove the marker instead of writing it (a block without it is left as it is)', false)
    .action(toolAction('bucket mark', async (o) =>
      withBucket(o, (b) => runMark(b, { ids: o.id as string[], marker: String(o.marker), ...(o.details !== undefined ? { details: String(o.details) } : {}), remove: o.remove === true }, toolIO(o))),
    ));

  withRelabelSelectorFlags(withConfig(bucket.command('cleanup').description('Delete aborted partial uploads and blocks marked for deletion longer than --delete-delay')), 'cleaned up')
    .option('--delete-delay <duration>', 'how long a block stays after being marked for deletion', '48h')
    .option('--consistency-delay <duration>', 'blocks uploaded more recently than this are left alone; a partial upload is deleted only once older than this and --partial-upload-age', '30m')
    .option('--partial-upload-age <duration>', 'how old a partial upload must be to count as aborted', '48h')
    .option('--block-sync-concurrency <n>', "meta.json files and deletion marks read from the bucket at once", '20')
    .action(toolAction('bucket cleanup', async (o) => {
      const filters = await blockSelectorFilters(o);
      await withBucket(o, (b) =>
        runCleanup(
          b,
          {
            deleteDelayMs: parseDuration(String(o.deleteDelay)),
            partialAgeMs: parseDuration(String(o.partialUploadAge)),
            consistencyDelayMs: parseDuration(String(o.consistencyDelay)),
            concurrency: intFlag(o.blockSyncConcurrency, '--block-sync-concurrency'),
            filters,
          },
          toolIO(o),
        ),
      );
    }));

  registerRewrite(bucket, withBucket);
  registerReplicate(bucket);
  registerWeb(bucket);
  registerBucketSteps(bucket);

  withObjstoreFlags(
    withConfig(bucket.command('verify').description('Check blocks: overlaps within a compaction group, missing files, meta.json against files, index order and CRCs, file hashes, compactions done twice')),
    'objstore-backup',
    'with --repair, the bucket blocks are copied to before they are deleted',
  )
    .option('--no-index', 'skip reading the indexes')
    .option('--no-hashes', 'skip checking file hashes recorded in meta.json')
    .option('--id <ulid...>', 'only these blocks (overlaps are still checked against all)')
    .option('-i, --issues <issue...>', `what to look for, as Thanos names it: ${VERIFY_ISSUES.join(', ')}`, [...DEFAULT_VERIFY_ISSUES])
    .option(
      '-r, --repair',
      'repair what can be: of duplicated compactions, all but the first block (by ULID) are deleted; a block with index issues (series or chunks out of order, overlapping chunks, chunks outside its range) is written again with them mended, as Thanos repairs it, and the broken one deleted; what is deleted is copied to --objstore-backup.config first, and marked for deletion instead with --delete-delay; other issues are only reported',
      false,
    )
    .option('--delete-delay <duration>', 'with --repair: 0s deletes a block at once; more marks it for deletion, for the compactor to delete after this delay', '0s')
    .action(toolAction('bucket verify', async (o) => {
      const issues = (o.issues as string[]).map((i) => {
        if (!(VERIFY_ISSUES as readonly string[]).includes(i)) throw new Error(`--issues: ${i} is not one of ${VERIFY_ISSUES.join(', ')}`);
        return i as VerifyIssueKind;
      });
      const backup = await bucketFromFlags(o, 'objstore-backup');
      try {
        const found = await withBucket(o, (b) =>
          runVerify(
            b,
            {
              index: o.index !== false,
              hashes: o.hashes !== false,
              ids: o.id as string[] | undefined,
              issues: new Set(issues),
              ...(o.repair === true ? { repair: { deleteDelayMs: parseDuration(String(o.deleteDelay)), ...(backup !== undefined ? { backup } : {}) } } : {}),
            },
            toolIO(o),
          ),
        );
        if (found > 0) process.exitCode = 1;
      } finally {
        await backup?.close();
      }
    }));
}

async function withBucket<T>(flags: Record<string, unknown>, fn: (b: Bucket) => Promise<T>): Promise<T> {
  const b = await requiredBucketFromFlags(flags, 'objstore');
  try {
    return await fn(b);
  } finally {
    await b.close();
  }
}

/** Which blocks a listing shows, and how long reading them may take. */
export interface FetchOptions {
  /** Leave out blocks marked for deletion (Thanos' --exclude-delete). */
  excludeDelete?: boolean;
  filters?: readonly MetaFilter[];
  timeoutMs?: number;
}

async function fetchMetas(bucket: Bucket, io: CommandIO, opts: FetchOptions = {}): Promise<Map<string, BlockMeta>> {
  const filters = [...(opts.filters ?? []), ...(opts.excludeDelete === true ? [new IgnoreDeletionMarkFilter(0)] : [])];
  const fetch = new MetaFetcher(bucket, { filters }).fetch();
  const res = await (opts.timeoutMs !== undefined ? withTimeout(fetch, opts.timeoutMs, "reading the blocks' meta.json") : fetch);
  for (const [id, e] of res.failed) io.err.write(`warning: block ${id}: ${e.message}\n`);
  return res.metas;
}

const fmtTime = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
const fmtLabels = (l: Record<string, string> | undefined) =>
  Object.entries(l ?? {})
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(',');

function printTable(out: Writable, header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  for (const r of [header, ...rows]) out.write(`${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] as number))).join('  ')}\n`);
}

/** Rows separated by `sep`, a cell quoted as Go's encoding/csv quotes it (Thanos' csv and tsv output). */
function printSeparated(out: Writable, sep: string, header: string[], rows: string[][]): void {
  const cell = (c: string) => (c.includes(sep) || /["\r\n]/.test(c) || /^[ \t]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c);
  for (const r of [header, ...rows]) out.write(`${r.map(cell).join(sep)}\n`);
}

const byMinTime = (a: BlockMeta, b: BlockMeta) => a.minTime - b.minTime || (a.ulid < b.ulid ? -1 : 1);

export async function runLs(bucket: Bucket, opts: { output: string } & FetchOptions, io: CommandIO = stdio): Promise<void> {
  const metas = [...(await fetchMetas(bucket, io, opts)).values()].sort(byMinTime);
  switch (opts.output) {
    case 'json':
      for (const m of metas) io.out.write(`${JSON.stringify(m)}\n`);
      return;
    case 'table':
      printTable(
        io.out,
        ['ULID', 'FROM', 'UNTIL', 'LABELS'],
        metas.map((m) => [m.ulid, fmtTime(m.minTime), fmtTime(m.maxTime), fmtLabels(m.thanos?.labels)]),
      );
      return;
    case 'wide':
      printTable(
        io.out,
        ['ULID', 'FROM', 'UNTIL', 'RANGE', 'LEVEL', 'RESOLUTION', 'SOURCE', 'SIZE', 'UPLOADED', 'LABELS'],
        metas.map((m) => [
          m.ulid,
          fmtTime(m.minTime),
          fmtTime(m.maxTime),
          formatDuration(m.maxTime - m.minTime),
          String(m.compaction.level),
          formatDuration(m.thanos?.downsample.resolution ?? 0),
          m.thanos?.source ?? '',
          String((m.thanos?.files ?? []).reduce((s, f) => s + (f.size_bytes ?? 0), 0)),
          m.thanos?.upload_time ?? '',
          fmtLabels(m.thanos?.labels),
        ]),
      );
      return;
    default:
      throw new Error(`unknown output format ${JSON.stringify(opts.output)}: want table, wide or json`);
  }
}

export const INSPECT_COLUMNS = ['ULID', 'FROM', 'UNTIL', 'RANGE', 'SERIES', 'SAMPLES', 'CHUNKS', 'LEVEL', 'RESOLUTION', 'SOURCE', 'LABELS'] as const;

export type InspectOutput = (typeof INSPECT_OUTPUTS)[number];

export async function runInspect(bucket: Bucket, opts: { sortBy: string[]; selector: Record<string, string>; output?: InspectOutput; timeoutMs?: number }, io: CommandIO = stdio): Promise<void> {
  const cols = opts.sortBy.map((c) => c.toUpperCase());
  for (const c of cols) if (!(INSPECT_COLUMNS as readonly string[]).includes(c)) throw new Error(`unknown --sort-by column ${JSON.stringify(c)}: want one of ${INSPECT_COLUMNS.join(', ')}`);
  const metas = [...(await fetchMetas(bucket, io, opts)).values()].filter((m) => Object.entries(opts.selector).every(([k, v]) => m.thanos?.labels[k] === v));
  // Numeric columns sort as numbers, the others as text.
  const key = (m: BlockMeta, c: string): number | string => {
    switch (c) {
      case 'FROM':
        return m.minTime;
      case 'UNTIL':
        return m.maxTime;
      case 'RANGE':
        return m.maxTime - m.minTime;
      case 'SERIES':
        return m.stats?.numSeries ?? 0;
      case 'SAMPLES':
        return m.stats?.numSamples ?? 0;
      case 'CHUNKS':
        return m.stats?.numChunks ?? 0;
      case 'LEVEL':
        return m.compaction.level;
      case 'RESOLUTION':
        return m.thanos?.downsample.resolution ?? 0;
      case 'SOURCE':
        return m.thanos?.source ?? '';
      case 'LABELS':
        return fmtLabels(m.thanos?.labels);
      default:
        return m.ulid;
    }
  };
  metas.sort((a, b) => {
    for (const c of [...cols, 'ULID']) {
      const x = key(a, c);
      const y = key(b, c);
      if (x < y) return -1;
      if (x > y) return 1;
    }
    return 0;
  });
  const print = opts.output === 'csv' || opts.output === 'tsv' ? (out: Writable, h: string[], r: string[][]) => printSeparated(out, opts.output === 'csv' ? ',' : '\t', h, r) : printTable;
  print(
    io.out,
    [...INSPECT_COLUMNS],
    metas.map((m) => [
      m.ulid,
      fmtTime(m.minTime),
      fmtTime(m.maxTime),
      formatDuration(m.maxTime - m.minTime),
      String(m.stats?.numSeries ?? 0),
      String(m.stats?.numSamples ?? 0),
      String(m.stats?.numChunks ?? 0),
      String(m.compaction.level),
      formatDuration(m.thanos?.downsample.resolution ?? 0),
      m.thanos?.source ?? '',
      fmtLabels(m.thanos?.labels),
    ]),
  );
}

export interface UploadBlocksResult {
  uploaded: string[];
  skipped: string[];
}

export async function runUploadBlocks(
  bucket: Bucket,
  opts: {
    path: string;
    labels: Record<string, string>;
    hash?: boolean;
    /** Blocks uploaded in parallel. */
    concurrency?: number;
    /** Files of one block uploaded at once. */
    filesConcurrency?: number;
    /** Also upload blocks of compaction level above 1 (Thanos' --shipper.upload-compacted). */
    uploadCompacted?: boolean;
  },
  io: CommandIO = stdio,
): Promise<UploadBlocksResult> {
  if (Object.keys(opts.labels).length === 0) throw new Error('upload-blocks: at least one --label is required; blocks in a bucket must have external labels');
  const ids = (await readdir(opts.path)).filter(isULID).sort();
  const result: UploadBlocksResult = { uploaded: [], skipped: [] };
  let n = 0;
  await mapLimit(ids, opts.concurrency ?? 2, async (id) => {
    const dir = join(opts.path, id);
    if (!(await stat(dir)).isDirectory()) return;
    if (await bucket.exists(joinKey(id, META_FILENAME))) {
      result.skipped.push(id);
      io.err.write(`[${++n}/${ids.length}] block ${id}: already in bucket ${bucket.name}, skipped\n`);
      return;
    }
    const metaPath = join(dir, META_FILENAME);
    const local = parseMeta(await readFile(metaPath, 'utf8'), metaPath);
    if (local.compaction.level > 1 && opts.uploadCompacted !== true) {
      result.skipped.push(id);
      io.err.write(`[${++n}/${ids.length}] block ${id}: compaction level ${local.compaction.level}, skipped (--shipper.upload-compacted uploads it)\n`);
      return;
    }
    const meta: BlockMeta = {
      ...local,
      thanos: { ...(local.thanos ?? {}), labels: opts.labels, downsample: local.thanos?.downsample ?? { resolution: 0 }, source: 'bucket.upload' },
    };
    const uploaded = await uploadBlock(bucket, dir, { meta, hash: opts.hash ?? true, ...(opts.filesConcurrency !== undefined ? { concurrency: opts.filesConcurrency } : {}) });
    result.uploaded.push(id);
    const bytes = (uploaded.thanos?.files ?? []).reduce((s, f) => s + (f.size_bytes ?? 0), 0);
    io.err.write(`[${++n}/${ids.length}] block ${id}: uploaded ${bytes} bytes\n`);
  });
  return result;
}

export async function runMark(bucket: Bucket, opts: { ids: string[]; marker: string; details?: string; remove?: boolean }, io: CommandIO = stdio): Promise<void> {
  if (!isMarkerFilename(opts.marker)) throw new Error(`unknown marker ${JSON.stringify(opts.marker)}: want ${DELETION_MARK_FILENAME}, ${NO_COMPACT_MARK_FILENAME} or ${NO_DOWNSAMPLE_MARK_FILENAME}`);
  checkBlockIds(opts.ids);
  if (opts.remove !== true && (opts.details === undefined || opts.details === '')) throw new Error('--details is required to mark a block (not to --remove a mark)');
  for (const id of opts.ids) {
    const key = joinKey(id, opts.marker);
    if (opts.remove === true) {
      // As Thanos' RemoveMark: a block without the marker is only warned about.
      if (!(await bucket.exists(key))) {
        io.err.write(`warning: block ${id}: has no ${opts.marker}, nothing to remove\n`);
        continue;
      }
      await bucket.delete(key);
      io.err.write(`block ${id}: removed ${key}\n`);
      continue;
    }
    const written = await markBlock(bucket, id, opts.marker as MarkerFilename, { details: opts.details as string });
    io.err.write(written ? `block ${id}: wrote ${key}\n` : `block ${id}: already has ${opts.marker}, left unchanged\n`);
  }
}

export interface CleanupOptions {
  deleteDelayMs: number;
  partialAgeMs: number;
  /** Blocks uploaded more recently are left alone, and so are partial uploads younger than this (Thanos' --consistency-delay). */
  consistencyDelayMs?: number;
  /** meta.json files and deletion marks read at once (--block-sync-concurrency). */
  concurrency?: number;
  /** Only blocks these select are deleted (--selector.relabel-config); partial uploads, which have no labels, are not selected by them. */
  filters?: readonly MetaFilter[];
  now?: Date;
}

export async function runCleanup(bucket: Bucket, opts: CleanupOptions, io: CommandIO = stdio): Promise<string[]> {
  const concurrency = opts.concurrency ?? 20;
  const marks = new IgnoreDeletionMarkFilter(opts.deleteDelayMs, concurrency);
  const filters = [...(opts.filters ?? []), new ConsistencyDelayFilter(opts.consistencyDelayMs ?? 0), marks];
  const res = await new MetaFetcher(bucket, { concurrency, filters, ...(opts.now ? { now: () => opts.now as Date } : {}) }).fetch();
  const onDelete = (e: { block: string; reason: string }) => io.err.write(`block ${e.block}: deleted (${e.reason})\n`);
  const now = opts.now ?? new Date();
  const deleted = [
    ...(await deleteMarkedBlocks(bucket, marks.deletionMarks, { deleteDelayMs: opts.deleteDelayMs, now, onDelete })),
    ...(await cleanPartialBlocks(bucket, res.partial, { ageMs: Math.max(opts.partialAgeMs, opts.consistencyDelayMs ?? 0), deleteDelayMs: opts.deleteDelayMs, now, onDelete })),
  ];
  io.err.write(`cleanup done: ${deleted.length} blocks deleted, ${res.partial.size - deleted.filter((id) => res.partial.has(id)).length} partial uploads kept (younger than the delay)\n`);
  return deleted;
}

export interface VerifyRunOptions {
  index: boolean;
  hashes: boolean;
  ids?: string[];
  issues?: ReadonlySet<VerifyIssueKind>;
  /**
   * Repair duplicated compactions (the duplicates deleted) and blocks with index issues (each written
   * again, as Thanos repairs it, and the broken one deleted): what is deleted is copied to `backup`
   * first, and marked for deletion instead with a delay.
   */
  repair?: { deleteDelayMs: number; backup?: Bucket; tmpDir?: string };
}

/**
 * Prints every issue as `block <ULID> [object]: problem`; returns how many are left (a repaired one is
 * not left).
 */
export async function runVerify(bucket: Bucket, opts: VerifyRunOptions, io: CommandIO = stdio): Promise<number> {
  const res = await new MetaFetcher(bucket).fetch();
  const issues: VerifyIssue[] = [...res.failed].map(([id, e]) => ({ block: id, object: joinKey(id, META_FILENAME), problem: e.message }));
  const found = await verifyBlocks(bucket, res.metas, {
    index: opts.index,
    hashes: opts.hashes,
    ...(opts.issues !== undefined ? { issues: opts.issues } : {}),
    ...(opts.ids ? { only: new Set(opts.ids) } : {}),
    onProgress: (e) => io.err.write(`[${e.done}/${e.total}] verified block ${e.block}\n`),
  });
  issues.push(...found);
  for (const i of issues) io.out.write(`block ${i.block}${i.object ? ` ${i.object}` : ''}: ${i.problem}\n`);
  const kinds = opts.issues ?? DEFAULT_VERIFY_ISSUES;
  let repaired = 0;
  if (opts.repair !== undefined && kinds.has('duplicated_compaction')) repaired += await repairDuplicates(bucket, res.metas, opts.repair, opts.ids, io);
  if (opts.repair !== undefined && kinds.has('index_known_issues')) repaired += await repairIndexIssues(bucket, res.metas, issues, opts.repair, io);
  io.err.write(`verify: ${opts.ids?.length ?? res.metas.size} blocks, ${issues.length} issues${opts.repair !== undefined ? `, ${repaired} repaired` : ''}\n`);
  return issues.length - repaired;
}

/** Deletes (or marks for deletion) every duplicated compaction's duplicates, each copied to the backup bucket first; returns how many. */
async function repairDuplicates(bucket: Bucket, metas: ReadonlyMap<string, BlockMeta>, repair: NonNullable<VerifyRunOptions['repair']>, ids: string[] | undefined, io: CommandIO): Promise<number> {
  const duplicates = findDuplicatedCompactions(metas.values())
    .flatMap((d) => d.duplicates)
    .filter((m) => ids === undefined || ids.includes(m.ulid));
  await retireBlocks(bucket, duplicates.map((m) => m.ulid), repair, 'duplicated compaction', io);
  return duplicates.length;
}

/**
 * Writes every block whose issues are all index issues a rewrite mends again (repairBlock), uploads it,
 * and retires the broken block, as Thanos' verify --repair of index_known_issues; returns how many
 * issues that mended. A block with other issues too (a corrupt chunk, a missing file) is left as it is.
 */
async function repairIndexIssues(bucket: Bucket, metas: ReadonlyMap<string, BlockMeta>, issues: readonly VerifyIssue[], repair: NonNullable<VerifyRunOptions['repair']>, io: CommandIO): Promise<number> {
  const byBlock = new Map<string, VerifyIssue[]>();
  for (const i of issues) byBlock.set(i.block, [...(byBlock.get(i.block) ?? []), i]);
  let mended = 0;
  for (const [id, found] of byBlock) {
    if (!found.every((i) => i.indexRepairable === true) || !metas.has(id)) continue;
    // A block on its way out (compacted into another) would come back as the repaired copy.
    if (await bucket.exists(joinKey(id, DELETION_MARK_FILENAME))) {
      io.err.write(`block ${id}: marked for deletion; not repaired\n`);
      continue;
    }
    const scratch = await mkdtemp(join(repair.tmpDir ?? tmpdir(), 'strata-repair-'));
    try {
      await downloadBlock(bucket, id, scratch);
      const res = await repairBlock(join(scratch, id), join(scratch, 'out'));
      if (res.meta !== undefined) await uploadBlock(bucket, join(scratch, 'out', res.meta.ulid));
      io.err.write(`block ${id}: repaired${res.meta !== undefined ? ` as block ${res.meta.ulid}` : ' (nothing left in its range)'}: ${res.seriesRepaired} series mended, ${res.chunksDropped} chunks outside its range dropped\n`);
      await retireBlocks(bucket, [id], repair, `repaired as ${res.meta?.ulid ?? 'nothing'}`, io);
      mended += found.length;
    } catch (e) {
      io.err.write(`block ${id}: repair failed, left as it is: ${(e as Error).message}\n`);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }
  return mended;
}

/** Copies the blocks to the backup bucket, if there is one, then deletes them, or marks them for deletion with a delay. */
async function retireBlocks(bucket: Bucket, ids: readonly string[], repair: NonNullable<VerifyRunOptions['repair']>, reason: string, io: CommandIO): Promise<void> {
  if (ids.length === 0) return;
  if (repair.backup !== undefined) {
    await runReplicate(bucket, repair.backup, { matchers: [], resolutions: [], levels: [], ids: [...ids], minTime: -Infinity, maxTime: Infinity, ignoreMarkedForDeletion: false }, io);
  }
  for (const id of ids) {
    if (repair.deleteDelayMs > 0) {
      await markBlock(bucket, id, DELETION_MARK_FILENAME, { details: `${reason} (tools bucket verify --repair)` });
      io.err.write(`block ${id}: marked for deletion (${reason})\n`);
    } else {
      await deleteBlock(bucket, id);
      io.err.write(`block ${id}: deleted (${reason})\n`);
    }
  }
}
