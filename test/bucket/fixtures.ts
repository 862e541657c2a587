import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatMeta, newULID } from '@strata/tsdb';
import { promtool } from '@strata/testing/prometheus';

/**
 * Real TSDB blocks made by promtool from generated OpenMetrics: `series` series (half gauges, half
 * counters) at a 15s step over `hours` hours ending at `endSec`; 2h blocks, so several per call.
 */
export async function promtoolBlocks(dir: string, opts: { series?: number; hours?: number; endSec?: number } = {}): Promise<string> {
  const series = opts.series ?? 20;
  const hours = opts.hours ?? 5;
  const step = 15;
  const end = Math.floor((opts.endSec ?? Date.now() / 1000 - 86_400) / step) * step;
  const start = end - hours * 3600;
  const lines: string[] = [];
  const gauges = Math.ceil(series / 2);
  lines.push('# HELP demo_gauge A gauge.', '# TYPE demo_gauge gauge');
  for (let s = 0; s < gauges; s++) {
    for (let t = start, i = 0; t <= end; t += step, i++) lines.push(`demo_gauge{job="job${s % 10}",instance="host${s}:9100"} ${Math.round(Math.sin((i + s) / 20) * 100_000) / 1000} ${t}`);
  }
  lines.push('# HELP demo_requests A counter.', '# TYPE demo_requests counter');
  for (let s = 0; s < series - gauges; s++) {
    for (let t = start, i = 0; t <= end; t += step, i++) lines.push(`demo_requests_total{job="job${s % 10}",instance="host${s}:9100"} ${i * (s + 1)} ${t}`);
  }
  lines.push('# EOF');
  const om = join(dir, 'input.om');
  await writeFile(om, `${lines.join('\n')}\n`);
  const out = join(dir, 'blocks');
  await promtool(['tsdb', 'create-blocks-from', 'openmetrics', om, out]);
  return out;
}

/** A block directory with random chunk and index bytes, for tests that only move bytes around. */
export async function syntheticBlock(root: string, opts: { labels: Record<string, string>; minTime: number; maxTime: number; chunkBytes?: number }): Promise<string> {
  const id = newULID();
  const dir = join(root, id);
  await mkdir(join(dir, 'chunks'), { recursive: true });
  await writeFile(join(dir, 'chunks', '000001'), randomBytes(opts.chunkBytes ?? 20_000));
  await writeFile(join(dir, 'index'), randomBytes(5_000));
  await writeFile(
    join(dir, 'meta.json'),
    formatMeta({
      ulid: id,
      minTime: opts.minTime,
      maxTime: opts.maxTime,
      version: 1,
      stats: { numSamples: 1, numSeries: 1, numChunks: 1 },
      compaction: { level: 1, sources: [id] },
      thanos: { labels: opts.labels, downsample: { resolution: 0 }, source: 'test' },
    }),
  );
  return dir;
}

/** Collects what a command wrote. */
export function capture(): { out: Writable; err: Writable; text(): string; errText(): string } {
  let out = '';
  let err = '';
  return {
    out: new Writable({ write: (c: Buffer, _e, cb) => ((out += c.toString()), cb()) }),
    err: new Writable({ write: (c: Buffer, _e, cb) => ((err += c.toString()), cb()) }),
    text: () => out,
    errText: () => err,
  };
}
