// The querier as a StoreAPI server and as a client of discovered endpoints: the acceptance suite
// every StoreAPI server passes, queriers stacked on queriers (Thanos' global view), and endpoints
// coming and going through --endpoint.sd-files.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { start as startQuerier, type Querier } from '@strata/querier';
import { nopLogger } from '@strata/runtime';
import { acceptanceFixture, fixtureOpenMetrics, GrpcStatus, MAX_INT64, MIN_INT64, serveStore, StoreClient, StoreError, storeAcceptanceCases } from '@strata/storeapi';
import { start as startStore, type Store } from '@strata/store';
import { sleep, tempDir } from '@strata/testing/process';
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
