// Prometheus 2.42 as a client of the querier, over two replicas scraping the same target: with
// `remote_read` from it, it evaluates its recording rules over the replicas deduplicated (as the README
// tells users to run rules over all clusters); scraping its /federate, it gets each series once, as the
// replicas' own /federate give it. And the querier's cardinality statistics (`/api/v1/status/tsdb`) are
// what each replica's TSDB status page shows, once over both.
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

/** Series of several cardinalities for the TSDB status: 6 of them, 3 paths, 2 codes. */
const REQUESTS = [['200', '/'], ['200', '/api'], ['500', '/api'], ['200', '/metrics'], ['404', '/metrics'], ['500', '/metrics']]
  .map(([code, path], i) => `shared_requests_total{code="${code}",path="${path}"} ${i}\n`)
  .join('');

let target: Server;
let stack: ReplicaStack;
let ruler: PrometheusHandle;
let federator: PrometheusHandle;

type Vector = { result: { metric: Record<string, string>; value: [number, string] }[] };

beforeAll(async () => {
  target = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(`# TYPE shared_value gauge\nshared_value 7\n# TYPE shared_requests_total counter\n${REQUESTS}`);
  });
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  const scrape = { job_name: 'shared', scrape_interval: '1s', static_configs: [{ targets: [`127.0.0.1:${(target.address() as AddressInfo).port}`] }] };
  stack = await replicaStack(2, () => ({ scrapeConfigs: [scrape] }), async (prom) => (await prom.api<Vector>('query', { query: 'shared_value' })).result.length > 0);
  const rules = join(stack.dir, 'global-rules.yml');
  writeFileSync(rules, RULES);
  ruler = await startPrometheus({ dir: join(stack.dir, 'ruler'), ruleFiles: [rules], remoteRead: [{ url: `${stack.url}/api/v1/read`, read_recent: true }] });
  const federation = { job_name: 'federate', honor_labels: true, metrics_path: '/federate', params: { 'match[]': ['{job="shared"}'] }, scrape_interval: '1s', static_configs: [{ targets: [stack.querier.httpAddress] }] };
  federator = await startPrometheus({ dir: join(stack.dir, 'federator'), scrapeConfigs: [federation] });
}, 90_000);

afterAll(async () => {
  await federator?.stop();
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

/** A /federate answer's samples: each series (labels without `replica`, in order) with its value and timestamp. */
function federated(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([^{ ]+)\{(.*)\} (\S+) (\d+)$/.exec(line);
    expect(m, line).not.toBeNull();
    const [, name, pairs, value, t] = m as RegExpExecArray;
    const labels = (pairs as string).split(',').filter((p) => !p.startsWith('replica=')).sort();
    out.set(`${name}{${labels.join(',')}}`, `${value} ${t}`);
  }
  return out;
}

describe('/federate', () => {
  it("answers each series once with its latest sample, as the replicas' own /federate give it", async () => {
    const get = async (base: string) => (await fetch(`${base}/federate?${new URLSearchParams({ 'match[]': '{job="shared"}' })}`)).text();
    let ours = new Map<string, string>();
    let theirs: Map<string, string>[] = [];
    // A scrape between the answers would show a newer sample in one: asked again then.
    for (let attempt = 0; attempt < 5; attempt++) {
      ours = federated(await get(stack.url));
      theirs = await Promise.all(stack.replicas.map(async (r) => federated(await get(r.url))));
      if ([...ours].every(([k, v]) => theirs.some((t) => t.get(k) === v))) break;
    }
    expect([...ours.keys()].sort()).toEqual([...(theirs[0] as Map<string, string>).keys()].sort());
    for (const [series, sample] of ours) expect(theirs.map((t) => t.get(series)), series).toContain(sample);
    // Two replicas scraped the target: its series once, without the replica label.
    expect([...ours.keys()].filter((k) => k.startsWith('shared_value{'))).toHaveLength(1);
    const res = await fetch(`${stack.url}/federate?match[]=${encodeURIComponent('{job=')}`);
    expect([res.status, res.headers.get('content-type')]).toEqual([400, 'text/plain; charset=utf-8']);
  });

  it('lets a Prometheus scrape the global view, each series once', async () => {
    const scraped = () => federator.api<Vector>('query', { query: 'shared_value' });
    for (let i = 0; i < 100 && (await scraped()).result.length === 0; i++) await sleep(100);
    const result = (await scraped()).result;
    expect(result.map((s) => [s.metric.cluster, s.metric.job, s.metric.replica, s.value[1]])).toEqual([['c1', 'shared', undefined, '7']]);
    // honor_labels kept the instance of the replicas' target, not the querier's address.
    expect(result[0]?.metric.instance).not.toBe(stack.querier.httpAddress);
  });
});

describe('/api/v1/status/tsdb', () => {
  type Stat = { name: string; value: number };
  type TsdbStatus = { headStats: { numSeries: number; numLabelPairs: number }; seriesCountByMetricName: Stat[]; labelValueCountByLabelName: Stat[]; memoryInBytesByLabelName: Stat[]; seriesCountByLabelValuePair: Stat[] };
  const LISTS = ['seriesCountByMetricName', 'labelValueCountByLabelName', 'memoryInBytesByLabelName', 'seriesCountByLabelValuePair'] as const;

  it("gives each replica's cardinality statistics, as its own TSDB status does, once over both replicas", async () => {
    const status = async (base: string, query = '') => ((await (await fetch(`${base}/api/v1/status/tsdb${query}`)).json()) as { data: TsdbStatus }).data;
    // Every series the heads hold, so that ties at Prometheus' tenth place can be told apart.
    const ours = await status(stack.url, '?limit=1000');
    // The querier's series carry the replicas' external label cluster="c1", which their heads do not.
    const withoutCluster = (list: Stat[]) => list.filter((s) => s.name !== 'cluster' && s.name !== 'cluster=c1');
    for (const replica of stack.replicas) {
      const theirs = await status(replica.url);
      expect(theirs.headStats.numSeries).toBe(12);
      expect(ours.headStats.numSeries).toBe(theirs.headStats.numSeries);
      expect(ours.headStats.numLabelPairs).toBe(theirs.headStats.numLabelPairs + 1);
      for (const list of LISTS) {
        const mine = withoutCluster(ours[list]);
        // Prometheus' 2.42 lists hold 10 (ties in its map's order): the same counts, each of its names counted alike.
        expect(theirs[list].map((s) => s.value), list).toEqual(mine.slice(0, 10).map((s) => s.value));
        for (const s of theirs[list]) expect(mine.find((m) => m.name === s.name)?.value, `${list} ${s.name}`).toBe(s.value);
      }
    }
    // Without deduplication, both replicas' series, told apart by their replica label.
    const both = await status(stack.url, '?dedup=false&limit=1000');
    expect(both.headStats.numSeries).toBe(2 * ours.headStats.numSeries);
    expect(both.seriesCountByLabelValuePair.filter((s) => s.name.startsWith('replica='))).toEqual([{ name: 'replica=r0', value: 12 }, { name: 'replica=r1', value: 12 }]);
  });
});
