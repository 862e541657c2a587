// Global rules as a plain Prometheus reading from Strata: a Prometheus 2.42 with `remote_read` from a
// querier over two replicas scraping the same target evaluates its recording rules over the replicas
// deduplicated, as the README tells users to run rules over all clusters.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from '@strata/testing/process';
import { startPrometheus, type PrometheusHandle } from '@strata/testing/prometheus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replicaStack, type ReplicaStack } from './replicas.js';

const RULES = `groups:
  - name: global
    interval: 1s
    rules:
      - record: shared:count
        expr: count(shared_value)
      - record: cluster:shared_value:sum
        expr: sum by (cluster) (shared_value)
`;

let target: Server;
let stack: ReplicaStack;
let ruler: PrometheusHandle;

type Vector = { result: { metric: Record<string, string>; value: [number, string] }[] };

beforeAll(async () => {
  target = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end('# TYPE shared_value gauge\nshared_value 7\n');
  });
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  const scrape = { job_name: 'shared', scrape_interval: '1s', static_configs: [{ targets: [`127.0.0.1:${(target.address() as AddressInfo).port}`] }] };
  stack = await replicaStack(2, () => ({ scrapeConfigs: [scrape] }), async (prom) => (await prom.api<Vector>('query', { query: 'shared_value' })).result.length > 0);
  const rules = join(stack.dir, 'global-rules.yml');
  writeFileSync(rules, RULES);
  ruler = await startPrometheus({ dir: join(stack.dir, 'ruler'), ruleFiles: [rules], remoteRead: [{ url: `${stack.url}/api/v1/read`, read_recent: true }] });
}, 90_000);

afterAll(async () => {
  await ruler?.stop();
  await stack?.stop();
  await new Promise((resolve) => target?.close(resolve));
});

describe('a Prometheus reading from the querier', () => {
  it('evaluates its rules over every replica, deduplicated', async () => {
    const recorded = (name: string) => ruler.api<Vector>('query', { query: name });
    for (let i = 0; i < 200 && (await recorded('cluster:shared_value:sum')).result.length === 0; i++) await sleep(100);
    // Two replicas scraped one target: one series once deduplicated, not two.
    expect((await recorded('shared:count')).result.map((s) => s.value[1])).toEqual(['1']);
    expect((await recorded('cluster:shared_value:sum')).result.map((s) => [s.metric, s.value[1]])).toEqual([[{ __name__: 'cluster:shared_value:sum', cluster: 'c1' }, '7']]);
    // What the replicas hold without deduplication, for contrast.
    const both = await (await fetch(`${stack.url}/api/v1/query?${new URLSearchParams({ query: 'count(shared_value)', dedup: 'false' })}`)).json() as { data: Vector };
    expect(both.data.result.map((s) => s.value[1])).toEqual(['2']);
  });
});
