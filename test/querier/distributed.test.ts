// --query.mode=distributed: two clusters' histories in buckets of their own, a store gateway and a leaf
// querier over each (the eu one twice, as an HA pair of leaves), and a central querier in distributed
// mode over the leaves. Its answers must be those of Prometheus 2.42 holding both clusters' data (the
// cluster an ordinary label there), whether the central querier pushes a query down, splits it or
// keeps it; the leaves must be asked through the Query API where the plan says so; a leaf that is down
// follows the partial response strategy.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { TimeBound } from '@strata/block';
import { newBucket, parseBucketConfig, type Bucket } from '@strata/objstore';
import { start as startQuerier, type Querier } from '@strata/querier';
import { nopLogger } from '@strata/runtime';
import { start as startStore, type Store } from '@strata/store';
import { tempDir } from '@strata/testing/process';
import { startPrometheusOn, type PrometheusHandle } from '@strata/testing/prometheus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promtoolBlocks, randomHistory, uploadWithLabels } from '../store/fixtures.js';
import pLimit from 'p-limit';
import { answerDiff, apiGet, expectSameAnswer, query, type Answer } from './answers.js';
import { randomQueries, type QueryVocabulary } from './randomqueries.js';

const CLUSTERS = ['eu', 'us'] as const;
const histories = { eu: randomHistory(41, 3), us: randomHistory(42, 3) };
const start = Math.ceil(histories.eu.start / 60_000) * 60_000 + 10 * 60_000;
const end = Math.floor(histories.eu.end / 60_000) * 60_000;

let dir: { path: string; cleanup: () => Promise<void> };
const buckets: Bucket[] = [];
const stores: Store[] = [];
const leaves: Record<'eu' | 'eu2' | 'us', Querier> = {} as never;
let central: Querier;
let prometheus: PrometheusHandle;

/** Both clusters' series in one OpenMetrics text, each with its cluster as a label. */
function combined(): string {
  const families = new Map<string, string[]>();
  for (const cluster of CLUSTERS) {
    for (const line of histories[cluster].openMetrics.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const name = line.slice(0, line.indexOf('{'));
      const lines = families.get(name) ?? [];
      lines.push(line.replace('{', `{cluster="${cluster}",`));
      families.set(name, lines);
    }
  }
  return [...[...families].flatMap(([name, lines]) => [`# TYPE ${name} gauge`, ...lines]), '# EOF', ''].join('\n');
}

