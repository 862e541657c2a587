/**
 * `pnpm bench dump [--series N] [--hours H] [--step S] [--rounds N]`
 *
 * Wall time of `strata tools tsdb dump` (the built CLI, `node packages/cli/dist/main.js`) against
 * `promtool tsdb dump` on the same block, which promtool creates from generated OpenMetrics in this
 * run (default 100 series × 18h at 15s = 432k samples in one block). Both outputs go to files and must
 * be identical. Rounds alternate the order; medians and the median of the per-round ratios
 * strata / promtool are printed (target < 1: faster than promtool).
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { median } from './stats.js';

const CLI = new URL('../packages/cli/dist/main.js', import.meta.url).pathname;

function run(cmd: string, args: string[], outFile: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  const out = createWriteStream(outFile);
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  p.stdout.pipe(out);
  const written = new Promise<void>((resolve, reject) => out.on('close', resolve).on('error', reject));
  const exited = new Promise<void>((resolve, reject) => {
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited with ${code}`))));
  });
  return Promise.all([written, exited]).then(() => Number(process.hrtime.bigint() - t0) / 1e9);
}

/** Gauges and counters with realistic label sets, seconds timestamps, ending with # EOF. */
function openMetrics(series: number, hours: number, step: number, start: number): string {
  const lines: string[] = [];
  const n = Math.floor((hours * 3600) / step);
  lines.push('# TYPE bench_gauge gauge');
  for (let s = 0; s < series; s++) {
    const fam = s % 2 === 0 ? 'bench_gauge' : 'bench_requests_total';
    for (let i = 0; i < n; i++) {
      const v = s % 2 === 0 ? (Math.sin((i + s) / 20) * 100).toFixed(3) : String(i * (s + 1));
      lines.push(`${fam}{job="job${s % 10}",instance="host${s}:9100",cluster="bench"} ${v} ${start + i * step}`);
    }
  }
  lines.push('# EOF', '');
  return lines.join('\n');
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      series: { type: 'string', default: '100' },
      hours: { type: 'string', default: '18' },
      step: { type: 'string', default: '15' },
      rounds: { type: 'string', default: '5' },
    },
  });
  const dir = await mkdtemp(join(tmpdir(), 'strata-bench-dump-'));
  try {
    // Start at an 18h boundary so that --max-block-duration=18h gives one block (for up to 18 hours).
    const window = 18 * 3600;
    const start = Math.floor(Date.now() / 1000 / window) * window - window;
    const input = join(dir, 'in.om');
    await writeFile(input, openMetrics(Number(values.series), Number(values.hours), Number(values.step), start));
    const blocks = join(dir, 'blocks');
    await run('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', '-q', '--max-block-duration=18h', input, blocks], join(dir, 'create.log'));
    const [ulid] = await readdir(blocks);
    const meta = JSON.parse(await readFile(join(blocks, ulid as string, 'meta.json'), 'utf8')) as { stats: { numSamples: number } };
    // promtool 2.42's dump needs wal/ and creates chunks_head/: give it its own copy.
    const promDir = join(dir, 'prom');
    await cp(blocks, promDir, { recursive: true });
    await mkdir(join(promDir, 'wal'));
    const strataBlock = join(blocks, ulid as string);
    process.stdout.write(`block ${ulid}: ${meta.stats.numSamples} samples\n`);

    const strata: number[] = [];
    const prom: number[] = [];
    const ratios: number[] = [];
    for (let r = 0; r < Number(values.rounds); r++) {
      const order = r % 2 === 0 ? ['strata', 'promtool'] : ['promtool', 'strata'];
      const t: Record<string, number> = {};
      for (const which of order) {
        t[which] =
          which === 'strata'
            ? await run('node', [CLI, 'tools', 'tsdb', 'dump', strataBlock], join(dir, 'strata.out'))
            : await run('promtool', ['tsdb', 'dump', promDir], join(dir, 'promtool.out'));
      }
      strata.push(t.strata as number);
      prom.push(t.promtool as number);
      ratios.push((t.strata as number) / (t.promtool as number));
      if (r === 0) {
        const [a, b] = await Promise.all([readFile(join(dir, 'strata.out')), readFile(join(dir, 'promtool.out'))]);
        if (!a.equals(b)) throw new Error('strata and promtool dumps differ');
      }
    }
    const n = meta.stats.numSamples;
    process.stdout.write(
      `strata tools tsdb dump: ${median(strata).toFixed(3)} s (${((n / median(strata)) / 1e6).toFixed(2)} M samples/s)\n` +
        `promtool tsdb dump:     ${median(prom).toFixed(3)} s (${((n / median(prom)) / 1e6).toFixed(2)} M samples/s)\n` +
        `ratio strata/promtool:  ${median(ratios).toFixed(3)} (median of ${ratios.length} rounds; < 1 is faster than promtool)\n`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
