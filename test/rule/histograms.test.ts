// Recording rules over native histograms, end to end: a Prometheus 2.42 (native histograms on) holds
// counter histograms, a sidecar and a querier serve them, and Strata's ruler evaluates rules whose results
// are histograms through the querier's Query API (--grpc-query-endpoint). A stateful ruler stores each
// result exactly as the querier answered it at that evaluation's time (whole seconds, as Thanos' Query
// API carries it), in histogram chunks served by its StoreAPI; a stateless one remote-writes them
// (send_native_histograms) into a second Prometheus 2.42, which then holds the same histograms. A ruler
// asking only the HTTP API fails such a rule, saying why, instead of recording something else.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseRemoteWriteConfig, start as startRuler, type Ruler, type RulerConfig } from '@strata/rule';
import { nopLogger } from '@strata/runtime';
import { fromStoreSeries, MatcherType, queryRequest, seriesRequest, StoreClient } from '@strata/storeapi';
import { sleep } from '@strata/testing/process';
import { startPrometheus, type PrometheusHandle } from '@strata/testing/prometheus';
import { remoteWrite, type WrittenSeries } from '@strata/testing/remotewrite';
import { CounterResetHint, type FloatHistogram, type Histogram, Labels, ValueType } from '@strata/tsdb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replicaStack, type ReplicaStack } from '../querier/replicas.js';
import { until } from '../receive/compare.js';

const STEP = 15_000;
const N = 80;
const RULES = [
  'groups:',
  '  - name: histograms',
  '    interval: 1s',
  '    rules:',
  '      - record: path:rpc_duration_seconds:rate30m',
  '        expr: sum by (path) (rate(rpc_duration_seconds[30m]))',
  '      - record: rpc_duration_seconds:sum',
  '        expr: sum(last_over_time(rpc_duration_seconds[30m]))',
  '      - record: rpc_duration_seconds:count',
  '        expr: histogram_count(sum(last_over_time(rpc_duration_seconds[30m])))',
  '',
].join('\n');
const EXPRS: Record<string, string> = {
  'path:rpc_duration_seconds:rate30m': 'sum by (path) (rate(rpc_duration_seconds[30m]))',
  'rpc_duration_seconds:sum': 'sum(last_over_time(rpc_duration_seconds[30m]))',
};

let stack: ReplicaStack;
let target: PrometheusHandle;
let ruleFile: string;
let base: Omit<RulerConfig, 'storage'>;
const rulers: Ruler[] = [];

/** An integer counter histogram of schema 2 growing over more buckets, shifted by `path`. */
function counter(i: number, path: number): Histogram {
  const n = i + 1 + path;
  const spread = Math.min(6, 1 + Math.floor(n / 15));
  const buckets = Array.from({ length: spread }, (_, k) => n * (k + 1 + path));
  const count = buckets.reduce((a, b) => a + b, 0) + n;
  return {
    counterResetHint: CounterResetHint.Unknown, schema: 2, zeroThreshold: 2 ** -128, zeroCount: n, count, sum: count * 0.21,
    positiveSpans: [{ offset: path, length: spread }], negativeSpans: [], positiveBuckets: buckets.map((b, k) => (k === 0 ? b : b - (buckets[k - 1] as number))), negativeBuckets: [], customValues: [],
  };
}

beforeAll(async () => {
  stack = await replicaStack(1, () => ({ extraArgs: ['--enable-feature=native-histograms', '--web.enable-remote-write-receiver'] }));
  const r0 = stack.replicas[0] as PrometheusHandle;
  // 20 minutes up to half a minute ago, in order.
  const start = Date.now() - 30_000 - N * STEP;
  for (let i = 0; i < N; i++) {
    const t = start + i * STEP;
    const series: WrittenSeries[] = [0, 1].map((p) => ({ labels: { __name__: 'rpc_duration_seconds', path: `/${p}` }, histograms: [{ t, h: counter(i, p) }] }));
    await remoteWrite(r0.url, series);
  }
  target = await startPrometheus({ dir: join(stack.dir, 'target'), extraArgs: ['--enable-feature=native-histograms', '--web.enable-remote-write-receiver'] });
  ruleFile = join(stack.dir, 'rules.yml');
  await writeFile(ruleFile, RULES);
  base = {
    ruleFiles: [ruleFile], evalIntervalMs: 1_000, queryOffsetMs: 0, resendDelayMs: 60_000,
    queryAddresses: [], grpcQueryEndpoints: [stack.querier.grpcAddress as string], queryMethod: 'POST',
    alertmanagers: [], alertLabelDrop: [], alertQueryUrl: '', externalLabels: Labels.from({ ruler: 'r' }),
    forOutageToleranceMs: 3_600_000, forGracePeriodMs: 0, restoreIgnoredLabels: [], promqlCompat: 3,
    httpAddress: '127.0.0.1:0', grpcAddress: '127.0.0.1:0', logger: nopLogger,
  };
}, 120_000);

afterAll(async () => {
  for (const r of rulers) await r.stop();
  await target?.stop();
  await stack?.stop();
});

