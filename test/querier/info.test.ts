/**
 * PromQL's info() through the querier: the base series and their `target_info` series come from two
 * Prometheus 2.42 replicas (r1 7s later, missing a stretch) through their sidecars, deduplicated. Prometheus
 * 2.42 has no info(), so each answer is compared with r0's answer to the join info() stands for, written
 * with `group_left`: the data labels of the info series that shares `instance` and `job`, and a series
 * without one kept as it is unless a data label matcher needs a value.
 *
 * The same replicas show the penalty merge at the edges of what a query reads: r1's samples, 7 s after
 * r0's, are past Thanos' initial 5 s penalty, with which a merge starting at a window's start counts
 * both replicas' first samples.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { remoteWriteInOrder, type WrittenPoint } from '@strata/testing/remotewrite';
import { expectSameAnswer, query } from './answers.js';
import { replicaStack, startAcrossChunkCut, type ReplicaStack } from './replicas.js';

const STEP = 60_000;
const N = 60;

const SERIES: { labels: Record<string, string>; value: (i: number) => number }[] = [
  { labels: { __name__: 'app_requests_total', instance: 'a:80', job: 'api', path: '/x' }, value: (i) => 3 * i },
  { labels: { __name__: 'app_requests_total', instance: 'a:80', job: 'api', path: '/y' }, value: (i) => 5 * i },
  { labels: { __name__: 'app_requests_total', instance: 'b:80', job: 'api', path: '/x' }, value: (i) => 7 * i },
  // No target_info shares its identifying labels.
  { labels: { __name__: 'app_requests_total', instance: 'c:80', job: 'db', path: '/z' }, value: (i) => 11 * i },
  { labels: { __name__: 'target_info', instance: 'a:80', job: 'api', version: '1.2', region: 'eu' }, value: () => 1 },
  { labels: { __name__: 'target_info', instance: 'b:80', job: 'api', version: '1.3', region: 'us' }, value: () => 1 },
];

/** info() queries and the group_left joins that answer the same. */
const QUERIES: readonly [info: string, join: string][] = [
  [
    'info(rate(app_requests_total[5m]))',
    'rate(app_requests_total[5m]) * on (instance, job) group_left (version, region) target_info or on (instance, job) rate(app_requests_total[5m])',
  ],
  ['info(rate(app_requests_total[5m]), {region=~".+"})', 'rate(app_requests_total[5m]) * on (instance, job) group_left (region) target_info'],
  [
    'sum by (version) (info(increase(app_requests_total[10m]), {version=~".*"}))',
    'sum by (version) (increase(app_requests_total[10m]) * on (instance, job) group_left (version) target_info or on (instance, job) increase(app_requests_total[10m]))',
  ],
  [
    'info(app_requests_total)',
    'label_replace(app_requests_total * on (instance, job) group_left (version, region) target_info, "__name__", "app_requests_total", "", "") or on (instance, job) app_requests_total',
  ],
];

let stack: ReplicaStack;
let start: number;

/** r1's samples are 7s later and miss [20, 30): the penalty merge switches to r0's there. */
function points(replica: number, value: (i: number) => number): WrittenPoint[] {
  const out: WrittenPoint[] = [];
  for (let i = 0; i < N; i++) if (replica === 0 || i < 20 || i >= 30) out.push({ t: start + i * STEP + replica * 7000, v: value(i) });
  return out;
}

beforeAll(async () => {
  // 2.x's language with 3.x's experimental functions turned on (--enable-feature=promql-experimental-functions): info() with 2.42's rate.
  stack = await replicaStack(2, () => ({ extraArgs: ['--web.enable-remote-write-receiver'] }), undefined, { promqlCompat: 2, promqlFeatures: { experimentalFunctions: true } });
  // r1 is back from its gap just after the 2h chunk cut, in a chunk of its own that the windows ending
  // there cut off from its chunk before the gap: it must not pass for r0's continuation.
  start = startAcrossChunkCut(N, STEP, 30);
  await Promise.all(stack.replicas.map((r, replica) => remoteWriteInOrder(r.url, SERIES.map((s) => ({ labels: s.labels, points: points(replica, s.value) })))));
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

describe('info() through the querier over deduplicated replicas', () => {
  it('adds the target_info data labels as the group_left join does on one replica, in range and instant queries', async () => {
    const r0 = stack.replicas[0]!;
    const range = { start: String((start + 5 * STEP) / 1000), end: String((start + N * STEP) / 1000), step: '45' };
    for (const [info, join] of QUERIES) {
      const [got, want] = await Promise.all([query(stack.url, 'query_range', { query: info, ...range }), query(r0.url, 'query_range', { query: join, ...range })]);
      expect(want.data.result.length, join).toBeGreaterThan(0);
      expectSameAnswer(got, want, info);
      for (const i of [10, 25, 30, N - 1]) {
        const time = String((start + i * STEP + 30_000) / 1000);
        const [gotAt, wantAt] = await Promise.all([query(stack.url, 'query', { query: info, time }), query(r0.url, 'query', { query: join, time })]);
        expectSameAnswer(gotAt, wantAt, `${info} at sample ${i}`);
      }
    }
  });
});

describe('penalty deduplication of the same replicas', () => {
  it('counts each sample once at the start of every window, in range and instant queries, as one replica does', async () => {
    const r0 = stack.replicas[0]!;
    const range = { start: String((start + 5 * STEP) / 1000), end: String((start + N * STEP) / 1000), step: '60' };
    for (const q of ['count_over_time(app_requests_total[5m])', 'changes(app_requests_total[10m])', 'app_requests_total[3m]']) {
      if (!q.endsWith(']')) expectSameAnswer(await query(stack.url, 'query_range', { query: q, ...range }), await query(r0.url, 'query_range', { query: q, ...range }), q);
      for (const i of [10, 25, 30, N - 1]) {
        const time = String((start + i * STEP + 30_000) / 1000);
        const [got, want] = await Promise.all([query(stack.url, 'query', { query: q, time }), query(r0.url, 'query', { query: q, time })]);
        expectSameAnswer(got, want, `${q} at sample ${i}`);
      }
    }
  });
});
