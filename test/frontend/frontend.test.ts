/**
 * `strata query-frontend` in front of real queriers: Prometheus 2.42 over two and a half days of blocks
 * made by promtool, and Strata's querier over the same Prometheus through a sidecar. Split at midnights
 * and put together again, range queries answer exactly as the querier answers them whole; the results
 * cache answers repeated and overlapping ranges with only the missing pieces sent downstream (counted by
 * Prometheus itself); errors, other API routes and failing downstream requests behave as a client of
 * the querier expects.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start as startFrontend, type Frontend, type FrontendConfig } from '@strata/frontend';
import { start as startQuerier, type Querier } from '@strata/querier';
import { createLogger, DEFAULT_MEMCACHED_CLIENT_CONFIG, nopLogger } from '@strata/runtime';
import { start as startSidecar, type Sidecar } from '@strata/sidecar';
import { startFaultProxy, type FaultProxy } from '@strata/testing/faultproxy';
import { startMemcached } from '@strata/testing/memcached';
import { freePort, sleep, tempDir } from '@strata/testing/process';
import { promtoolDataDir, syntheticOpenMetrics, type SyntheticSeries } from '@strata/testing/openmetrics';
import { startPrometheus, type PrometheusHandle } from '@strata/testing/prometheus';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const SCRAPE = 60_000;

/** Last sample: 21:00 UTC the day before yesterday; first: two and a half days before. */
const END = Math.floor(Date.now() / DAY) * DAY - DAY - 3 * HOUR;
const START = END - 2.5 * DAY;

const QUERIES = [
  'sum by (code) (rate(http_requests_total[5m]))',
  'http_requests_total',
  'histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[10m])))',
  'temperature - temperature @ start()',
  'temperature @ end()',
  'max_over_time(rate(http_requests_total[5m])[1h:7m])',
  'temperature offset 1h',
  'timestamp(temperature)',
  'resets(http_requests_total[1h])',
];

/** Counters (one with a reset), a gauge and a classic histogram, scraped 7s off the minute. */
const FAMILIES: Record<string, SyntheticSeries[]> = {
  http_requests_total: [
    { labels: 'code="200",job="api"', value: (i) => 3 * i + (i % 7) },
    { labels: 'code="500",job="api"', value: (i) => (i < 2000 ? i : i - 2000) },
  ],
  temperature: [
    { labels: 'room="a"', value: (i) => 20 + 5 * Math.sin(i / 100) },
    { labels: 'room="b"', value: (i) => 18 + (i % 60) / 10 },
  ],
  // A version only in the first 18 hours, and one only from the last day on: labels and series that not every day has.
  build_info: [
    { labels: 'version="1.0"', value: () => 1, to: 18 * 60 },
    { labels: 'version="2.0"', value: () => 1, from: 2 * 24 * 60 },
  ],
  request_duration_seconds_bucket: ['0.1', '0.5', '1', '+Inf'].map((le, b) => ({ labels: `le="${le}"`, value: (i: number) => Math.floor(i * (b + 1) * 0.7) + (b === 3 ? i : 0) })),
};

let dir: { path: string; cleanup: () => Promise<void> };
let prom: PrometheusHandle;
let sidecar: Sidecar;
let querier: Querier;
let faults: FaultProxy;
const frontends: Frontend[] = [];

async function frontend(downstreamUrl: string, cfg: Partial<FrontendConfig> = {}): Promise<string> {
  const f = await startFrontend({ httpAddress: '127.0.0.1:0', downstreamUrl, logger: nopLogger, ...cfg });
  frontends.push(f);
  return `http://${f.httpAddress}`;
}

interface Answered {
  status: number;
  body: unknown;
}

async function get(base: string, path: string, params: Record<string, string> | [string, string][]): Promise<Answered> {
  const res = await fetch(`${base}${path}?${new URLSearchParams(params)}`);
  return { status: res.status, body: await res.json() };
}

