/**
 * `pnpm bench distributed [--hours=H] [--rounds=N] [--warm-up=N]`
 *
 * What `--query.mode=distributed` buys: two regions (`cluster` eu and us), each a Prometheus 2.42 with
 * 2,000 series over `--hours` (default 12) of history at a 1m scrape, its sidecar and a leaf `strata
 * query`; above them a global querier stacked on the leaves, once in local mode (every series' raw
 * chunks sent up by the leaves and evaluated there) and once in distributed mode (the leaves evaluate
 * what they can and send up their answers). The reference, measured in the same run: one Prometheus 2.42
 * holding both regions' data (`cluster` an ordinary label), answering from its local disk. Every
 * component runs as its own process (the built CLI). The first round checks every answer against
 * Prometheus'; then `--warm-up` untimed rounds (default 5) and `--rounds` timed ones (default 15), each
 * sending every query to every target in turn (the order rotating). Reports per target the p50 latency
 * and its ratio to Prometheus' and to the local global querier's, and per query the medians. No target
 * is set: on one machine the leaves share its cores with the global querier.
 */
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { promtoolDataDir, syntheticOpenMetrics, type SyntheticSeries } from '../test/harness/openmetrics.js';
import { tempDir, type Managed } from '../test/harness/process.js';
import { startPrometheus, type PrometheusHandle } from '../test/harness/prometheus.js';
import { checkRangeAnswers, reportLatencies, startComponent, timeRangeRounds } from './components.js';

const SCRAPE = 60_000;
const STEP = 60_000;
const REGIONS = ['eu', 'us'] as const;

const QUERIES = [
  'sum by (job) (rate(http_requests_total[5m]))',
  'histogram_quantile(0.9, sum by (job, le) (rate(request_duration_seconds_bucket[5m])))',
  'sum by (cluster, code) (rate(http_requests_total[5m]))',
  'max by (job) (increase(http_requests_total[30m]))',
  'count by (cluster, code) (rate(http_requests_total[5m]) > 1)',
];

/** A region's 1,000 counters over 10 jobs, 50 instances and 2 codes, and a classic histogram of 5 buckets over 10 jobs and 20 instances; `r` varies the values by region. */
function families(r: number, cluster?: string): Record<string, SyntheticSeries[]> {
  const prefix = cluster === undefined ? '' : `cluster="${cluster}",`;
  const jobs = Array.from({ length: 10 }, (_, j) => j);
  const instances = Array.from({ length: 50 }, (_, k) => k);
  return {
    http_requests_total: jobs.flatMap((j) =>
      instances.flatMap((k) => ['200', '500'].map((code, c) => ({ labels: `${prefix}code="${code}",instance="i${k}",job="j${j}"`, value: (i: number) => i * (j + k + r) * (2 - c) + (i % (k + 3)) }))),
    ),
    request_duration_seconds_bucket: jobs.flatMap((j) =>
      instances.slice(0, 20).flatMap((k) => ['0.05', '0.1', '0.5', '1', '+Inf'].map((le, b) => ({ labels: `${prefix}instance="i${k}",job="j${j}",le="${le}"`, value: (i: number) => Math.floor(i * (b + 1) * (j + r) * 0.3) + (i % (k + 2)) }))),
    ),
  };
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { hours: { type: 'string', default: '12' }, rounds: { type: 'string', default: '15' }, 'warm-up': { type: 'string', default: '5' } } });
  const hours = Number(values.hours);
  const rounds = Number(values.rounds);
  const warmUp = Number(values['warm-up']);
  const dir = await tempDir('strata-distributed-bench-');
  const procs: Managed[] = [];
  const proms: PrometheusHandle[] = [];
  try {
    const last = Math.floor(Date.now() / SCRAPE) * SCRAPE;
    const first = last - hours * 3_600_000;
    const range = { start: first, end: last, step: SCRAPE, offset: 7000 };
    const t0 = performance.now();
    const leaves: string[] = [];
    for (const [r, cluster] of REGIONS.entries()) {
      const dataDir = await promtoolDataDir(join(dir.path, cluster), syntheticOpenMetrics(families(r + 1), range));
      const prom = await startPrometheus({ dir: join(dir.path, cluster), dataDir, externalLabels: { cluster } });
      proms.push(prom);
      const sidecar = await startComponent(dir.path, `sidecar-${cluster}`, ['sidecar', `--prometheus.url=${prom.url}`, `--tsdb.path=${prom.dataDir}`], true);
      const leaf = await startComponent(dir.path, `leaf-${cluster}`, ['query', `--endpoint=${sidecar.grpc}`, '--query.promql-compat=2'], true);
      procs.push(sidecar.proc, leaf.proc);
      leaves.push(leaf.grpc);
    }
    const both = REGIONS.map((cluster, r) => syntheticOpenMetrics(families(r + 1, cluster), range).replace(/\n# EOF\n$/, '\n')).join('');
    const referenceDir = await promtoolDataDir(join(dir.path, 'reference'), `${both}# EOF\n`);
    const reference = await startPrometheus({ dir: join(dir.path, 'reference'), dataDir: referenceDir });
    proms.push(reference);
    process.stdout.write(`${REGIONS.length} regions × ${hours}h of ${Object.values(families(1)).flat().length} series at ${SCRAPE / 1000}s written by promtool in ${((performance.now() - t0) / 1000).toFixed(1)}s\n`);
    const globalArgs = ['query', ...leaves.map((l) => `--endpoint=${l}`), '--query.promql-compat=2'];
    const local = await startComponent(dir.path, 'global-local', globalArgs, true);
    const distributed = await startComponent(dir.path, 'global-distributed', [...globalArgs, '--query.mode=distributed'], true);
    procs.push(local.proc, distributed.proc);
    const targets = [
      { name: 'prometheus (both regions)', base: reference.url },
      { name: 'global querier, local mode', base: `http://${local.http}` },
      { name: 'global querier, distributed mode', base: `http://${distributed.http}` },
    ];
    // From where the longest range (30m) is full.
    const [start, end] = [first + 30 * 60_000, last];
    await checkRangeAnswers(targets, QUERIES, start, end, STEP);
    const latencies = await timeRangeRounds(targets, QUERIES, start, end, STEP, warmUp, rounds);
    process.stdout.write(`${QUERIES.length} range queries over ${hours}h at a ${STEP / 60_000}m step, ${rounds} rounds after ${warmUp} untimed, ${cpus().length} cores\n`);
    reportLatencies(targets, QUERIES, latencies, { '×prom': 0, '×local': 1 });
  } finally {
    for (const p of procs.reverse()) await p.stop();
    for (const p of proms) await p.stop();
    await dir.cleanup();
  }
}
