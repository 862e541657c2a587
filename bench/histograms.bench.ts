/**
 * `pnpm bench histograms [--series N] [--hours H] [--interval S] [--buckets B] [--rounds R] [--instant-rounds R] [--mode instant|range|both]`
 *
 * The PromQL engine against Prometheus 2.42 on native histograms (default 100 series × 12h at 15s, 40
 * populated buckets each, schema 3 as client_golang's default bucket factor 1.1 gives): counter
 * histograms of request latencies are remote-written into a Prometheus with native histograms on, which
 * then serves them from its blocks and head; Strata's engine reads an admin snapshot of the same data
 * (the same histogram chunks) through @strata/tsdb's block reader. Timing as `pnpm bench promql`
 * (promql-compare.ts), with 20 untimed rounds before the instant queries: V8 takes that long to optimize
 * the histogram paths (with 3, instant queries measured 1.25× Prometheus' time; after 300, 0.58×). Strata
 * in 2.x mode.
 */
import { cp, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CounterResetHint, type Histogram } from '../packages/tsdb/src/index.js';
import { Engine } from '../packages/promql/src/index.js';
import { openBlocksQueryable } from '../packages/promql/src/testing/blocks.js';
import { tempDir } from '../test/harness/process.js';
import { startPrometheus } from '../test/harness/prometheus.js';
import { remoteWrite, type WrittenSeries } from '../test/harness/remotewrite.js';
import { compareWithPrometheus } from './promql-compare.js';

const QUERIES = [
  'histogram_quantile(0.9, sum by (job) (rate(request_latency_seconds[5m])))',
  'sum by (job) (rate(request_latency_seconds[5m]))',
  'histogram_count(rate(request_latency_seconds[5m]))',
  'histogram_fraction(0, 0.1, rate(request_latency_seconds[5m]))',
];

/** Samples per series in one remote-write request. */
const BATCH = 120;

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      series: { type: 'string', default: '100' },
      hours: { type: 'string', default: '12' },
      interval: { type: 'string', default: '15' },
      buckets: { type: 'string', default: '40' },
      rounds: { type: 'string', default: '7' },
      'instant-rounds': { type: 'string', default: '51' },
      mode: { type: 'string', default: 'both' },
    },
  });
  const seriesCount = Number(values.series);
  const buckets = Number(values.buckets);
  const interval = Number(values.interval) * 1000;
  // Ends a minute ago: every sample is in the head's appendable range as it is written, oldest first.
  const end = Math.floor(Date.now() / 60_000) * 60_000 - 60_000;
  const start = end - Number(values.hours) * 3600_000;
  const steps = Math.floor((end - start) / interval) + 1;
  console.log(`${seriesCount} native histogram series × ${steps} samples, ${buckets} buckets each`);

  const dir = await tempDir('strata-bench-histograms-');
  const prom = await startPrometheus({
    dir: dir.path, dataDir: join(dir.path, 'data'), blockDuration: '2h',
    extraArgs: ['--enable-feature=native-histograms', '--web.enable-remote-write-receiver', '--web.enable-admin-api', '--query.max-samples=500000000'],
  });
  let closeStorage = async (): Promise<void> => undefined;
  try {
    const labels = Array.from({ length: seriesCount }, (_, k) => ({ __name__: 'request_latency_seconds', job: `job-${k % 10}`, instance: `host-${k}` }));
    for (let from = 0; from < steps; from += BATCH) {
      const batch: WrittenSeries[] = labels.map((l, k) => ({
        labels: l,
        histograms: Array.from({ length: Math.min(BATCH, steps - from) }, (_, j) => ({ t: start + (from + j) * interval, h: latencies(k, from + j, buckets) })),
      }));
      await remoteWrite(prom.url, batch);
    }
    const snap = await (await fetch(`${prom.url}/api/v1/admin/tsdb/snapshot`, { method: 'POST' })).json() as { data: { name: string } };
    // Strata reads its own copy: Prometheus may compact and delete the blocks it serves.
    const strataDir = join(dir.path, 'strata');
    await cp(join(prom.dataDir, 'snapshots', snap.data.name), strataDir, { recursive: true });
    console.log(`strata reads the ${(await readdir(strataDir)).length} blocks of a snapshot`);
    const storage = await openBlocksQueryable(strataDir);
    closeStorage = () => storage.close();
    await compareWithPrometheus(prom, new Engine({ compat: 2, maxSamples: 500_000_000 }), storage, QUERIES, {
      start, end, rangeRounds: Number(values.rounds), instantRounds: Number(values['instant-rounds']), mode: values.mode as string, instantWarmupRounds: 20,
    });
  } finally {
    await closeStorage();
    await prom.stop();
    await dir.cleanup();
  }
}

/**
 * Series k's latency histogram at sample i: a counter of ~10 requests per sample spread log-normally over
 * `buckets` schema-3 buckets around 20 ms (series differ in their median), integer counts.
 */
function latencies(k: number, i: number, buckets: number): Histogram {
  // Schema 3 bucket index of 20 ms is 8·log2(0.02) ≈ −45; the span starts half the buckets below.
  const offset = -45 - Math.floor(buckets / 2) + (k % 7);
  const counts = Array.from({ length: buckets }, (_, b) => Math.floor((i + 1) * 10 * Math.exp(-(((b - buckets / 2) / (buckets / 6)) ** 2) / 2) / 2.5));
  const deltas = counts.map((c, b) => (b === 0 ? c : c - (counts[b - 1] as number)));
  const zeroCount = Math.floor((i + 1) / 20);
  const count = counts.reduce((a, c) => a + c, 0) + zeroCount;
  return {
    counterResetHint: CounterResetHint.Unknown, schema: 3, zeroThreshold: 2 ** -128, zeroCount, count, sum: count * 0.021,
    positiveSpans: [{ offset, length: buckets }], negativeSpans: [], positiveBuckets: deltas, negativeBuckets: [], customValues: [],
  };
}
