// Thanos' query tenancy: a querier with --query.enforce-tenancy answers each request from its tenant's
// series only (the THANOS-TENANT header, else the default tenant), whatever the query asks for, and the
// query frontend in front of it caches each tenant's answers apart.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { start as startFrontend, type Frontend } from '@strata/frontend';
import { newBucket, parseBucketConfig, type Bucket } from '@strata/objstore';
import { DEFAULT_TENANCY, start as startQuerier, type Querier } from '@strata/querier';
import { nopLogger } from '@strata/runtime';
import { start as startStore, type Store } from '@strata/store';
import { queryRangeRequest, StoreClient } from '@strata/storeapi';
import { tempDir } from '@strata/testing/process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promtoolBlocks, randomHistory, uploadWithLabels } from '../store/fixtures.js';

// Two tenants' histories of the same series names over the same hours, different values.
const histories = { a: randomHistory(21, 3), b: randomHistory(22, 3) };
// On the step grid, where the query frontend aligns a range query.
const start = Math.ceil(Math.max(histories.a.start, histories.b.start) / 60_000) * 60_000;
const end = Math.floor(Math.min(histories.a.end, histories.b.end) / 60_000) * 60_000;

let dir: { path: string; cleanup: () => Promise<void> };
let bucket: Bucket;
let store: Store;
let enforcing: Querier;
let open: Querier;
let frontend: Frontend;

type Answer = { status: string; data: { result: { metric: Record<string, string> }[] } | string[] | Record<string, string>[] };

async function get(base: string, path: string, params: Record<string, string | string[]>, tenant?: string): Promise<Answer> {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const x of [v].flat()) qs.append(k, x);
  const res = await fetch(`http://${base}${path}?${qs}`, { headers: tenant !== undefined ? { 'THANOS-TENANT': tenant } : {} });
  expect(res.status).toBe(200);
  return (await res.json()) as Answer;
}

const range = (query: string) => ({ query, start: String(start / 1000), end: String(end / 1000), step: '60' });

