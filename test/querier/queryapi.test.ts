// Thanos' Query API (thanos.Query over gRPC) of a querier over a Prometheus 2.42 and its sidecar, and over
// an endpoint that is down: Info advertises it, answers match the querier's HTTP API, bad requests are
// InvalidArgument with the HTTP API's messages, and failures follow the partial response strategy as
// Thanos' do. Answers compared with Prometheus itself, native histograms included, are in histograms.test.ts.
import { start as startQuerier, type Querier } from '@strata/querier';
import { nopLogger } from '@strata/runtime';
import { GrpcStatus, queryRangeRequest, queryRequest, StoreClient, type QueryAnswer } from '@strata/storeapi';
import { freePort, sleep } from '@strata/testing/process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replicaStack, type ReplicaStack } from './replicas.js';

let stack: ReplicaStack;
/** The stack's querier, with an endpoint that never answers beside the sidecar. */
let withDown: Querier;
let client: StoreClient;
let downClient: StoreClient;
let now: number;

beforeAll(async () => {
  stack = await replicaStack(1, () => ({ scrapeSelf: true, scrapeInterval: '1s' }), async (prom) => (await prom.api<{ result: unknown[] }>('query', { query: 'prometheus_http_requests_total' })).result.length > 0);
  withDown = await startQuerier({
    httpAddress: '127.0.0.1:0',
    grpcAddress: '127.0.0.1:0',
    endpoints: [stack.sidecars[0]?.grpcAddress as string],
    // Strict: asked even though its Info fails.
    strictEndpoints: [`127.0.0.1:${await freePort()}`],
    replicaLabels: ['replica'],
    logger: nopLogger,
  });
  client = new StoreClient(stack.querier.grpcAddress as string);
  downClient = new StoreClient(withDown.grpcAddress as string);
  // A whole second (as the Query API takes times) with the first scrapes behind it.
  for (;;) {
    now = Math.floor(Date.now() / 1000);
    if ((await http(stack.url, 'query', { query: 'prometheus_http_requests_total', time: String(now) })).data.result.length > 0) break;
    await sleep(200);
  }
}, 60_000);

afterAll(async () => {
  client?.close();
  downClient?.close();
  await withDown?.stop();
  await stack?.stop();
});

async function http(base: string, path: string, params: Record<string, string>): Promise<{ status: string; data: { result: { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }[] }; error?: string }> {
  return (await (await fetch(`${base}/api/v1/${path}?${new URLSearchParams(params)}`)).json()) as never;
}

const metricOf = (s: QueryAnswer['series'][number]) => Object.fromEntries(s.labels.map((l) => [l.name, l.value]));

