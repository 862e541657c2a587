// The querier end to end: two Prometheus 2.42 replicas holding the same demo-service history, a
// sidecar each, and `strata query` over both, deduplicating on the replica label. Every compliance
// query must answer exactly as a single Prometheus does.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { start as startQuerier, type Querier } from '@strata/querier';
import { nopLogger } from '@strata/runtime';
import { start as startSidecar, type Sidecar } from '@strata/sidecar';
import { tempDir } from '@strata/testing/process';
import type { PrometheusHandle } from '@strata/testing/prometheus';
import pLimit from 'p-limit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { complianceAvailable, diffMatrices, loadComplianceCases, type MatrixSeries } from './compliance.js';
import { demoHistory, prometheusOn, type DemoHistory } from './stack.js';

const execFileP = promisify(execFile);

let dir: { path: string; cleanup: () => Promise<void> };
let history: DemoHistory;
const proms: PrometheusHandle[] = [];
const sidecars: Sidecar[] = [];
let querier: Querier;
let queryUrl: string;

interface ApiBody {
  status: string;
  data?: { resultType: string; result: unknown };
  warnings?: string[];
  errorType?: string;
  error?: string;
}

async function get(base: string, path: string, params: Record<string, string | string[]>): Promise<{ code: number; body: ApiBody }> {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const x of Array.isArray(v) ? v : [v]) qs.append(k, x);
  const res = await fetch(`${base}${path}?${qs}`);
  return { code: res.status, body: (await res.json()) as ApiBody };
}

