// The querier as a StoreAPI server and as a client of discovered endpoints: the acceptance suite
// every StoreAPI server passes, queriers stacked on queriers (Thanos' global view), and endpoints
// coming and going through --endpoint.sd-files.
import { promises as dnsPromises } from 'node:dns';
import { createSocket } from 'node:dgram';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { start as startQuerier, type Querier } from '@strata/querier';
import { nopLogger } from '@strata/runtime';
import { acceptanceFixture, fixtureOpenMetrics, GrpcStatus, MAX_INT64, MIN_INT64, serveStore, StoreClient, StoreError, storeAcceptanceCases } from '@strata/storeapi';
import { start as startStore, type Store } from '@strata/store';
import { freePort, sleep, tempDir } from '@strata/testing/process';
import { startS3rver, type S3Server } from '@strata/testing/s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promtoolBlocks, s3Bucket, uploadWithLabels } from '../store/fixtures.js';

const fixture = acceptanceFixture(Date.now() - 8 * 3_600_000, { hours: 5, extLabels: { cluster: 'acceptance', replica: 'r0' } });

let dir: { path: string; cleanup: () => Promise<void> };
let s3: S3Server;
let store: Store;
let querier: Querier;
let client: StoreClient;
const stopLater: { stop(): Promise<void> }[] = [];

