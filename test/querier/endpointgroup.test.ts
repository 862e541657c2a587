// Thanos' --endpoint-group: two store gateways over the same bucket, behind one DNS name, are one
// endpoint to the querier. Each query's calls go to one of them in turn (not both, as two --endpoint
// addresses would be asked), and when one is gone the other answers everything.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { newBucket, parseBucketConfig, type Bucket } from '@strata/objstore';
import { start as startQuerier, type Querier } from '@strata/querier';
import { nopLogger } from '@strata/runtime';
import { start as startStore, type Store } from '@strata/store';
import { freePort, tempDir } from '@strata/testing/process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promtoolBlocks, randomHistory, uploadWithLabels } from '../store/fixtures.js';

const history = randomHistory(11, 3);
const QUERIES = ['sum by (job) (rh_requests)', 'max_over_time(rh_latency[10m])', 'count by (path) (rh_latency)', 'rh_temp'];

let dir: { path: string; cleanup: () => Promise<void> };
let bucket: Bucket;
const stores: Store[] = [];
let grouped: Querier;
let direct: Querier;
let group: string;

async function rangeQuery(http: string, query: string): Promise<{ status: string; data: { result: unknown[] }; warnings?: string[] }> {
  const params = new URLSearchParams({ query, start: String(history.start / 1000), end: String(history.end / 1000), step: '60' });
  return (await (await fetch(`http://${http}/api/v1/query_range?${params}`)).json()) as { status: string; data: { result: unknown[] }; warnings?: string[] };
}

/** Series calls a store gateway has answered, from its /metrics. */
async function seriesCalls(store: Store): Promise<number> {
  const text = await (await fetch(`http://${store.httpAddress}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith('grpc_server_handled_total{') && line.includes('grpc_method="Series"')) sum += Number(line.split(' ').pop());
  return sum;
}

beforeAll(async () => {
  dir = await tempDir('strata-endpoint-group-');
  await mkdir(join(dir.path, 'bucket'));
  bucket = newBucket(parseBucketConfig(`type: FILESYSTEM\nconfig:\n  directory: ${join(dir.path, 'bucket')}\n`));
  for (const b of await promtoolBlocks(history.openMetrics, join(dir.path, 'blocks'))) await uploadWithLabels(bucket, b, { cluster: 'group' });
  // Two replicas on one port, at two loopback addresses: what a DNS name of two pods stands for.
  const port = await freePort();
  for (const host of ['127.0.0.1', '127.0.0.2']) {
    stores.push(await startStore({ bucket, dataDir: join(dir.path, `store-${host}`), grpcAddress: `${host}:${port}`, httpAddress: '127.0.0.1:0', logger: nopLogger }));
  }
  group = `stores.test:${port}`;
  grouped = await startQuerier({
    httpAddress: '127.0.0.1:0',
    endpointGroups: [group],
    endpoints: [],
    dnsResolver: { lookup: async (host) => (host === 'stores.test' ? ['127.0.0.1', '127.0.0.2'] : []), resolveSrv: async () => [] },
    logger: nopLogger,
  });
  direct = await startQuerier({ httpAddress: '127.0.0.1:0', endpoints: [stores[0]?.grpcAddress as string], logger: nopLogger });
}, 180_000);

afterAll(async () => {
  await grouped?.stop();
  await direct?.stop();
  for (const s of stores) await s.stop();
  await bucket?.close();
  await dir?.cleanup();
});

describe('--endpoint-group', () => {
  it('is one endpoint, each call answered by one of its replicas in turn', async () => {
    const stored = (await (await fetch(`http://${grouped.httpAddress}/api/v1/stores`)).json()) as { data: Record<string, { name: string }[]> };
    expect(Object.values(stored.data).flat().map((e) => e.name)).toEqual([group]);
    const before = await Promise.all(stores.map(seriesCalls));
    const rounds = 3;
    for (let r = 0; r < rounds; r++) {
      for (const q of QUERIES) {
        const answer = await rangeQuery(grouped.httpAddress, q);
        expect(answer.data.result.length).toBeGreaterThan(0);
        expect(answer).toEqual(await rangeQuery(direct.httpAddress, q));
      }
    }
    const after = await Promise.all(stores.map(seriesCalls));
    const byGroup = after.map((n, i) => n - (before[i] as number));
    // The direct querier's calls went to the first replica only; the group's are those beyond them.
    const directCalls = rounds * QUERIES.length;
    expect(byGroup[0] as number).toBeGreaterThan(directCalls);
    expect(byGroup[1] as number).toBeGreaterThan(0);
    expect((byGroup[0] as number) - directCalls + (byGroup[1] as number)).toBe(rounds * QUERIES.length);
  }, 120_000);

  it("sends every call to the first replica with the group's service_config pick_first", async () => {
    const picking = await startQuerier({
      httpAddress: '127.0.0.1:0',
      endpoints: [],
      endpointConfig: { content: `endpoints:\n  - address: ${group}\n    group: true\n    service_config: '{"loadBalancingConfig": [{"pick_first": {}}]}'\n` },
      dnsResolver: { lookup: async (host) => (host === 'stores.test' ? ['127.0.0.1', '127.0.0.2'] : []), resolveSrv: async () => [] },
      logger: nopLogger,
    });
    try {
      const before = await Promise.all(stores.map(seriesCalls));
      for (const q of QUERIES) expect((await rangeQuery(picking.httpAddress, q)).data.result.length).toBeGreaterThan(0);
      const after = await Promise.all(stores.map(seriesCalls));
      expect(after.map((n, i) => n - (before[i] as number))).toEqual([QUERIES.length, 0]);
    } finally {
      await picking.stop();
    }
  }, 120_000);

  it('sends everything to the replica that is left when one is gone, without a warning', async () => {
    const [gone] = stores.splice(1, 1);
    await gone?.stop();
    for (const q of QUERIES) {
      const answer = await rangeQuery(grouped.httpAddress, q);
      expect(answer.warnings).toBeUndefined();
      expect(answer).toEqual(await rangeQuery(direct.httpAddress, q));
    }
  }, 120_000);
});
