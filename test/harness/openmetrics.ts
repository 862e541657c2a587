import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promtool } from './prometheus.js';

/** One series of a family: its labels as OpenMetrics writes them (`a="1",b="2"`), its i-th sample's value, and which samples it has ([from, to) by index; all by default). */
export interface SyntheticSeries {
  readonly labels: string;
  readonly value: (i: number) => number;
  readonly from?: number;
  readonly to?: number;
}

/**
 * Families of synthetic series sampled every `step` ms from `start` to `end`, `offset` ms off the step
 * grid (as scrapes are), as OpenMetrics (every family typed gauge: PromQL does not look at types).
 */
export function syntheticOpenMetrics(families: Readonly<Record<string, readonly SyntheticSeries[]>>, opts: { start: number; end: number; step: number; offset?: number }): string {
  const lines: string[] = [];
  for (const [name, series] of Object.entries(families)) {
    lines.push(`# TYPE ${name} gauge`);
    for (const s of series) {
      for (let t = opts.start, i = 0; t <= opts.end && i < (s.to ?? Infinity); t += opts.step, i++) if (i >= (s.from ?? 0)) lines.push(`${name}{${s.labels}} ${s.value(i)} ${(t + (opts.offset ?? 0)) / 1000}`);
    }
  }
  lines.push('# EOF', '');
  return lines.join('\n');
}

/** Turns OpenMetrics text into 2h blocks with promtool, in a new data dir `<dir>/data`; returns its path. */
export async function promtoolDataDir(dir: string, openMetrics: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'series.om');
  await writeFile(file, openMetrics);
  const dataDir = join(dir, 'data');
  await promtool(['tsdb', 'create-blocks-from', 'openmetrics', '-q', file, dataDir]);
  return dataDir;
}
