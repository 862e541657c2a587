import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import {
  BlockReader,
  compareStrings,
  createBlocksFromOpenMetrics,
  dumpSamples,
  isULID,
  META_FILENAME,
  METRIC_NAME,
  parseMeta,
  parseSelector,
  type BlockMeta,
  type DumpFormat,
} from '@strata/tsdb';
import { parseDuration } from '../flags.js';

/** `strata tools tsdb …`: promtool's tsdb tools (list, dump, dump-openmetrics, create-blocks-from openmetrics, analyze). */
export function register(tools: Command): void {
  const tsdb = tools.command('tsdb').description('Inspect and create TSDB blocks, like promtool tsdb');

  tsdb
    .command('list')
    .description('List the blocks of a data directory, as `promtool tsdb list` does')
    .argument('[db]', 'a data directory of blocks', 'data/')
    .option('-r, --human-readable', 'times and sizes for people to read', false)
    .action(async (db: string, o: { humanReadable: boolean }) => {
      await runList(db, o.humanReadable, process.stdout);
    });

  const dumps: [string, string, DumpFormat][] = [
    ['dump', 'Print every sample of a block or a data dir of blocks, as `promtool tsdb dump` does', 'promtool'],
    ['dump-openmetrics', 'Print every float sample of a block or a data dir of blocks as OpenMetrics, as `promtool tsdb dump-openmetrics` does, for create-blocks-from openmetrics to read back', 'openmetrics'],
  ];
  for (const [name, description, format] of dumps) {
    tsdb
      .command(name)
      .description(description)
      .argument('<dir>', 'a block directory or a data directory of blocks')
      .option('--min-time <ms>', 'minimum timestamp (ms) to dump', String(Number.MIN_SAFE_INTEGER))
      .option('--max-time <ms>', 'maximum timestamp (ms) to dump', String(Number.MAX_SAFE_INTEGER))
      .option('--match <selector>', 'series selector (default: every series)')
      .action(async (dir: string, o: { minTime: string; maxTime: string; match?: string }) => {
        await runDump(dir, { minTime: parseMs(o.minTime, '--min-time'), maxTime: parseMs(o.maxTime, '--max-time'), match: o.match, format }, process.stdout);
      });
  }

  tsdb
    .command('create-blocks-from')
    .description('Create blocks from other data formats')
    .command('openmetrics')
    .description('Import OpenMetrics text (timestamps in seconds, ending with # EOF) into blocks, as promtool does')
    .argument('<input>', 'OpenMetrics file')
    .argument('[outdir]', 'output directory for the blocks', 'data/')
    .option('--max-block-duration <duration>', 'maximum block duration; the largest 2h·3^k not above it is used', '2h')
    .option('-q, --quiet', 'do not print the created blocks')
    .action(async (input: string, outdir: string, o: { maxBlockDuration: string; quiet?: boolean }) => {
      await runCreateBlocks(input, outdir, { maxBlockDuration: parseDuration(o.maxBlockDuration), quiet: o.quiet === true }, process.stdout, process.stderr);
    });

  tsdb
    .command('analyze')
    .description('Churn, label pair cardinality and label value lengths of a block, as `promtool tsdb analyze` reports them')
    .argument('[db]', 'a data directory of blocks, or one block directory', 'data/')
    .argument('[block]', 'the ID of the block to analyze (default: the last block)')
    .option('--limit <n>', 'how many items to show in each list', '20')
    .option('--extended', "also promtool's compaction analysis: how full the block's chunks are", false)
    .action(async (db: string, block: string | undefined, o: { limit: string; extended: boolean }) => {
      await runAnalyze(await analyzedBlock(db, block), { limit: Number(o.limit), extended: o.extended }, process.stdout);
    });
}

function parseMs(s: string, flag: string): number {
  if (!/^-?\d+$/.test(s)) throw new Error(`${flag}: want integer milliseconds, got ${JSON.stringify(s)}`);
  return Number(s);
}

/** The block directories under `dir`: itself if it holds meta.json, else its ULID-named subdirectories. */
export async function blockDirs(dir: string): Promise<string[]> {
  if (await exists(join(dir, META_FILENAME))) return [dir];
  const out: string[] = [];
  for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) => compareStrings(a.name, b.name))) {
    if (e.isDirectory() && isULID(e.name) && (await exists(join(dir, e.name, META_FILENAME)))) out.push(join(dir, e.name));
  }
  return out;
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

export async function runDump(dir: string, o: { minTime: number; maxTime: number; match?: string; format?: DumpFormat }, out: Writable): Promise<void> {
  const matchers = o.match === undefined ? [] : parseSelector(o.match);
  const dirs = await blockDirs(dir);
  const blocks: BlockReader[] = [];
  try {
    for (const d of dirs) blocks.push(await BlockReader.openDir(d));
    await dumpSamples(blocks, matchers, o.minTime, o.maxTime, (text) => write(out, text), o.format);
  } finally {
    await Promise.all(blocks.map((b) => b.close()));
  }
}

