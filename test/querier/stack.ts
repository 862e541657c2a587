import { cp, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DemoModel, writeOpenMetrics } from '@strata/cli';
import { promtool, startPrometheus, type PrometheusHandle } from '@strata/testing/prometheus';

/** The instances the compliance queries name. */
export const DEMO_INSTANCES = ['demo.promlabs.com:10000', 'demo.promlabs.com:10001', 'demo.promlabs.com:10002'];

export interface DemoHistory {
  /** First and last sample time (ms). */
  startMs: number;
  endMs: number;
  /** A promtool-made data dir with the blocks. */
  blocksDir: string;
}

/**
 * The demo service's series for three instances, scraped every 5s (off the step grid, as real scrapes
 * are), written as OpenMetrics and turned into blocks by promtool.
 */
export async function demoHistory(dir: string, durationMs: number, now = Date.now()): Promise<DemoHistory> {
  const stepMs = 5000;
  const startMs = Math.floor((now - durationMs) / stepMs) * stepMs + 1234;
  const endMs = startMs + Math.floor(durationMs / stepMs) * stepMs - stepMs;
  const chunks: string[] = [];
  await writeOpenMetrics(
    DEMO_INSTANCES.map((instance) => ({ model: new DemoModel(instance), labels: { job: 'demo', instance } })),
    { startMs, endMs, stepMs },
    (c) => {
      chunks.push(c);
    },
  );
  const om = join(dir, 'demo.om');
  await writeFile(om, chunks.join(''));
  const blocksDir = join(dir, 'blocks');
  await promtool(['tsdb', 'create-blocks-from', 'openmetrics', '-q', om, blocksDir]);
  return { startMs, endMs, blocksDir };
}

/** A Prometheus 2.42 serving a copy of the blocks, with the given external labels. */
export async function prometheusOn(history: DemoHistory, dir: string, externalLabels: Record<string, string>): Promise<PrometheusHandle> {
  const dataDir = join(dir, 'data');
  await mkdir(dataDir, { recursive: true });
  await cp(history.blocksDir, dataDir, { recursive: true });
  return startPrometheus({ dir, dataDir, externalLabels, blockDuration: '2h' });
}
