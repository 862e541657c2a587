// The sidecar against a real Prometheus 2.42 (1s scrapes of itself, 5s blocks), compared with what
// Prometheus' own HTTP API answers for the same selectors and ranges.
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createServer, type Server, type Socket, connect } from 'node:net';
import { TimeBound } from '@strata/block';
import { startPrometheus, type PrometheusHandle } from '@strata/testing/prometheus';
import { freePort, sleep, startProcess, startSilentServer, tempDir, type Managed } from '@strata/testing/process';
import { nopLogger } from '@strata/runtime';
import {
  GrpcStatus,
  labelNamesRequest,
  labelValuesRequest,
  MAX_INT64,
  readChunkSeries,
  SeriesCallError,
  seriesRequest,
  StoreClient,
  type LabelMatcher,
  type SeriesRequest,
  type SeriesLimits,
} from '@strata/storeapi';
import { isULID, Labels, ValueType, type ChunkSeries } from '@strata/tsdb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResponseType } from '@strata/storeapi';
import { parsePrometheusHttpClientConfig, start, type Sidecar } from './index.js';

const EXT = { cluster: 'c1', replica: 'r0' };

let dir: { path: string; cleanup: () => Promise<void> };
let prom: PrometheusHandle;
let proxy: TcpProxy;
let sidecar: Sidecar;
let client: StoreClient;

/** A TCP proxy in front of Prometheus, so a test can make Prometheus unreachable and reachable again. */
interface TcpProxy {
  url: string;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

async function tcpProxy(targetPort: number): Promise<TcpProxy> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  const up = () =>
    new Promise<void>((resolve) => {
      server = createServer((s) => {
        const t = connect(targetPort, '127.0.0.1');
        sockets.add(s).add(t);
        s.pipe(t).pipe(s);
        const end = () => {
          s.destroy();
          t.destroy();
          sockets.delete(s);
          sockets.delete(t);
        };
        s.on('error', end).on('close', end);
        t.on('error', end).on('close', end);
      });
      server.listen(port, '127.0.0.1', () => resolve());
    });
  const down = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  };
  await up();
  return { url: `http://127.0.0.1:${port}`, up, down, close: down };
}

async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

const persistedBlocks = async () => (await readdir(prom.dataDir)).filter(isULID);

