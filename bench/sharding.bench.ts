/**
 * `pnpm bench sharding [--hours=H] [--shards=N] [--rounds=N] [--warm-up=N]`
 *
 * What `--query-frontend.vertical-shards` buys: heavy aggregations over 2,000 series and `--hours`
 * (default 12) of history at a 1m step, answered in the same run by Prometheus 2.42 from its local disk
 * (the reference), by one `strata query` over a sidecar on that Prometheus, and by `strata
 * query-frontend` in front of `--shards` (default 2) such queriers behind a round-robin balancer, once
 * sending every query whole and once in `--shards` vertical shards. The frontends neither split nor
 * cache: the only difference between them is the sharding. Every component runs as its own process
 * (the built CLI). The first round checks every answer against Prometheus'; then `--warm-up` untimed
 * rounds (default 5) and `--rounds` timed ones (default 15), each sending every query to every target
 * in turn (the order rotating). Reports per target the p50 latency and its ratio to Prometheus' and to
 * the unsharded frontend's, and per query the medians. No target is set: on one machine the queriers
 * share its cores, so this measures how much of a query's evaluation the shards take in parallel.
 */
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startBalancer, type Balancer } from '../test/harness/balancer.js';
import { promtoolDataDir, syntheticOpenMetrics, type SyntheticSeries } from '../test/harness/openmetrics.js';
import { tempDir, type Managed } from '../test/harness/process.js';
import { startPrometheus, type PrometheusHandle } from '../test/harness/prometheus.js';
import { checkRangeAnswers, reportLatencies, startComponent, timeRangeRounds } from './components.js';

const SCRAPE = 60_000;
const STEP = 60_000;
const JOBS = 10;
const INSTANCES = 50;

const QUERIES = [
  'sum by (job) (rate(http_requests_total[5m]))',
  'histogram_quantile(0.9, sum by (job, le) (rate(request_duration_seconds_bucket[5m])))',
  'sum without (instance, code) (rate(http_requests_total[5m]))',
  'max by (job, code) (increase(http_requests_total[30m]))',
];

/** 1,000 counters over 10 jobs, 50 instances and 2 codes; a classic histogram of 5 buckets over 10 jobs and 20 instances (1,000 series). */
function families(): Record<string, SyntheticSeries[]> {
  const jobs = Array.from({ length: JOBS }, (_, j) => j);
  const instances = Array.from({ length: INSTANCES }, (_, k) => k);
  return {
    http_requests_total: jobs.flatMap((j) => instances.flatMap((k) => ['200', '500'].map((code, c) => ({ labels: `code="${code}",instance="i${k}",job="j${j}"`, value: (i: number) => i * (j + k + 1) * (2 - c) + (i % (k + 3)) })))),
    request_duration_seconds_bucket: jobs.flatMap((j) =>
      instances.slice(0, 20).flatMap((k) => ['0.05', '0.1', '0.5', '1', '+Inf'].map((le, b) => ({ labels: `instance="i${k}",job="j${j}",le="${le}"`, value: (i: number) => Math.floor(i * (b + 1) * (j + 1) * 0.3) + (i % (k + 2)) }))),
    ),
  };
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { hours: { type: 'string', default: '12' }, shards: { type: 'string', default: '2' }, rounds: { type: 'string', default: '15' }, 'warm-up': { type: 'string', default: '5' } } });
  const hours = Number(values.hours);
  const shards = Number(values.shards);
  const rounds = Number(values.rounds);
  const warmUp = Number(values['warm-up']);
  const dir = await tempDir('strata-sharding-bench-');
  const procs: Managed[] = [];
  let prom: PrometheusHandle | undefined;
  let balancer: Balancer | undefined;
  try {
    const last = Math.floor(Date.now() / SCRAPE) * SCRAPE;
    const first = last - hours * 3_600_000;
    const t0 = performance.now();
    const dataDir = await promtoolDataDir(join(dir.path, 'history'), syntheticOpenMetrics(families(), { start: first, end: last, step: SCRAPE, offset: 7000 }));
    process.stdout.write(`${hours}h of ${Object.values(families()).flat().length} series at ${SCRAPE / 1000}s written by promtool in ${((performance.now() - t0) / 1000).toFixed(1)}s\n`);
    prom = await startPrometheus({ dir: join(dir.path, 'history'), dataDir, externalLabels: { cluster: 'bench' } });
    const sidecar = await startComponent(dir.path, 'sidecar', ['sidecar', `--prometheus.url=${prom.url}`, `--tsdb.path=${prom.dataDir}`], true);
    procs.push(sidecar.proc);
    const queriers = [];
    for (let i = 0; i < shards; i++) {
      const q = await startComponent(dir.path, `query-${i}`, ['query', `--endpoint=${sidecar.grpc}`, '--query.promql-compat=2'], true);
      procs.push(q.proc);
      queriers.push(q);
    }
    balancer = await startBalancer(queriers.map((q) => `http://${q.http}`));
    const frontendArgs = ['query-frontend', `--query-frontend.downstream-url=${balancer.endpoint}`, '--query-range.split-interval=0'];
    const whole = await startComponent(dir.path, 'frontend-whole', frontendArgs, false);
    const sharded = await startComponent(dir.path, 'frontend-sharded', [...frontendArgs, `--query-frontend.vertical-shards=${shards}`], false);
    procs.push(whole.proc, sharded.proc);
    const targets = [
      { name: 'prometheus', base: prom.url },
      { name: 'strata query (one)', base: `http://${queriers[0]!.http}` },
      { name: `query-frontend, ${shards} queriers, whole`, base: `http://${whole.http}` },
      { name: `query-frontend, ${shards} queriers, ${shards} shards`, base: `http://${sharded.http}` },
    ];
    // From where the longest range (30m) is full.
    const [start, end] = [first + 30 * 60_000, last];
    await checkRangeAnswers(targets, QUERIES, start, end, STEP, ['cluster']);
    const latencies = await timeRangeRounds(targets, QUERIES, start, end, STEP, warmUp, rounds);
    process.stdout.write(`${QUERIES.length} range queries over ${hours}h at a ${STEP / 60_000}m step, ${rounds} rounds after ${warmUp} untimed, ${cpus().length} cores\n`);
    reportLatencies(targets, QUERIES, latencies, { '×prom': 0, '×whole': 2 });
    process.stdout.write(`requests to each querier through the balancer: ${balancer.forwarded.join(', ')}\n`);
  } finally {
    await balancer?.stop();
    for (const p of procs.reverse()) await p.stop();
    await prom?.stop();
    await dir.cleanup();
  }
}