beforeAll(async () => {
  dir = await tempDir('strata-querier-');
  // 100 minutes: the longest compliance window is 10m of steps + 1h range + 10m offset.
  history = await demoHistory(dir.path, 100 * 60_000);
  for (const replica of ['r0', 'r1']) {
    const prom = await prometheusOn(history, join(dir.path, replica), { cluster: 'c1', replica });
    proms.push(prom);
    sidecars.push(
      await startSidecar({ prometheusUrl: prom.url, tsdbPath: prom.dataDir, grpcAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', logger: nopLogger }),
    );
  }
  querier = await startQuerier({
    httpAddress: '127.0.0.1:0',
    grpcAddress: '127.0.0.1:0',
    endpoints: sidecars.map((s) => s.grpcAddress),
    replicaLabels: ['replica'],
    promqlCompat: 2,
    logger: nopLogger,
  });
  queryUrl = `http://${querier.httpAddress}`;
});

afterAll(async () => {
  await querier?.stop();
  for (const s of sidecars) await s.stop();
  for (const p of proms) await p.stop();
  await dir?.cleanup();
});

/** The compliance tester's defaults relative to our data: 10 minutes at a 10s step, ending 2 minutes before the data does. */
function window() {
  const end = Math.floor((history.endMs - 120_000) / 1000);
  return { start: String(end - 600), end: String(end), step: '10' };
}

describe('compliance queries: querier over two replicas vs one Prometheus', () => {
  it.skipIf(!complianceAvailable())('answers every range query as Prometheus does', { timeout: 900_000 }, async () => {
    const cases = await loadComplianceCases();
    const w = window();
    const failures: string[] = [];
    const limit = pLimit(2);
    await Promise.all(
      cases.map((c) =>
        limit(async () => {
          const params = { query: c.query, ...w };
          const [want, got] = await Promise.all([get((proms[0] as PrometheusHandle).url, '/api/v1/query_range', params), get(queryUrl, '/api/v1/query_range', params)]);
          if (want.body.status !== 'success') {
            if (!c.shouldFail) failures.push(`${c.query}: reference failed: ${want.body.error}`);
            if (got.body.status === 'success') failures.push(`${c.query}: should fail as Prometheus does (${want.body.error}), but succeeded`);
            else if (got.code !== want.code) failures.push(`${c.query}: status ${got.code}, Prometheus ${want.code}`);
            return;
          }
          if (got.body.status !== 'success') {
            failures.push(`${c.query}: failed: ${got.body.error}`);
            return;
          }
          if (c.skipComparison) return;
          const diff = diffMatrices(want.body.data?.result as MatrixSeries[], got.body.data?.result as MatrixSeries[], { dropLabels: ['cluster'] });
          if (diff !== null) failures.push(`${c.query}: ${diff}`);
        }),
      ),
    );
    expect(failures, `${failures.length} of ${cases.length} queries differ:\n${failures.slice(0, 40).join('\n')}`).toEqual([]);
  });
  if (!complianceAvailable()) console.warn('SKIPPED: ../shared/promql-compliance is absent; the compliance comparison did not run');
});

describe('HTTP API', () => {
  it('answers metadata APIs as Prometheus, without the replica label', async () => {
    const { start, end } = window();
    const p = (proms[0] as PrometheusHandle).url;
    const names = await get(queryUrl, '/api/v1/labels', { start, end });
    const want = await get(p, '/api/v1/labels', { start, end });
    // External labels are part of every series behind a sidecar; the replica label is deduplicated away.
    expect(names.body.data).toEqual([...(want.body.data as unknown as string[]), 'cluster'].sort());
    const values = await get(queryUrl, '/api/v1/label/instance/values', { start, end, 'match[]': 'demo_num_cpus' });
    expect(values.body.data).toEqual(['demo.promlabs.com:10000', 'demo.promlabs.com:10001', 'demo.promlabs.com:10002']);
    expect((await get(queryUrl, '/api/v1/label/replica/values', { start, end })).body.data).toEqual([]);
    const series = await get(queryUrl, '/api/v1/series', { start, end, 'match[]': 'demo_memory_usage_bytes{type="free"}' });
    const wantSeries = await get(p, '/api/v1/series', { start, end, 'match[]': 'demo_memory_usage_bytes{type="free"}' });
    expect(series.body.data).toEqual((wantSeries.body.data as unknown as Record<string, string>[]).map((s) => ({ ...s, cluster: 'c1' })));
  });

  it('rejects bad requests with the status and error type Prometheus uses', async () => {
    const p = (proms[0] as PrometheusHandle).url;
    const { start, end } = window();
    const cases: [string, Record<string, string>][] = [
      ['/api/v1/query', { query: 'sum(' }],
      ['/api/v1/query', { query: 'rate(demo_num_cpus)' }],
      ['/api/v1/query_range', { query: 'up', start, end }],
      ['/api/v1/query_range', { query: 'up', start, end, step: '0' }],
      ['/api/v1/query_range', { query: 'up', start: end, end: start, step: '10' }],
      ['/api/v1/query_range', { query: 'up', start: '0', end, step: '1' }],
      ['/api/v1/query_range', { query: 'up', start: 'yesterday', end, step: '10' }],
      ['/api/v1/series', { start, end }],
      ['/api/v1/query', { query: 'label_replace(demo_num_cpus, "instance", "", "", "")', time: end }],
    ];
    for (const [path, params] of cases) {
      const [want, got] = await Promise.all([get(p, path, params), get(queryUrl, path, params)]);
      expect({ code: got.code, type: got.body.errorType }, `${path} ${JSON.stringify(params)}: ${got.body.error}`).toEqual({ code: want.code, type: want.body.errorType });
      if (!path.endsWith('/query') || !params.query?.includes('(')) expect(got.body.error).toBe(want.body.error);
    }
  });

  it('works with promtool query range', async () => {
    const { start, end } = window();
    const { stdout } = await execFileP('promtool', ['query', 'range', '--start', start, '--end', end, '--step', '60s', queryUrl, 'sum by (mode) (rate(demo_cpu_usage_seconds_total[5m]))']);
    expect(stdout).toMatch(/\{mode="idle"\} =>/);
    expect(stdout).toMatch(/\{mode="user"\} =>/);
  });
});

describe('replicas failing', () => {
  it('answers unchanged with one replica down, with a warning; ABORT fails', async () => {
    const params = { query: 'sum by (instance) (rate(demo_cpu_usage_seconds_total[5m]))', ...window() };
    const before = await get(queryUrl, '/api/v1/query_range', params);
    await (proms[1] as PrometheusHandle).stop();
    const after = await get(queryUrl, '/api/v1/query_range', params);
    expect(after.body.status).toBe('success');
    expect(after.body.data).toEqual(before.body.data);
    expect(after.body.warnings?.length).toBeGreaterThan(0);
    const abort = await get(queryUrl, '/api/v1/query_range', { ...params, partial_response: 'false' });
    expect(abort.code).toBe(422);
    expect(abort.body.errorType).toBe('execution');
  });
});