function range(query: string, start: number, end: number, step: number): Record<string, string> {
  return { query, start: String(start / 1000), end: String(end / 1000), step: String(step / 1000) };
}

/** Prometheus' count of range queries it answered. */
async function promRangeQueries(): Promise<number> {
  const text = await (await fetch(`${prom.url}/metrics`)).text();
  const m = /^prometheus_http_requests_total\{code="\d+",handler="\/api\/v1\/query_range"\} (\d+)$/gm;
  let n = 0;
  for (const x of text.matchAll(m)) n += Number(x[1]);
  return n;
}

async function metric(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  let n = 0;
  for (const x of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) n += Number(x[1]);
  return n;
}

beforeAll(async () => {
  dir = await tempDir('strata-frontend-');
  const dataDir = await promtoolDataDir(dir.path, syntheticOpenMetrics(FAMILIES, { start: START, end: END, step: SCRAPE, offset: 7000 }));
  await mkdir(join(dir.path, 'prom'));
  prom = await startPrometheus({ dir: join(dir.path, 'prom'), dataDir, externalLabels: { cluster: 'c1' } });
  sidecar = await startSidecar({ prometheusUrl: prom.url, tsdbPath: prom.dataDir, grpcAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', logger: nopLogger });
  querier = await startQuerier({ httpAddress: '127.0.0.1:0', endpoints: [sidecar.grpcAddress], logger: nopLogger });
  faults = await startFaultProxy(prom.url);
}, 120_000);

afterAll(async () => {
  for (const f of frontends) await f.stop();
  await faults?.stop();
  await querier?.stop();
  await sidecar?.stop();
  await prom?.stop();
  await dir?.cleanup();
});

describe('query frontend: split range queries', () => {
  it('answers as Prometheus answers the step-aligned range whole, across midnights, with @, offsets and subqueries', async () => {
    const base = await frontend(prom.url);
    // From 09:23:17 two days before the last sample's day to 15:00 on it (moved back onto the 7-minute grid): three pieces.
    const [start, end, step] = [START + 23 * 60_000 + 17_000, END - 6 * HOUR, 7 * 60_000];
    const aligned = [Math.floor(start / step) * step, Math.floor(end / step) * step] as const;
    const before = await promRangeQueries();
    for (const q of QUERIES) {
      const [got, want] = await Promise.all([get(base, '/api/v1/query_range', range(q, start, end, step)), get(prom.url, '/api/v1/query_range', range(q, ...aligned, step))]);
      expect(want.status, q).toBe(200);
      expect((want.body as { data: { result: unknown[] } }).data.result.length, q).toBeGreaterThan(0);
      expect(got, q).toEqual(want);
    }
    // Each query: once whole from the test, three pieces from the frontend.
    expect((await promRangeQueries()) - before).toBe(QUERIES.length * 4);
  });

  it('keeps start and end as asked with --no-query-range.align-range-with-step, and answers POST forms too', async () => {
    const base = await frontend(prom.url, { range: { alignRangeWithStep: false } });
    const params = range('sum by (code) (rate(http_requests_total[5m]))', START + 61_001, END - 1000, 5 * 60_000);
    const got = await fetch(`${base}/api/v1/query_range`, { method: 'POST', body: new URLSearchParams(params) });
    expect(got.status).toBe(200);
    expect(await got.json()).toEqual((await get(prom.url, '/api/v1/query_range', params)).body);
  });

  it("passes on the querier's errors as it gave them: bad queries, failed evaluations, bad parameters", async () => {
    const base = await frontend(prom.url);
    const cases = [
      range('sum(', START, END, 60_000),
      range('http_requests_total / on() temperature', START, END, 3_600_000),
      range('info(temperature)', START, END, 3_600_000),
      range('temperature', START, END, 0),
      range('temperature', START, END, 10_000),
      { query: 'temperature', start: 'yesterday', end: '1', step: '60' },
    ];
    for (const params of cases) {
      const [got, want] = await Promise.all([get(base, '/api/v1/query_range', params), get(prom.url, '/api/v1/query_range', params)]);
      expect(want.status, params.query).toBeGreaterThanOrEqual(400);
      expect(got, JSON.stringify(params)).toEqual(want);
    }
  });

  it('logs API requests slower than --query-frontend.log-queries-longer-than with their parameters (negative: every one)', async () => {
    const lines: string[] = [];
    const base = await frontend(prom.url, { logQueriesLongerThan: -1, orgIdHeaders: ['X-Tenant', 'X-Scope-OrgID'], logger: createLogger({ format: 'json', write: (l) => lines.push(l) }) });
    await get(base, '/api/v1/query_range', range('sum(temperature)', START, END, 3_600_000));
    await fetch(`${base}/api/v1/label/room/values`, { headers: { 'X-Scope-OrgID': 'team-b', 'X-Dashboard-Uid': 'abc123', 'X-Panel-Id': '7', Authorization: `Basic ${Buffer.from('grafana:secret').toString('base64')}` } });
    const slow = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'slow query detected');
    // With --query-frontend.org-id-header, each names its tenant (anonymous without the header); Grafana's
    // dashboard and panel headers and the basic-auth user are in its fields, as Thanos logs them.
    expect(slow.map((l) => [l.path, l.status, l.param_query, l.org_id, l.remote_user, l.grafana_dashboard_uid, l.grafana_panel_id])).toEqual([
      ['/api/v1/query_range', 200, 'sum(temperature)', 'anonymous', '', '-', '-'],
      ['/api/v1/label/room/values', 200, undefined, 'team-b', 'grafana', 'abc123', '7'],
    ]);
    // --query-frontend.slow-query-logs-user-header names the user instead.
    lines.length = 0;
    const named = await frontend(prom.url, { logQueriesLongerThan: -1, slowQueryLogsUserHeader: 'X-Grafana-User', logger: createLogger({ format: 'json', write: (l) => lines.push(l) }) });
    await fetch(`${named}/api/v1/labels`, { headers: { 'X-Grafana-User': 'alice' } });
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'slow query detected')?.remote_user).toBe('alice');
  });

  it("answers Prometheus' unavailable error when no querier answers at all", async () => {
    const base = await frontend(`http://127.0.0.1:${await freePort()}`, { range: { maxRetries: 2 } });
    for (const [path, params] of [
      ['/api/v1/query_range', range('temperature', START, END, 60_000)],
      ['/api/v1/query', { query: 'temperature' }],
    ] as const) {
      const got = await get(base, path, params);
      expect(got.status, path).toBe(503);
      expect(got.body, path).toMatchObject({ status: 'error', errorType: 'unavailable' });
    }
  });

  it('compresses its answers with --query-frontend.compress-responses for clients that accept it', async () => {
    const base = await frontend(prom.url, { compressResponses: true });
    const params = range('temperature', START, END, 60_000);
    const [gzipped, plain] = await Promise.all([
      fetch(`${base}/api/v1/query_range?${new URLSearchParams(params)}`, { headers: { 'accept-encoding': 'gzip' } }),
      fetch(`${base}/api/v1/query_range?${new URLSearchParams(params)}`, { headers: { 'accept-encoding': 'identity' } }),
    ]);
    expect([gzipped.headers.get('content-encoding'), plain.headers.get('content-encoding')]).toEqual(['gzip', null]);
    expect(await gzipped.json()).toEqual(await plain.json());
  });

  it('refuses a range longer than --query-range.max-query-length with Thanos\' error', async () => {
    const base = await frontend(prom.url, { range: { maxQueryLength: DAY } });
    expect(await get(base, '/api/v1/query_range', range('temperature', START, START + DAY + 60_000, 60_000))).toEqual({
      status: 400,
      body: { status: 'error', errorType: 'bad_data', error: 'the query time range exceeds the limit (query length: 24h1m0s, limit: 24h0m0s)' },
    });
  });

  it('refuses to put together vertical shards from a downstream that does not shard (Prometheus answers each shard whole)', async () => {
    const base = await frontend(prom.url, { range: { verticalShards: 2 } });
    const query = 'sum by (code) (rate(http_requests_total[5m]))';
    const error = (a: Answered) => (a.body as { error?: string }).error;
    const ranged = await get(base, '/api/v1/query_range', range(query, END - 6 * HOUR, END, 60_000));
    expect(ranged.status).toBe(500);
    expect(error(ranged)).toMatch(/^the downstream querier does not shard: two shards of the query both answered \{code="(200|500)"\}; --query-frontend.vertical-shards needs a querier that honours shard_info/);
    const instant = await get(base, '/api/v1/query', { query, time: String(END / 1000) });
    expect(instant.status).toBe(500);
    expect(error(instant)).toMatch(/^the downstream querier does not shard/);
    // Nothing to shard by: whole, and answered.
    expect((await get(base, '/api/v1/query', { query: 'sum(http_requests_total)', time: String(END / 1000) })).status).toBe(200);
  });

  it('passes every other route through: instant queries, metadata, status, redirects', async () => {
    const base = await frontend(prom.url);
    const t = String(END / 1000);
    for (const [path, params] of [
      ['/api/v1/query', { query: 'sum(temperature)', time: t }],
      ['/api/v1/metadata', {}],
      ['/api/v1/status/buildinfo', {}],
    ] as const) {
      expect(await get(base, path, params), path).toEqual(await get(prom.url, path, params));
    }
    // Redirects are the client's to follow (Prometheus' / to its UI).
    const [redirect, want] = await Promise.all([fetch(`${base}/`, { redirect: 'manual' }), fetch(`${prom.url}/`, { redirect: 'manual' })]);
    expect([redirect.status, redirect.headers.get('location')]).toEqual([want.status, want.headers.get('location')]);
    expect(want.status).toBe(302);
    const series = { 'match[]': 'temperature', start: String(START / 1000), end: t };
    const got = await fetch(`${base}/api/v1/series`, { method: 'POST', body: new URLSearchParams(series) });
    expect(await got.json()).toEqual((await get(prom.url, '/api/v1/series', series)).body);
  });

  it('sends a request that failed or was cut off again, up to --query-range.max-retries-per-request attempts', async () => {
    const base = await frontend(faults.endpoint, { range: { maxRetries: 3 } });
    const params = range('sum by (code) (rate(http_requests_total[5m]))', START, END, 15 * 60_000);
    const want = await get(prom.url, '/api/v1/query_range', params);
    // The first request is answered 503, the connection of the second is reset.
    let n = 0;
    faults.onRequest(() => faults.setFaults([{ fail: 1 }, { reset: 1 }][n++] ?? {}));
    expect(await get(base, '/api/v1/query_range', params)).toEqual(want);
    expect(await metric(base, 'strata_frontend_downstream_retries_total')).toBeGreaterThanOrEqual(2);
    // Three failures in a row: the last one is the answer.
    faults.onRequest(() => faults.setFaults({ fail: 1 }));
    const failed = await fetch(`${base}/api/v1/query_range?${new URLSearchParams(params)}`);
    expect(failed.status).toBe(503);
    faults.onRequest(undefined);
    faults.setFaults({});
  });
});

