// Exemplars through `strata receive`, end to end: a Prometheus 2.42 with exemplar storage scrapes an
// OpenMetrics target whose counter and histogram buckets carry exemplars (a new trace id each scrape) and
// remote-writes them on with `send_exemplars`. A querier over the receiver (`--tsdb.max-exemplars`)
// answers /api/v1/query_exemplars as that Prometheus answers it, the receiver's labels aside, and
// again after the receiver restarted, its exemplars read back from its write-ahead log.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { start as startQuerier, type Querier } from '@strata/querier';
import { start as startReceiver, type ReceiveConfig, type Receiver } from '@strata/receive';
import { nopLogger } from '@strata/runtime';
import { sleep, tempDir } from '@strata/testing/process';
import { startPrometheus, type PrometheusHandle } from '@strata/testing/prometheus';
import { remoteWriteTo } from '@strata/testing/remotewrite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restartableReceiver, until } from './compare.js';

interface ExemplarSeries {
  seriesLabels: Record<string, string>;
  exemplars: { labels: Record<string, string>; value: string; timestamp: number }[];
}

let dir: { path: string; cleanup: () => Promise<void> };
let target: Server;
let prometheus: PrometheusHandle;
let config: ReceiveConfig;
let receiver: Receiver;
let querier: Querier;
let startMs: number;
let scrapes = 0;

/** What the target exposes at its n-th scrape: counts growing, each exemplar a new trace id at the scrape's time. */
function exposition(n: number): string {
  const ts = (Date.now() / 1000).toFixed(3);
  return [
    '# TYPE rpc_requests counter',
    `rpc_requests_total{path="/a"} ${10 * n} # {trace_id="a${n}"} 1 ${ts}`,
    `rpc_requests_total{path="/b"} ${3 * n} # {trace_id="b${n}",span_id="s${n}"} ${n % 4} ${ts}`,
    '# TYPE rpc_latency_seconds histogram',
    `rpc_latency_seconds_bucket{le="0.1"} ${2 * n} # {trace_id="fast${n}"} 0.0${(n % 9) + 1} ${ts}`,
    `rpc_latency_seconds_bucket{le="+Inf"} ${5 * n} # {trace_id="slow${n}"} ${0.5 + n} ${ts}`,
    `rpc_latency_seconds_sum ${1.5 * n}`,
    `rpc_latency_seconds_count ${5 * n}`,
    '# EOF',
    '',
  ].join('\n');
}

beforeAll(async () => {
  dir = await tempDir('strata-receive-exemplars-');
  target = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/openmetrics-text; version=1.0.0; charset=utf-8' }).end(exposition(++scrapes));
  });
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  config = await restartableReceiver(dir.path, { maxExemplars: 1000 });
  receiver = await startReceiver(config);
  startMs = Date.now();
  prometheus = await startPrometheus({
    dir: join(dir.path, 'prometheus'),
    scrapeInterval: '1s',
    extraArgs: ['--enable-feature=exemplar-storage'],
    scrapeConfigs: [{ job_name: 'app', static_configs: [{ targets: [`127.0.0.1:${(target.address() as AddressInfo).port}`] }] }],
    remoteWrite: [{ ...remoteWriteTo(config.remoteWriteAddress), send_exemplars: true }],
  });
  querier = await startQuerier({ httpAddress: '127.0.0.1:0', grpcAddress: '127.0.0.1:0', endpoints: [config.grpcAddress], logger: nopLogger });
  await until('ten scrapes', async () => scrapes >= 10);
  // Until the receiver holds what Prometheus scraped up to now.
  const upTo = Date.now() - 1000;
  await until('the exemplars in the receiver', async () => {
    const got = await exemplars(`http://${querier.httpAddress}`, upTo);
    const want = await exemplars(prometheus.url, upTo);
    return got.length === 4 && JSON.stringify(got) === JSON.stringify(want);
  });
}, 120_000);

afterAll(async () => {
  await querier?.stop();
  await prometheus?.stop();
  await receiver?.stop();
  await new Promise((resolve) => target?.close(resolve));
  await dir?.cleanup();
});

/** The exemplars `base` answers from the start to `endMs`, each series' without the receiver's labels, sorted by series. */
async function exemplars(base: string, endMs: number): Promise<ExemplarSeries[]> {
  const params = new URLSearchParams({ query: 'rpc_requests_total or rpc_latency_seconds_bucket', start: String(startMs / 1000), end: String(endMs / 1000) });
  const body = (await (await fetch(`${base}/api/v1/query_exemplars?${params}`)).json()) as { status: string; data: ExemplarSeries[] };
  expect(body.status).toBe('success');
  return body.data
    .map((s) => ({ ...s, seriesLabels: Object.fromEntries(Object.entries(s.seriesLabels).filter(([k]) => k !== 'receive' && k !== 'tenant_id')) }))
    .sort((a, b) => JSON.stringify(a.seriesLabels).localeCompare(JSON.stringify(b.seriesLabels)));
}

describe('exemplars through strata receive', () => {
  it('are answered by a querier over the receiver as by the Prometheus that relayed them', async () => {
    const upTo = Date.now() - 2000;
    const want = await exemplars(prometheus.url, upTo);
    expect(want).toHaveLength(4);
    expect(want.every((s) => s.exemplars.length >= 5)).toBe(true);
    const got = await exemplars(`http://${querier.httpAddress}`, upTo);
    expect(got).toEqual(want);
    // A series' exemplars carry the receiver's labels, as its samples do.
    const body = (await (await fetch(`http://${querier.httpAddress}/api/v1/query_exemplars?query=rpc_requests_total`)).json()) as { data: ExemplarSeries[] };
    expect(body.data[0]?.seriesLabels).toMatchObject({ receive: 'r0', tenant_id: 'default-tenant' });
  });

  it('are read back from the write-ahead log after a restart', async () => {
    const upTo = Date.now() - 2000;
    const before = await exemplars(`http://${querier.httpAddress}`, upTo);
    await receiver.stop();
    receiver = await startReceiver(config);
    await until('the querier reading the restarted receiver', async () => (await exemplars(`http://${querier.httpAddress}`, upTo)).length === 4);
    await sleep(1000);
    expect(await exemplars(`http://${querier.httpAddress}`, upTo)).toEqual(before);
  });
});
