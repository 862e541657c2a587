/**
 * `pnpm bench compact [--series=N] [--step=SECONDS]`
 *
 * Compaction throughput (samples/s) and peak memory of Strata's streaming block merge against
 * Prometheus 2.42 compacting the same blocks, in the same run; and downsampling throughput (raw
 * points/s into 5m aggregates).
 *
 * Four 2h blocks of N series (default 100,000), one 120-sample chunk per series each, are written
 * with Strata's BlockWriter, the first starting on a 6h boundary. Prometheus is started on a data dir
 * holding them with its default block durations (min 2h, max 10% of the 15d retention = 36h, so
 * windows of 2h, 6h, 18h): its planner never takes the newest block, and merges the three oldest,
 * which fill a 6h window. Prometheus' time is its own `prometheus_tsdb_compaction_duration_seconds`
 * for that compaction, its memory the process's peak RSS (VmHWM). Strata merges all four blocks (the
 * issue's "four 2h blocks"), and for comparison on exactly Prometheus' work the same three, each in a
 * child process so that its peak RSS is that of the compaction alone; the four-block result is then
 * downsampled to 5m. Memory per 1M series is Strata's peak RSS growth above what the child holds
 * before compacting, scaled linearly from N series: an overestimate, as fixed buffers scale too.
 * Targets (issue 8): at least as fast as Prometheus; ≤ 1 GB per 1 M series; downsampling ≥ 8 M points/s.
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
  /** CPU time (user + system) of the merge: on the shared machine, wall time also counts waiting for a core. */
  mergeCpuSeconds: number;
  samples: number;
  series: number;
  maxRssMiB: number;
  baseRssMiB: number;
  downsampleSeconds: number;
  downsampleCpuSeconds: number;
  points: number;
}

/**
 * Writes four 2h blocks of `series` gauges sampled every `stepMs`, the first starting on a 6h boundary
 * (so that Prometheus' 6h window holds the first three) at least 12h ago.
 */
