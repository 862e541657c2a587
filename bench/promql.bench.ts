/**
 * `pnpm bench promql [--series N] [--hours H] [--interval S] [--rounds R] [--instant-rounds R] [--storage blocks|memory] [--mode instant|range|both]`
 *
 * The PromQL engine against Prometheus 2.42 on the same data (default 2,000 series × 24h at 10s):
 * synthetic counters, gauges and histogram buckets are backfilled into TSDB blocks with promtool.
 * Prometheus serves those blocks; Strata's engine reads a copy of them through @strata/tsdb's block
 * reader (`--storage blocks`, the default: the same index lookups and XOR chunk decoding Prometheus'
 * evalTotalTime includes), or the same series from a MemoryStorage (`--storage memory`: the engine alone).
 * Each query runs as an instant query (at the end) and as a range query (1,000 steps over the whole
 * period), Prometheus and Strata alternately. Prometheus' time is its own evalTotalTime from `stats=all`
 * (querier, selection, evaluation and result sorting; no parsing, HTTP or JSON), Strata's the engine
 * call in-process (2.x mode) on an already parsed query. Printed per query: median times, the ratio
 * strata/prometheus (target ≤ 1), samples/s (samples read ÷ time) and peak samples of both, and the JS
 * heap growth during Strata's query.
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
import { median } from './stats.js';

const QUERIES = [
  'rate(demo_requests_total[5m])',
  'sum by (job) (rate(demo_requests_total[5m]))',
  'histogram_quantile(0.9, sum by (le) (rate(demo_latency_seconds_bucket[5m])))',
  'demo_gauge * on(job, instance) demo_requests_total',
];

const WARMUP_ROUNDS = 3;

interface PromStats {
  timings: { evalTotalTime: number };
  samples?: { totalQueryableSamples: number; peakSamples: number };
}

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
  const rangeRounds = Number(values.rounds);
  // Instant queries take milliseconds: more rounds steady their median.
  const instantRounds = Number(values['instant-rounds']);
  const modes = (['instant', 'range'] as const).filter((m) => values.mode === 'both' || values.mode === m);
  if (modes.length === 0) throw new Error(`--mode must be instant, range or both, not ${values.mode}`);
  const rangeStep = Math.max(1000, Math.floor((opts.end - opts.start) / 999));

  try {
    console.log('query | mode | strata ms | prometheus ms | ratio | strata samples/s | prometheus samples/s | peak samples strata / prometheus | heap growth MB');
    for (const query of QUERIES) {
      for (const mode of modes) {
        const ours: number[] = [];
        const theirs: number[] = [];
        let stats = { samplesRead: 0, peakSamples: 0 };
        let promStats: PromStats | undefined;
        let heap = 0;
        const rounds = mode === 'instant' ? instantRounds : rangeRounds;
        // The first rounds warm up V8's JIT and Prometheus' caches; they are not counted.
        for (let r = -WARMUP_ROUNDS; r < rounds; r++) {
          const params: Record<string, string> =
            mode === 'instant'
              ? { query, time: String(opts.end / 1000), stats: 'all' }
              : { query, start: String(opts.start / 1000), end: String(opts.end / 1000), step: String(rangeStep / 1000), stats: 'all' };
          const p = await prom.api<{ stats: PromStats }>(mode === 'instant' ? 'query' : 'query_range', params);
          promStats = p.stats;
          // Parsed outside the timing: Prometheus' evalTotalTime does not include parsing either.
          const expr = engine.parse(query);
          const heapBefore = process.memoryUsage().heapUsed;
          const t0 = process.hrtime.bigint();
          const res =
            mode === 'instant'
              ? await engine.instantQuery(storage, expr, opts.end)
              : await engine.rangeQuery(storage, expr, opts.start, opts.end, rangeStep);
          const ms = Number(process.hrtime.bigint() - t0) / 1e6;
          stats = res.stats;
          if (r < 0) continue;
          ours.push(ms);
          theirs.push(p.stats.timings.evalTotalTime * 1000);
          heap = Math.max(heap, process.memoryUsage().heapUsed - heapBefore);
        }
        const o = median(ours);
        const t = median(theirs);
        const promSamples = promStats?.samples?.totalQueryableSamples ?? NaN;
        console.log(
          [
            query, mode, o.toFixed(1), t.toFixed(1), (o / t).toFixed(2),
            Math.round(stats.samplesRead / (o / 1000)), Math.round(promSamples / (t / 1000)),
            `${stats.peakSamples} / ${promStats?.samples?.peakSamples ?? '?'}`, (heap / 2 ** 20).toFixed(1),
          ].join(' | '),
        );
      }
    }
  } finally {
    await closeStorage();
    await prom.stop();
    await dir.cleanup();
  }
}