describe("the querier's Query API", () => {
  it('is advertised in Info', async () => {
    expect((await client.info()).query).toBe(true);
  });

  it("answers instant and range queries as the querier's HTTP API does", async () => {
    const q = 'sum by (job, handler) (prometheus_http_requests_total)';
    const [instant, want] = await Promise.all([client.query(queryRequest({ query: q, timeSeconds: now, enableDedup: true })), http(stack.url, 'query', { query: q, time: String(now) })]);
    expect(instant.series.map((s) => ({ metric: metricOf(s), value: [s.samples[0]?.timestamp as number / 1000, String(s.samples[0]?.value)] }))).toEqual(want.data.result);
    expect(instant.stats?.samplesTotal).toBeGreaterThan(0);

    const params = { startTimeSeconds: now - 120, endTimeSeconds: now, intervalSeconds: 15 };
    const [range, wantRange] = await Promise.all([
      client.queryRange(queryRangeRequest({ query: 'prometheus_http_requests_total * 2', ...params, enableDedup: true })),
      http(stack.url, 'query_range', { query: 'prometheus_http_requests_total * 2', start: String(params.startTimeSeconds), end: String(now), step: '15' }),
    ]);
    expect(range.series.length).toBeGreaterThan(0);
    expect(range.series.map((s) => ({ metric: metricOf(s), values: s.samples.map((p) => [p.timestamp / 1000, String(p.value)]) }))).toEqual(wantRange.data.result);

    // A scalar: one series without labels.
    expect((await client.query(queryRequest({ query: '1 + 2', timeSeconds: now }))).series).toEqual([{ labels: [], samples: [{ value: 3, timestamp: now * 1000 }], histograms: [] }]);
    // The replica label stays without dedup and goes with it.
    const up = (dedup: boolean) => client.query(queryRequest({ query: 'up{job="prometheus"}', timeSeconds: now, enableDedup: dedup }));
    expect(metricOf((await up(false)).series[0]!).replica).toBe('r0');
    expect(metricOf((await up(true)).series[0]!).replica).toBeUndefined();
    // The request's replica labels replace the querier's.
    expect(metricOf((await client.query(queryRequest({ query: 'up{job="prometheus"}', timeSeconds: now, enableDedup: true, replicaLabels: ['cluster'] }))).series[0]!)).toMatchObject({ replica: 'r0' });
  });

  it('refuses what it cannot evaluate with InvalidArgument, in the HTTP API words', async () => {
    const bad = await http(stack.url, 'query', { query: 'sum(', time: String(now) });
    await expect(client.query(queryRequest({ query: 'sum(', timeSeconds: now }))).rejects.toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT, details: bad.error?.replace(/^invalid parameter "query": /, '') });
    await expect(client.queryRange(queryRangeRequest({ query: 'up', startTimeSeconds: now - 60, endTimeSeconds: now, intervalSeconds: 0 }))).rejects.toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT, details: expect.stringContaining('zero or negative query resolution step') });
    await expect(client.queryRange(queryRangeRequest({ query: 'up', startTimeSeconds: now, endTimeSeconds: now - 60, intervalSeconds: 15 }))).rejects.toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT });
    await expect(client.queryRange(queryRangeRequest({ query: 'up[1m]', startTimeSeconds: now - 60, endTimeSeconds: now, intervalSeconds: 15 }))).rejects.toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT, details: expect.stringContaining('range vector') });
    await expect(client.query(queryRequest({ query: 'up', engine: 7 as never }))).rejects.toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT, details: 'invalid engine parameter' });
  });

  it("fails an evaluation error with Aborted, or answers it as a warning under partial response, as Thanos' does", async () => {
    const q = 'label_replace(up, "x", "$1", "job", "(")';
    await expect(client.query(queryRequest({ query: q, timeSeconds: now }))).rejects.toMatchObject({ code: GrpcStatus.ABORTED });
    const partial = await client.query(queryRequest({ query: q, timeSeconds: now, enablePartialResponse: true }));
    expect(partial.series).toEqual([]);
    expect(partial.warnings).toEqual([expect.stringContaining('label_replace')]);
    await expect(client.queryRange(queryRangeRequest({ query: q, startTimeSeconds: now - 60, endTimeSeconds: now, intervalSeconds: 15, enablePartialResponse: true }))).rejects.toMatchObject({ code: GrpcStatus.ABORTED });
  });

  it('answers with the endpoints that answered and a warning for one that is down under partial response, and fails without', async () => {
    const partial = await downClient.query(queryRequest({ query: 'up{job="prometheus"}', timeSeconds: now, enableDedup: true, enablePartialResponse: true }));
    expect(partial.series.map(metricOf)).toEqual([{ __name__: 'up', cluster: 'c1', instance: expect.any(String), job: 'prometheus' }]);
    expect(partial.warnings.join()).toMatch(/127\.0\.0\.1:\d+/);
    await expect(downClient.query(queryRequest({ query: 'up', timeSeconds: now, enableDedup: true }))).rejects.toMatchObject({ code: GrpcStatus.ABORTED, details: expect.stringMatching(/127\.0\.0\.1:\d+/) });
    await expect(downClient.queryRange(queryRangeRequest({ query: 'up', startTimeSeconds: now - 60, endTimeSeconds: now, intervalSeconds: 15, enableDedup: true }))).rejects.toMatchObject({ code: GrpcStatus.ABORTED });
  });
});