export async function writeBlocks(dir: string, series: number, stepMs: number): Promise<string[]> {
  const start = Math.floor(Date.now() / (6 * HOUR)) * 6 * HOUR - 12 * HOUR;
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

/** Child mode: merge the given blocks, then (if asked) downsample the result, and report as JSON on stdout. */
async function child(out: string, dirs: string[], downsample: boolean): Promise<void> {
  // What the process holds before compacting (Node, the loaded modules): reported apart, as it does
  // not grow with the series.
  const baseRssMiB = process.memoryUsage().rss / 1024 / 1024;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await mergeBlocks(dirs, { outDir: out, func: 'chain', thanos: { labels: { cluster: 'bench' }, downsample: { resolution: 0 }, source: 'compactor' } });
  const mergeSeconds = (performance.now() - t0) / 1000;
  const mergeCpu = process.cpuUsage(c0);
  const maxRssMiB = process.resourceUsage().maxRSS / 1024;
  const meta = r.meta as BlockMeta;
  const c1 = process.cpuUsage();
  const t1 = performance.now();
  const d = downsample ? await downsampleBlock(join(out, meta.ulid), join(out, 'downsampled'), RES_5M, { labels: { cluster: 'bench' }, downsample: { resolution: RES_5M }, source: 'compactor' }) : undefined;
  const downsampleCpu = process.cpuUsage(c1);
  const result: ChildResult = {
    mergeSeconds,
    mergeCpuSeconds: (mergeCpu.user + mergeCpu.system) / 1e6,
    samples: r.samplesIn,
    series: meta.stats?.numSeries ?? 0,
    maxRssMiB,
    baseRssMiB,
    downsampleSeconds: (performance.now() - t1) / 1000,
    downsampleCpuSeconds: (downsampleCpu.user + downsampleCpu.system) / 1e6,
    points: d?.pointsIn ?? 0,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

async function runChild(work: string, name: string, dirs: string[], downsample: boolean): Promise<ChildResult> {
  const args = [join(here, 'main.ts'), 'compact', `--child=${join(work, `strata-${name}`)}`, ...(downsample ? ['--downsample'] : []), ...dirs];
  const p = startProcess(process.execPath, ['--import', 'tsx', ...args], { logFile: join(work, `child-${name}.log`) });
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

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat (clock ticks of 1/100 s). */
async function cpuSecondsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Prometheus' own compaction of the blocks: its reported duration, peak RSS, and the CPU time it used
 * from being ready until the compaction was seen (an upper bound of the compaction's: it includes the
 * idle wait for the ticker).
 */
async function runPrometheus(work: string, dirs: string[]): Promise<{ seconds: number; samples: number; blocks: number; maxRssMiB: number; cpuSeconds: number }> {
  const data = join(work, 'prom-data');
  await mkdir(data, { recursive: true });
  for (const d of dirs) await cp(d, join(data, d.slice(d.lastIndexOf('/') + 1)), { recursive: true });
  await mkdir(join(work, 'prom'), { recursive: true });
  const prom = await startPrometheus({ dir: join(work, 'prom'), dataDir: data, blockDuration: '2h', maxBlockDuration: '36h', retention: '15d' });
  try {
    const pid = await pidOf(`--storage.tsdb.path=${data}`);
    const cpuAtStart = await cpuSecondsOf(pid);
    // Prometheus compacts on its one-minute ticker; wait for that compaction to be recorded.
    for (;;) {
      const metrics = await (await fetch(`${prom.url}/metrics`)).text();
      const count = Number(/^prometheus_tsdb_compaction_duration_seconds_count (\S+)/m.exec(metrics)?.[1] ?? 0);
      if (count >= 1) {
        const seconds = Number(/^prometheus_tsdb_compaction_duration_seconds_sum (\S+)/m.exec(metrics)?.[1]);
        const cpuSeconds = (await cpuSecondsOf(pid)) - cpuAtStart;
        const status = await readFile(`/proc/${pid}/status`, 'utf8');
        const maxRssMiB = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
        let samples = 0;
        let blocks = 0;
        for (const id of await readdir(data)) {
          const meta = await readFile(join(data, id, 'meta.json'), 'utf8').catch(() => undefined);
          if (meta === undefined) continue;
          const m = parseMeta(meta);
          if (m.compaction.level === 1) continue;
          samples += m.stats?.numSamples ?? 0;
          blocks += m.compaction.sources?.length ?? 0;
        }
        return { seconds, samples, blocks, maxRssMiB, cpuSeconds };
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  } finally {
    await prom.stop();
  }
}

export async function main(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { series: { type: 'string', default: '100000' }, step: { type: 'string', default: '60' }, child: { type: 'string' }, downsample: { type: 'boolean', default: false } } });
  if (values.child !== undefined) return child(values.child, positionals, values.downsample);
  const series = Number(values.series);
  const work = await tempDir('strata-bench-compact-');
  try {
    process.stderr.write(`writing 4 × 2h blocks of ${series} series at ${values.step}s…\n`);
    const dirs = await writeBlocks(join(work.path, 'blocks'), series, Number(values.step) * 1000);
    process.stderr.write('Prometheus 2.42 compacting (waits for its one-minute compaction ticker)…\n');
    const prom = await runPrometheus(work.path, dirs);
    process.stderr.write('Strata compacting the four blocks, then the three Prometheus compacted…\n');
    const four = await runChild(work.path, 'four', dirs, true);
    const three = await runChild(work.path, 'three', dirs.slice(0, 3), false);
    const promRate = prom.samples / prom.seconds;
    const perMillion = (mib: number, n: number): string => ((mib * 1e6) / n).toFixed(0);
    const rows: (string | number)[][] = [
      ['', 'blocks', 'samples', 'seconds', 'samples/s', 'ratio', 'peak RSS MiB', 'growth MiB', 'MiB/1M series'],
      ['Prometheus 2.42', prom.blocks, prom.samples, prom.seconds.toFixed(2), promRate.toFixed(0), '1.00', prom.maxRssMiB.toFixed(0), '', perMillion(prom.maxRssMiB, series)],
    ];
    for (const [n, r] of [[4, four], [3, three]] as const) {
      const rate = r.samples / r.mergeSeconds;
      const grown = r.maxRssMiB - r.baseRssMiB;
      rows.push([`Strata`, n, r.samples, r.mergeSeconds.toFixed(2), rate.toFixed(0), (rate / promRate).toFixed(2), r.maxRssMiB.toFixed(0), grown.toFixed(0), perMillion(grown, r.series)]);
    }
    for (const r of rows) process.stdout.write(`${r.map((c, i) => String(c).padStart(i === 0 ? 16 : 13)).join(' ')}\n`);
    process.stdout.write('(Prometheus: MiB/1M series from its whole peak RSS; Strata: from its growth above the child\'s RSS at start)\n');
    process.stdout.write(`compaction speed ratio Strata/Prometheus: ${((four.samples / four.mergeSeconds) / promRate).toFixed(2)} on four blocks, ${((three.samples / three.mergeSeconds) / promRate).toFixed(2)} on the same three (target ≥ 1)\n`);
    // Wall time on a shared machine also counts waiting for a core, which favours the multi-threaded
    // Prometheus; CPU time per sample compares the work done.
    const cpuRate = (samples: number, seconds: number): string => (samples / seconds / 1e6).toFixed(1);
    process.stdout.write(
      `CPU time: Prometheus ≤ ${prom.cpuSeconds.toFixed(2)}s (ready → compacted) = ≥ ${cpuRate(prom.samples, prom.cpuSeconds)} M samples per CPU second; ` +
        `Strata ${four.mergeCpuSeconds.toFixed(2)}s on four blocks = ${cpuRate(four.samples, four.mergeCpuSeconds)}, ${three.mergeCpuSeconds.toFixed(2)}s on three = ${cpuRate(three.samples, three.mergeCpuSeconds)} M samples per CPU second\n`,
    );
    process.stdout.write(`downsampling raw → 5m: ${four.points} points in ${four.downsampleSeconds.toFixed(2)}s = ${(four.points / four.downsampleSeconds / 1e6).toFixed(2)} M points/s (target ≥ 8); CPU time ${four.downsampleCpuSeconds.toFixed(2)}s = ${(four.points / four.downsampleCpuSeconds / 1e6).toFixed(2)} M points per CPU second\n`);
  } finally {
    await work.cleanup();
  }
}
