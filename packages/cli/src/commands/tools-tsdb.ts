import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
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
  parseSelector,
  type BlockMeta,
} from '@strata/tsdb';
import { parseDuration } from '../flags.js';

/** `strata tools tsdb …`: promtool's tsdb tools (dump, create-blocks-from openmetrics, analyze). */
export function register(tools: Command): void {
  const tsdb = tools.command('tsdb').description('Inspect and create TSDB blocks, like promtool tsdb');

  tsdb
    .command('dump')
    .description('Print every sample of a block or a data dir of blocks, as `promtool tsdb dump` does')
    .argument('<dir>', 'a block directory or a data directory of blocks')
    .option('--min-time <ms>', 'minimum timestamp (ms) to dump', String(Number.MIN_SAFE_INTEGER))
    .option('--max-time <ms>', 'maximum timestamp (ms) to dump', String(Number.MAX_SAFE_INTEGER))
    .option('--match <selector>', 'series selector (default: every series)')
    .action(async (dir: string, o: { minTime: string; maxTime: string; match?: string }) => {
      await runDump(dir, { minTime: parseMs(o.minTime, '--min-time'), maxTime: parseMs(o.maxTime, '--max-time'), match: o.match }, process.stdout);
    });

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
    .description('Series, chunks, samples, bytes per sample and the highest-cardinality labels of a block')
    .argument('<block>', 'block directory')
    .option('--limit <n>', 'how many items to show in each list', '20')
    .action(async (block: string, o: { limit: string }) => {
      await runAnalyze(block, Number(o.limit), process.stdout);
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

export async function runDump(dir: string, o: { minTime: number; maxTime: number; match?: string }, out: Writable): Promise<void> {
  const matchers = o.match === undefined ? [] : parseSelector(o.match);
  const dirs = await blockDirs(dir);
  const blocks: BlockReader[] = [];
  try {
    for (const d of dirs) blocks.push(await BlockReader.openDir(d));
    await dumpSamples(blocks, matchers, o.minTime, o.maxTime, (text) => write(out, text));
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

export async function runAnalyze(dir: string, limit: number, out: Writable): Promise<void> {
  const b = await BlockReader.openDir(dir);
  try {
    const stats = { series: 0, chunks: 0, samples: 0, chunkBytes: 0 };
    const seriesPerMetric = new Map<string, number>();
    const pairs = new Map<string, number>();
    let postingsEntries = 0;
    for await (const s of b.chunkSeries([])) {
      stats.series++;
      stats.chunks += s.chunks.length;
      for (const c of s.chunks) {
        stats.samples += c.chunk.numSamples();
        stats.chunkBytes += c.chunk.bytes.length;
      }
      const metric = s.labels.get(METRIC_NAME);
      seriesPerMetric.set(metric, (seriesPerMetric.get(metric) ?? 0) + 1);
      for (const l of s.labels) {
        postingsEntries++;
        const k = `${l.name}=${l.value}`;
        pairs.set(k, (pairs.get(k) ?? 0) + 1);
      }
    }
    const names = await b.labelNames();
    const cardinality: [string, number][] = [];
    for (const n of names) cardinality.push([n, (await b.labelValues(n)).length]);
    const top = (m: Iterable<[string, number]>): string =>
      [...m]
        .sort((x, y) => y[1] - x[1] || compareStrings(x[0], y[0]))
        .slice(0, limit)
        .map(([k, v]) => `${v} ${k}\n`)
        .join('');
    const span = b.meta.maxTime - b.meta.minTime;
    out.write(
      `Block ID: ${b.meta.ulid}\n` +
        `Duration: ${formatDuration(span)}\n` +
        `Series: ${stats.series}\n` +
        `Chunks: ${stats.chunks}\n` +
        `Samples: ${stats.samples}\n` +
        `Bytes per sample: ${stats.samples > 0 ? (stats.chunkBytes / stats.samples).toFixed(3) : '0'}\n` +
        `Label names: ${names.length}\n` +
        `Postings (unique label pairs): ${pairs.size}\n` +
        `Postings entries (total label pairs): ${postingsEntries}\n` +
        `\nHighest cardinality labels:\n${top(cardinality)}` +
        `\nMost common label pairs:\n${top(pairs)}` +
        `\nHighest cardinality metric names:\n${top(seriesPerMetric)}`,
    );
  } finally {
    await b.close();
  }
}
