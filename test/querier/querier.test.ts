// The querier end to end, as deployed: the demo service's last hours split at a 2h block boundary.
// Older blocks were shipped to the bucket (s3rver) and are served by the store gateway; the newest
// block is still in two Prometheus 2.42 replicas, each with a sidecar. `strata query` fans out over the
// three endpoints and deduplicates on the replica label. Every compliance query, over a window that
// reaches into both halves, must answer exactly as one Prometheus holding all the blocks does; and
// through `strata query-frontend` in front of the querier, split into 2-minute pieces and cached, as
// the querier answers it whole.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { start as startFrontend, type Frontend } from '@strata/frontend';
import { start as startQuerier, type Querier } from '@strata/querier';
import { nopLogger } from '@strata/runtime';
import { uploadBlock } from '@strata/block';
import { parseBucketConfig, newBucket } from '@strata/objstore';
import { start as startSidecar, type Sidecar } from '@strata/sidecar';
import { start as startStore, type Store } from '@strata/store';
import { tempDir } from '@strata/testing/process';
import type { PrometheusHandle } from '@strata/testing/prometheus';
import { startS3rver, type S3Server } from '@strata/testing/s3';
import { Engine, formatValue, MemoryStorage } from '@strata/promql';
import { formatMeta, Labels, parseMeta } from '@strata/tsdb';
import { cp, readFile, writeFile } from 'node:fs/promises';
import pLimit from 'p-limit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerDiff, apiGet as get, type ApiBody } from './answers.js';
import { complianceAvailable, diffMatrices, loadComplianceCases, type MatrixSeries } from './compliance.js';
import { randomMatchers, randomQueries, randomWindows, type RandomWindow } from './randomqueries.js';
import { demoHistory, prometheusOn, type DemoHistory } from './stack.js';

const execFileP = promisify(execFile);

let dir: { path: string; cleanup: () => Promise<void> };
let history: DemoHistory;
/** The last block boundary before the data ends: history before it, recent data after. */
let boundary: number;
let reference: PrometheusHandle;
const replicas: PrometheusHandle[] = [];
const sidecars: Sidecar[] = [];
let s3: S3Server;
let store: Store;
let querier: Querier;
let queryUrl: string;
let frontend: Frontend;
let frontendUrl: string;
/** A query frontend that keeps start and end as asked (`--no-query-range.align-range-with-step`). */
let unalignedFrontend: Frontend;
/** A frontend that sends every shardable query as asked (unsplit, unaligned) but as 3 vertical shards. */
let shardedFrontend: Frontend;
let shardedUrl: string;

const HOUR = 3_600_000;

