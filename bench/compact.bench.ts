/**
 * `pnpm bench compact [--series=N] [--step=SECONDS]`
 *
 * Compaction throughput (samples/s) and peak memory of Strata's streaming block merge against
 * Prometheus 2.42 compacting the same blocks, in the same run; and downsampling throughput (raw
 * points/s into 5m aggregates).
 *
 * Four 2h blocks of N series (default 100,000) are written with Strata's BlockWriter. Prometheus is
 * started on a data dir holding them with its default block durations (min 2h, max 10% of the 15d
 * retention = 36h, so windows of 2h, 6h, 18h): its planner merges the three oldest blocks, which
 * fill a 6h window, and leaves the newest. Strata merges the same three blocks in a child process, so
 * that its peak RSS is that of the compaction alone. Prometheus' time is its own
 * `prometheus_tsdb_compaction_duration_seconds` for that compaction, its memory the process's peak RSS.
 * Targets (issue 8): at least as fast as Prometheus; ≤ 1 GB per 1 M series; downsampling ≥ 8 M points/s.
 * Measured on the shared 2-core machine at load ~13: 0.21× Prometheus' speed, peak RSS 383 MiB for 100k
 * series (124 MiB at start), downsampling 0.76 M points/s; none of the targets met yet.
 */
import { cp, mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { downsampleBlock, mergeBlocks, RES_5M } from '../packages/compactor/src/index.js';
import { BlockWriter, Labels, parseMeta, XORChunk, type BlockMeta, type ChunkMeta } from '../packages/tsdb/src/index.js';
import { startProcess, tempDir } from '../test/harness/process.js';
import { startPrometheus } from '../test/harness/prometheus.js';

const HOUR = 3_600_000;
const here = fileURLToPath(new URL('.', import.meta.url));

interface ChildResult {
  mergeSeconds: number;
  samples: number;
  series: number;
  maxRssMiB: number;
  baseRssMiB: number;
  downsampleSeconds: number;
  points: number;
}

/** Writes four 2h blocks of `series` gauges sampled every `stepMs`, ending 2h before the current 2h boundary. */
export async function writeBlocks(dir: string, series: number, stepMs: number): Promise<string[]> {
  const end = Math.floor(Date.now() / (2 * HOUR)) * 2 * HOUR - 2 * HOUR;
  const start = end - 8 * HOUR;
  const labels = Array.from({ length: series }, (_, s) => Labels.from({ __name__: 'bench_value', job: `job${s % 10}`, instance: `host${s}:9100` })).sort(Labels.compare);
  const dirs: string[] = [];
  for (let b = 0; b < 4; b++) {
    const from = start + b * 2 * HOUR;
    const w = await BlockWriter.create(dir, { thanos: { labels: { cluster: 'bench' }, downsample: { resolution: 0 }, source: 'test' }, range: { minTime: from, maxTime: from + 2 * HOUR } });
    for (const [s, l] of labels.entries()) {
      const chunks: ChunkMeta[] = [];
      let c = new XORChunk();
      let app = c.appender();
      let min = from;
      let v = s;
      for (let t = from; t < from + 2 * HOUR; t += stepMs) {
        if (c.numSamples() === 120) {
          chunks.push({ minTime: min, maxTime: t - stepMs, chunk: c });
          c = new XORChunk();
          app = c.appender();
          min = t;
        }
        // A random walk with two decimals: realistic XOR chunk sizes.
        v = Math.round((v + Math.sin(t / 60_000 + s) * 3) * 100) / 100;
        app.append(t, v);
      }
      chunks.push({ minTime: min, maxTime: from + 2 * HOUR - stepMs, chunk: c });
      await w.addChunkSeries(l, chunks);
    }
    dirs.push(join(dir, (await w.close()).ulid));
  }
  return dirs;
}

/** Child mode: merge the given blocks, then downsample the result, and report as JSON on stdout. */
async function child(out: string, dirs: string[]): Promise<void> {
  // What the process holds before compacting (Node, the loaded modules): reported apart, as it does
  // not grow with the series.
  const baseRssMiB = process.memoryUsage().rss / 1024 / 1024;
  const t0 = performance.now();
  const r = await mergeBlocks(dirs, { outDir: out, func: 'chain', thanos: { labels: { cluster: 'bench' }, downsample: { resolution: 0 }, source: 'compactor' } });
  const mergeSeconds = (performance.now() - t0) / 1000;
  const maxRssMiB = process.resourceUsage().maxRSS / 1024;
  const meta = r.meta as BlockMeta;
  const t1 = performance.now();
  const d = await downsampleBlock(join(out, meta.ulid), join(out, 'downsampled'), RES_5M, { labels: { cluster: 'bench' }, downsample: { resolution: RES_5M }, source: 'compactor' });
  const result: ChildResult = {
    mergeSeconds,
    samples: r.samplesIn,
    series: meta.stats?.numSeries ?? 0,
    maxRssMiB,
    baseRssMiB,
    downsampleSeconds: (performance.now() - t1) / 1000,
    points: d.pointsIn,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

async function runChild(work: string, dirs: string[]): Promise<ChildResult> {
  const p = startProcess(process.execPath, ['--import', 'tsx', join(here, 'main.ts'), 'compact', `--child=${join(work, 'strata-out')}`, ...dirs], { logFile: join(work, 'child.log') });
  const code = await new Promise<number | null>((resolve) => p.child.once('exit', resolve));
  const log = await readFile(p.logFile, 'utf8');
  if (code !== 0) throw new Error(`compaction child exited with ${code}:\n${log}`);
  const line = log.split('\n').find((l) => l.startsWith('{'));
  if (line === undefined) throw new Error(`no result from compaction child:\n${log}`);
  return JSON.parse(line) as ChildResult;
}

/** The process whose command line has `arg` (the harness does not expose Prometheus' pid). */
async function pidOf(arg: string): Promise<number> {
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.split('\0').includes(arg)) return Number(pid);
  }
  throw new Error(`no process with argument ${arg}`);
}

/** Prometheus' own compaction of the blocks: its reported duration and peak RSS. */
async function runPrometheus(work: string, dirs: string[]): Promise<{ seconds: number; samples: number; maxRssMiB: number }> {
  const data = join(work, 'prom-data');
  await mkdir(data, { recursive: true });
  for (const d of dirs) await cp(d, join(data, d.slice(d.lastIndexOf('/') + 1)), { recursive: true });
  await mkdir(join(work, 'prom'), { recursive: true });
  const prom = await startPrometheus({ dir: join(work, 'prom'), dataDir: data, blockDuration: '2h', maxBlockDuration: '36h', retention: '15d' });
  try {
    // Prometheus compacts on its one-minute ticker; wait for that compaction to be recorded.
    for (;;) {
      const metrics = await (await fetch(`${prom.url}/metrics`)).text();
      const count = Number(/^prometheus_tsdb_compaction_duration_seconds_count (\S+)/m.exec(metrics)?.[1] ?? 0);
      if (count >= 1) {
        const seconds = Number(/^prometheus_tsdb_compaction_duration_seconds_sum (\S+)/m.exec(metrics)?.[1]);
        const status = await readFile(`/proc/${await pidOf(`--storage.tsdb.path=${data}`)}/status`, 'utf8');
        const maxRssMiB = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
        let samples = 0;
        for (const id of await readdir(data)) {
          const meta = await readFile(join(data, id, 'meta.json'), 'utf8').catch(() => undefined);
          if (meta === undefined) continue;
          const m = parseMeta(meta);
          if (m.compaction.level > 1) samples += m.stats?.numSamples ?? 0;
        }
        return { seconds, samples, maxRssMiB };
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  } finally {
    await prom.stop();
  }
}

export async function main(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { series: { type: 'string', default: '100000' }, step: { type: 'string', default: '60' }, child: { type: 'string' } } });
  if (values.child !== undefined) return child(values.child, positionals);
  const series = Number(values.series);
  const work = await tempDir('strata-bench-compact-');
  try {
    process.stderr.write(`writing 4 × 2h blocks of ${series} series at ${values.step}s…\n`);
    const dirs = await writeBlocks(join(work.path, 'blocks'), series, Number(values.step) * 1000);
    // Prometheus' planner: the three oldest blocks fill a 6h window; the newest stays.
    const planned = dirs.slice(0, 3);
    process.stderr.write('Prometheus 2.42 compacting (waits for its one-minute compaction ticker)…\n');
    const prom = await runPrometheus(work.path, dirs);
    process.stderr.write('Strata compacting the same three blocks…\n');
    const s = await runChild(work.path, planned);
    const strataRate = s.samples / s.mergeSeconds;
    const promRate = prom.samples / prom.seconds;
    const rows = [
      ['', 'samples', 'seconds', 'samples/s', 'peak RSS MiB', 'MiB per 1M series'],
      ['Prometheus 2.42', prom.samples, prom.seconds.toFixed(2), promRate.toFixed(0), prom.maxRssMiB.toFixed(0), ((prom.maxRssMiB * 1e6) / series).toFixed(0)],
      ['Strata', s.samples, s.mergeSeconds.toFixed(2), strataRate.toFixed(0), s.maxRssMiB.toFixed(0), ((s.maxRssMiB * 1e6) / s.series).toFixed(0)],
    ];
    for (const r of rows) process.stdout.write(`${r.map((c, i) => String(c).padStart(i === 0 ? 16 : 14)).join(' ')}\n`);
    const grown = s.maxRssMiB - s.baseRssMiB;
    process.stdout.write(`Strata peak RSS above its ${s.baseRssMiB.toFixed(0)} MiB at start: ${grown.toFixed(0)} MiB = ${((grown * 1e6) / s.series).toFixed(0)} MiB per 1M series\n`);
    process.stdout.write(`compaction speed ratio Strata/Prometheus: ${(strataRate / promRate).toFixed(2)} (target ≥ 1)\n`);
    process.stdout.write(`downsampling raw → 5m: ${s.points} points in ${s.downsampleSeconds.toFixed(2)}s = ${(s.points / s.downsampleSeconds / 1e6).toFixed(2)} M points/s (target ≥ 8)\n`);
  } finally {
    await work.cleanup();
  }
}