async function ruler(config: RulerConfig): Promise<Ruler> {
  const r = await startRuler(config);
  rulers.push(r);
  return r;
}

/** The querier's answer to `expr` at `timeMs` cut to whole seconds, as the ruler asked it: each series' histogram by its labels. */
async function querierAnswer(expr: string, timeMs: number): Promise<Map<string, FloatHistogram>> {
  const client = new StoreClient(stack.querier.grpcAddress as string);
  try {
    const answer = await client.query(queryRequest({ query: expr, timeSeconds: Math.floor(timeMs / 1000), enableDedup: true }));
    return new Map(answer.series.map((s) => [Labels.from(s.labels).toString(), (s.histograms[0] as { h: FloatHistogram }).h]));
  } finally {
    client.close();
  }
}

describe('recording rules over native histograms', () => {
  it('stores each result as the querier answered it, in histogram chunks', async () => {
    const r = await ruler({ ...base, storage: { tsdb: { dir: join(stack.dir, 'stateful'), blockDurationMs: 2 * 3_600_000, retentionMs: 0 } } });
    await sleep(3_500);
    const client = new StoreClient(r.grpcAddress);
    let checked = 0;
    try {
      for await (const f of client.series(seriesRequest({ minTime: 0, maxTime: Date.now() + 60_000, matchers: [{ type: MatcherType.RE, name: '__name__', value: 'path:.*|rpc_duration_seconds:.*' }] }))) {
        if (!('series' in f)) continue;
        const labels = Labels.from(f.series.labels);
        const name = labels.get('__name__');
        for (const c of fromStoreSeries(f.series).chunks) {
          const it = c.chunk.iterator();
          for (let vt = it.next(); vt !== ValueType.None; vt = it.next()) {
            if (name === 'rpc_duration_seconds:count') {
              expect(vt).toBe(ValueType.Float);
              continue;
            }
            expect(vt, name).toBe(ValueType.FloatHistogram);
            const want = (await querierAnswer(EXPRS[name] as string, it.atT())).get(labels.without(['__name__', 'ruler']).toString());
            expect(want, `${labels.toString()} at ${it.atT()}`).toBeDefined();
            expect(it.atFloatHistogram!().equals(want as FloatHistogram), `${labels.toString()} at ${it.atT()}`).toBe(true);
            checked++;
          }
        }
      }
    } finally {
      client.close();
    }
    // Two evaluations at least of three histogram series.
    expect(checked).toBeGreaterThanOrEqual(6);
  });

  it('remote-writes them with send_native_histograms, which Prometheus stores as histograms', async () => {
    const config = parseRemoteWriteConfig(`remote_write: [{url: "${target.url}/api/v1/write", send_native_histograms: true, queue_config: {batch_send_deadline: 100ms}}]`);
    await ruler({ ...base, externalLabels: Labels.from({ ruler: 's' }), storage: { remoteWrite: config } });
    await until('recorded histograms in Prometheus', async () => (await target.api<{ result: unknown[] }>('query', { query: 'path:rpc_duration_seconds:rate30m' })).result.length === 2);
    const stored = await target.api<{ result: { metric: Record<string, string>; values?: [number, string][]; histograms?: [number, { count: string }][] }[] }>('query', { query: 'path:rpc_duration_seconds:rate30m[1m]' });
    expect(stored.result).toHaveLength(2);
    for (const s of stored.result) {
      expect(s.values, JSON.stringify(s.metric)).toBeUndefined();
      expect(s.histograms?.length, JSON.stringify(s.metric)).toBeGreaterThan(0);
      for (const [t, h] of s.histograms ?? []) {
        const want = (await querierAnswer(EXPRS['path:rpc_duration_seconds:rate30m'] as string, t * 1000)).get(Labels.from({ path: s.metric.path as string }).toString());
        expect(Number(h.count), `${JSON.stringify(s.metric)} at ${t}`).toBeCloseTo((want as FloatHistogram).count, 9);
      }
    }
  });

  it('fails a histogram rule asked over the HTTP API only, saying why', async () => {
    const r = await ruler({ ...base, grpcQueryEndpoints: [], queryAddresses: [stack.querier.httpAddress], storage: { tsdb: { dir: join(stack.dir, 'http-only'), blockDurationMs: 2 * 3_600_000, retentionMs: 0 } } });
    type Rules = { data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] } };
    const rules = async () => ((await (await fetch(`http://${r.httpAddress}/api/v1/rules`)).json()) as Rules).data.groups[0]!.rules;
    await until('the HTTP-only ruler evaluating its rules', async () => (await rules()).every((x) => x.health !== 'unknown'));
    const byName = Object.fromEntries((await rules()).map((x) => [x.name, x]));
    expect(byName['path:rpc_duration_seconds:rate30m']).toMatchObject({ health: 'err', lastError: expect.stringContaining('--grpc-query-endpoint') });
    // A float result over the same histograms is recorded as ever.
    expect(byName['rpc_duration_seconds:count']).toMatchObject({ health: 'ok' });
  });
});