beforeAll(async () => {
  dir = await tempDir('strata-querier-');
  // Data ends 40 minutes past a 2h boundary, which lies at least 40 minutes in the past; it starts 3h
  // before the boundary, enough for the longest compliance window (10m of steps + 1h range + 10m offset).
  boundary = Math.floor((Date.now() - 40 * 60_000) / (2 * HOUR)) * 2 * HOUR;
  history = await demoHistory(dir.path, boundary - 3 * HOUR, boundary + 40 * 60_000);
  const old = history.blocks.filter((b) => b.maxTime <= boundary);
  const recent = history.blocks.filter((b) => b.minTime >= boundary);
  expect(old.length + recent.length).toBe(history.blocks.length);

  reference = await prometheusOn(history, history.blocks, join(dir.path, 'reference'), {});
  for (const replica of ['r0', 'r1']) {
    const prom = await prometheusOn(history, recent, join(dir.path, replica), { cluster: 'c1', replica });
    replicas.push(prom);
    sidecars.push(
      await startSidecar({ prometheusUrl: prom.url, tsdbPath: prom.dataDir, grpcAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', logger: nopLogger }),
    );
  }

  // The older blocks, as replica r0's sidecar would have shipped them.
  s3 = await startS3rver();
  const bucket = newBucket(parseBucketConfig(s3.configYaml()));
  for (const b of old) {
    const blockDir = join(dir.path, 'ship', b.ulid);
    await cp(join(history.blocksDir, b.ulid), blockDir, { recursive: true });
    const meta = parseMeta(await readFile(join(blockDir, 'meta.json'), 'utf8'));
    meta.thanos = { labels: { cluster: 'c1', replica: 'r0' }, downsample: { resolution: 0 }, source: 'sidecar' };
    await writeFile(join(blockDir, 'meta.json'), formatMeta(meta));
    await uploadBlock(bucket, blockDir);
  }
  store = await startStore({ bucket, dataDir: join(dir.path, 'store'), grpcAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', logger: nopLogger });

  querier = await startQuerier({
    httpAddress: '127.0.0.1:0',
    grpcAddress: '127.0.0.1:0',
    endpoints: [...sidecars.map((s) => s.grpcAddress), store.grpcAddress],
    replicaLabels: ['replica'],
    promqlCompat: 2,
    logger: nopLogger,
  });
  queryUrl = `http://${querier.httpAddress}`;
  // Pieces of 2 minutes: every compliance window is cut into five, and each piece is cached.
  frontend = await startFrontend({ httpAddress: '127.0.0.1:0', downstreamUrl: queryUrl, range: { splitInterval: 120_000, cacheBytes: 64 << 20 }, logger: nopLogger });
  frontendUrl = `http://${frontend.httpAddress}`;
  unalignedFrontend = await startFrontend({
    httpAddress: '127.0.0.1:0', downstreamUrl: queryUrl, range: { splitInterval: 120_000, cacheBytes: 64 << 20, alignRangeWithStep: false }, logger: nopLogger,
  });
  shardedFrontend = await startFrontend({ httpAddress: '127.0.0.1:0', downstreamUrl: queryUrl, range: { splitInterval: 0, alignRangeWithStep: false, verticalShards: 3 }, logger: nopLogger });
  shardedUrl = `http://${shardedFrontend.httpAddress}`;
});

afterAll(async () => {
  await shardedFrontend?.stop();
  await unalignedFrontend?.stop();
  await frontend?.stop();
  await querier?.stop();
  await store?.stop();
  for (const s of sidecars) await s.stop();
  for (const p of replicas) await p.stop();
  await reference?.stop();
  await s3?.stop();
  await dir?.cleanup();
});

/**
 * The compliance tester's window (10 minutes at a 10s step) placed 25 minutes past the block boundary:
 * instant selectors read recent data from the sidecars, range selectors and offsets reach back into
 * the store gateway's history.
 */
function window() {
  const end = Math.floor((boundary + 25 * 60_000) / 1000);
  return { start: String(end - 600), end: String(end), step: '10' };
}

describe('compliance queries: querier over two replicas vs one Prometheus', () => {
  it.skipIf(!complianceAvailable())('answers every range query as Prometheus does, whole, split by the query frontend and in vertical shards', { timeout: 900_000 }, async () => {
    const cases = await loadComplianceCases();
    const w = window();
    const failures: string[] = [];
    const limit = pLimit(2);
    await Promise.all(
      cases.map((c) =>
        limit(async () => {
          const params = { query: c.query, ...w };
          const [want, got, split, sharded] = await Promise.all([reference.url, queryUrl, frontendUrl, shardedUrl].map((base) => get(base, '/api/v1/query_range', params)));
          for (const [how, answer] of [['split by the query frontend', split], ['in vertical shards', sharded]] as const) {
            if (answer.code !== got.code) failures.push(`${c.query}: status ${answer.code} ${how}, ${got.code} from the querier`);
            else if (got.body.status === 'success') {
              const diff = diffMatrices(got.body.data?.result as MatrixSeries[], answer.body.data?.result as MatrixSeries[]);
              if (diff !== null) failures.push(`${c.query}: ${how}: ${diff}`);
            }
          }
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
    // Each query the querier answered went through the frontend in pieces.
    const split = /^strata_frontend_split_queries_total (\d+)$/m.exec(await (await fetch(`${frontendUrl}/metrics`)).text());
    expect(Number(split?.[1])).toBeGreaterThanOrEqual(4 * cases.length);
    // Most of them went out in shards (those that aggregate everything into one series cannot).
    const sharded = /^strata_frontend_vertical_sharding_queries_total\{op="query_range",result="sharded"\} (\d+)$/m.exec(await (await fetch(`${shardedUrl}/metrics`)).text());
    expect(Number(sharded?.[1])).toBeGreaterThan(cases.length / 2);
  });
  if (!complianceAvailable()) console.warn('SKIPPED: ../shared/promql-compliance is absent; the compliance comparison did not run');
});

describe('random queries: querier over two replicas vs one Prometheus', () => {
  it('answers 500 seeded random queries as Prometheus does, at random times and over random ranges, errors included, whole, through the query frontend and in its vertical shards', { timeout: 600_000 }, async () => {
    const windows = randomWindows(34, 500, boundary);
    const queries = randomQueries(34, 500);
    const failures: string[] = [];
    const limit = pLimit(2);
    await Promise.all(
      queries.map((query, i) =>
        limit(async () => {
          const w = windows[i] as RandomWindow;
          const [path, params] = 'time' in w ? ['/api/v1/query', { query, ...w }] : ['/api/v1/query_range', { query, ...w }];
          // A range off the step grid goes to the frontend that keeps it as asked: the default one moves it onto the grid.
          const aligned = !('step' in w) || (Number(w.start) % Number(w.step) === 0 && Number(w.end) % Number(w.step) === 0);
          const through = aligned ? frontendUrl : `http://${unalignedFrontend.httpAddress}`;
          const [want, got, split, sharded] = await Promise.all([get(reference.url, path, params), get(queryUrl, path, params), get(through, path, params), get(shardedUrl, path, params)]);
          const diff = answerDiff(want, got);
          if (diff !== null) failures.push(`${path} ${JSON.stringify(params)}: ${diff}`);
          // Through the query frontend, range queries split into 2-minute pieces, and in 3 vertical shards, as the querier answers them whole.
          const splitDiff = answerDiff(got, split, []);
          if (splitDiff !== null) failures.push(`${path} ${JSON.stringify(params)} through the query frontend: ${splitDiff}`);
          const shardedDiff = answerDiff(got, sharded, []);
          if (shardedDiff !== null) failures.push(`${path} ${JSON.stringify(params)} in vertical shards: ${shardedDiff}`);
        }),
      ),
    );
    expect(failures, `${failures.length} of ${queries.length} queries differ:\n${failures.slice(0, 20).join('\n')}`).toEqual([]);
    // Instant queries went out in shards too.
    const sharded = /^strata_frontend_vertical_sharding_queries_total\{op="query",result="sharded"\} (\d+)$/m.exec(await (await fetch(`${shardedUrl}/metrics`)).text());
    expect(Number(sharded?.[1])).toBeGreaterThan(50);
  });
});

describe('random regex matchers: querier vs one Prometheus', () => {
  it("selects with 500 seeded random regexes, over random time ranges, the series, label names and values Prometheus selects, or fails as Go's regexp fails", { timeout: 300_000 }, async () => {
    const windows = randomWindows(35, 500, boundary);
    const failures: string[] = [];
    const limit = pLimit(2);
    // Series as sorted label sets, label names sorted; without the external label Prometheus lacks.
    const sorted = (b: ApiBody) =>
      (b.data as unknown as (Record<string, string> | string)[])
        .filter((x) => x !== 'cluster')
        .map((x) => (typeof x === 'string' ? x : JSON.stringify(Object.entries(x).filter(([k]) => k !== 'cluster').sort())))
        .sort();
    await Promise.all(
      randomMatchers(34, 500).map((matcher, i) =>
        limit(async () => {
          const path = ['/api/v1/series', '/api/v1/labels', '/api/v1/label/instance/values'][i % 3] as string;
          const w = windows[i] as RandomWindow;
          const params = { 'match[]': matcher, ...('time' in w ? { start: w.time, end: w.time } : { start: w.start, end: w.end }) };
          const [want, got] = await Promise.all([get(reference.url, path, params), get(queryUrl, path, params)]);
          if (got.code !== want.code || got.body.error !== want.body.error) failures.push(`${path} ${matcher}: ${got.code} ${got.body.error ?? ''}, Prometheus ${want.code} ${want.body.error ?? ''}`);
          else if (want.code === 200 && JSON.stringify(sorted(got.body)) !== JSON.stringify(sorted(want.body))) failures.push(`${path} ${matcher}: ${JSON.stringify(sorted(got.body)).slice(0, 200)}, Prometheus ${JSON.stringify(sorted(want.body)).slice(0, 200)}`);
        }),
      ),
    );
    expect(failures, `${failures.length} matchers differ:\n${failures.slice(0, 20).join('\n')}`).toEqual([]);
  });
});

describe('HTTP API', () => {
  it('writes values exactly as Prometheus writes them: -0, exponents, shortest round trip, NaN and infinities', async () => {
    const exprs = ['vector(0) * -1', 'scalar(vector(0)) * -1', '1e-7 * vector(1)', '-1.5e-7 * vector(1)', '1e21 * vector(1)', 'vector(0.1) + 0.2', 'vector(1) / 0', 'NaN * vector(1)', 'count_values("v", -vector(0))', '"a\\"b"', '1.5', 'time()', '-Inf', 'vector(time()) / 3', 'label_replace(vector(1), "a", "x&y<z>\\u2028", "", "")', '"a<b"'];
    const text = async (base: string, query: string) => (await fetch(`${base}/api/v1/query?${new URLSearchParams({ query, time: '1000' })}`)).text();
    for (const q of exprs) expect(await text(queryUrl, q), q).toBe(await text(reference.url, q));
  });

  it('answers metadata APIs as Prometheus, without the replica label', async () => {
    const { start, end } = window();
    const p = reference.url;
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
    const p = reference.url;
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
      // Prometheus reads these times with parseTimeParam, whose error says more than query_range's.
      ['/api/v1/query', { query: 'up', time: 'yesterday' }],
      ['/api/v1/series', { 'match[]': 'up', start: 'yesterday' }],
      ['/api/v1/labels', { end: 'yesterday' }],
      ['/api/v1/label/job/values', { start: 'yesterday' }],
      ['/api/v1/query', { query: 'label_replace(demo_num_cpus, "instance", "", "", "")', time: end }],
      ['/api/v1/query', { query: '' }],
      ['/api/v1/query', { query: ' # a comment alone' }],
      ['/api/v1/query', { query: 'demo_num_cpus{job=~"("}' }],
      ['/api/v1/query', { query: 'demo_num_cpus{__name__=~"demo_.*"}' }],
      ['/api/v1/query', { query: 'demo_num_cpus[0s:1m]' }],
      ['/api/v1/query', { query: 'demo_num_cpus[5m:0s]' }],
      // Checked before evaluation, as bad data; 2.42 does not name the parameter for a range query.
      ['/api/v1/query_range', { query: 'demo_num_cpus[5m]', start, end, step: '60' }],
      ['/api/v1/query_range', { query: '"a string"', start, end, step: '60' }],
      ['/api/v1/query_range', { query: 'sum(', start, end, step: '60' }],
      // match[] is a selector alone (Prometheus' ParseMetricSelector); the label endpoints do not name it.
      ['/api/v1/series', { 'match[]': 'demo_num_cpus[5m]' }],
      ['/api/v1/series', { 'match[]': 'demo_num_cpus offset 5m' }],
      ['/api/v1/series', { 'match[]': 'rate(demo_num_cpus[5m])' }],
      ['/api/v1/series', { 'match[]': '{job=~".*"}' }],
      ['/api/v1/series', { 'match[]': 'demo_num_cpus 5m' }],
      ['/api/v1/series', { 'match[]': 'demo_num_cpus)' }],
      ['/api/v1/series', { 'match[]': 'demo_num_cpus{job=~"["}' }],
      ['/api/v1/series', { 'match[]': 'demo_num_cpus{job="demo"' }],
      ['/api/v1/labels', { 'match[]': 'sum(' }],
      ['/api/v1/labels', { 'match[]': '{}' }],
      ['/api/v1/label/job/values', { 'match[]': 'demo_num_cpus and up' }],
      ['/api/v1/query_exemplars', { query: 'demo_num_cpus', start: end, end: start }],
    ];
    for (const [path, params] of cases) {
      const [want, got] = await Promise.all([get(p, path, params), get(queryUrl, path, params)]);
      expect({ code: got.code, type: got.body.errorType }, `${path} ${JSON.stringify(params)}: ${got.body.error}`).toEqual({ code: want.code, type: want.body.errorType });
      if (!path.endsWith('/query') || !params.query?.includes('(')) expect(got.body.error).toBe(want.body.error);
    }
  });

  it('reports with stats=all what the query cost: samples, series and chunks, object-store traffic', async () => {
    const params = { query: 'rate(demo_cpu_usage_seconds_total[1h])', ...window(), stats: 'all' };
    const res = await get(queryUrl, '/api/v1/query_range', params);
    const stats = (res.body.data as unknown as { stats: { timings: Record<string, number>; samples: { totalQueryableSamples: number }; storage: Record<string, number> } }).stats;
    expect(stats.samples.totalQueryableSamples).toBeGreaterThan(0);
    // Fetching from the stores is the query's preparation; evaluation is the rest.
    const { queryPreparationTime, innerEvalTime, evalTotalTime } = stats.timings as Record<string, number>;
    expect(queryPreparationTime).toBeGreaterThan(0);
    expect(queryPreparationTime! + innerEvalTime!).toBeCloseTo(evalTotalTime!, 6);
    // Whole nanoseconds, as Prometheus' durations are written.
    for (const t of [queryPreparationTime!, innerEvalTime!, evalTotalTime!]) expect(String(t)).toBe(String(Math.round(t * 1e9) / 1e9));
    // 9 series from each of three endpoints (two sidecars, one store gateway) before deduplication.
    expect(stats.storage.seriesFetched).toBe(27);
    expect(stats.storage.chunksFetched).toBeGreaterThan(27);
    expect(stats.storage.chunkBytesFetched).toBeGreaterThan(0);
    // The window's hour of history comes from the bucket through the store gateway.
    expect(stats.storage.blocksQueried).toBeGreaterThan(0);
    expect(stats.storage.objectStoreRequests).toBeGreaterThan(0);
    expect(stats.storage.objectStoreBytes).toBeGreaterThan(0);
    const plain = await get(queryUrl, '/api/v1/query_range', { ...params, stats: '' });
    expect(plain.body.data).not.toHaveProperty('stats');
  });

  it('works with promtool query range', async () => {
    const { start, end } = window();
    const { stdout } = await execFileP('promtool', ['query', 'range', '--start', start, '--end', end, '--step', '60s', queryUrl, 'sum by (mode) (rate(demo_cpu_usage_seconds_total[5m]))']);
    expect(stdout).toMatch(/\{mode="idle"\} =>/);
    expect(stdout).toMatch(/\{mode="user"\} =>/);
  });
});

describe("Thanos' x-functions", () => {
  it('read each range with its baseline up to an hour before it, across the store gateway and the sidecars, replicas merged', { timeout: 120_000 }, async () => {
    const xQuerier = await startQuerier({
      httpAddress: '127.0.0.1:0',
      endpoints: [...sidecars.map((s) => s.grpcAddress), store.grpcAddress],
      replicaLabels: ['replica'],
      promqlCompat: 2,
      promqlFeatures: { xFunctions: true },
      logger: nopLogger,
    });
    try {
      // Steps on both sides of the block boundary; demo_intermittent_metric is missing every other minute.
      const start = boundary / 1000 - 600;
      const end = boundary / 1000 + 900;
      const names = ['demo_cpu_usage_seconds_total', 'demo_memory_usage_bytes', 'demo_intermittent_metric'];
      // The raw samples of the reference, from an hour and more before the first range on.
      const raw = await get(reference.url, '/api/v1/query', { query: `{__name__=~"${names.join('|')}"}[${end - start + 2 * 3600}s]`, time: String(end) });
      const storage = new MemoryStorage();
      for (const s of raw.body.data?.result as MatrixSeries[]) {
        const labels = Labels.from({ ...s.metric, cluster: 'c1' });
        for (const [t, v] of s.values) storage.append(labels, Math.round(t * 1000), Number(v));
      }
      const engine = new Engine({ compat: 2, xFunctions: true });
      const queries = [
        'xincrease(demo_cpu_usage_seconds_total[1m])',
        'xincrease(demo_cpu_usage_seconds_total[3s])',
        'sum by (mode) (xrate(demo_cpu_usage_seconds_total[2m]))',
        'xdelta(demo_memory_usage_bytes[30s] offset 1m)',
        'xincrease(demo_intermittent_metric[20s])',
        'xrate(demo_intermittent_metric[10s])',
      ];
      const failures: string[] = [];
      for (const query of queries) {
        // The querier's default engine is prometheus: the query asks for Thanos'.
        const got = await get(`http://${xQuerier.httpAddress}`, '/api/v1/query_range', { query, start: String(start), end: String(end), step: '30', engine: 'thanos' });
        const want = await engine.rangeQuery(storage, query, start * 1000, end * 1000, 30_000);
        if (want.value.type !== 'matrix') throw new Error(`${query}: ${want.value.type}`);
        const expected = want.value.series.map((s) => ({ metric: s.labels.toRecord(), values: s.floats.map((p): [number, string] => [p.t / 1000, formatValue(p.f)]) }));
        expect(expected.length, query).toBeGreaterThan(0);
        const diff = got.body.status === 'success' ? diffMatrices(expected, got.body.data?.result as MatrixSeries[]) : got.body.error;
        if (diff !== null) failures.push(`${query}: ${diff}`);
      }
      expect(failures).toEqual([]);
      // With Thanos' engine only, and off without --query.enable-x-functions, as in Thanos.
      const xrate = { query: 'xrate(demo_cpu_usage_seconds_total[1m])' };
      expect((await get(`http://${xQuerier.httpAddress}`, '/api/v1/query', { ...xrate, engine: 'prometheus' })).body.error).toContain('unknown function with name "xrate"');
      expect((await get(`http://${xQuerier.httpAddress}`, '/api/v1/query', xrate)).body.error).toContain('unknown function with name "xrate"');
      expect((await get(queryUrl, '/api/v1/query', { ...xrate, engine: 'thanos' })).body.error).toContain('unknown function with name "xrate"');
      expect(await get(queryUrl, '/api/v1/query', { ...xrate, engine: 'fast' })).toEqual({ code: 400, body: { status: 'error', errorType: 'bad_data', error: "'fast' bad engine" } });
    } finally {
      await xQuerier.stop();
    }
  });
});

describe('replicas failing', () => {
  it('answers unchanged with one replica down, with a warning; ABORT fails', async () => {
    const params = { query: 'sum by (instance) (rate(demo_cpu_usage_seconds_total[5m]))', ...window() };
    const before = await get(queryUrl, '/api/v1/query_range', params);
    // With its Prometheus down, the replica's sidecar still serves the blocks Prometheus wrote (the window
    // holds no head data), once it has loaded them: nothing is missing.
    const loaded = async () => /^strata_bucket_store_blocks_loaded [1-9]/m.test(await (sidecars[1] as Sidecar).registry.metrics());
    for (let i = 0; !(await loaded()); i++) {
      if (i === 100) throw new Error("the sidecar did not load its Prometheus' blocks");
      await new Promise((r) => setTimeout(r, 100));
    }
    await (replicas[1] as PrometheusHandle).stop();
    const promDown = await get(queryUrl, '/api/v1/query_range', params);
    expect(promDown.body.data).toEqual(before.body.data);
    expect(promDown.body.warnings).toBeUndefined();
    // The whole replica down.
    await (sidecars[1] as Sidecar).stop();
    const after = await get(queryUrl, '/api/v1/query_range', params);
    expect(after.body.status).toBe('success');
    expect(after.body.data).toEqual(before.body.data);
    expect(after.body.warnings?.length).toBeGreaterThan(0);
    const abort = await get(queryUrl, '/api/v1/query_range', { ...params, partial_response: 'false' });
    expect(abort.code).toBe(422);
    expect(abort.body.errorType).toBe('execution');
  });

  it('with the store gateway down: WARN answers from the sidecars with a warning, ABORT fails', async () => {
    const params = { query: 'demo_memory_usage_bytes offset 1h', ...window() };
    const before = await get(queryUrl, '/api/v1/query_range', params);
    expect((before.body.data?.result as unknown[]).length).toBeGreaterThan(0);
    await store.stop();
    // The querier notices at its next call to the endpoint; it need not wait for an Info refresh.
    const warn = await get(queryUrl, '/api/v1/query_range', params);
    expect(warn.code).toBe(200);
    expect(warn.body.warnings?.some((w) => w.includes(store.grpcAddress))).toBe(true);
    const abort = await get(queryUrl, '/api/v1/query_range', { ...params, partial_response: 'false' });
    expect(abort.code).toBe(422);
    expect(abort.body.errorType).toBe('execution');
  });
});