describe('query frontend: results cache', () => {
  it('answers a repeated range from the cache and an overlapping one with only what it lacks, as Prometheus answers them', async () => {
    const base = await frontend(prom.url, { range: { cacheBytes: 64 << 20 } });
    const step = 5 * 60_000;
    const q = 'sum by (code) (rate(http_requests_total[5m]))';
    const ask = async (start: number, end: number) => {
      const before = await promRangeQueries();
      const [got, want] = await Promise.all([get(base, '/api/v1/query_range', range(q, start, end, step)), get(prom.url, '/api/v1/query_range', range(q, Math.floor(start / step) * step, Math.floor(end / step) * step, step))]);
      expect(got).toEqual(want);
      return (await promRangeQueries()) - before - 1;
    };
    // From noon on the first day to 18:00 on the second: two pieces, both fetched.
    const noon = Math.floor(START / DAY) * DAY + DAY + 12 * HOUR;
    expect(await ask(noon, noon + DAY + 6 * HOUR)).toBe(2);
    expect(await ask(noon, noon + DAY + 6 * HOUR)).toBe(0);
    expect(await metric(base, 'strata_frontend_results_cache_lookups_total\\{cache="query_range",result="hit"\\}')).toBe(2);
    // Two hours more at either end: the two gaps only.
    expect(await ask(noon - 2 * HOUR, noon + DAY + 8 * HOUR)).toBe(2);
    // Inside what is cached now: nothing.
    expect(await ask(noon + HOUR, noon + DAY)).toBe(0);
    expect(await metric(base, 'strata_frontend_results_cache_bytes')).toBeGreaterThan(0);
  });

  it('caches a range whose start is on the step grid and whose end is not (--no-query-range.align-range-with-step)', async () => {
    const base = await frontend(prom.url, { range: { cacheBytes: 64 << 20, alignRangeWithStep: false } });
    const step = 5 * 60_000;
    const ask = async (end: number) => {
      const params = range('sum by (code) (rate(http_requests_total[5m]))', Math.floor(START / step) * step + step, end, step);
      const [got, want] = await Promise.all([get(base, '/api/v1/query_range', params), get(prom.url, '/api/v1/query_range', params)]);
      expect(got).toEqual(want);
    };
    await ask(END - 2 * HOUR - 123_456);
    const before = await promRangeQueries();
    await ask(END - 2 * HOUR - 123_456);
    expect((await promRangeQueries()) - before).toBe(1);
    // Further on: the cached steps end on the grid, and the next ones follow on it.
    await ask(END - HOUR - 7_000);
  });

  it('does not cache the last --query-range.response-cache-max-freshness: it is asked for every time', async () => {
    const now = END + 30_000;
    const base = await frontend(prom.url, { range: { cacheBytes: 64 << 20 }, now: () => now });
    const q = range('temperature', END - 2 * HOUR, END, 60_000);
    const before = await promRangeQueries();
    const first = await get(base, '/api/v1/query_range', q);
    const second = await get(base, '/api/v1/query_range', q);
    expect(second).toEqual(first);
    // First: up to the cutoff and the fresh minute; then the fresh minute again only.
    expect((await promRangeQueries()) - before).toBe(3);
    expect(second).toEqual(await get(prom.url, '/api/v1/query_range', q));
  });

  it("works in front of Strata's querier, external labels and all", async () => {
    const base = await frontend(`http://${querier.httpAddress}`, { range: { cacheBytes: 64 << 20 } });
    const step = 10 * 60_000;
    const params = range('sum by (cluster, code) (rate(http_requests_total[5m]))', Math.floor(START / step) * step, END, step);
    const want = await get(`http://${querier.httpAddress}`, '/api/v1/query_range', params);
    expect((want.body as { data: { result: { metric: Record<string, string> }[] } }).data.result[0]?.metric.cluster).toBe('c1');
    expect(await get(base, '/api/v1/query_range', params)).toEqual(want);
    expect(await get(base, '/api/v1/query_range', params)).toEqual(want);
  });

  it("asks the querier for its stats with --query-frontend.force-query-stats, logs and counts them, and keeps them from clients that did not ask", async () => {
    const lines: string[] = [];
    const base = await frontend(`http://${querier.httpAddress}`, { forceQueryStats: true, range: { cacheBytes: 64 << 20 }, logger: createLogger({ format: 'json', write: (l) => lines.push(l) }) });
    const stats = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'query stats');
    const step = 10 * 60_000;
    const params = range('sum by (code) (rate(http_requests_total[5m]))', Math.floor(START / step) * step, END, step);
    const want = await get(`http://${querier.httpAddress}`, '/api/v1/query_range', params);
    const res = await fetch(`${base}/api/v1/query_range?${new URLSearchParams(params)}`);
    // Split by day and put together: the answer as the querier gives it whole, without the stats of the pieces.
    expect({ status: res.status, body: await res.json() }).toEqual(want);
    expect(res.headers.get('server-timing')).toMatch(/^querier_wall_time;dur=[\d.]+, response_time;dur=[\d.]+$/);
    const [first] = stats();
    expect(first).toMatchObject({ component: 'query-frontend', path: '/api/v1/query_range', status_code: 200, param_query: params.query });
    expect(first?.fetched_series_count).toBeGreaterThan(0);
    expect(first?.fetched_chunks_bytes).toBeGreaterThan(0);
    expect(first?.total_samples_loaded).toBeGreaterThan(0);
    expect(first?.peak_samples).toBeGreaterThan(0);
    expect(first?.query_wall_time_seconds).toBeGreaterThan(0);
    // From the cache, nothing was fetched.
    expect((await get(base, '/api/v1/query_range', params)).body).toEqual(want.body);
    expect(stats()[1]).toMatchObject({ fetched_series_count: 0, total_samples_loaded: 0 });
    // A client that asks for stats gets them; instant queries pass through without them.
    const asked = (await get(base, '/api/v1/query_range', { ...params, stats: 'all' })).body as { data: { stats?: { samples: { totalQueryableSamples: number } } } };
    expect(asked.data.stats?.samples.totalQueryableSamples).toBeGreaterThan(0);
    const instant = (await get(base, '/api/v1/query', { query: 'count(temperature)', time: String(END / 1000) })).body as { data: { stats?: unknown; result: unknown[] } };
    expect(instant.data.stats).toBeUndefined();
    expect(instant.data.result).toHaveLength(1);
    expect(stats()[3]).toMatchObject({ path: '/api/v1/query', param_query: 'count(temperature)' });
    expect(stats()[3]?.total_samples_loaded).toBeGreaterThan(0);
    // A POST form asks for them in its body.
    const posted = await fetch(`${base}/api/v1/query`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ query: 'count(temperature)', time: String(END / 1000) }).toString() });
    expect(((await posted.json()) as { data: { stats?: unknown } }).data.stats).toBeUndefined();
    expect(stats()[4]?.total_samples_loaded).toBe(stats()[3]?.total_samples_loaded);
    expect(await metric(base, 'strata_frontend_query_fetched_series_total')).toBeGreaterThan(0);
  });

  it('does not cache an answer with warnings (which may say it is partial): it is asked for again', async () => {
    const base = await frontend(`http://${querier.httpAddress}`, { range: { cacheBytes: 64 << 20 } });
    // Strata's querier warns that the gauge has no `le` label.
    const params = range('histogram_quantile(0.9, temperature)', END - 6 * HOUR, END, 60_000);
    const first = await get(base, '/api/v1/query_range', params);
    expect((first.body as { warnings?: string[] }).warnings?.length).toBeGreaterThan(0);
    const before = await metric(base, 'strata_frontend_split_queries_total');
    expect(await get(base, '/api/v1/query_range', params)).toEqual(first);
    expect((await metric(base, 'strata_frontend_split_queries_total')) - before).toBe(1);
  });

  it('caches an answer whose only notes are infos, and says them again from the cache', async () => {
    const base = await frontend(`http://${querier.httpAddress}`, { range: { cacheBytes: 64 << 20 } });
    // `rate` of a gauge: Strata's querier notes, as Prometheus does, under `infos`, that it might not be a counter.
    const params = range('rate(temperature[5m])', END - 6 * HOUR, END, 60_000);
    const first = await get(base, '/api/v1/query_range', params);
    const notes = first.body as { warnings?: string[]; infos?: string[] };
    expect(notes.warnings).toBeUndefined();
    expect(notes.infos).toEqual(['PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: "temperature" (1:6)']);
    const before = await metric(base, 'strata_frontend_split_queries_total');
    expect(await get(base, '/api/v1/query_range', params)).toEqual(first);
    expect((await metric(base, 'strata_frontend_split_queries_total')) - before).toBe(0);
  });
});

