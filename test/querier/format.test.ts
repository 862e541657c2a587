// /api/v1/format_query against Prometheus 2.42's own: the same prettified text for every query of the
// compliance list and of Prometheus' PromQL test scripts (../shared, read in place), and for long
// queries that make the prettifier split every kind of node; the same 400 for a query that does not parse.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startProcess, tempDir, TSX_CHILD_ENV, waitForHttp, type Managed } from '@strata/testing/process';
import { startPrometheus, type PrometheusHandle } from '@strata/testing/prometheus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { complianceAvailable, loadComplianceCases } from './compliance.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const TESTDATA = join(root, '..', 'shared', 'promql-testdata', 'v2.42.0');

let dir: { path: string; cleanup: () => Promise<void> };
let prometheus: PrometheusHandle;
let querier: Managed;
let querierUrl: string;

beforeAll(async () => {
  dir = await tempDir('strata-format-test-');
  prometheus = await startPrometheus({ dir: join(dir.path, 'prometheus') });
  const http = await freePort();
  querier = startProcess(
    process.execPath,
    ['--import', 'tsx', join(root, 'packages/cli/src/main.ts'), 'query', '--query.promql-compat=2', `--http-address=127.0.0.1:${http}`, `--grpc-address=127.0.0.1:${await freePort()}`],
    { logFile: join(dir.path, 'query.log'), env: { ...process.env, ...TSX_CHILD_ENV } },
  );
  querierUrl = `http://127.0.0.1:${http}`;
  await waitForHttp(`${querierUrl}/-/ready`, { proc: querier, timeoutMs: 60_000 });
}, 120_000);

afterAll(async () => {
  await querier?.stop();
  await prometheus?.stop();
  await dir?.cleanup();
});

async function formatQuery(base: string, query: string, method: 'GET' | 'POST'): Promise<{ status: number; body: unknown }> {
  const params = new URLSearchParams({ query });
  const res = method === 'GET' ? await fetch(`${base}/api/v1/format_query?${params}`) : await fetch(`${base}/api/v1/format_query`, { method, body: params });
  return { status: res.status, body: await res.json() };
}

/** The queries that do not answer as Prometheus does, each with both answers. */
async function differences(queries: Iterable<string>): Promise<string[]> {
  const out: string[] = [];
  for (const q of queries) {
    const [want, got] = [await formatQuery(prometheus.url, q, 'POST'), await formatQuery(querierUrl, q, 'POST')];
    // Both refuse what does not parse; the parse errors' wording is the API tests' concern.
    const same = want.status === 200 ? JSON.stringify(got) === JSON.stringify(want) : got.status === want.status;
    if (!same) out.push(`${q}\n  prometheus: ${JSON.stringify(want)}\n  strata:     ${JSON.stringify(got)}`);
  }
  return out;
}

const LONG = 'some_really_long_metric_name_for_testing_the_prettifier{job="api-server", handler=~"/api/v1/.*"}';

describe('/api/v1/format_query', () => {
  it('splits long queries as Prometheus does, node by node', async () => {
    const queries = [
      `sum by (job, instance) (rate(${LONG}[5m])) / on (job) group_left (team) sum by (job) (rate(${LONG}[1h] offset 1d))`,
      `-(sum(rate(${LONG}[5m])) + 1)`,
      `max_over_time(sum(rate(${LONG}[5m]))[1h:5m] @ 1000 offset 10m) + -sum(rate(${LONG}[5m]))`,
      `sum(rate(${LONG}[5m]))[1h:]`,
      `label_replace(rate(${LONG}[5m]), "dst", "$1", "src", "(.*)")`,
      `count_values("value", sum without (instance) (rate(${LONG}[5m])))`,
      `quantile by (job) (0.9, sum without (instance) (rate(${LONG}[5m])))`,
      `sum(rate(${LONG}[5m])) > bool 1000000`,
      `vector(1) or on () sum(rate(${LONG}[5m] @ start())) unless ignoring (a, b) sum(rate(${LONG}[5m] @ end()))`,
      `((((sum(rate(${LONG}[5m]))))))`,
      'a * ignoring () group_left b',
      'quantile_over_time(0.99, rate(http_requests_total_with_a_long_name{job="api-server", instance="host-1:9090"}[5m])[1h:1m])',
      `{__name__="x", job="a"} offset -1w + {__name__=~"foo.*", j="${'x'.repeat(100)}"}`,
      `sum(rate(a[90d])) + sum(rate(b[1y])) + sum(rate(c[2w1d])) + sum(rate(d[1500ms])) + sum(rate(e[1h30m15s]))`,
      `0.0001 + 0.00001 + 123456 + 1234567 + 1e21 + -0.5 + Inf + -Inf + NaN + 0x1f + 1.5e-7 - sum(rate(${LONG}[5m]))`,
      `"a string with \\"quotes\\", unicode é and a \\n newline ${'y'.repeat(80)}"`,
    ];
    expect(await differences(queries)).toEqual([]);
    const got = await formatQuery(querierUrl, `sum(rate(${LONG}[5m]))`, 'GET');
    expect(got).toEqual({ status: 200, body: { status: 'success', data: `sum(\n  rate(\n    ${LONG.replace('job="api-server", handler=~"/api/v1/.*"', 'handler=~"/api/v1/.*",job="api-server"')}[5m]\n  )\n)` } });
  });

  it('answers a query that does not parse with 400 bad_data, as Prometheus', async () => {
    const typeError = 'rate(foo)';
    expect(await formatQuery(querierUrl, typeError, 'GET')).toEqual(await formatQuery(prometheus.url, typeError, 'GET'));
    // Syntax errors are worded by each parser; where they are is the same.
    const got = await formatQuery(querierUrl, 'sum(rate(foo[5m)', 'POST');
    expect(got.status).toBe(400);
    expect(got.body).toMatchObject({ status: 'error', errorType: 'bad_data', error: expect.stringMatching(/^invalid parameter "query": 1:16: parse error: /) });
  });

  it('writes every query of the compliance list and of Prometheus’ test scripts as Prometheus does', async () => {
    if (!complianceAvailable() || !existsSync(TESTDATA)) {
      console.warn('SKIPPED: ../shared/promql-compliance or ../shared/promql-testdata is absent; format_query was not compared on their queries');
      return;
    }
    const queries = new Set((await loadComplianceCases()).map((c) => c.query));
    for (const f of readdirSync(TESTDATA)) {
      for (const line of readFileSync(join(TESTDATA, f), 'utf8').split('\n')) {
        const m = /^eval(?:_fail|_ordered)?\s+(?:instant|range)\s+at\s+\S+\s+(.*)$/.exec(line.trim());
        if (m !== null) queries.add(m[1] as string);
      }
    }
    expect(queries.size).toBeGreaterThan(1000);
    expect(await differences(queries)).toEqual([]);
  });
});