/** A sample of a sidecar's metrics, by name and labels as written (e.g. `strata_sidecar_series_calls_total{source="blocks"}`); 0 if absent. */
async function metric(s: Sidecar, series: string): Promise<number> {
  const line = (await s.registry.metrics()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/** Samples of the decoded chunk series within [mint, maxt], keyed by labels without the external ones. */
function samplesByLabels(series: ChunkSeries[], mint: number, maxt: number): Map<string, [number, number][]> {
  const out = new Map<string, [number, number][]>();
  for (const s of series) {
    const key = JSON.stringify(s.labels.without(Object.keys(EXT)).toRecord());
    const samples: [number, number][] = [];
    for (const c of s.chunks) {
      const it = c.chunk.iterator();
      while (it.next() === ValueType.Float) if (it.atT() >= mint && it.atT() <= maxt) samples.push([it.atT(), it.atFloat()]);
      expect(it.err()).toBeNull();
    }
    samples.sort((a, b) => a[0] - b[0]);
    if (samples.length > 0) out.set(key, samples);
  }
  return out;
}

/** Prometheus' own answer: the raw samples of `selector` in [mint, maxt] via a range-vector query. */
async function promSamples(selector: string, mint: number, maxt: number, p: PrometheusHandle = prom): Promise<Map<string, [number, number][]>> {
  const data = await p.api<{ result: { metric: Record<string, string>; values: [number, string][] }[] }>('query', {
    query: `${selector}[${maxt - mint}ms]`,
    time: (maxt / 1000).toFixed(3),
  });
  const out = new Map<string, [number, number][]>();
  for (const r of data.result) {
    out.set(
      JSON.stringify(r.metric),
      r.values.map(([t, v]) => [Math.round(t * 1000), Number(v)]),
    );
  }
  return out;
}

async function series(req: Partial<SeriesRequest>, c: StoreClient = client): Promise<ChunkSeries[]> {
  const out: ChunkSeries[] = [];
  for await (const s of readChunkSeries(c.series(seriesRequest(req)))) out.push(s);
  return out;
}

const m = (name: string, value: string, type: LabelMatcher['type'] = 0): LabelMatcher => ({ type, name, value });

let startMs: number;

beforeAll(async () => {
  dir = await tempDir('strata-sidecar-');
  startMs = Date.now();
  prom = await startPrometheus({ dir: dir.path, externalLabels: EXT, scrapeInterval: '1s', blockDuration: '5s', scrapeSelf: true });
  proxy = await tcpProxy(prom.port);
  sidecar = await start({
    prometheusUrl: proxy.url,
    tsdbPath: prom.dataDir,
    grpcAddress: '127.0.0.1:0',
    httpAddress: '127.0.0.1:0',
    heartbeatIntervalMs: 500,
    logger: nopLogger,
  });
  client = new StoreClient(sidecar.grpcAddress);
  // Data both in persisted blocks and in the head.
  await waitFor('a persisted block', async () => (await persistedBlocks()).length >= 2, 90_000);
}, 180_000);

afterAll(async () => {
  client?.close();
  await sidecar?.stop();
  await proxy?.close();
  await prom?.stop();
  await dir?.cleanup();
});

describe('sidecar against Prometheus 2.42', () => {
  it('Series returns sample for sample what Prometheus holds, across blocks (read from disk) and head (remote read)', async () => {
    await waitFor('blocks loaded from disk', async () => (await metric(sidecar, 'strata_bucket_store_blocks_loaded')) >= 2);
    const fromBlocks = await metric(sidecar, 'strata_sidecar_series_calls_total{source="blocks"}');
    const maxt = Date.now() - 1000;
    const mint = startMs - 60_000;
    const metas = await Promise.all((await persistedBlocks()).map(async (id) => JSON.parse(await readFile(join(prom.dataDir, id, 'meta.json'), 'utf8')) as { minTime: number }));
    const oldestBlock = Math.min(...metas.map((x) => x.minTime));
    expect(oldestBlock).toBeLessThan(maxt - 5000);
    for (const sel of [
      [m('__name__', 'up')],
      [m('__name__', 'prometheus_http_requests_total'), m('handler', '/api/v1/.*', 2)],
      [m('__name__', 'go_gc_duration_seconds')],
      [m('__name__', 'prometheus_tsdb_head_.+', 2), m('__name__', '.*series.*', 2)],
    ]) {
      const text = `{${sel.map((x) => `${x.name}${['=', '!=', '=~', '!~'][x.type]}${JSON.stringify(x.value)}`).join(',')}}`;
      const want = await promSamples(text, mint, maxt);
      const gotSeries = await series({ minTime: mint, maxTime: maxt, matchers: sel });
      for (const s of gotSeries) expect(s.labels.toRecord()).toMatchObject(EXT);
      const got = samplesByLabels(gotSeries, mint, maxt);
      expect(want.size).toBeGreaterThan(0);
      expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
      for (const [k, v] of want) expect(got.get(k), k).toEqual(v);
    }
    // Data older than the newest block must have come from persisted blocks.
    const up = samplesByLabels(await series({ minTime: mint, maxTime: maxt, matchers: [m('__name__', 'up')] }), mint, maxt);
    expect([...up.values()][0]![0]![0]).toBeLessThan(oldestBlock + 1000);
    expect(await metric(sidecar, 'strata_sidecar_series_calls_total{source="blocks"}')).toBeGreaterThanOrEqual(fromBlocks + 5);
  });

  it('streams series sorted by label set, with batches, limit and skip_chunks', async () => {
    const maxt = Date.now();
    const req = { minTime: startMs - 60_000, maxTime: maxt, matchers: [m('__name__', 'prometheus_.*', 2)] };
    const plain = await series(req);
    expect(plain.length).toBeGreaterThan(50);
    const keys = plain.map((s) => s.labels);
    for (let i = 1; i < keys.length; i++) expect(Labels.compare(keys[i - 1]!, keys[i]!)).toBeLessThan(0);

    const frames = [];
    for await (const f of client.series(seriesRequest({ ...req, responseBatchSize: 16 }))) frames.push(f);
    expect(frames.every((f) => 'batch' in f)).toBe(true);
    expect(frames.flatMap((f) => ('batch' in f ? f.batch : [])).map((s) => JSON.stringify(s.labels))).toEqual(plain.map((s) => JSON.stringify(s.labels.toArray())));

    expect((await series({ ...req, limit: 7 })).map((s) => s.labels.toString())).toEqual(plain.slice(0, 7).map((s) => s.labels.toString()));

    const skipped = await series({ ...req, skipChunks: true });
    expect(skipped.every((s) => s.chunks.length === 0)).toBe(true);
    const viaApi = await prom.api<Record<string, string>[]>('series', { 'match[]': '{__name__=~"prometheus_.*"}', start: (req.minTime / 1000).toFixed(3), end: (maxt / 1000).toFixed(3) });
    expect(skipped.map((s) => JSON.stringify(s.labels.without(Object.keys(EXT)).toRecord())).sort()).toEqual(viaApi.map((r) => JSON.stringify(r)).sort());
  });

  it('external labels: matched and dropped, replica labels removed on request, error without other matchers', async () => {
    const now = Date.now();
    const base = { minTime: now - 10_000, maxTime: now, matchers: [m('__name__', 'up')] };
    expect(await series({ ...base, matchers: [...base.matchers, m('cluster', 'c1')] })).toHaveLength(1);
    expect(await series({ ...base, matchers: [...base.matchers, m('replica', 'r1')] })).toHaveLength(0);
    expect(await series({ ...base, matchers: [...base.matchers, m('replica', 'r.', 2)] })).toHaveLength(1);
    const stripped = await series({ ...base, withoutReplicaLabels: ['replica'] });
    expect(stripped[0]!.labels.get('replica')).toBe('');
    expect(stripped[0]!.labels.get('cluster')).toBe('c1');
    await expect(series({ ...base, matchers: [m('cluster', 'c1')] })).rejects.toThrow(/no matchers specified \(excluding external labels\)/);
  });

  it('old-Prometheus path: a SAMPLES response re-chunked gives the same samples', async () => {
    const old = await start({
      prometheusUrl: prom.url,
      tsdbPath: prom.dataDir,
      grpcAddress: '127.0.0.1:0',
      httpAddress: '127.0.0.1:0',
      remoteReadResponseTypes: [ResponseType.SAMPLES],
      // Everything through remote read, blocks too.
      serveBlocks: false,
      logger: nopLogger,
    });
    const c = new StoreClient(old.grpcAddress);
    try {
      const maxt = Date.now() - 1000;
      const mint = startMs - 60_000;
      const req = seriesRequest({ minTime: mint, maxTime: maxt, matchers: [m('__name__', 'prometheus_tsdb_.*', 2)] });
      const got: ChunkSeries[] = [];
      for await (const s of readChunkSeries(c.series(req))) got.push(s);
      expect(got.every((s) => s.chunks.every((ch) => ch.chunk.numSamples() <= 120))).toBe(true);
      const want = await promSamples('{__name__=~"prometheus_tsdb_.*"}', mint, maxt);
      const have = samplesByLabels(got, mint, maxt);
      expect([...have.keys()].sort()).toEqual([...want.keys()].sort());
      for (const [k, v] of want) expect(have.get(k), k).toEqual(v);
    } finally {
      c.close();
      await old.stop();
    }
  });

  it('--min-time: advertised and enforced', async () => {
    const minTime = Date.now() - 5_000;
    const limited = await start({ prometheusUrl: prom.url, tsdbPath: prom.dataDir, grpcAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', minTime: TimeBound.at(minTime), logger: nopLogger });
    const c = new StoreClient(limited.grpcAddress);
    try {
      expect((await c.info()).store?.minTime).toBe(minTime);
      const got: ChunkSeries[] = [];
      for await (const s of readChunkSeries(c.series(seriesRequest({ minTime: startMs - 60_000, maxTime: Date.now(), matchers: [m('__name__', 'up')] })))) got.push(s);
      const samples = samplesByLabels(got, startMs - 60_000, Date.now());
      expect(samples.size).toBe(1);
      // Prometheus trims chunks to the requested range, which the sidecar raised to --min-time; chunks
      // read from blocks are sent whole, as the store gateway sends them: none ends before --min-time.
      for (const s of got) for (const c of s.chunks) expect(c.maxTime).toBeGreaterThanOrEqual(minTime);
    } finally {
      c.close();
      await limited.stop();
    }
  });

  it("counts the calls it answers from disk under the tenant the querier names, as the store gateway does", async () => {
    await waitFor('blocks loaded from disk', async () => (await metric(sidecar, 'strata_bucket_store_blocks_loaded')) >= 2);
    const metas = await Promise.all((await persistedBlocks()).map(async (id) => JSON.parse(await readFile(join(prom.dataDir, id, 'meta.json'), 'utf8')) as { minTime: number; maxTime: number }));
    const oldest = metas.reduce((a, b) => (b.minTime < a.minTime ? b : a));
    const calls = (tenant: string) => metric(sidecar, `strata_bucket_store_series_blocks_queried_count{tenant="${tenant}"}`);
    const before = await calls('team-a');
    let n = 0;
    for await (const s of readChunkSeries(client.series(seriesRequest({ minTime: oldest.minTime, maxTime: oldest.maxTime - 1, matchers: [m('__name__', 'prometheus_tsdb_.*', 2)] }), { tenant: 'team-a' }))) n += s.chunks.length;
    expect(n).toBeGreaterThan(0);
    expect(await calls('team-a')).toBe(before + 1);
  });

  it('--store.limits.request-series and --store.limits.request-samples: a call past either fails with ResourceExhausted naming the flag', async () => {
    await waitFor('blocks loaded from disk', async () => (await metric(sidecar, 'strata_bucket_store_blocks_loaded')) >= 2);
    // The oldest block's range: read from disk, its chunks whole, the same at every call.
    const metas = await Promise.all((await persistedBlocks()).map(async (id) => JSON.parse(await readFile(join(prom.dataDir, id, 'meta.json'), 'utf8')) as { minTime: number; maxTime: number }));
    const oldest = metas.reduce((a, b) => (b.minTime < a.minTime ? b : a));
    const req = { minTime: oldest.minTime, maxTime: oldest.maxTime - 1, matchers: [m('__name__', 'prometheus_tsdb_.*', 2)] };
    const unlimited = await series(req);
    const samples = unlimited.reduce((n, s) => n + s.chunks.reduce((k, c) => k + c.chunk.numSamples(), 0), 0);
    expect(unlimited.length).toBeGreaterThan(1);
    /** What a sidecar with `limits` answers `r`: how many series, or the gRPC status and the flag its error names. */
    const answer = async (limits: SeriesLimits, r: Partial<SeriesRequest>): Promise<string> => {
      const limited = await start({ prometheusUrl: prom.url, tsdbPath: prom.dataDir, grpcAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', seriesLimits: limits, logger: nopLogger });
      const c = new StoreClient(limited.grpcAddress);
      try {
        await waitFor('blocks loaded from disk', async () => (await metric(limited, 'strata_bucket_store_blocks_loaded')) >= 1);
        return `${(await series(r, c)).length} series`;
      } catch (e) {
        if (!(e instanceof SeriesCallError)) throw e;
        return `${GrpcStatus[e.code]} ${/--store\.limits\.request-\w+/.exec(e.details)?.[0]}`;
      } finally {
        c.close();
        await limited.stop();
      }
    };
    expect(await answer({ series: unlimited.length, samples }, req)).toBe(`${unlimited.length} series`);
    expect(await answer({ series: unlimited.length - 1, samples: 0 }, req)).toBe('RESOURCE_EXHAUSTED --store.limits.request-series');
    expect(await answer({ series: 0, samples: samples - 1 }, req)).toBe('RESOURCE_EXHAUSTED --store.limits.request-samples');
    // Up to now: the later blocks and the head (remote read) add samples.
    expect(await answer({ series: 0, samples }, { ...req, maxTime: Date.now() })).toBe('RESOURCE_EXHAUSTED --store.limits.request-samples');
  });

  it('LabelNames and LabelValues equal Prometheus answers plus the external labels', async () => {
    const end = Date.now();
    const start = startMs - 60_000;
    const range = { start: (start / 1000).toFixed(3), end: (end / 1000).toFixed(3) };
    const names = await client.labelNames(labelNamesRequest({ start, end }));
    expect(names.names).toEqual([...(await prom.api<string[]>('labels', range)), 'cluster', 'replica'].sort());
    const matched = await client.labelNames(labelNamesRequest({ start, end, matchers: [m('__name__', 'prometheus_http_requests_total')] }));
    expect(matched.names).toEqual([...(await prom.api<string[]>('labels', { ...range, 'match[]': 'prometheus_http_requests_total' })), 'cluster', 'replica'].sort());
    expect((await client.labelNames(labelNamesRequest({ start, end, withoutReplicaLabels: ['replica'] }))).names).not.toContain('replica');

    const handlers = await client.labelValues(labelValuesRequest({ label: 'handler', start, end }));
    expect(handlers.values).toEqual(await prom.api<string[]>('label/handler/values', range));
    const onlyUp = await client.labelValues(labelValuesRequest({ label: '__name__', start, end, matchers: [m('__name__', 'go_.*', 2)] }));
    expect(onlyUp.values).toEqual(await prom.api<string[]>('label/__name__/values', { ...range, 'match[]': '{__name__=~"go_.*"}' }));
    expect(onlyUp.values.length).toBeGreaterThan(5);
    expect((await client.labelValues(labelValuesRequest({ label: 'cluster', start, end }))).values).toEqual(['c1']);
    expect((await client.labelValues(labelValuesRequest({ label: 'replica', start, end, withoutReplicaLabels: ['replica'] }))).values).toEqual([]);
    expect((await client.labelValues(labelValuesRequest({ label: 'job', start, end, matchers: [m('replica', 'other')] }))).values).toEqual([]);
  });

  it('Info advertises the external labels and the lowest timestamp; Prometheus down makes it not ready until it returns', async () => {
    const info = await client.info();
    expect(info.componentType).toBe('sidecar');
    expect(info.labelSets).toEqual([[{ name: 'cluster', value: 'c1' }, { name: 'replica', value: 'r0' }]]);
    expect(info.store?.maxTime).toBe(MAX_INT64);
    expect(info.store?.supportsWithoutReplicaLabels).toBe(true);
    const metricsText = await (await fetch(`${prom.url}/metrics`)).text();
    const lowest = Number(/^prometheus_tsdb_lowest_timestamp_seconds (\S+)/m.exec(metricsText)![1]) * 1000;
    expect(Math.abs(info.store!.minTime - lowest)).toBeLessThan(5_000);
    expect(info.store!.minTime).toBeGreaterThanOrEqual(startMs - 60_000);

    const http = `http://${sidecar.httpAddress}`;
    expect((await fetch(`${http}/-/ready`)).status).toBe(200);
    await proxy.down();
    await waitFor('not ready', async () => (await fetch(`${http}/-/ready`)).status === 503, 10_000);
    expect(await (await fetch(`${http}/metrics`)).text()).toMatch(/^strata_sidecar_prometheus_up 0$/m);
    expect((await fetch(`${http}/-/healthy`)).status).toBe(200);
    await proxy.up();
    await waitFor('ready again', async () => (await fetch(`${http}/-/ready`)).status === 200, 10_000);
    const metrics = await (await fetch(`${http}/metrics`)).text();
    expect(metrics).toMatch(/^strata_sidecar_prometheus_up 1$/m);
    expect(metrics).toMatch(/^grpc_server_handled_total\{grpc_service="thanos.Store",grpc_method="Series",grpc_type="server_stream",grpc_code="OK"\} [1-9]/m);
  });
});

describe("sidecar serving Prometheus 2.42's blocks from disk while Prometheus compacts, deletes and tombstones them", () => {
  let p: PrometheusHandle;
  let d: { path: string; cleanup: () => Promise<void> };
  let s: Sidecar;
  let c: StoreClient;
  let began: number;

  beforeAll(async () => {
    d = await tempDir('strata-sidecar-compacting-');
    began = Date.now();
    // 5s blocks compacted locally up to 20s (parents replaced, then deleted), 40s retention; the admin API for delete_series.
    p = await startPrometheus({ dir: d.path, externalLabels: EXT, scrapeInterval: '1s', blockDuration: '5s', maxBlockDuration: '20s', retention: '40s', scrapeSelf: true, extraArgs: ['--web.enable-admin-api'] });
    s = await start({ prometheusUrl: p.url, tsdbPath: p.dataDir, grpcAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', heartbeatIntervalMs: 200, logger: nopLogger });
    c = new StoreClient(s.grpcAddress);
  }, 60_000);

  afterAll(async () => {
    c?.close();
    await s?.stop();
    await p?.stop();
    await d?.cleanup();
  });

  /**
   * The sidecar's samples of `selector` equal Prometheus' own over the last 30s (up to a second ago): out
   * of reach of the retention, which may delete older blocks between the two answers.
   */
  const expectSameAsPrometheus = async (text: string, sel: LabelMatcher[]) => {
    const maxt = Date.now() - 1000;
    const mint = maxt - 29_000;
    const want = await promSamples(text, mint, maxt, p);
    const got = samplesByLabels(await series({ minTime: mint, maxTime: maxt, matchers: sel }, c), mint, maxt);
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [k, v] of want) expect(got.get(k), k).toEqual(v);
  };

  it('answers exactly as Prometheus while blocks are compacted into others and deleted', async () => {
    const compacted = async () => {
      for (const id of (await readdir(p.dataDir)).filter(isULID)) {
        const meta = JSON.parse(await readFile(join(p.dataDir, id, 'meta.json'), 'utf8').catch(() => '{}')) as { compaction?: { level: number } };
        if ((meta.compaction?.level ?? 0) > 1) return true;
      }
      return false;
    };
    let rounds = 0;
    // Until Prometheus has compacted blocks and its retention deleted some (and a few more rounds after).
    while (rounds < 8 || !(await compacted()) || Date.now() - began < 50_000) {
      await expectSameAsPrometheus('{__name__="up"}', [m('__name__', 'up')]);
      await expectSameAsPrometheus('{__name__=~"prometheus_tsdb_head_.+"}', [m('__name__', 'prometheus_tsdb_head_.+', 2)]);
      rounds++;
      await sleep(500);
    }
    expect(await metric(s, 'strata_sidecar_series_calls_total{source="blocks"}')).toBeGreaterThan(0);
  }, 120_000);

  it('leaves out samples deleted with the admin API (tombstones) as Prometheus does', async () => {
    await waitFor('blocks loaded from disk', async () => (await metric(s, 'strata_bucket_store_blocks_loaded')) >= 2);
    const end = Date.now() - 8_000;
    const range = { start: ((end - 12_000) / 1000).toFixed(3), end: (end / 1000).toFixed(3) };
    const res = await fetch(`${p.url}/api/v1/admin/tsdb/delete_series?${new URLSearchParams({ 'match[]': 'up', ...range })}`, { method: 'POST' });
    expect(res.status).toBe(204);
    // Tombstoned blocks are read through remote read until Prometheus rewrites them without the samples.
    await expectSameAsPrometheus('{__name__="up"}', [m('__name__', 'up')]);
    const left = await promSamples('{__name__="up"}', end - 12_000, end, p);
    expect([...left.values()].flat()).toEqual([]);
  }, 60_000);
});

describe('sidecar reloader against Prometheus 2.42', () => {
  it('puts a configuration template with $(NAME) references in place and has Prometheus reload it, and its rules when they change', async () => {
    const d = await tempDir('strata-sidecar-reloader-');
    const p = await startPrometheus({ dir: d.path, externalLabels: { cluster: 'c', replica: 'a' } });
    let sidecar: Sidecar | undefined;
    try {
      const rules = join(d.path, 'rules');
      await mkdir(rules);
      const template = join(d.path, 'prometheus.yml.tmpl');
      await writeFile(template, `global:\n  external_labels: {cluster: c, replica: $(REPLICA)}\nrule_files: ['${rules}/*.yml']\n`);
      sidecar = await start({
        prometheusUrl: p.url,
        tsdbPath: p.dataDir,
        grpcAddress: '127.0.0.1:0',
        httpAddress: '127.0.0.1:0',
        logger: nopLogger,
        // The file the harness started Prometheus with is the one the reloader writes.
        reloader: { configFile: template, configOutputFile: join(d.path, 'prometheus.yml'), ruleDirs: [rules], env: { REPLICA: 'b' } },
      });
      const config = async () => (await p.api<{ yaml: string }>('status/config')).yaml;
      await until('Prometheus runs the substituted configuration', async () => /replica: b/.test(await config()));
      await writeFile(join(rules, 'demo.yml'), 'groups:\n- name: demo\n  rules:\n  - record: job:up:sum\n    expr: sum(up)\n');
      await until('Prometheus loaded the new rule file', async () => (await p.api<{ groups: { name: string }[] }>('rules')).groups.some((g) => g.name === 'demo'));
      const metrics = await (await fetch(`http://${sidecar.httpAddress}/metrics`)).text();
      expect(metrics).toMatch(/^strata_sidecar_reloader_reloads_total [2-9]/m);
      expect(metrics).toMatch(/^strata_sidecar_reloader_last_reload_successful 1$/m);
    } finally {
      await sidecar?.stop();
      await p.stop();
      await d.cleanup();
    }
  }, 60_000);
});

describe('sidecar against a Prometheus 2.42 behind TLS and basic auth (--web.config.file)', () => {
  it('reaches it with --prometheus.http-client, and says what failed without', async () => {
    const d = await tempDir('strata-sidecar-auth-');
    let prom: Managed | undefined;
    let sidecar: Sidecar | undefined;
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'k.pem', '-out', 'c.pem', '-days', '1', '-subj', '/CN=prometheus.internal'], { cwd: d.path, stdio: 'pipe' });
      // bcrypt's published test vector: the password is "U*U".
      await writeFile(join(d.path, 'web.yml'), `tls_server_config: {cert_file: c.pem, key_file: k.pem}\nbasic_auth_users:\n  strata: $2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW\n`);
      await writeFile(join(d.path, 'password'), 'U*U\n');
      await writeFile(join(d.path, 'prometheus.yml'), 'global:\n  external_labels: {cluster: c, replica: a}\n');
      const port = await freePort();
      prom = startProcess('prometheus', ['--config.file=prometheus.yml', '--web.config.file=web.yml', `--storage.tsdb.path=${join(d.path, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { cwd: d.path, logFile: join(d.path, 'prometheus.log') });
      const url = `https://127.0.0.1:${port}`;
      const httpClient = parsePrometheusHttpClientConfig(`basic_auth: {username: strata, password_file: ${join(d.path, 'password')}}\ntls_config: {ca_file: ${join(d.path, 'c.pem')}, server_name: prometheus.internal}\n`);
      const base = { prometheusUrl: url, tsdbPath: join(d.path, 'data'), grpcAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', logger: nopLogger };
      // Start waits for Prometheus and reads its external labels: over TLS, authenticated.
      sidecar = await start({ ...base, prometheusHttpClient: httpClient, readyTimeoutMs: 30_000 });
      const client = new StoreClient(sidecar.grpcAddress);
      try {
        expect((await client.info()).labelSets).toEqual([[{ name: 'cluster', value: 'c' }, { name: 'replica', value: 'a' }]]);
        // Remote read and the label API go the same way.
        const frames: unknown[] = [];
        for await (const f of client.series(seriesRequest({ minTime: 0, maxTime: Date.now(), matchers: [{ type: 0, name: '__name__', value: 'up' }] }))) frames.push(f);
        expect(frames).toEqual([]);
        expect((await client.labelNames(labelNamesRequest({ start: 0, end: Date.now() }))).names).toEqual(['cluster', 'replica']);
      } finally {
        client.close();
      }
      await expect(start({ ...base, prometheusHttpClient: { tls: httpClient.tls! }, readyTimeoutMs: 5_000 })).rejects.toThrow(/401|Unauthorized/);
      await expect(start({ ...base, readyTimeoutMs: 2_000 })).rejects.toThrow(/certificate/);
    } finally {
      await sidecar?.stop();
      await prom?.stop();
      await d.cleanup();
    }
  }, 90_000);
});

async function until(what: string, cond: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(100);
  }
}

describe('sidecar start', () => {
  it('refuses to start when Prometheus has no external labels, saying what to change', async () => {
    const d = await tempDir('strata-sidecar-noext-');
    const p = await startPrometheus({ dir: d.path });
    try {
      await expect(
        start({ prometheusUrl: p.url, tsdbPath: p.dataDir, grpcAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', logger: nopLogger }),
      ).rejects.toThrow(/has no external labels.*add global\.external_labels/);
    } finally {
      await p.stop();
      await d.cleanup();
    }
  });

  it('asks a Prometheus that does not answer for its configuration within --prometheus.get_config_timeout', async () => {
    const silent = await startSilentServer();
    try {
      await expect(
        start({ prometheusUrl: `http://${silent.address}`, tsdbPath: dir.path, grpcAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', readyTimeoutMs: 0, getConfigTimeoutMs: 100, logger: nopLogger }),
      ).rejects.toThrow(/not ready after --prometheus\.ready_timeout: .*no answer within 100 ms \(--prometheus\.get_config_timeout\)/);
    } finally {
      await silent.stop();
    }
  });
});