function write(out: Writable, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    out.write(text, (err) => (err ? reject(err) : resolve()));
  });
}

export async function runCreateBlocks(
  input: string,
  outdir: string,
  o: { maxBlockDuration: number; quiet: boolean },
  out: Writable,
  err: Writable,
): Promise<BlockMeta[]> {
  const data = await readFile(input);
  err.write(`reading ${input} (${data.length} bytes)\n`);
  if (!o.quiet) out.write('BLOCK ULID\tMIN TIME\tMAX TIME\tDURATION\tNUM SAMPLES\tNUM CHUNKS\tNUM SERIES\n');
  let written = 0;
  return createBlocksFromOpenMetrics(data, outdir, {
    maxBlockDuration: o.maxBlockDuration,
    name: input,
    onBlock: (m, dir) => {
      written++;
      err.write(`wrote block ${written}: ${dir}\n`);
      if (o.quiet) return;
      const s = m.stats ?? {};
      out.write(`${m.ulid}\t${m.minTime}\t${m.maxTime}\t${formatDuration(m.maxTime - m.minTime)}\t${s.numSamples ?? 0}\t${s.numChunks ?? 0}\t${s.numSeries ?? 0}\n`);
    },
  });
}

/** Go's time.Duration String() for whole milliseconds: 1h59m45s, 1.5s, 500ms, 0s. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  return `${h > 0 ? `${h}h` : ''}${h > 0 || m > 0 ? `${m}m` : ''}${s}s`;
}

/**
 * `promtool tsdb list`: each block of the data directory by time, with its range, duration, stats and
 * size on disk (its files' bytes), in columns as Go's tabwriter sets them.
 */
export async function runList(db: string, humanReadable: boolean, out: Writable): Promise<void> {
  const rows = [['BLOCK ULID', 'MIN TIME', 'MAX TIME', 'DURATION', 'NUM SAMPLES', 'NUM CHUNKS', 'NUM SERIES', 'SIZE']];
  const time = (ms: number) => (humanReadable ? goUtcTime(ms) : String(ms));
  for (const { dir, meta } of await blocksByTime(db)) {
    const size = await filesSize(dir);
    const s = meta.stats ?? {};
    rows.push([meta.ulid, time(meta.minTime), time(meta.maxTime), formatDuration(meta.maxTime - meta.minTime), String(s.numSamples ?? 0), String(s.numChunks ?? 0), String(s.numSeries ?? 0), humanReadable ? goBase2Bytes(size) : String(size)]);
  }
  await write(out, tabwriter(rows));
}

/** Go's tabwriter with promtool's settings (minimum width 13, padding 2): every column but the last padded to its widest cell. */
function tabwriter(rows: readonly string[][]): string {
  const widths = (rows[0] as string[]).map((_, c) => Math.max(13, ...rows.map((r) => [...(r[c] as string)].length + 2)));
  return rows.map((r) => r.map((cell, c) => (c < r.length - 1 ? cell.padEnd(widths[c] as number) : cell)).join('') + '\n').join('');
}

/** Go's time.Time String() of a UTC time, to the second: 2026-12-07 07:28:50 +0000 UTC. */
function goUtcTime(ms: number): string {
  return `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19).replace('T', ' ')} +0000 UTC`;
}

/** alecthomas/units' Base2Bytes String(): each power of 1024 that is not whole, largest first (1MiB512KiB3B). */
function goBase2Bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  if (n === 0) return '0B';
  const parts: string[] = [];
  for (let i = 0; n > 0; i++, n = Math.floor(n / 1024)) if (n % 1024 !== 0) parts.unshift(`${n % 1024}${units[i]}`);
  return parts.join('');
}

async function filesSize(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) n += (await stat(join(e.parentPath, e.name))).size;
  return n;
}

/** The data directory's blocks with their metas, by time. */
async function blocksByTime(db: string): Promise<{ dir: string; meta: BlockMeta }[]> {
  const blocks = await Promise.all((await blockDirs(db)).map(async (dir) => ({ dir, meta: parseMeta(await readFile(join(dir, META_FILENAME), 'utf8')) })));
  return blocks.sort((a, b) => a.meta.minTime - b.meta.minTime || compareStrings(a.meta.ulid, b.meta.ulid));
}

/** The block `promtool tsdb analyze [db] [block]` analyzes: the one named, or the data directory's last (by time). */
export async function analyzedBlock(db: string, id: string | undefined): Promise<string> {
  if (id !== undefined) {
    const named = (await blockDirs(db)).find((d) => basename(d) === id);
    if (named === undefined) throw new Error(`block ${id} not found in ${db}`);
    return named;
  }
  const last = (await blocksByTime(db)).at(-1);
  if (last === undefined) throw new Error(`no block found in ${db}`);
  return last.dir;
}

