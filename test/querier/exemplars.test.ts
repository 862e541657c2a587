// Exemplars end to end: two Prometheus 2.42 replicas (exemplar storage on) scraping one target that
// exposes exemplars, each with a sidecar serving Thanos' Exemplars API, and a querier deduplicating them
// on the replica label. /api/v1/query_exemplars must answer what Prometheus' own does, external labels
// on and the replica label off, each series once.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start as startQuerier } from '@strata/querier';
import { nopLogger } from '@strata/runtime';
import { Labels } from '@strata/tsdb';
import { replicaStack, type ReplicaStack } from './replicas.js';

interface ExemplarSeries {
  seriesLabels: Record<string, string>;
  exemplars: { labels: Record<string, string>; value: string; timestamp: number }[];
}

let target: Server;
let stack: ReplicaStack;

beforeAll(async () => {
  // A counter with an exemplar per scrape, in OpenMetrics (the only format that carries exemplars).
  let n = 0;
  target = createServer((_req, res) => {
    n++;
    res.writeHead(200, { 'content-type': 'application/openmetrics-text; version=1.0.0; charset=utf-8' });
    res.end(`# TYPE requests counter\nrequests_total{path="/a&b"} ${n} # {trace_id="t${n}"} ${n / 2} ${(Date.now() / 1000).toFixed(3)}\n# EOF\n`);
  });
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  const scrape = { job_name: 'app', scrape_interval: '1s', scrape_timeout: '1s', static_configs: [{ targets: [`127.0.0.1:${(target.address() as AddressInfo).port}`] }] };
  stack = await replicaStack(
    2,
    () => ({ scrapeConfigs: [scrape], extraArgs: ['--enable-feature=exemplar-storage'] }),
    // A few scrapes' exemplars stored.
    async (prom) => {
      const res = (await (await fetch(`${prom.url}/api/v1/query_exemplars?query=requests_total`)).json()) as { data: ExemplarSeries[] };
      return (res.data[0]?.exemplars.length ?? 0) >= 3;
    },
  );
}, 90_000);

afterAll(async () => {
  await stack?.stop();
  await new Promise((resolve) => target?.close(resolve));
});

async function get(url: string, params: Record<string, string>): Promise<{ code: number; text: string }> {
  const res = await fetch(`${url}/api/v1/query_exemplars?${new URLSearchParams(params)}`);
  return { code: res.status, text: await res.text() };
}

describe('/api/v1/query_exemplars through the sidecars', () => {
  it('answers Prometheus’ exemplars once, with the external labels but the replica label', async () => {
    // A window that ended a second ago: every exemplar in it has been scraped by both replicas.
    const end = (Date.now() - 1000) / 1000;
    const window = { start: String(end - 60), end: String(end) };
    const want = JSON.parse((await get(stack.replicas[0]?.url as string, { query: 'requests_total', ...window })).text) as { data: ExemplarSeries[] };
    expect(want.data).toHaveLength(1);
    expect(want.data[0]?.exemplars.length).toBeGreaterThan(0);
    for (const query of ['requests_total', 'rate(requests_total{cluster="c1"}[1m])']) {
      const got = await get(stack.url, { query, ...window });
      expect(got.code).toBe(200);
      // The first replica's, as Thanos keeps it; escaped as Go escapes JSON.
      expect(JSON.parse(got.text)).toEqual({ status: 'success', data: [{ ...want.data[0], seriesLabels: { ...want.data[0]?.seriesLabels, cluster: 'c1' } }] });
      expect(got.text).toContain('"path":"/a\\u0026b"');
    }
    expect(JSON.parse((await get(stack.url, { query: 'requests_total{cluster="elsewhere"}', ...window })).text)).toEqual({ status: 'success', data: [] });
  });

  it('drops matchers on --selector-label that match, and answers none for one that does not', async () => {
    const regional = await startQuerier({ httpAddress: '127.0.0.1:0', endpoints: stack.sidecars.map((s) => s.grpcAddress), replicaLabels: ['replica'], selectorLabels: Labels.from({ region: 'eu' }), logger: nopLogger });
    try {
      const end = (Date.now() - 1000) / 1000;
      const window = { start: String(end - 60), end: String(end) };
      const base = `http://${regional.httpAddress}`;
      const want = JSON.parse((await get(stack.url, { query: 'requests_total', ...window })).text) as { data: ExemplarSeries[] };
      expect(want.data).toHaveLength(1);
      expect(JSON.parse((await get(base, { query: 'requests_total{region="eu"}', ...window })).text)).toEqual(want);
      expect(JSON.parse((await get(base, { query: 'requests_total{region="us"}', ...window })).text)).toEqual({ status: 'success', data: [] });
    } finally {
      await regional.stop();
    }
  });

  it('answers a query without selectors and a malformed one as Prometheus does', async () => {
    for (const query of ['1', 'sum(']) {
      const [got, want] = await Promise.all([get(stack.url, { query }), get(stack.replicas[0]?.url as string, { query })]);
      expect(got.code, query).toBe(want.code);
      expect(got.text, query).toBe(want.text);
    }
  });
});
