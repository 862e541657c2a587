// Metric metadata end to end: Prometheus 2.42 scraping itself, its sidecar serving Thanos' Metadata
// API, a querier answering /api/v1/metadata from it, and a second querier stacked on the first over
// gRPC. Every answer must be Prometheus' own /api/v1/metadata for the same parameters.
import { start as startQuerier, type Querier } from '@strata/querier';
import { nopLogger } from '@strata/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replicaStack, type ReplicaStack } from './replicas.js';

interface Meta {
  type: string;
  help: string;
  unit: string;
}

let stack: ReplicaStack;
let stacked: Querier;

beforeAll(async () => {
  // Metadata comes from scrapes: ready after Prometheus' first one.
  stack = await replicaStack(1, () => ({ scrapeSelf: true, scrapeInterval: '1s' }), async (prom) => Object.keys(await prom.api<Record<string, Meta[]>>('metadata')).length > 0);
  // The querier serves gRPC, so that a querier can be stacked on it.
  const below = stack.querier.grpcAddress as string;
  stacked = await startQuerier({ httpAddress: '127.0.0.1:0', grpcAddress: '127.0.0.1:0', endpoints: [below], logger: nopLogger });
}, 60_000);

afterAll(async () => {
  await stacked?.stop();
  await stack?.stop();
});

async function metadata(base: string, params: Record<string, string> = {}): Promise<{ status: string; data: Record<string, Meta[]>; warnings?: string[] }> {
  return (await (await fetch(`${base}/api/v1/metadata?${new URLSearchParams(params)}`)).json()) as { status: string; data: Record<string, Meta[]> };
}

describe('/api/v1/metadata through the sidecar', () => {
  it('answers as Prometheus does, for every metric, one metric, and limits; and so does a stacked querier', async () => {
    const want = await metadata(stack.replicas[0]?.url as string);
    expect(want.data.prometheus_http_requests_total).toEqual([{ type: 'counter', help: expect.any(String), unit: '' }]);
    for (const q of [stack.querier, stacked]) {
      const base = `http://${q.httpAddress}`;
      // Prometheus may have seen more metrics (its own, lazily created) by the time the querier asks:
      // every metric Prometheus listed before is answered with the same entries.
      const got = await metadata(base);
      expect(got.status).toBe('success');
      expect(got.warnings).toBeUndefined();
      for (const [name, metas] of Object.entries(want.data)) expect(got.data[name], name).toEqual(metas);
      expect(await metadata(base, { metric: 'prometheus_http_requests_total' })).toEqual(await metadata(stack.replicas[0]?.url as string, { metric: 'prometheus_http_requests_total' }));
      expect(await metadata(base, { metric: 'no_such_metric' })).toEqual({ status: 'success', data: {} });
      expect(Object.keys((await metadata(base, { limit: '3' })).data)).toHaveLength(3);
      expect(await metadata(base, { limit: '0' })).toEqual({ status: 'success', data: {} });
    }
  });
});
