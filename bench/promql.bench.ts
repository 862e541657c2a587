/**
 * `pnpm bench promql [--series N] [--hours H] [--interval S] [--rounds R] [--instant-rounds R] [--storage blocks|memory] [--mode instant|range|both]`
 *
 * The PromQL engine against Prometheus 2.42 on the same data (default 2,000 series × 24h at 10s):
 * synthetic counters, gauges and histogram buckets are backfilled into TSDB blocks with promtool.
 * Prometheus serves those blocks; Strata's engine reads a copy of them through @strata/tsdb's block
 * reader (`--storage blocks`, the default: the same index lookups and XOR chunk decoding Prometheus'
 * evalTotalTime includes), or the same series from a MemoryStorage (`--storage memory`: the engine alone).
 * Each query runs as an instant and as a range query over the whole period, timed as promql-compare.ts
 * describes; Strata in 2.x mode.
 */
import { createWriteStream } from 'node:fs';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { Engine, MemoryStorage, type Queryable } from '../packages/promql/src/index.js';
import { openBlocksQueryable } from '../packages/promql/src/testing/blocks.js';
import { appendTo, openMetricsLines, syntheticSeries, type SyntheticOptions } from '../packages/promql/src/testing/synthetic.js';
import { tempDir } from '../test/harness/process.js';
import { promtool, startPrometheus } from '../test/harness/prometheus.js';
import { compareWithPrometheus } from './promql-compare.js';

const QUERIES = [
  'rate(demo_requests_total[5m])',
  'sum by (job) (rate(demo_requests_total[5m]))',
  'histogram_quantile(0.9, sum by (le) (rate(demo_latency_seconds_bucket[5m])))',
  'demo_gauge * on(job, instance) demo_requests_total',
];

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      series: { type: 'string', default: '2000' },
      hours: { type: 'string', default: '24' },
      interval: { type: 'string', default: '10' },
      rounds: { type: 'string', default: '7' },
      'instant-rounds': { type: 'string', default: '21' },
      storage: { type: 'string', default: 'blocks' },
      mode: { type: 'string', default: 'both' },
    },
  });
  const total = Number(values.series);
  const histograms = Math.max(1, Math.floor(total / 10 / 9));
  const end = Math.floor(Date.now() / 3600_000) * 3600_000 - 3600_000;
  const opts: SyntheticOptions = {
    series: Math.floor((total - histograms * 9) / 2),
    histograms,
    start: end - Number(values.hours) * 3600_000,
    end,
    interval: Number(values.interval) * 1000,
  };
  const series = syntheticSeries(opts);
  const samples = series.length * (Math.floor((opts.end - opts.start) / opts.interval) + 1);
  console.log(`${series.length} series, ${samples} samples`);

  const dir = await tempDir('strata-bench-promql-');
  const om = join(dir.path, 'data.om');
  await finished(Readable.from(openMetricsLines(series, opts)).pipe(createWriteStream(om)));
  const dataDir = join(dir.path, 'data');
  await promtool(['tsdb', 'create-blocks-from', 'openmetrics', '-q', '--max-block-duration=24h', om, dataDir]);
  // Strata reads its own copy: Prometheus may compact and delete the blocks it serves.
  const strataDir = join(dir.path, 'strata');
  await cp(dataDir, strataDir, { recursive: true });
  const prom = await startPrometheus({ dir: dir.path, dataDir, blockDuration: '2h', extraArgs: ['--query.max-samples=500000000'] });
  let storage: Queryable;
  let closeStorage = async (): Promise<void> => undefined;
  if (values.storage === 'memory') {
    const mem = new MemoryStorage();
    appendTo(mem, series, opts);
    storage = mem;
  } else if (values.storage === 'blocks') {
    const blocks = await openBlocksQueryable(strataDir);
    storage = blocks;
    closeStorage = () => blocks.close();
  } else throw new Error(`--storage must be blocks or memory, not ${values.storage}`);
  console.log(`strata reads from ${values.storage === 'memory' ? 'a MemoryStorage' : 'the TSDB blocks'}`);
  const engine = new Engine({ compat: 2, maxSamples: 500_000_000 });
  try {
    await compareWithPrometheus(prom, engine, storage, QUERIES, {
      start: opts.start, end: opts.end, rangeRounds: Number(values.rounds), instantRounds: Number(values['instant-rounds']), mode: values.mode as string,
    });
  } finally {
    await closeStorage();
    await prom.stop();
    await dir.cleanup();
  }
}