beforeAll(async () => {
  dir = await tempDir('strata-tenancy-');
  await mkdir(join(dir.path, 'bucket'));
  bucket = newBucket(parseBucketConfig(`type: FILESYSTEM\nconfig:\n  directory: ${join(dir.path, 'bucket')}\n`));
  for (const [tenant, h] of Object.entries(histories)) {
    for (const b of await promtoolBlocks(h.openMetrics, join(dir.path, `blocks-${tenant}`))) await uploadWithLabels(bucket, b, { tenant_id: tenant });
  }
  store = await startStore({ bucket, dataDir: join(dir.path, 'store'), grpcAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', logger: nopLogger });
  enforcing = await startQuerier({ httpAddress: '127.0.0.1:0', grpcAddress: '127.0.0.1:0', endpoints: [store.grpcAddress], tenancy: { ...DEFAULT_TENANCY, enforce: true }, logger: nopLogger });
  open = await startQuerier({ httpAddress: '127.0.0.1:0', endpoints: [store.grpcAddress], logger: nopLogger });
  frontend = await startFrontend({ httpAddress: '127.0.0.1:0', downstreamUrl: `http://${enforcing.httpAddress}`, range: { cacheBytes: 64 << 20 }, labels: { cacheBytes: 64 << 20 }, logger: nopLogger });
}, 180_000);

afterAll(async () => {
  await frontend?.stop();
  await enforcing?.stop();
  await open?.stop();
  await store?.stop();
  await bucket?.close();
  await dir?.cleanup();
});

describe('--query.enforce-tenancy', () => {
  it("answers a query from the requesting tenant's series only, whatever it selects", async () => {
    for (const tenant of ['a', 'b']) {
      const own = await get(open.httpAddress, '/api/v1/query_range', range(`sum by (job) (rh_requests{tenant_id="${tenant}"})`));
      expect((own.data as { result: unknown[] }).result.length).toBeGreaterThan(0);
      expect(await get(enforcing.httpAddress, '/api/v1/query_range', range('sum by (job) (rh_requests)'), tenant)).toEqual(own);
      // A selector naming the other tenant is turned to the requester's, as Thanos injects its matcher.
      const other = tenant === 'a' ? 'b' : 'a';
      expect(await get(enforcing.httpAddress, '/api/v1/query_range', range(`sum by (job) (rh_requests{tenant_id="${other}"})`), tenant)).toEqual(own);
    }
    // No header: the default tenant, which owns nothing here.
    expect((await get(enforcing.httpAddress, '/api/v1/query_range', range('rh_requests'))).data).toEqual({ resultType: 'matrix', result: [] });
    // Without enforcement both tenants' series are there.
    const both = await get(open.httpAddress, '/api/v1/label/tenant_id/values', {});
    expect(both.data).toEqual(['a', 'b']);
  });

  it("keeps a Query API call to the tenant its thanos-tenant metadata names, as an HTTP request to its header's", async () => {
    const client = new StoreClient(enforcing.grpcAddress as string);
    try {
      const ask = (tenant?: string) =>
        client.queryRange(queryRangeRequest({ query: 'sum by (job) (rh_requests{tenant_id="b"})', startTimeSeconds: start / 1000, endTimeSeconds: end / 1000, intervalSeconds: 60 }), tenant !== undefined ? { tenant } : {});
      const http = (await get(enforcing.httpAddress, '/api/v1/query_range', range('sum by (job) (rh_requests)'), 'a')).data as { result: { metric: Record<string, string>; values: [number, string][] }[] };
      const answer = await ask('a');
      expect(answer.series.map((s) => ({ metric: Object.fromEntries(s.labels.map((l) => [l.name, l.value])), values: s.samples.map((p) => [p.timestamp / 1000, String(p.value)]) }))).toEqual(http.result);
      expect(http.result.length).toBeGreaterThan(0);
      // No tenant: the default one, which owns nothing here.
      expect((await ask()).series).toEqual([]);
    } finally {
      client.close();
    }
  });

  it('keeps the series, label and label value endpoints to the tenant', async () => {
    expect((await get(enforcing.httpAddress, '/api/v1/label/tenant_id/values', {}, 'b')).data).toEqual(['b']);
    expect((await get(enforcing.httpAddress, '/api/v1/label/tenant_id/values', { 'match[]': 'rh_temp{tenant_id="a"}' }, 'b')).data).toEqual(['b']);
    const series = (await get(enforcing.httpAddress, '/api/v1/series', { 'match[]': ['rh_temp', 'rh_latency'], start: String(start / 1000), end: String(end / 1000) }, 'a')).data as Record<string, string>[];
    expect(series.length).toBeGreaterThan(0);
    expect(new Set(series.map((s) => s.tenant_id))).toEqual(new Set(['a']));
    expect((await get(enforcing.httpAddress, '/api/v1/labels', {}, 'a')).data).toContain('tenant_id');
  });

  it('is cached per tenant by the query frontend', async () => {
    const query = range('sum(rh_requests)');
    const a = await get(frontend.httpAddress, '/api/v1/query_range', query, 'a');
    const b = await get(frontend.httpAddress, '/api/v1/query_range', query, 'b');
    expect(a).toEqual(await get(enforcing.httpAddress, '/api/v1/query_range', query, 'a'));
    expect(b).toEqual(await get(enforcing.httpAddress, '/api/v1/query_range', query, 'b'));
    expect(b).not.toEqual(a);
    // Asked again, each tenant gets its own answer from the cache.
    expect(await get(frontend.httpAddress, '/api/v1/query_range', query, 'b')).toEqual(b);
    expect(await get(frontend.httpAddress, '/api/v1/query_range', query, 'a')).toEqual(a);
    const values = { start: String(start / 1000), end: String(end / 1000) };
    expect((await get(frontend.httpAddress, '/api/v1/label/tenant_id/values', values, 'a')).data).toEqual(['a']);
    expect((await get(frontend.httpAddress, '/api/v1/label/tenant_id/values', values, 'b')).data).toEqual(['b']);
  });
});

describe('a query frontend reading the tenant from a header of its own', () => {
  it("tells the querier the tenant in THANOS-TENANT, as Thanos' frontend does, whatever the client sent there", async () => {
    const orgFrontend = await startFrontend({
      httpAddress: '127.0.0.1:0',
      downstreamUrl: `http://${enforcing.httpAddress}`,
      tenant: { header: 'X-Scope-OrgID', defaultTenant: 'default-tenant' },
      logger: nopLogger,
    });
    try {
      const query = range('sum(rh_requests)');
      const viaOrgId = async (org: string, extra: Record<string, string> = {}) => {
        const qs = new URLSearchParams(query);
        const res = await fetch(`http://${orgFrontend.httpAddress}/api/v1/query_range?${qs}`, { headers: { 'X-Scope-OrgID': org, ...extra } });
        return (await res.json()) as Answer;
      };
      const a = await get(enforcing.httpAddress, '/api/v1/query_range', query, 'a');
      expect(await viaOrgId('a')).toEqual(a);
      // A THANOS-TENANT header of the client's own does not name the tenant past the frontend.
      expect(await viaOrgId('a', { 'THANOS-TENANT': 'b' })).toEqual(a);
      // Series and label requests, passed through, too.
      expect((await get(orgFrontend.httpAddress, '/api/v1/label/tenant_id/values', {})).data).toEqual([]);
      const values = await fetch(`http://${orgFrontend.httpAddress}/api/v1/label/tenant_id/values`, { headers: { 'X-Scope-OrgID': 'b' } });
      expect(((await values.json()) as Answer).data).toEqual(['b']);
    } finally {
      await orgFrontend.stop();
    }
  });
});

describe('the tenant sent on to the stores', () => {
  it("reaches the store gateway in each call's thanos-tenant metadata, through a stacked querier too, and labels its per-call metrics", async () => {
    const middle = await startQuerier({ httpAddress: '127.0.0.1:0', grpcAddress: '127.0.0.1:0', endpoints: [store.grpcAddress], logger: nopLogger });
    const over = await startQuerier({ httpAddress: '127.0.0.1:0', endpoints: [middle.grpcAddress as string], logger: nopLogger });
    try {
      const calls = async (tenant: string, metric: string) => {
        const text = await (await fetch(`http://${store.httpAddress}/metrics`)).text();
        return Number(new RegExp(`^${metric}_count\\{(?:data_type="series",)?tenant="${tenant}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
      };
      const before = { a: await calls('team-a', 'strata_bucket_store_series_blocks_queried'), def: await calls('default-tenant', 'strata_bucket_store_series_blocks_queried') };
      await get(open.httpAddress, '/api/v1/query_range', range('rh_requests'), 'team-a');
      expect(await calls('team-a', 'strata_bucket_store_series_blocks_queried')).toBe(before.a + 1);
      expect(await calls('team-a', 'strata_bucket_store_series_data_fetched')).toBeGreaterThan(0);
      // Without the header, the querier's default tenant.
      await get(open.httpAddress, '/api/v1/query_range', range('rh_requests'));
      expect(await calls('default-tenant', 'strata_bucket_store_series_blocks_queried')).toBe(before.def + 1);
      // Through a querier stacked on another: the tenant is passed on at each hop.
      await get(over.httpAddress, '/api/v1/query_range', range('rh_requests'), 'team-b');
      expect(await calls('team-b', 'strata_bucket_store_series_blocks_queried')).toBe(1);
      // Label calls are counted under the tenant as well.
      await get(open.httpAddress, '/api/v1/label/job/values', {}, 'team-c');
      expect(await calls('team-c', 'strata_bucket_store_query_object_requests')).toBeGreaterThan(0);
      // The querier's and the query frontend's HTTP metrics carry the tenant, as Thanos' do.
      const querierMetrics = await (await fetch(`http://${open.httpAddress}/metrics`)).text();
      expect(querierMetrics).toMatch(/^http_requests_total\{handler="\/api\/v1\/query_range",code="200",method="GET",tenant="team-a"\} 1$/m);
      expect(querierMetrics).toMatch(/^http_request_duration_seconds_count\{handler="\/api\/v1\/label\/:name\/values",code="200",method="GET",tenant="team-c"\} 1$/m);
      await get(frontend.httpAddress, '/api/v1/labels', {}, 'team-d');
      expect(await (await fetch(`http://${frontend.httpAddress}/metrics`)).text()).toMatch(/^http_requests_total\{handler="[^"]*",code="200",method="GET",tenant="team-d"\} 1$/m);
    } finally {
      await over.stop();
      await middle.stop();
    }
  });
});
