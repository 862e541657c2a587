import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DemoModel, writeOpenMetrics } from '@strata/cli';
import { isULID, parseMeta, type BlockMeta } from '@strata/tsdb';
import { promtool, startPrometheusOn, type PrometheusHandle } from '@strata/testing/prometheus';

/** The instances the compliance queries name. */
export const DEMO_INSTANCES = ['demo.promlabs.com:10000', 'demo.promlabs.com:10001', 'demo.promlabs.com:10002'];

export interface DemoHistory {
  /** First and last sample time (ms). */
  startMs: number;
  endMs: number;
  /** A promtool-made data dir with the blocks. */
  blocksDir: string;
  blocks: BlockMeta[];
}

/**
 * The demo service's series for three instances, scraped every 5s (off the step grid, as real scrapes
 * are), from `startMs` to `endMs`, written as OpenMetrics and turned into 2h blocks by promtool.
 */
export async function demoHistory(dir: string, startMs: number, endMs: number): Promise<DemoHistory> {
  const stepMs = 5000;
  const chunks: string[] = [];
  await writeOpenMetrics(
    DEMO_INSTANCES.map((instance) => ({ model: new DemoModel(instance), labels: { job: 'demo', instance } })),
    { startMs: startMs + 1234, endMs, stepMs },
    (c) => {
      chunks.push(c);
    },
  );
  const om = join(dir, 'demo.om');
  await writeFile(om, chunks.join(''));
  const blocksDir = join(dir, 'blocks');
  await promtool(['tsdb', 'create-blocks-from', 'openmetrics', '-q', om, blocksDir]);
  const blocks: BlockMeta[] = [];
  for (const d of (await readdir(blocksDir)).filter(isULID)) blocks.push(parseMeta(await readFile(join(blocksDir, d, 'meta.json'), 'utf8')));
  return { startMs: startMs + 1234, endMs, blocksDir, blocks: blocks.sort((a, b) => a.minTime - b.minTime) };
}

/** A Prometheus 2.42 serving copies of the given blocks, with the given external labels. */
export async function prometheusOn(history: DemoHistory, blocks: readonly BlockMeta[], dir: string, externalLabels: Record<string, string>): Promise<PrometheusHandle> {
  return startPrometheusOn(blocks.map((b) => join(history.blocksDir, b.ulid)), { dir, externalLabels, blockDuration: '2h' });
}
