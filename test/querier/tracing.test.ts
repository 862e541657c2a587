// Thanos' --tracing.config (type: OTLP) on real processes: a query sent to the query frontend is one
// trace through the frontend, the querier and the sidecar down to its remote read of Prometheus, each
// process exporting its spans over OTLP (gRPC and HTTP) with the W3C trace context carried across every
// hop. (Debian's Prometheus 2.42 takes a tracing config but exported no span of its own in our trials,
// so the trace is checked up to the sidecar's request to it.)
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { newBucket, parseBucketConfig } from '@strata/objstore';
import { startOtlpReceiver, SPAN_KIND, type OtlpReceiver, type ReceivedSpan } from '@strata/testing/otlp';
import { CLI_SOURCE, freePort, sleep, startCliComponent, startProcess, tempDir, TSX_CHILD_ENV, waitForHttp, type Managed } from '@strata/testing/process';
import { startPrometheus, type PrometheusHandle } from '@strata/testing/prometheus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promtoolBlocks, randomHistory, uploadWithLabels } from '../store/fixtures.js';

let dir: { path: string; cleanup: () => Promise<void> };
let receiver: OtlpReceiver;
let prom: PrometheusHandle;
let sidecar: { proc: Managed; http: string; grpc: string };
const procs: Managed[] = [];

const otlp = (clientType: 'grpc' | 'http', extra = '') => `--tracing.config=type: OTLP\nconfig: {client_type: ${clientType}, endpoint: "${clientType === 'grpc' ? receiver.grpc : receiver.http}", insecure: true${extra}}`;

/** A querier over the sidecar, once it lists it. */
async function querier(name: string, args: string[]): Promise<{ proc: Managed; http: string }> {
  const q = await startCliComponent(dir.path, name, ['query', `--endpoint=${sidecar.grpc}`, ...args]);
  procs.push(q.proc);
  for (;;) {
    const stores = (await (await fetch(`${q.http}/api/v1/stores`)).json()) as { data: Record<string, unknown[]> };
    if (Object.values(stores.data).flat().length > 0) return q;
    await sleep(100);
  }
}

function rangeParams(): URLSearchParams {
  const now = Math.floor(Date.now() / 1000);
  // A step of 1s: the frontend aligns the range to its step, and the data is a few seconds old.
  return new URLSearchParams({ query: 'sum(prometheus_build_info)', start: String(now - 30), end: String(now), step: '1' });
}

/** The trace's spans, once every process that took part has sent them (each flushes when it stops). */
const traceSpans = (traceId: string): ReceivedSpan[] => receiver.spans.filter((s) => s.traceId === traceId);

function find(spans: ReceivedSpan[], service: string, name: string, kind: number): ReceivedSpan {
  const found = spans.find((s) => s.service === service && s.name === name && s.kind === kind);
  if (found === undefined) throw new Error(`no ${service} span ${name} (kind ${kind}) among ${spans.map((s) => `${s.service}:${s.name}`).join(', ')}`);
  return found;
}

/** Whether `ancestor` is `span`'s parent, or its parent's, and so on. */
function descends(spans: ReceivedSpan[], span: ReceivedSpan, ancestor: ReceivedSpan): boolean {
  for (let s: ReceivedSpan | undefined = span; s !== undefined; s = spans.find((p) => p.spanId === s?.parentSpanId)) if (s.parentSpanId === ancestor.spanId) return true;
  return false;
}

beforeAll(async () => {
  dir = await tempDir('strata-tracing-');
  receiver = await startOtlpReceiver();
  prom = await startPrometheus({
    dir: dir.path,
    externalLabels: { replica: 'a' },
    scrapeSelf: true,
    scrapeInterval: '1s',
  });
  sidecar = await startCliComponent(dir.path, 'sidecar', ['sidecar', `--prometheus.url=${prom.url}`, `--tsdb.path=${prom.dataDir}`, otlp('grpc')]);
  procs.push(sidecar.proc);
  // A few scrapes to query.
  await sleep(3000);
}, 120_000);

afterAll(async () => {
  for (const p of procs) await p.stop();
  await prom?.stop();
  await receiver?.stop();
  await dir?.cleanup();
});

