/**
 * `pnpm bench query [--hours=H] [--rounds=N] [--cpu-prof-dir=DIR]`
 * (`--cpu-prof-dir` writes a V8 CPU profile of the deduplicating querier there)
 *
 * A dashboard-like query set (Grafana-style range queries over the whole history at a 1-minute step)
 * answered by Prometheus 2.42 from its local disk and by `strata query` in front of sidecars, in the
 * same run, on the same demo-service history:
 *   - one replica: Prometheus r0 ← sidecar ← querier (no deduplication needed)
 *   - two replicas: Prometheus r0 and r1 ← sidecars ← querier deduplicating on `replica`
 * Reports p50 and p95 latency per target and the ratios against Prometheus, and two replicas against
 * one (the cost of deduplication). Targets (issue 7): p50 ≤ 1.0× Prometheus; deduplication ≤ +10%.
 * Every component runs as its own process (the built CLI), as in production.
 */
import { cp, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeDemoBlocks } from '../packages/cli/src/demo/blocks.js';
import { freePort, startProcess, tempDir, waitForHttp, type Managed } from '../test/harness/process.js';
import { startPrometheus, type PrometheusHandle } from '../test/harness/prometheus.js';

const CLI = fileURLToPath(new URL('../packages/cli/dist/main.js', import.meta.url));
const INSTANCES = ['demo.promlabs.com:10000', 'demo.promlabs.com:10001', 'demo.promlabs.com:10002'];

const QUERIES = [
  'sum by (mode) (rate(demo_cpu_usage_seconds_total[5m]))',
  'histogram_quantile(0.9, sum by (le, path) (rate(demo_api_request_duration_seconds_bucket[5m])))',
  'sum by (type) (demo_memory_usage_bytes)',
  'demo_disk_usage_bytes / demo_disk_total_bytes',
  'avg_over_time(demo_memory_usage_bytes[10m])',
  'sum by (status) (rate(demo_api_request_duration_seconds_count[1m]))',
  'max_over_time(demo_batch_last_run_duration_seconds[1h])',
  'topk(3, rate(demo_api_request_duration_seconds_sum[5m]))',
];

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}

async function startComponent(args: string[], dir: string, name: string, nodeArgs: string[] = []): Promise<{ proc: Managed; http: string; grpc: string }> {
  const http = `127.0.0.1:${await freePort()}`;
  const grpc = `127.0.0.1:${await freePort()}`;
  const proc = startProcess('node', [...nodeArgs, CLI, ...args, `--http-address=${http}`, `--grpc-address=${grpc}`], { logFile: join(dir, `${name}.log`) });
  await waitForHttp(`http://${http}/-/ready`, { proc, timeoutMs: 120_000 });
  return { proc, http, grpc };
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { hours: { type: 'string', default: '24' }, rounds: { type: 'string', default: '5' }, 'cpu-prof-dir': { type: 'string' } } });
  const profDir = values['cpu-prof-dir'];
  const hours = Number(values.hours);
  const rounds = Number(values.rounds);
  const dir = await tempDir('strata-bench-query-');
  const procs: { stop(): Promise<void> }[] = [];
  try {
    const endMs = Math.floor(Date.now() / 15_000) * 15_000;
    const startMs = endMs - hours * 3_600_000;
    const blocks = join(dir.path, 'blocks');
    process.stderr.write(`writing ${hours}h of demo history for ${INSTANCES.length} instances…\n`);
    await writeDemoBlocks(blocks, { instances: INSTANCES, job: 'demo', startMs, endMs, stepMs: 15_000, blockMs: 2 * 3_600_000 });

    const proms: PrometheusHandle[] = [];
    const sidecars: string[] = [];
    for (const replica of ['r0', 'r1']) {
      const home = join(dir.path, replica);
      const dataDir = join(home, 'data');
      await mkdir(dataDir, { recursive: true });
      await cp(blocks, dataDir, { recursive: true });
      const prom = await startPrometheus({ dir: home, dataDir, externalLabels: { cluster: 'bench', replica }, blockDuration: '2h' });
      procs.push(prom);
      proms.push(prom);
      const sc = await startComponent(['sidecar', `--prometheus.url=${prom.url}`, `--tsdb.path=${dataDir}`], dir.path, `sidecar-${replica}`);
      procs.push(sc.proc);
      sidecars.push(sc.grpc);
    }
    const one = await startComponent(['query', `--endpoint=${sidecars[0]}`, '--query.replica-label=replica'], dir.path, 'query-one');
    const two = await startComponent(['query', ...sidecars.map((s) => `--endpoint=${s}`), '--query.replica-label=replica'], dir.path, 'query-two', profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []);
    procs.push(one.proc, two.proc);

    const targets: Record<string, string> = {
      prometheus: (proms[0] as PrometheusHandle).url,
      'strata, 1 replica': `http://${one.http}`,
      'strata, 2 replicas (dedup)': `http://${two.http}`,
    };
    const latencies: Record<string, number[]> = Object.fromEntries(Object.keys(targets).map((k) => [k, []]));
    const params = (q: string) => new URLSearchParams({ query: q, start: String(startMs / 1000), end: String(endMs / 1000), step: '60' });
    for (let r = 0; r <= rounds; r++) {
      for (const q of QUERIES) {
        // Alternate the order each round so no target always runs on a warmer machine.
        const order = r % 2 === 0 ? Object.keys(targets) : Object.keys(targets).reverse();
        for (const name of order) {
          const t0 = performance.now();
          const res = await fetch(`${targets[name]}/api/v1/query_range?${params(q)}`);
          const body = (await res.json()) as { status: string; error?: string };
          if (body.status !== 'success') throw new Error(`${name}: ${q}: ${body.error}`);
          if (r > 0) (latencies[name] as number[]).push(performance.now() - t0); // round 0 warms up
        }
      }
    }
    const stats = Object.fromEntries(
      Object.entries(latencies).map(([k, v]) => {
        const s = [...v].sort((a, b) => a - b);
        return [k, { p50: percentile(s, 0.5), p95: percentile(s, 0.95) }];
      }),
    );
    const prom = stats.prometheus as { p50: number; p95: number };
    const oneS = stats['strata, 1 replica'] as { p50: number; p95: number };
    const twoS = stats['strata, 2 replicas (dedup)'] as { p50: number; p95: number };
    process.stdout.write(`\nquery benchmark: ${QUERIES.length} dashboard queries × ${rounds} rounds, ${hours}h of history, step 60s\n`);
    process.stdout.write(`${'target'.padEnd(30)} ${'p50 ms'.padStart(9)} ${'p95 ms'.padStart(9)} ${'p50 ×prom'.padStart(10)} ${'p95 ×prom'.padStart(10)}\n`);
    for (const [k, s] of Object.entries(stats)) {
      process.stdout.write(`${k.padEnd(30)} ${s.p50.toFixed(1).padStart(9)} ${s.p95.toFixed(1).padStart(9)} ${(s.p50 / prom.p50).toFixed(2).padStart(10)} ${(s.p95 / prom.p95).toFixed(2).padStart(10)}\n`);
    }
    const dedupCost = twoS.p50 / oneS.p50 - 1;
    process.stdout.write(`deduplication cost (2 replicas vs 1, p50): ${(dedupCost * 100).toFixed(1)}%  (target ≤ 10%)\n`);
    process.stdout.write(`p50 vs Prometheus (2 replicas): ${(twoS.p50 / prom.p50).toFixed(2)}×  (target ≤ 1.0×)\n`);
  } finally {
    for (const p of procs.reverse()) await p.stop().catch(() => undefined);
    await dir.cleanup();
  }
}