beforeAll(async () => {
  dir = await tempDir('strata-querier-storeapi-');
  s3 = await startS3rver();
  const bucket = s3Bucket(s3, 'acceptance');
  for (const b of await promtoolBlocks(fixtureOpenMetrics(fixture), join(dir.path, 'blocks'))) await uploadWithLabels(bucket, b, fixture.extLabels);
  store = await startStore({ bucket, dataDir: join(dir.path, 'store'), grpcAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', logger: nopLogger });
  querier = await startQuerier({ httpAddress: '127.0.0.1:0', grpcAddress: '127.0.0.1:0', endpoints: [store.grpcAddress], logger: nopLogger });
  client = new StoreClient(querier.grpcAddress as string);
}, 180_000);

afterAll(async () => {
  client?.close();
  for (const s of stopLater) await s.stop();
  await querier?.stop();
  await store?.stop();
  await s3?.stop();
  await dir?.cleanup();
});

describe('StoreAPI acceptance: querier (over a store gateway)', () => {
  for (const c of storeAcceptanceCases(fixture)) it(c.name, () => c.run(client));
});

async function rangeQuery(httpAddress: string, query: string, extra: Record<string, string> = {}): Promise<unknown> {
  const qs = new URLSearchParams({ query, start: String(fixture.minTime / 1000), end: String(fixture.maxTime / 1000), step: '60', ...extra });
  const body = (await (await fetch(`http://${httpAddress}/api/v1/query_range?${qs}`)).json()) as { status: string; data: unknown; error?: string };
  expect(body.status, body.error).toBe('success');
  return body.data;
}

describe('query telemetry (--query.telemetry.*)', () => {
  it("observes each select's fan-out by the samples and series it returned", async () => {
    const web = fixture.series.filter((x) => x.labels.__name__ === 'acc_gauge' && x.labels.job === 'web');
    const samples = web.reduce((n, x) => n + x.samples.length, 0);
    expect(web.length).toBeGreaterThan(0);
    // Bounds around the exact counts: a label names the first bound above its count.
    const q = await startQuerier({
      httpAddress: '127.0.0.1:0',
      endpoints: [store.grpcAddress],
      selectTelemetry: { durationSeconds: [0.5, 60], samples: [samples, samples + 1, samples + 2], series: [web.length, web.length + 1, web.length + 2] },
      logger: nopLogger,
    });
    stopLater.push(q);
    // The whole fixture's range: every chunk of the selected series, all their samples.
    await rangeQuery(q.httpAddress, 'acc_gauge{job="web"}');
    const metrics = await (await fetch(`http://${q.httpAddress}/metrics`)).text();
    expect(metrics).toContain(`strata_store_api_query_duration_seconds_count{samples_le="${samples + 1}",series_le="${web.length + 1}"} 1`);
    expect(metrics).toContain(`strata_store_api_query_duration_seconds_bucket{le="60",samples_le="${samples + 1}",series_le="${web.length + 1}"} 1`);
  });
});

describe('--store.limits.request-series and --store.limits.request-samples on the querier', () => {
  it('fails a query whose select brings back more, partial response or not, and answers one within them', async () => {
    const web = fixture.series.filter((x) => x.labels.__name__ === 'acc_gauge' && x.labels.job === 'web');
    const samples = web.reduce((n, x) => n + x.samples.length, 0);
    const ask = async (limits: { series: number; samples: number }) => {
      const q = await startQuerier({ httpAddress: '127.0.0.1:0', endpoints: [store.grpcAddress], seriesLimits: limits, logger: nopLogger });
      stopLater.push(q);
      const qs = new URLSearchParams({ query: 'acc_gauge{job="web"}', start: String(fixture.minTime / 1000), end: String(fixture.maxTime / 1000), step: '60', partial_response: 'true' });
      const res = await fetch(`http://${q.httpAddress}/api/v1/query_range?${qs}`);
      return { status: res.status, body: (await res.json()) as { status: string; errorType?: string; error?: string } };
    };
    expect(await ask({ series: web.length, samples })).toMatchObject({ status: 200, body: { status: 'success' } });
    expect(await ask({ series: web.length - 1, samples: 0 })).toEqual({
      status: 422,
      body: { status: 'error', errorType: 'execution', error: `exceeded the series limit of ${web.length - 1} (--store.limits.request-series): narrow the query's matchers or time range, or raise the limit` },
    });
    expect((await ask({ series: 0, samples: samples - 1 })).body.error).toContain(`exceeded the samples limit of ${samples - 1} (--store.limits.request-samples)`);
  });
});

describe('stacked and discovered endpoints', () => {
  it('a querier over a querier answers as the querier below', async () => {
    const top = await startQuerier({ httpAddress: '127.0.0.1:0', endpoints: [querier.grpcAddress as string], replicaLabels: ['replica'], logger: nopLogger });
    stopLater.push(top);
    for (const q of ['sum by (job) (rate(acc_requests[5m]))', 'acc_gauge{job="web"}', 'count(acc_gauge) by (cluster)']) {
      const below = await rangeQuery(querier.httpAddress, q);
      expect(JSON.stringify(await rangeQuery(top.httpAddress, q))).toBe(JSON.stringify(below).replaceAll(',"replica":"r0"', ''));
    }
  });

  it('restricts a query to the endpoints storeMatch[] selects, by address or external labels', async () => {
    const series = async (storeMatch: string) => ((await rangeQuery(querier.httpAddress, 'acc_gauge', { 'storeMatch[]': storeMatch })) as { result: unknown[] }).result.length;
    const all = fixture.series.filter((s) => s.labels.__name__ === 'acc_gauge').length;
    expect(await series(`{__address__="${store.grpcAddress}"}`)).toBe(all);
    expect(await series('{__address__="127.0.0.1:1"}')).toBe(0);
    expect(await series('{cluster="acceptance"}')).toBe(all);
    expect(await series('{cluster="elsewhere"}')).toBe(0);
  });

  it('keeps an endpoint whose Info calls fail listed as unhealthy, and forgets its labels after --store.unhealthy-timeout', async () => {
    let up = true;
    const flaky = await serveStore(
      {
        info: async () => {
          if (!up) throw new StoreError(GrpcStatus.UNAVAILABLE, 'down for the test');
          return { labelSets: [[{ name: 'cluster', value: 'flaky' }]], componentType: 'store', store: { minTime: MIN_INT64, maxTime: MAX_INT64, supportsSharding: false, supportsWithoutReplicaLabels: true, tsdbInfos: [], supportsProjections: false } };
        },
        series: async function* () {},
        labelNames: async () => ({ names: [], warnings: [] }),
        labelValues: async () => ({ values: [], warnings: [] }),
      },
      { address: '127.0.0.1:0' },
    );
    const q = await startQuerier({ httpAddress: '127.0.0.1:0', endpoints: [flaky.address], endpointRefreshMs: 100, endpointInfoTimeoutMs: 1000, unhealthyTimeoutMs: 500, logger: nopLogger });
    stopLater.push(q, { stop: () => flaky.stop(0) });
    const status = async () => Object.values(((await (await fetch(`http://${q.httpAddress}/api/v1/stores`)).json()) as { data: Record<string, { lastError: string | null; labelSets: unknown[] }[]> }).data).flat()[0];
    expect(await status()).toMatchObject({ lastError: null, labelSets: [{ cluster: 'flaky' }] });
    // All time, written as Thanos writes Go's int64 bounds (exactly, which a float64 cannot).
    expect(await (await fetch(`http://${q.httpAddress}/api/v1/stores`)).text()).toContain('"minTime":-9223372036854775808,"maxTime":9223372036854775807}');
    up = false;
    for (let i = 0; i < 50 && (await status())?.lastError === null; i++) await sleep(50);
    // Unhealthy at once, its last Info still shown; forgotten once the timeout has passed.
    expect(await status()).toMatchObject({ lastError: expect.stringContaining('down for the test'), labelSets: [{ cluster: 'flaky' }] });
    for (let i = 0; i < 50 && ((await status())?.labelSets.length ?? 0) > 0; i++) await sleep(100);
    expect(await status()).toMatchObject({ lastError: expect.stringContaining('down for the test'), labelSets: [] });
  });

  it('reads /labels and /series over the last --query.metadata.default-time-range when the request gives no range', async () => {
    // The fixture's data ends 3h ago.
    const recent = await startQuerier({ httpAddress: '127.0.0.1:0', endpoints: [store.grpcAddress], metadataTimeRangeMs: 3_600_000, logger: nopLogger });
    stopLater.push(recent);
    const data = async (q: Querier, path: string) => ((await (await fetch(`http://${q.httpAddress}/api/v1/${path}`)).json()) as { data: unknown[] }).data;
    const range = `start=${fixture.minTime / 1000}&end=${fixture.maxTime / 1000}`;
    expect(await data(querier, 'labels')).toContain('job');
    expect(await data(recent, 'labels')).toEqual([]);
    expect(await data(recent, `labels?${range}`)).toContain('job');
    expect(await data(recent, 'series?match[]=acc_gauge')).toEqual([]);
    expect((await data(recent, `series?match[]=acc_gauge&${range}`)).length).toBe(fixture.series.filter((s) => s.labels.__name__ === 'acc_gauge').length);
  });

  it('follows dnssrv+ and dns+ endpoints as DNS answers change', async () => {
    const answers: { srv: { name: string; port: number }[]; a: Record<string, string[]> } = { srv: [], a: {} };
    const server = await miniDns(answers);
    const resolver = new dnsPromises.Resolver();
    resolver.setServers([server.address]);
    const port = Number(store.grpcAddress.slice(store.grpcAddress.lastIndexOf(':') + 1));
    const q = await startQuerier({
      httpAddress: '127.0.0.1:0',
      endpoints: ['dnssrv+_grpc._tcp.store.strata.test', `dns+gateway.strata.test:${port}`],
      endpointRefreshMs: 100,
      endpointDnsIntervalMs: 100,
      dnsResolver: { lookup: (host) => resolver.resolve4(host), resolveSrv: (name) => resolver.resolveSrv(name) },
      logger: nopLogger,
    });
    stopLater.push(q, server);
    const stores = async () => ((await (await fetch(`http://${q.httpAddress}/api/v1/stores`)).json()) as { data: Record<string, { name: string }[]> }).data;
    const listed = async () => Object.values(await stores()).flat().map((e) => e.name);
    const count = async () => ((await rangeQuery(q.httpAddress, 'acc_gauge')) as { result: unknown[] }).result.length;
    expect(await count()).toBe(0);
    // A headless service's SRV record and its pod's address.
    answers.srv = [{ name: 'store-0.store.strata.test', port }];
    answers.a = { 'store-0.store.strata.test': ['127.0.0.1'] };
    for (let i = 0; i < 50 && (await count()) === 0; i++) await sleep(100);
    expect(await count()).toBe(fixture.series.filter((s) => s.labels.__name__ === 'acc_gauge').length);
    expect(await listed()).toEqual([`127.0.0.1:${port}`]);
    // The service is scaled to zero; the other name now answers with the same address, then with none.
    answers.srv = [];
    answers.a = { 'gateway.strata.test': ['127.0.0.1'] };
    await sleep(500);
    expect(await listed()).toEqual([`127.0.0.1:${port}`]);
    answers.a = {};
    for (let i = 0; i < 50 && (await listed()).length > 0; i++) await sleep(100);
    expect(await listed()).toEqual([]);
  });

  it('follows --endpoint.sd-files as it changes', async () => {
    const sdFile = join(dir.path, 'endpoints.yml');
    await writeFile(sdFile, '[]\n');
    const q = await startQuerier({ httpAddress: '127.0.0.1:0', endpoints: [], endpointSdFiles: [sdFile], endpointRefreshMs: 200, logger: nopLogger });
    stopLater.push(q);
    const count = async () => ((await rangeQuery(q.httpAddress, 'acc_gauge')) as { result: unknown[] }).result.length;
    expect(await count()).toBe(0);
    await writeFile(sdFile, `- targets: ['${store.grpcAddress}']\n`);
    for (let i = 0; i < 50 && (await count()) === 0; i++) await sleep(100);
    expect(await count()).toBe(fixture.series.filter((s) => s.labels.__name__ === 'acc_gauge').length);
    await writeFile(sdFile, '[]\n');
    for (let i = 0; i < 50 && (await count()) > 0; i++) await sleep(100);
    expect(await count()).toBe(0);
  });
});

describe("Thanos' endpoint configuration (--endpoint.sd-config-file)", () => {
  it('connects the endpoints it adds, asks a strict one however it fails, and closes those it drops, as the file changes', async () => {
    const file = join(dir.path, 'endpoint-config.yml');
    await writeFile(file, 'endpoints: []\n');
    const unreachable = `127.0.0.1:${await freePort()}`;
    const q = await startQuerier({ httpAddress: '127.0.0.1:0', endpoints: [], endpointConfig: { path: file }, endpointRefreshMs: 200, logger: nopLogger });
    stopLater.push(q);
    const listed = async () => Object.values(((await (await fetch(`http://${q.httpAddress}/api/v1/stores`)).json()) as { data: Record<string, { name: string }[]> }).data).flat().map((e) => e.name).sort();
    const answer = async () => (await rangeQuery(q.httpAddress, 'acc_gauge')) as { result: unknown[] };
    const gauges = fixture.series.filter((s) => s.labels.__name__ === 'acc_gauge').length;
    expect((await answer()).result).toHaveLength(0);
    await writeFile(file, `endpoints:\n  - address: ${store.grpcAddress}\n  - address: ${unreachable}\n    strict: true\n`);
    for (let i = 0; i < 100 && (await listed()).length < 2; i++) await sleep(50);
    expect(await listed()).toEqual([store.grpcAddress, unreachable].sort());
    expect((await answer()).result).toHaveLength(gauges);
    // The strict endpoint that never answered is asked all the same: its failure is in the answer.
    const qs = new URLSearchParams({ query: 'acc_gauge', start: String(fixture.minTime / 1000), end: String(fixture.maxTime / 1000), step: '60' });
    const warned = (await (await fetch(`http://${q.httpAddress}/api/v1/query_range?${qs}`)).json()) as { warnings?: string[] };
    expect(warned.warnings?.join('\n')).toContain(unreachable);
    await writeFile(file, `endpoints:\n  - address: ${unreachable}\n    strict: true\n`);
    for (let i = 0; i < 100 && (await listed()).length > 1; i++) await sleep(50);
    expect(await listed()).toEqual([unreachable]);
    expect((await answer()).result).toHaveLength(0);
  });
});

/**
 * A DNS server on 127.0.0.1 answering A and SRV questions from `answers` as it is when asked (names not
 * in it: no records), enough for the resolver of node:dns.
 */
async function miniDns(answers: { srv: { name: string; port: number }[]; a: Record<string, string[]> }): Promise<{ address: string; stop(): Promise<void> }> {
  const socket = createSocket('udp4');
  const encodeName = (name: string) => Buffer.concat([...name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]);
  socket.on('message', (query, peer) => {
    let end = 12;
    const labels: string[] = [];
    while (query[end]! !== 0) {
      labels.push(query.subarray(end + 1, end + 1 + query[end]!).toString());
      end += 1 + query[end]!;
    }
    const type = query.readUInt16BE(end + 1);
    const name = labels.join('.');
    const records: Buffer[] = [];
    const record = (rrType: number, data: Buffer) => {
      const rr = Buffer.alloc(12);
      rr.writeUInt16BE(0xc00c, 0); // the name of the question
      rr.writeUInt16BE(rrType, 2);
      rr.writeUInt16BE(1, 4);
      rr.writeUInt32BE(1, 6);
      rr.writeUInt16BE(data.length, 10);
      records.push(rr, data);
    };
    if (type === 1) for (const ip of answers.a[name] ?? []) record(1, Buffer.from(ip.split('.').map(Number)));
    if (type === 33 && name === '_grpc._tcp.store.strata.test') {
      for (const s of answers.srv) {
        const head = Buffer.alloc(6);
        head.writeUInt16BE(s.port, 4);
        record(33, Buffer.concat([head, encodeName(s.name)]));
      }
    }
    const header = Buffer.alloc(12);
    query.copy(header, 0, 0, 2);
    header.writeUInt16BE(0x8180, 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(records.length / 2, 6);
    socket.send(Buffer.concat([header, query.subarray(12, end + 5), ...records]), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { address: `127.0.0.1:${socket.address().port}`, stop: () => new Promise<void>((resolve) => socket.close(() => resolve())) };
}