/**
 * `promtool tsdb analyze` of one block, its sections in its order: how far each label pair and label
 * name is involved in churn (the block's range its series do not cover, in whole block ranges), the
 * most common label pairs, label names by the cumulative length of their values and by their number of
 * values, and metric names by their series. Ties are listed by name (promtool's fall as they may).
 * `extended`: also promtool's compaction analysis, a histogram of the chunks by how full they are.
 */
export async function runAnalyze(dir: string, o: { limit: number; extended: boolean }, out: Writable): Promise<void> {
  const b = await BlockReader.openDir(dir);
  try {
    const span = b.meta.maxTime - b.meta.minTime;
    const fullness = new ChunkFullness();
    const seriesPerMetric = new Map<string, number>();
    const pairs = new Map<string, number>();
    const pairsUncovered = new Map<string, number>();
    const namesUncovered = new Map<string, number>();
    let series = 0;
    let postingsEntries = 0;
    for await (const s of b.chunkSeries([])) {
      series++;
      const first = s.chunks[0];
      const last = s.chunks.at(-1);
      const uncovered = first === undefined || last === undefined ? span : span - (last.maxTime - first.minTime);
      if (o.extended) for (const c of s.chunks) fullness.add(c.chunk.numSamples());
      const metric = s.labels.get(METRIC_NAME);
      seriesPerMetric.set(metric, (seriesPerMetric.get(metric) ?? 0) + 1);
      for (const l of s.labels) {
        postingsEntries++;
        const pair = `${l.name}=${l.value}`;
        pairs.set(pair, (pairs.get(pair) ?? 0) + 1);
        pairsUncovered.set(pair, (pairsUncovered.get(pair) ?? 0) + uncovered);
        namesUncovered.set(l.name, (namesUncovered.get(l.name) ?? 0) + uncovered);
      }
    }
    const names = await b.labelNames();
    const valueCounts: [string, number][] = [];
    const valueLengths: [string, number][] = [];
    for (const n of names) {
      const values = await b.labelValues(n);
      valueCounts.push([n, values.length]);
      valueLengths.push([n, values.reduce((sum, v) => sum + Buffer.byteLength(v), 0)]);
    }
    // In whole block ranges, as promtool divides and truncates.
    const churn = (m: Map<string, number>): [string, number][] => [...m].map(([k, v]) => [k, span > 0 ? Math.floor(v / span) : 0]);
    const section = (title: string, m: Iterable<[string, number]>): string =>
      `\n${title}:\n` +
      [...m]
        .sort((x, y) => y[1] - x[1] || compareStrings(x[0], y[0]))
        .slice(0, o.limit)
        .map(([k, v]) => `${v} ${k}\n`)
        .join('');
    out.write(
      `Block ID: ${b.meta.ulid}\n` +
        `Duration: ${formatDuration(span)}\n` +
        `Series: ${series}\n` +
        `Label names: ${names.length}\n` +
        `Postings (unique label pairs): ${pairs.size}\n` +
        `Postings entries (total label pairs): ${postingsEntries}\n` +
        section('Label pairs most involved in churning', churn(pairsUncovered)) +
        section('Label names most involved in churning', churn(namesUncovered)) +
        section('Most common label pairs', pairs) +
        section('Label names with highest cumulative label value length', valueLengths) +
        section('Highest cardinality labels', valueCounts) +
        section('Highest cardinality metric names', seriesPerMetric) +
        (o.extended ? fullness.report() : ''),
    );
  } finally {
    await b.close();
  }
}

/** promtool's compaction analysis: the chunks by how full they are, in tenths of 120 samples. */
class ChunkFullness {
  static readonly MAX_SAMPLES = 120;
  readonly #buckets = new Array<number>(10).fill(0);
  #chunks = 0;

  add(samples: number): void {
    const tenths = Math.ceil((10 * Math.min(samples, ChunkFullness.MAX_SAMPLES)) / ChunkFullness.MAX_SAMPLES);
    // An empty chunk (promtool has none to count) goes with the least full.
    this.#buckets[Math.max(tenths, 1) - 1]!++;
    this.#chunks++;
  }

  /** Each tenth's share of the chunks as a bar of whole percents, as promtool prints it. */
  report(): string {
    const bars = this.#buckets.map((n, i) => `${String((i + 1) * 10).padStart(7)}%: ${'#'.repeat(this.#chunks > 0 ? Math.floor((100 * n) / this.#chunks) : 0)}\n`);
    return `\nCompaction analysis:\nFullness: Amount of samples in chunks (100% is ${ChunkFullness.MAX_SAMPLES} samples)\n${bars.join('')}`;
  }
}
