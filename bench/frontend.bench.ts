/**
 * `pnpm bench frontend [--days=D] [--rounds=N] [--warm-up=N]`
 *
 * A dashboard over the last `--days` (default 7) refreshed again and again, as Grafana does: its range
 * queries (step 10m, start and end on the step grid, as Grafana sends them) answered in the same run by
 * Prometheus 2.42 from its local disk (the reference), by `strata query` over a sidecar on that
 * Prometheus (and the same querier in two worker processes, `--query.workers=2`), and by
 * `strata query-frontend` in front of that querier: with its in-memory results cache, without a cache
 * (split by day, as by default), without a cache sent on whole (its hop alone), and without a cache in
 * front of the querier of two workers. Every
 * component runs as its own process (the built CLI). The history is promtool-made blocks ending at the
 * start of the run; each round asks up to the current time, as a dashboard's "now" moves on.
 * The first round (cold cache) checks that the querier (evaluating as Prometheus 2.42 does) answers as
 * Prometheus and each frontend as the querier; then
 * `--warm-up` untimed rounds (default 5) and `--rounds` timed ones (default 15), each sending every query
 * to every target in turn (the order rotating), then the whole dashboard at once to each target.
 * Reports per target the p50 latency and its ratio to Prometheus', per query the medians, and the
 * median time of a whole-dashboard refresh. No target is set: this measures what the results cache is
 * for (repeated dashboards), and what the frontend costs where its cache cannot help, not the querier.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { promtoolDataDir, syntheticOpenMetrics, type SyntheticSeries } from '../test/harness/openmetrics.js';
import { tempDir, type Managed } from '../test/harness/process.js';
import { startPrometheus, type PrometheusHandle } from '../test/harness/prometheus.js';
import { diffMatrices, type MatrixSeries } from '../test/querier/compliance.js';
import { startComponent, timedRangeQuery } from './components.js';
import { median } from './stats.js';

const SCRAPE = 60_000;
const STEP = 600_000;
const INSTANCES = 10;

const QUERIES = [
  'sum by (code) (rate(http_requests_total[5m]))',
  'histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[5m])))',
  'avg by (instance) (temperature)',
  'topk(3, max_over_time(temperature[1h]))',
  'sum(rate(http_requests_total{code="500"}[5m])) / sum(rate(http_requests_total[5m]))',
];

function families(): Record<string, SyntheticSeries[]> {
  const instances = Array.from({ length: INSTANCES }, (_, k) => k);
  return {
    http_requests_total: instances.flatMap((k) => ['200', '404', '500'].map((code, c) => ({ labels: `code="${code}",instance="i${k}"`, value: (i: number) => i * (k + 1) * (3 - c) + (i % 5) }))),
    temperature: instances.map((k) => ({ labels: `instance="i${k}"`, value: (i: number) => 20 + k + 5 * Math.sin(i / (50 + k)) })),
    request_duration_seconds_bucket: ['0.05', '0.1', '0.5', '1', '+Inf'].flatMap((le, b) => instances.map((k) => ({ labels: `instance="i${k}",le="${le}"`, value: (i: number) => Math.floor(i * (b + 1) * (k + 1) * 0.3) }))),
  };
}

/** A range query over the last `days`, ending on the step grid now. */
function rangeQuery(base: string, query: string, days: number): Promise<{ ms: number; body: string }> {
  const end = Math.floor(Date.now() / STEP) * STEP;
  return timedRangeQuery(base, query, end - days * 86_400_000, end, STEP);
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { days: { type: 'string', default: '7' }, rounds: { type: 'string', default: '15' }, 'warm-up': { type: 'string', default: '5' } } });
  const days = Number(values.days);
  const rounds = Number(values.rounds);
  const warmUp = Number(values['warm-up']);
  const dir = await tempDir('strata-frontend-bench-');
  const procs: Managed[] = [];
  let prom: PrometheusHandle | undefined;
  try {
    const end = Math.floor(Date.now() / SCRAPE) * SCRAPE;
    const t0 = performance.now();
    const dataDir = await promtoolDataDir(join(dir.path, 'history'), syntheticOpenMetrics(families(), { start: end - days * 86_400_000, end, step: SCRAPE, offset: 7000 }));
    process.stdout.write(`${days} days of ${Object.values(families()).flat().length} series at ${SCRAPE / 1000}s written by promtool in ${((performance.now() - t0) / 1000).toFixed(1)}s\n`);
    prom = await startPrometheus({ dir: join(dir.path, 'history'), dataDir, externalLabels: { cluster: 'bench' } });
    const sidecar = await startComponent(dir.path, 'sidecar', ['sidecar', `--prometheus.url=${prom.url}`, `--tsdb.path=${prom.dataDir}`], true);
    procs.push(sidecar.proc);
    const querier = await startComponent(dir.path, 'query', ['query', `--endpoint=${sidecar.grpc}`, '--query.promql-compat=2'], true);
    procs.push(querier.proc);
    // The same querier in two processes (--query.workers): what the second core buys a frontend's pieces and a dashboard's queries at once.
    const pooled = await startComponent(dir.path, 'query-workers', ['query', `--endpoint=${sidecar.grpc}`, '--query.promql-compat=2', '--query.workers=2'], true);
    procs.push(pooled.proc);
    const frontend = await startComponent(dir.path, 'query-frontend', ['query-frontend', `--query-frontend.downstream-url=http://${querier.http}`, '--query-range.response-cache-config=type: IN-MEMORY\nconfig: {max_size: 256MB}'], false);
    procs.push(frontend.proc);
    // What the frontend costs where its cache cannot help: without a cache, a query split by day (every
    // piece asked of the querier) and one sent on whole (the frontend's hop alone).
    const uncached = await startComponent(dir.path, 'query-frontend-uncached', ['query-frontend', `--query-frontend.downstream-url=http://${querier.http}`], false);
    procs.push(uncached.proc);
    const whole = await startComponent(dir.path, 'query-frontend-whole', ['query-frontend', `--query-frontend.downstream-url=http://${querier.http}`, '--query-range.split-interval=0'], false);
    procs.push(whole.proc);
    const uncachedPooled = await startComponent(dir.path, 'query-frontend-uncached-workers', ['query-frontend', `--query-frontend.downstream-url=http://${pooled.http}`], false);
    procs.push(uncachedPooled.proc);
    const targets = [
      { name: 'prometheus', base: prom.url },
      { name: 'strata query', base: `http://${querier.http}` },
      { name: 'strata query (2 workers)', base: `http://${pooled.http}` },
      { name: 'strata query-frontend (cached)', base: `http://${frontend.http}` },
      { name: 'strata query-frontend (uncached)', base: `http://${uncached.http}` },
      { name: 'strata query-frontend (whole)', base: `http://${whole.http}` },
      { name: 'strata query-frontend (uncached, 2 workers)', base: `http://${uncachedPooled.http}` },
    ];
    // Round 0: the querier answers as Prometheus (evaluating as 2.42 does), the frontend as the querier.
    for (const q of QUERIES) {
      const [prometheus, viaQuerier, ...viaFrontends] = await Promise.all(targets.map(async (t) => (JSON.parse((await rangeQuery(t.base, q, days)).body) as { data: { result: MatrixSeries[] } }).data.result));
      const diff = diffMatrices(prometheus ?? [], viaQuerier ?? [], { dropLabels: ['cluster'] }) ?? viaFrontends.reduce<string | null>((d, f) => d ?? diffMatrices(viaQuerier ?? [], f), null);
      if (diff !== null) throw new Error(`${q}: ${diff}`);
    }
    const latencies = targets.map(() => QUERIES.map((): number[] => []));
    const refreshes = targets.map((): number[] => []);
    for (let r = 0; r < warmUp + rounds; r++) {
      const timed = r >= warmUp;
      for (const [qi, q] of QUERIES.entries()) {
        for (let k = 0; k < targets.length; k++) {
          const ti = (k + r + qi) % targets.length;
          const { ms } = await rangeQuery(targets[ti]!.base, q, days);
          if (timed) latencies[ti]![qi]!.push(ms);
        }
      }
      for (const [ti, target] of targets.entries()) {
        const t = performance.now();
        await Promise.all(QUERIES.map((q) => rangeQuery(target.base, q, days)));
        if (timed) refreshes[ti]!.push(performance.now() - t);
      }
    }
    const p50 = (ti: number) => median(latencies[ti]!.flat());
    process.stdout.write(`dashboard of ${QUERIES.length} range queries over ${days}d at a ${STEP / 60_000}m step, ${rounds} rounds after ${warmUp} untimed\n`);
    process.stdout.write(`${'target'.padEnd(46)}${'p50 ms'.padStart(9)}${'×prom'.padStart(8)}${'refresh ms'.padStart(12)}${'×prom'.padStart(8)}\n`);
    for (const [ti, target] of targets.entries()) {
      process.stdout.write(`${target.name.padEnd(46)}${p50(ti).toFixed(1).padStart(9)}${(p50(ti) / p50(0)).toFixed(2).padStart(8)}${median(refreshes[ti]!).toFixed(1).padStart(12)}${(median(refreshes[ti]!) / median(refreshes[0]!)).toFixed(2).padStart(8)}\n`);
    }
    process.stdout.write(`per query, median ms (${targets.map((t) => t.name).join(' / ')}):\n`);
    for (const [qi, q] of QUERIES.entries()) process.stdout.write(`${targets.map((_, ti) => median(latencies[ti]![qi]!).toFixed(1).padStart(8)).join(' ')}  ${q}\n`);
  } finally {
    for (const p of procs.reverse()) await p.stop();
    await prom?.stop();
    await dir.cleanup();
  }
}