describe('--tracing.config', () => {
  it('traces a query from the frontend through the querier and the sidecar into Prometheus', async () => {
    const q = await querier('query', [otlp('http')]);
    const port = await freePort();
    const frontend = startProcess(process.execPath, ['--import', 'tsx', CLI_SOURCE, 'query-frontend', `--http-address=127.0.0.1:${port}`, `--query-frontend.downstream-url=${q.http}`, otlp('grpc')], {
      logFile: join(dir.path, 'frontend.log'),
      env: { ...process.env, ...TSX_CHILD_ENV },
    });
    procs.push(frontend);
    await waitForHttp(`http://127.0.0.1:${port}/-/ready`, { proc: frontend, timeoutMs: 60_000 });

    const res = await fetch(`http://127.0.0.1:${port}/api/v1/query_range?${rangeParams()}`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { data: { result: unknown[] } }).data.result).toHaveLength(1);
    const traceId = res.headers.get('x-thanos-trace-id') ?? '';
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    // Stopping flushes what each process buffered.
    await frontend.stop();
    await q.proc.stop();
    await sidecar.proc.stop();

    const spans = traceSpans(traceId);
    const root = find(spans, 'strata-query-frontend', 'GET /api/v1/query_range', SPAN_KIND.SERVER);
    expect(root.parentSpanId).toBe('');
    expect(root.attributes['http.response.status_code']).toBe(200);
    // The frontend sends the query on as a form.
    const toQuerier = find(spans, 'strata-query-frontend', 'POST /api/v1/query_range', SPAN_KIND.CLIENT);
    expect(toQuerier.parentSpanId).toBe(root.spanId);
    const atQuerier = find(spans, 'strata-query', 'POST /api/v1/query_range', SPAN_KIND.SERVER);
    expect(atQuerier.parentSpanId).toBe(toQuerier.spanId);
    const evaluation = find(spans, 'strata-query', 'promql_range_query', SPAN_KIND.INTERNAL);
    expect(evaluation.parentSpanId).toBe(atQuerier.spanId);
    expect(evaluation.attributes['promql.query']).toBe('sum(prometheus_build_info)');
    const toSidecar = find(spans, 'strata-query', 'thanos.Store/Series', SPAN_KIND.CLIENT);
    expect(descends(spans, toSidecar, evaluation)).toBe(true);
    expect(toSidecar.attributes['server.address']).toBe(sidecar.grpc);
    const atSidecar = find(spans, 'strata-sidecar', 'thanos.Store/Series', SPAN_KIND.SERVER);
    expect(atSidecar.parentSpanId).toBe(toSidecar.spanId);
    expect(atSidecar.attributes['rpc.grpc.status_code']).toBe(0);
    const toPrometheus = find(spans, 'strata-sidecar', 'POST /api/v1/read', SPAN_KIND.CLIENT);
    expect(toPrometheus.parentSpanId).toBe(atSidecar.spanId);
    expect(toPrometheus.attributes['http.response.status_code']).toBe(200);
    // The querier's periodic Info calls start no traces of their own at the sidecar.
    expect(receiver.spans.filter((s) => s.service === 'strata-sidecar' && s.name === 'thanos.info.Info/Info')).toEqual([]);
  }, 120_000);

  it('samples as configured, and always a request with X-Thanos-Force-Tracing', async () => {
    sidecar = await startCliComponent(dir.path, 'sidecar-2', ['sidecar', `--prometheus.url=${prom.url}`, `--tsdb.path=${prom.dataDir}`, otlp('grpc', ', service_name: strata-sidecar-2')]);
    procs.push(sidecar.proc);
    const q = await querier('query-never', [otlp('grpc', ', sampler_type: neversample, service_name: strata-query-never')]);
    const plain = await fetch(`${q.http}/api/v1/query_range?${rangeParams()}`);
    expect(plain.status).toBe(200);
    expect(plain.headers.get('x-thanos-trace-id')).toBeNull();
    const forced = await fetch(`${q.http}/api/v1/query_range?${rangeParams()}`, { headers: { 'X-Thanos-Force-Tracing': 'true' } });
    expect(forced.status).toBe(200);
    const traceId = forced.headers.get('x-thanos-trace-id') ?? '';
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    await q.proc.stop();
    await sidecar.proc.stop();
    const spans = traceSpans(traceId);
    find(spans, 'strata-query-never', 'GET /api/v1/query_range', SPAN_KIND.SERVER);
    // The sidecar follows the caller's decision (parent-based sampling).
    find(spans, 'strata-sidecar-2', 'thanos.Store/Series', SPAN_KIND.SERVER);
    // The request without the header left no span anywhere: the sidecar followed the querier's decision
    // not to sample it (its own sampler would have kept it).
    expect(receiver.spans.filter((s) => (s.service === 'strata-query-never' || s.service === 'strata-sidecar-2') && s.traceId !== traceId)).toEqual([]);
  }, 120_000);

  it("traces a store gateway's Series call with what it read from the bucket", async () => {
    const history = randomHistory(31, 3);
    const bucketDir = join(dir.path, 'bucket');
    await mkdir(bucketDir);
    const objstore = `--objstore.config=type: FILESYSTEM\nconfig: {directory: ${bucketDir}}`;
    const bucket = newBucket(parseBucketConfig(`type: FILESYSTEM\nconfig: {directory: ${bucketDir}}`));
    for (const b of await promtoolBlocks(history.openMetrics, join(dir.path, 'blocks'))) await uploadWithLabels(bucket, b, { cluster: 'traced' });
    await bucket.close();
    const store = await startCliComponent(dir.path, 'store', ['store', objstore, `--data-dir=${join(dir.path, 'store')}`, otlp('grpc')]);
    procs.push(store.proc);
    const q = await startCliComponent(dir.path, 'query-store', ['query', `--endpoint=${store.grpc}`, otlp('http')]);
    procs.push(q.proc);
    while (Object.values(((await (await fetch(`${q.http}/api/v1/stores`)).json()) as { data: Record<string, unknown[]> }).data).flat().length === 0) await sleep(100);
    const params = new URLSearchParams({ query: 'sum by (job) (rh_requests)', start: String(history.start / 1000), end: String(history.end / 1000), step: '60' });
    const res = await fetch(`${q.http}/api/v1/query_range?${params}`);
    expect(res.status).toBe(200);
    const traceId = res.headers.get('x-thanos-trace-id') ?? '';
    await q.proc.stop();
    await store.proc.stop();
    const spans = traceSpans(traceId);
    const toStore = find(spans, 'strata-query', 'thanos.Store/Series', SPAN_KIND.CLIENT);
    const atStore = find(spans, 'strata-store', 'thanos.Store/Series', SPAN_KIND.SERVER);
    expect(atStore.parentSpanId).toBe(toStore.spanId);
    expect(atStore.attributes['store.blocks_queried']).toBeGreaterThan(0);
    expect(atStore.attributes['store.series_fetched']).toBeGreaterThan(0);
    expect(atStore.attributes['store.chunks_fetched']).toBeGreaterThan(0);
    expect(atStore.attributes['store.object_bytes']).toBeGreaterThan(0);
    // Each object read of the call is a span of its own, as Thanos traces its buckets.
    const reads = spans.filter((sp) => sp.service === 'strata-store' && sp.name === 'bucket_get_range');
    expect(reads.length).toBeGreaterThan(0);
    for (const r of reads) expect(r.parentSpanId).toBe(atStore.spanId);
    expect(reads[0]?.attributes.name).toMatch(/^[0-9A-Z]{26}\/(index|chunks\/\d{6})$/);
  }, 120_000);

  it('answers as usual while the collector is down, and stops without waiting on it', async () => {
    receiver.unavailable = true;
    try {
      const q = await querier('query-collector-down', [otlp('http')]);
      for (let i = 0; i < 3; i++) expect((await fetch(`${q.http}/api/v1/query_range?${rangeParams()}`)).status).toBe(200);
      // Exit code 0: it stopped on its own, before the harness' kill after 10s (the last export given up, not waited on).
      await q.proc.stop();
      expect(q.proc.child.exitCode).toBe(0);
      expect(await readFile(q.proc.logFile, 'utf8')).toContain('could not send the last traces');
    } finally {
      receiver.unavailable = false;
    }
  }, 120_000);

  it('refuses a configuration Thanos would not run, before it serves', async () => {
    const cases: [string, string][] = [
      ['type: JAEGER\nconfig: {agent_host: localhost}', 'type "JAEGER" is not supported; use type: OTLP'],
      ['type: OTLP\nconfig: {client_type: udp}', 'config.client_type: "udp" is not grpc or http'],
      ['type: OTLP\nconfig: {sampler_type: traceidratiobased, sampler_param: "2"}', 'traceidratiobased needs a ratio from 0 to 1'],
      ['type: OTLP\nconfig: {endpoint: x:4317, endpoints: y}', 'unknown or unsupported field "endpoints"'],
    ];
    for (const [yaml, message] of cases) {
      const proc = startProcess(process.execPath, ['--import', 'tsx', CLI_SOURCE, 'store', `--objstore.config=type: FILESYSTEM\nconfig: {directory: ${dir.path}}`, `--tracing.config=${yaml}`, '--http-address=127.0.0.1:0', '--grpc-address=127.0.0.1:0'], {
        logFile: join(dir.path, 'refused.log'),
        env: { ...process.env, ...TSX_CHILD_ENV },
      });
      const code = await new Promise<number | null>((resolve) => proc.child.once('exit', (c) => resolve(c)));
      expect(code).toBe(1);
      expect(await readFile(proc.logFile, 'utf8')).toContain(message);
    }
  }, 120_000);
});