beforeAll(async () => {
  dir = await tempDir('strata-distributed-');
  for (const cluster of CLUSTERS) {
    await mkdir(join(dir.path, cluster, 'bucket'), { recursive: true });
    const bucket = newBucket(parseBucketConfig(`type: FILESYSTEM\nconfig:\n  directory: ${join(dir.path, cluster, 'bucket')}\n`));
    buckets.push(bucket);
    for (const b of await promtoolBlocks(histories[cluster].openMetrics, join(dir.path, cluster, 'blocks'))) await uploadWithLabels(bucket, b, { cluster });
    stores.push(await startStore({ bucket, dataDir: join(dir.path, cluster, 'store'), grpcAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', logger: nopLogger }));
  }
  // Thanos' x-functions on: leaves evaluate what the central querier, whose default engine is Thanos', pushes down to them.
  const leaf = (store: Store) =>
    startQuerier({ httpAddress: '127.0.0.1:0', grpcAddress: '127.0.0.1:0', endpoints: [store.grpcAddress], promqlCompat: 2, promqlFeatures: { xFunctions: true }, logger: nopLogger });
  leaves.eu = await leaf(stores[0] as Store);
  leaves.eu2 = await leaf(stores[0] as Store);
  leaves.us = await leaf(stores[1] as Store);
  central = await startQuerier({
    httpAddress: '127.0.0.1:0',
    endpoints: Object.values(leaves).map((q) => q.grpcAddress as string),
    distributed: { partitionLabels: [] },
    promqlCompat: 2,
    promqlFeatures: { xFunctions: true },
    promqlEngine: 'thanos',
    logger: nopLogger,
  });
  const reference = await promtoolBlocks(combined(), join(dir.path, 'reference'));
  prometheus = await startPrometheusOn(reference, { dir: join(dir.path, 'prometheus'), blockDuration: '2h' });
}, 180_000);

afterAll(async () => {
  await prometheus?.stop();
  await central?.stop();
  for (const q of Object.values(leaves)) await q.stop();
  for (const s of stores) await s.stop();
  for (const b of buckets) await b.close();
  await dir?.cleanup();
});

/** A counter's value in a /metrics text (0 when absent). */
async function counter(base: string, series: string): Promise<number> {
  const text = await (await fetch(`http://${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

const handled = (q: Querier, service: string, method: string) => counter(q.httpAddress, `grpc_server_handled_total{grpc_service="${service}",grpc_method="${method}",grpc_type="server_stream",grpc_code="OK"}`);
const plans = (mode: string) => counter(central.httpAddress, `strata_query_distributed_queries_total{mode="${mode}"}`);

const QUERIES = [
  // Pushed down whole.
  'rh_requests',
  'rate(rh_requests[5m])',
  'sum by (cluster, job) (rh_latency)',
  'rh_latency / rh_temp',
  'rh_temp > bool 50',
  'max_over_time(rate(rh_requests[5m])[30m:5m])',
  // Split.
  'sum(rate(rh_requests[5m]))',
  'sum by (job) (rate(rh_requests[5m]))',
  'count(rh_temp)',
  'count by (job) (rh_temp > 50)',
  'max by (instance) (rh_latency)',
  'sum(rh_latency) / sum(rh_temp)',
  'rh_latency / on (job, instance, path) group_left sum by (job, instance, path) (rh_temp)',
  'sum(rh_nonexistent) or vector(0)',
  // Operand pushed down, the rest here.
  'avg by (job) (rh_temp)',
  'quantile(0.9, rh_temp)',
  'stddev(rh_latency)',
  // Kept here.
  'max_over_time(sum(rh_temp)[30m:5m])',
  'absent(rh_nonexistent{job="x"})',
];

const VOCABULARY: QueryVocabulary = {
  counters: [['rh_requests', ['path']]],
  gauges: [['rh_latency', ['path']], ['rh_temp', ['path']]],
  common: ['instance', 'job', 'cluster'],
  values: { job: ['api', 'db', 'web'], instance: ['i0', 'i1', 'i2', 'i3'], path: ['/p0', '/p1', '/p3'], cluster: ['eu', 'us'] },
  labels: ['cluster', 'job', 'instance', 'path', 'le', 'nope'],
};

/** Where `querier` answers `queries` otherwise than Prometheus: instant queries and ranges at steps of 15s to 5m, at whole seconds, as the Query API carries them. */
async function randomDifferences(querier: Querier, queries: readonly string[]): Promise<string[]> {
  const failures: string[] = [];
  const limit = pLimit(2);
  await Promise.all(
    queries.map((q, i) =>
      limit(async () => {
        const step = [15, 60, 300][i % 3] as number;
        const [path, params] =
          i % 4 === 0
            ? ['/api/v1/query', { query: q, time: String(end / 1000 - 600 - i) }]
            : ['/api/v1/query_range', { query: q, start: String(start / 1000 + i), end: String(end / 1000 - i), step: String(step) }];
        const [want, got] = await Promise.all([apiGet(prometheus.url, path, params), apiGet(`http://${querier.httpAddress}`, path, params)]);
        const diff = answerDiff(want, got, []);
        if (diff !== null) failures.push(`${path} ${JSON.stringify(params)}: ${diff}`);
      }),
    ),
  );
  return failures;
}

describe('--query.mode=distributed', () => {
  it('answers range queries as Prometheus does, the HA pair of eu leaves counted once', async () => {
    const before = await plans('distributed');
    const params = { start: String(start / 1000), end: String(end / 1000), step: '60' };
    for (const q of QUERIES) {
      const [got, want] = await Promise.all([query(`http://${central.httpAddress}`, 'query_range', { query: q, ...params }), query(prometheus.url, 'query_range', { query: q, ...params })]);
      expect((want as Answer & { data: { result: unknown[] } }).data.result.length, q).toBeGreaterThan(0);
      expectSameAnswer(got, want, q, []);
    }
    // Every query but the last two had parts pushed down.
    expect((await plans('distributed')) - before).toBe(QUERIES.length - 2);
  });

  it('answers instant queries as Prometheus does, at whole seconds through the leaves and at others here', async () => {
    const local = await plans('local');
    for (const at of [end - 600_000, end - 1_234_567.5]) {
      for (const q of [...QUERIES, 'topk(3, rh_temp)', 'bottomk by (job) (2, rh_latency)', 'sort_desc(sum by (cluster, job) (rh_temp))', 'count_values("v", round(rh_temp / 10))']) {
        const [got, want] = await Promise.all([query(`http://${central.httpAddress}`, 'query', { query: q, time: String(at / 1000) }), query(prometheus.url, 'query', { query: q, time: String(at / 1000) })]);
        expectSameAnswer(got, want, `${q} at ${at}`, []);
      }
    }
    // At a time that is not a whole second, every query was evaluated here.
    expect((await plans('local')) - local).toBeGreaterThanOrEqual(QUERIES.length + 4);
  });

  it('asks the leaves through the Query API, and no raw data of them for a query pushed down whole or split, and only the leaves its selectors can match', async () => {
    const leafSeries = () => Promise.all(Object.values(leaves).map((q) => handled(q, 'thanos.Store', 'Series')));
    const leafQueries = () => Promise.all(Object.values(leaves).map((q) => handled(q, 'thanos.Query', 'QueryRange')));
    const [series, queries] = [await leafSeries(), await leafQueries()];
    await query(`http://${central.httpAddress}`, 'query_range', { query: 'sum by (job) (rate(rh_requests[5m]))', start: String(start / 1000), end: String(end / 1000), step: '60' });
    expect(await leafSeries()).toEqual(series);
    expect((await leafQueries()).map((n, i) => n - (queries[i] as number))).toEqual([1, 1, 1]);
    // A query of one cluster asks only that cluster's leaves (eu, eu2, us in order).
    const asked = await leafQueries();
    await query(`http://${central.httpAddress}`, 'query_range', { query: 'sum by (job) (rate(rh_requests{cluster="eu"}[5m]))', start: String(start / 1000), end: String(end / 1000), step: '60' });
    expect((await leafQueries()).map((n, i) => n - (asked[i] as number))).toEqual([1, 1, 0]);
  });

  it("explains a query as its plan, the leaf query asked of each leaf, and analyzes it with the leaves' answer times", async () => {
    type Node = { name: string; executionTime?: string; totalSamples?: number; children?: Node[] };
    const params = { query: 'sum by (job) (rate(rh_requests[5m])) / 2', start: String(start / 1000), end: String(end / 1000), step: '60' };
    const before = [await plans('distributed'), await plans('local')];
    const explained = await (await fetch(`http://${central.httpAddress}/api/v1/query_range_explain?${new URLSearchParams(params)}`)).json() as { data: Node };
    // Explaining is not a query.
    expect([await plans('distributed'), await plans('local')]).toEqual(before);
    const remoteOf = (root: Node) => ((root.children as Node[])[0] as Node).children?.[0] as Node;
    expect(explained.data.name).toBe('[binary] /');
    expect(explained.data.children?.[0]?.name).toBe('[aggregate] sum by (job)');
    const remote = remoteOf(explained.data);
    expect(remote.name).toMatch(/^\[remoteExec\] sum by \(.*job.*\) \(rate\(rh_requests\[5m\]\)\)$/);
    const iso = (ms: number) => new Date(ms).toISOString();
    expect(remote.children?.map((c) => c.name).sort()).toEqual(
      [leaves.eu, leaves.eu2, leaves.us].map((q) => `[remoteEngine] ${q.grpcAddress as string} ${iso(start)} to ${iso(end)}`).sort(),
    );
    const analyzed = await (await fetch(`http://${central.httpAddress}/api/v1/query_range?${new URLSearchParams({ ...params, analyze: 'true' })}`)).json() as { data: { analysis: Node } };
    const leavesAnalyzed = remoteOf(analyzed.data.analysis).children as Node[];
    expect(leavesAnalyzed).toHaveLength(3);
    for (const leaf of leavesAnalyzed) {
      expect(leaf.executionTime, leaf.name).toMatch(/^\d+(\.\d+)?(µs|ms|s)$/);
      expect(leaf.totalSamples, leaf.name).toBeGreaterThan(0);
    }
    expect(analyzed.data.analysis.executionTime).toMatch(/^\d+(\.\d+)?(µs|ms|s)$/);
  });

  it('answers 300 seeded random queries as Prometheus does, errors included, most of them in part through the leaves', { timeout: 300_000 }, async () => {
    const queries = randomQueries(42, 300, VOCABULARY);
    const before = await plans('distributed');
    const failures = await randomDifferences(central, queries);
    expect(failures, `${failures.length} of ${queries.length} queries differ:\n${failures.slice(0, 20).join('\n')}`).toEqual([]);
    expect((await plans('distributed')) - before).toBeGreaterThan(queries.length / 2);
  });

  it("pushes Thanos' x-functions down to the leaves, asked for Thanos' engine, answering as a querier in local mode", async () => {
    const local = await startQuerier({
      httpAddress: '127.0.0.1:0', endpoints: stores.map((st) => st.grpcAddress), promqlCompat: 2, promqlFeatures: { xFunctions: true }, promqlEngine: 'thanos', logger: nopLogger,
    });
    try {
      const before = await plans('distributed');
      for (const q of ['xincrease(rh_requests[5m])', 'sum by (job) (xrate(rh_requests[10m]))', 'max(xdelta(rh_temp[2m]))']) {
        const params = { query: q, start: String(start / 1000), end: String(end / 1000), step: '60' };
        const [want, got] = await Promise.all([apiGet(`http://${local.httpAddress}`, '/api/v1/query_range', params), apiGet(`http://${central.httpAddress}`, '/api/v1/query_range', params)]);
        expect((want.body.data?.result as unknown[]).length, q).toBeGreaterThan(0);
        expect(answerDiff(want, got, []), q).toBeNull();
      }
      expect((await plans('distributed')) - before).toBe(3);
    } finally {
      await local.stop();
    }
  });

  it("asks leaves of one partition over different times for the steps each holds whole, and evaluates here where none does", async () => {
    // us over the last hour only (as a leaf over a region's sidecars beside one over its history), and over all but it.
    const storeOf = (name: string, range: { minTime?: TimeBound; maxTime?: TimeBound }) =>
      startStore({ bucket: buckets[1] as Bucket, dataDir: join(dir.path, 'us', name), grpcAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', ...range, logger: nopLogger });
    const recent = await storeOf('store-recent', { minTime: TimeBound.at(end - 3_600_000) });
    const history = await storeOf('store-history', { maxTime: TimeBound.at(end - 3_600_000) });
    const leafOf = (st: Store) => startQuerier({ httpAddress: '127.0.0.1:0', grpcAddress: '127.0.0.1:0', endpoints: [st.grpcAddress], promqlCompat: 2, logger: nopLogger });
    const recentLeaf = await leafOf(recent);
    const historyLeaf = await leafOf(history);
    const centralOver = (us: Querier[]) =>
      startQuerier({
        httpAddress: '127.0.0.1:0',
        // The recent leaf first: its answers win at the steps it is asked for.
        endpoints: [leaves.eu.grpcAddress as string, ...us.map((q) => q.grpcAddress as string)],
        distributed: { partitionLabels: ['cluster'] },
        promqlCompat: 2,
        logger: nopLogger,
      });
    const stitched = await centralOver([recentLeaf, leaves.us]);
    const split = await centralOver([recentLeaf, historyLeaf]);
    try {
      const params = { start: String(start / 1000), end: String(end / 1000), step: '60' };
      for (const central of [stitched, split]) {
        for (const q of ['sum by (job) (rate(rh_requests[5m]))', 'rh_temp', 'max_over_time(rh_temp[30m:5m])']) {
          const [got, want] = await Promise.all([query(`http://${central.httpAddress}`, 'query_range', { query: q, ...params }), query(prometheus.url, 'query_range', { query: q, ...params })]);
          expectSameAnswer(got, want, q, []);
        }
      }
      // Over the whole us leaf and the recent one every step is held by one of them, the recent one asked
      // for its last hour; not for the subquery, which reads on a grid of its own: a leaf is asked for
      // that only if it holds what every step reads.
      expect(await counter(stitched.httpAddress, 'strata_query_distributed_queries_total{mode="distributed"}')).toBe(3);
      expect(await handled(recentLeaf, 'thanos.Query', 'QueryRange')).toBe(2);
      // Over the history and the recent hour, the steps whose windows cross the boundary are held by neither.
      expect(await counter(split.httpAddress, 'strata_query_distributed_queries_total{mode="local"}')).toBe(3);
      // Random queries (offsets, `@`, subqueries, ranges around the boundary) over both.
      const queries = randomQueries(7, 150, VOCABULARY);
      for (const central of [stitched, split]) {
        const failures = await randomDifferences(central, queries);
        expect(failures, `${failures.length} of ${queries.length} queries differ:\n${failures.slice(0, 20).join('\n')}`).toEqual([]);
      }
      expect(await handled(recentLeaf, 'thanos.Query', 'QueryRange')).toBeGreaterThan(20);
    } finally {
      await split.stop();
      await stitched.stop();
      await recentLeaf.stop();
      await historyLeaf.stop();
      await recent.stop();
      await history.stop();
    }
  });

  it('answers with the other leaves and a warning when one is down under partial response, and fails without', async () => {
    const params = { query: 'sum by (cluster) (rh_temp)', time: String((end - 600_000) / 1000) };
    await leaves.us.stop();
    const partial = (await query(`http://${central.httpAddress}`, 'query', params)) as Answer & { warnings?: string[] };
    expect(partial.status).toBe('success');
    expect(partial.data.result.map((r) => (r.metric as Record<string, string>).cluster)).toEqual(['eu']);
    expect(partial.warnings?.join()).toMatch(/remote query .* on 127\.0\.0\.1:\d+/);
    const strict = await fetch(`http://${central.httpAddress}/api/v1/query?${new URLSearchParams({ ...params, partial_response: 'false' })}`);
    expect(strict.status).toBe(422);
    // Once its health check has failed too, it is still named.
    await central.endpoints.refresh();
    const later = (await query(`http://${central.httpAddress}`, 'query', params)) as Answer & { warnings?: string[] };
    expect(later.data.result.map((r) => (r.metric as Record<string, string>).cluster)).toEqual(['eu']);
    expect(later.warnings?.join()).toMatch(/remote query on 127\.0\.0\.1:\d+: endpoint unavailable/);
    expect((await fetch(`http://${central.httpAddress}/api/v1/query?${new URLSearchParams({ ...params, partial_response: 'false' })}`)).status).toBe(422);
  });
});