describe('query frontend: label and series requests', () => {
  const r: [string, string][] = [
    ['start', String((START + 3 * HOUR) / 1000)],
    ['end', String((END - HOUR) / 1000)],
  ];
  const cases: [string, [string, string][]][] = [
    ['/api/v1/labels', r],
    ['/api/v1/labels', [...r, ['match[]', 'temperature']]],
    ['/api/v1/label/version/values', r],
    ['/api/v1/label/__name__/values', r],
    ['/api/v1/series', [...r, ['match[]', 'temperature'], ['match[]', '{__name__=~"build_info|http_requests_total"}']]],
  ];
  /** Every case through the frontend at `base`, answered as Prometheus answers the range whole. */
  const ask = async (base: string) => {
    for (const [path, params] of cases) {
      const [got, want] = await Promise.all([get(base, path, params), get(prom.url, path, params)]);
      expect((want.body as { data: unknown[] }).data.length, path).toBeGreaterThan(0);
      expect(got, path).toEqual(want);
    }
  };

  it('answers label names, values and series over days as Prometheus answers the range whole, then from its cache', async () => {
    const base = await frontend(prom.url, { labels: { cacheBytes: 16 << 20 } });
    await ask(base);
    // Split at midnights: every request went to Prometheus in three pieces.
    expect(await metric(base, 'strata_frontend_downstream_requests_total')).toBe(3 * cases.length);
    await ask(base);
    expect(await metric(base, 'strata_frontend_downstream_requests_total')).toBe(3 * cases.length);
    expect(await metric(base, 'strata_frontend_results_cache_lookups_total\\{cache="labels",result="hit"\\}')).toBe(3 * cases.length);
  });

  it('keeps them in memcached, where another frontend finds them', async () => {
    const memcached = await startMemcached();
    try {
      const labels = { remote: { cache: { type: 'MEMCACHED' as const, client: { ...DEFAULT_MEMCACHED_CLIENT_CONFIG, addresses: [memcached.address] } }, expirationMs: HOUR } };
      const first = await frontend(prom.url, { labels });
      await ask(first);
      expect(await metric(first, 'strata_frontend_downstream_requests_total')).toBe(3 * cases.length);
      // Its sets go out after its answers: once memcached took them all, a second frontend asks Prometheus nothing.
      for (let i = 0; i < 200 && (await metric(first, 'strata_memcached_operation_duration_seconds_count\\{name="labels",operation="set"\\}')) < 3 * cases.length; i++) await sleep(10);
      const second = await frontend(prom.url, { labels });
      await ask(second);
      expect(await metric(second, 'strata_frontend_downstream_requests_total')).toBe(0);
      expect(await metric(second, 'strata_frontend_results_cache_lookups_total\\{cache="labels",result="hit"\\}')).toBe(3 * cases.length);
    } finally {
      await memcached.stop();
    }
  });

  it('gives a request without a range the last --labels.default-time-range, as Thanos\' frontend does', async () => {
    const base = await frontend(prom.url, { labels: { defaultTimeRange: 6 * HOUR }, now: () => END });
    const lastHours: [string, string][] = [
      ['start', String((END - 6 * HOUR) / 1000)],
      ['end', String(END / 1000)],
    ];
    for (const path of ['/api/v1/labels', '/api/v1/label/version/values']) {
      const [got, want] = await Promise.all([get(base, path, []), get(prom.url, path, lastHours)]);
      expect((want.body as { data: unknown[] }).data.length, path).toBeGreaterThan(0);
      expect(got, path).toEqual(want);
    }
    // The version of the first hours is not in the last six.
    expect((await get(base, '/api/v1/label/version/values', [])).body).toMatchObject({ data: ['2.0'] });
  });
});

