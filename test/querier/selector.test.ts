// The querier's --selector.relabel-config and --selector-label (Thanos' TSDB selector and selector
// labels): a querier that reads some of a store gateway's clusters, stands for a region to a querier
// stacked on it, and counts its endpoints by their labels and component.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Relabeler } from '@strata/block';
import { newBucket, parseBucketConfig, type Bucket } from '@strata/objstore';
import { start as startQuerier, type Querier } from '@strata/querier';
import { nopLogger } from '@strata/runtime';
import { start as startStore, type Store } from '@strata/store';
import { tempDir } from '@strata/testing/process';
import { Labels } from '@strata/tsdb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyBlock, promtoolBlocks, randomHistory, uploadWithLabels } from '../store/fixtures.js';

const history = randomHistory(31, 3);
const start = Math.ceil(history.start / 60_000) * 60_000;
const end = Math.floor(history.end / 60_000) * 60_000;
// `eu.1` and `eu-1`: a regex made of the kept values unquoted would admit both.
const clusters: Record<string, string>[] = [{ cluster: 'eu.1' }, { cluster: 'eu-1' }, { cluster: 'us', env: 'prod' }];

let dir: { path: string; cleanup: () => Promise<void> };
let bucket: Bucket;
let store: Store;
let selecting: Querier;
let whole: Querier;
let stacked: Querier;

type Answer = { status: string; data: unknown; error?: string };

async function get(base: string, path: string, params: Record<string, string | string[]> = {}): Promise<Answer> {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const x of [v].flat()) qs.append(k, x);
  return (await (await fetch(`http://${base}${path}?${qs}`)).json()) as Answer;
}

const range = (query: string) => ({ query, start: String(start / 1000), end: String(end / 1000), step: '60' });

beforeAll(async () => {
  dir = await tempDir('strata-selector-');
  await mkdir(join(dir.path, 'bucket'));
  bucket = newBucket(parseBucketConfig(`type: FILESYSTEM\nconfig:\n  directory: ${join(dir.path, 'bucket')}\n`));
  const blocks = await promtoolBlocks(history.openMetrics, join(dir.path, 'blocks'));
  for (const [i, labels] of clusters.entries()) {
    await mkdir(join(dir.path, `copies-${i}`));
    for (const b of blocks) await uploadWithLabels(bucket, await copyBlock(b, join(dir.path, `copies-${i}`)), labels);
  }
  store = await startStore({ bucket, dataDir: join(dir.path, 'store'), grpcAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', logger: nopLogger });
  selecting = await startQuerier({
    httpAddress: '127.0.0.1:0',
    grpcAddress: '127.0.0.1:0',
    endpoints: [store.grpcAddress],
    selectorRelabel: Relabeler.fromYaml('- action: keep\n  source_labels: [cluster]\n  regex: eu\\.1|us\n'),
    selectorLabels: Labels.from({ region: 'europe' }),
    logger: nopLogger,
  });
  whole = await startQuerier({ httpAddress: '127.0.0.1:0', endpoints: [store.grpcAddress], connMetricLabels: [], logger: nopLogger });
  stacked = await startQuerier({ httpAddress: '127.0.0.1:0', endpoints: [selecting.grpcAddress as string], logger: nopLogger });
}, 180_000);

afterAll(async () => {
  await stacked?.stop();
  await selecting?.stop();
  await whole?.stop();
  await store?.stop();
  await bucket?.close();
  await dir?.cleanup();
});

describe('--selector.relabel-config', () => {
  it("reads the clusters the rules keep of a store gateway's, and no other", async () => {
    expect((await get(whole.httpAddress, '/api/v1/label/cluster/values')).data).toEqual(['eu-1', 'eu.1', 'us']);
    expect((await get(selecting.httpAddress, '/api/v1/label/cluster/values')).data).toEqual(['eu.1', 'us']);
    expect((await get(selecting.httpAddress, '/api/v1/labels')).data).toEqual((await get(whole.httpAddress, '/api/v1/labels', { 'match[]': '{cluster=~"eu\\\\.1|us"}' })).data);
    const kept = await get(whole.httpAddress, '/api/v1/query_range', range('sum by (cluster, env, job) (rh_requests{cluster!="eu-1"})'));
    expect((kept.data as { result: unknown[] }).result).toHaveLength(6);
    expect(await get(selecting.httpAddress, '/api/v1/query_range', range('sum by (cluster, env, job) (rh_requests)'))).toEqual(kept);
    const series = await get(selecting.httpAddress, '/api/v1/series', { 'match[]': 'rh_temp', start: String(start / 1000), end: String(end / 1000) });
    expect(series.data).toEqual((await get(whole.httpAddress, '/api/v1/series', { 'match[]': 'rh_temp{cluster!="eu-1"}', start: String(start / 1000), end: String(end / 1000) })).data);
  });
});

describe('--selector-label', () => {
  it('answers a request whose matchers on it match as one without them, and one whose do not with nothing', async () => {
    const all = await get(selecting.httpAddress, '/api/v1/query_range', range('count by (cluster) (rh_latency)'));
    expect((all.data as { result: unknown[] }).result).toHaveLength(2);
    expect(await get(selecting.httpAddress, '/api/v1/query_range', range('count by (cluster) (rh_latency{region="europe"})'))).toEqual(all);
    expect(await get(selecting.httpAddress, '/api/v1/query_range', range('count by (cluster) (rh_latency{region=~"eu.*"})'))).toEqual(all);
    expect((await get(selecting.httpAddress, '/api/v1/query_range', range('rh_latency{region="asia"}'))).data).toEqual({ resultType: 'matrix', result: [] });
    expect((await get(selecting.httpAddress, '/api/v1/label/cluster/values', { 'match[]': '{region="asia"}' })).data).toEqual([]);
  });

  it('extends the label sets a querier stacked on it sees, which are those the rules keep', async () => {
    const stores = (await get(stacked.httpAddress, '/api/v1/stores')).data as Record<string, { labelSets: Record<string, string>[] }[]>;
    expect(Object.values(stores).flat().map((s) => s.labelSets)).toEqual([[{ cluster: 'eu.1', region: 'europe' }, { cluster: 'us', env: 'prod', region: 'europe' }]]);
    const own = await get(selecting.httpAddress, '/api/v1/query_range', range('sum by (cluster) (rh_requests)'));
    expect(await get(stacked.httpAddress, '/api/v1/query_range', range('sum by (cluster) (rh_requests{region="europe"})'))).toEqual(own);
    expect((await get(stacked.httpAddress, '/api/v1/query_range', range('rh_requests{region="asia"}'))).data).toEqual({ resultType: 'matrix', result: [] });
  });
});

describe('--query.conn-metric.label', () => {
  it("counts the endpoints by their external labels and component, as Thanos' thanos_store_nodes_grpc_connections", async () => {
    const metrics = await (await fetch(`http://${selecting.httpAddress}/metrics`)).text();
    const sets = '{cluster=\\"eu-1\\"},{cluster=\\"eu.1\\"},{cluster=\\"us\\", env=\\"prod\\"}';
    expect(metrics).toContain(`strata_store_nodes_grpc_connections{state="healthy",external_labels="${sets}",store_type="store"} 1`);
    const plain = await (await fetch(`http://${whole.httpAddress}/metrics`)).text();
    expect(plain).toContain('strata_store_nodes_grpc_connections{state="healthy"} 1');
    expect(plain).toContain('strata_store_nodes_grpc_connections{state="unhealthy"} 0');
  });
});
