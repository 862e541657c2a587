import type { IncomingHttpHeaders } from 'node:http';
import { ProtoReader, readTimeSeries } from '@strata/storeapi';
import { createLogger, STRATA_VERSION } from '@strata/runtime';
import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { uncompressSync } from 'snappy';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RemoteWriteStorage, type RemoteWriteSeries } from './remotewrite.js';
import { DEFAULT_REMOTE_WRITE_QUEUE, parseRemoteWriteConfig } from './remotewriteconfig.js';

/** A series as the receiver got it: labels as a record, samples as [t, v]. */
interface Received {
  labels: Record<string, string>;
  samples: [number, number][];
}

interface Receiver {
  url: string;
  requests: { headers: IncomingHttpHeaders; series: Received[] }[];
  close(): Promise<void>;
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** A remote-write endpoint whose answer to the n-th request (from 0) `status` gives. */
async function receiver(status: (n: number) => number | Promise<number> = () => 204): Promise<Receiver> {
  const app = Fastify();
  app.addContentTypeParser('application/x-protobuf', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  const requests: Receiver['requests'] = [];
  app.post('/api/v1/write', async (req, reply) => {
    const n = requests.length;
    requests.push({ headers: req.headers, series: decode(req.body as Buffer) });
    const code = await status(n);
    return reply.code(code).send(code < 300 ? '' : `answer ${code} to request ${n}\nsecond line`);
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  const close = () => app.close();
  closers.push(close);
  return { url: `http://127.0.0.1:${port}/api/v1/write`, requests, close };
}

function decode(body: Buffer): Received[] {
  const r = new ProtoReader(uncompressSync(body) as Buffer);
  const out: Received[] = [];
  while (!r.done) {
    const t = r.tag();
    if (t !== 10) throw new Error(`unexpected WriteRequest field tag ${t}`);
    const ts = readTimeSeries(r.sub());
    out.push({ labels: Object.fromEntries(ts.labels.map((l) => [l.name, l.value])), samples: ts.samples.map((s) => [s.timestamp, s.value]) });
  }
  return out;
}

function storage(yaml: string, opts: { externalLabels?: Record<string, string>; flushDeadlineMs?: number } = {}): { rw: RemoteWriteStorage; registry: Registry } {
  const registry = new Registry();
  const rw = new RemoteWriteStorage(parseRemoteWriteConfig(yaml), {
    registry,
    externalLabels: Object.entries(opts.externalLabels ?? {}).map(([name, value]) => ({ name, value })),
    ...(opts.flushDeadlineMs !== undefined ? { flushDeadlineMs: opts.flushDeadlineMs } : {}),
  });
  closers.push(() => rw.close());
  return { rw, registry };
}

function series(labels: Record<string, string>, samples: [number, number][]): RemoteWriteSeries {
  return { labels: Object.entries(labels).map(([name, value]) => ({ name, value })), samples: samples.map(([t, v]) => ({ t, v })) };
}

async function metric(registry: Registry, name: string): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (m === undefined) throw new Error(`no metric ${name}`);
  const { values } = await m.get();
  return values.filter((v) => !('metricName' in v) || v.metricName === name).reduce((sum, v) => sum + v.value, 0);
}

/** All samples received, per series (labels as JSON), in arrival order. */
function bySeries(requests: Receiver['requests']): Map<string, [number, number][]> {
  const out = new Map<string, [number, number][]>();
  for (const req of requests) {
    for (const s of req.series) {
      const key = JSON.stringify(s.labels);
      out.set(key, [...(out.get(key) ?? []), ...s.samples]);
    }
  }
  return out;
}

const config = (url: string, extra = '', queue = '') => `
remote_write:
  - url: ${url}
    name: test
${extra}
    queue_config:
      batch_send_deadline: 5ms
      min_backoff: 1ms
      max_backoff: 4ms
${queue}
`;

describe('remote write', () => {
  it('retries 5xx answers with backoff until written: nothing lost, each series in order', async () => {
    const recv = await receiver((n) => (n < 2 ? 503 : 200));
    const { rw, registry } = storage(config(recv.url, '    headers: {X-Scope-OrgID: team-a}\n    basic_auth: {username: u, password: p}', '      max_samples_per_send: 3'));
    rw.append([series({ __name__: 'a' }, [[1000, 1], [2000, 2]]), series({ __name__: 'b' }, [[1000, 10]])]);
    rw.append([series({ __name__: 'a' }, [[3000, 3]]), series({ __name__: 'b' }, [[2000, 20], [3000, 30]])]);
    await vi.waitFor(() => expect(bySeries(recv.requests.slice(2)).get('{"__name__":"b"}')?.length).toBe(3));

    // The first batch was sent three times (the same bytes), then the second once.
    expect(recv.requests.map((r) => r.series)).toEqual([
      [{ labels: { __name__: 'a' }, samples: [[1000, 1], [2000, 2]] }, { labels: { __name__: 'b' }, samples: [[1000, 10]] }],
      [{ labels: { __name__: 'a' }, samples: [[1000, 1], [2000, 2]] }, { labels: { __name__: 'b' }, samples: [[1000, 10]] }],
      [{ labels: { __name__: 'a' }, samples: [[1000, 1], [2000, 2]] }, { labels: { __name__: 'b' }, samples: [[1000, 10]] }],
      [{ labels: { __name__: 'a' }, samples: [[3000, 3]] }, { labels: { __name__: 'b' }, samples: [[2000, 20], [3000, 30]] }],
    ]);
    const h = recv.requests[0]!.headers;
    expect(h['content-encoding']).toBe('snappy');
    expect(h['content-type']).toBe('application/x-protobuf');
    expect(h['user-agent']).toBe(`Strata/${STRATA_VERSION}`);
    expect(h['x-prometheus-remote-write-version']).toBe('0.1.0');
    expect(h['x-scope-orgid']).toBe('team-a');
    expect(h.authorization).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    expect(await metric(registry, 'prometheus_remote_storage_samples_total')).toBe(3 * 3 + 3);
    expect(await metric(registry, 'prometheus_remote_storage_samples_retried_total')).toBe(2 * 3);
    expect(await metric(registry, 'prometheus_remote_storage_samples_failed_total')).toBe(0);
    await vi.waitFor(async () => expect(await metric(registry, 'prometheus_remote_storage_samples_pending')).toBe(0));
    const text = await registry.getSingleMetricAsString('prometheus_remote_storage_samples_total');
    expect(text).toContain(`prometheus_remote_storage_samples_total{remote_name="test",url="${recv.url}"} 12`);
  });

  it('does not retry other 4xx answers: the batch fails, the next is sent', async () => {
    const recv = await receiver((n) => (n === 0 ? 400 : 200));
    const lines: string[] = [];
    const registry = new Registry();
    const rw = new RemoteWriteStorage(parseRemoteWriteConfig(config(recv.url)), { registry, logger: createLogger({ write: (l) => lines.push(l) }) });
    closers.push(() => rw.close());
    rw.append([series({ __name__: 'a' }, [[1000, 1]])]);
    await vi.waitFor(() => expect(recv.requests).toHaveLength(1));
    rw.append([series({ __name__: 'a' }, [[2000, 2]])]);
    await vi.waitFor(() => expect(recv.requests).toHaveLength(2));
    expect(recv.requests[1]!.series).toEqual([{ labels: { __name__: 'a' }, samples: [[2000, 2]] }]);
    expect(await metric(registry, 'prometheus_remote_storage_samples_failed_total')).toBe(1);
    expect(await metric(registry, 'prometheus_remote_storage_samples_retried_total')).toBe(0);
    expect(lines.join('')).toContain('server returned HTTP status 400 Bad Request: answer 400 to request 0"');
  });

  it('retries a 429 only with retry_on_http_429', async () => {
    const retried = await receiver((n) => (n === 0 ? 429 : 200));
    const { rw, registry } = storage(config(retried.url, '', '      retry_on_http_429: true'));
    rw.append([series({ __name__: 'a' }, [[1000, 1]])]);
    await vi.waitFor(() => expect(retried.requests).toHaveLength(2));
    expect(await metric(registry, 'prometheus_remote_storage_samples_retried_total')).toBe(1);

    const failed = await receiver((n) => (n === 0 ? 429 : 200));
    const other = storage(config(failed.url));
    other.rw.append([series({ __name__: 'a' }, [[1000, 1]])]);
    await vi.waitFor(async () => expect(await metric(other.registry, 'prometheus_remote_storage_samples_failed_total')).toBe(1));
    expect(failed.requests).toHaveLength(1);
  });

  it('keeps at most `capacity` samples waiting, dropping the oldest', async () => {
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const recv = await receiver(async (n) => {
      if (n === 0) await held;
      return 200;
    });
    const { rw, registry } = storage(config(recv.url, '', '      capacity: 4\n      max_samples_per_send: 10'));
    rw.append([series({ __name__: 'a' }, [[0, 0]])]);
    await vi.waitFor(() => expect(recv.requests).toHaveLength(1));
    // The first batch is in flight (held): these wait, and only the newest 4 fit.
    rw.append([series({ __name__: 'a' }, [1, 2, 3, 4, 5, 6].map((i): [number, number] => [i * 1000, i]))]);
    rw.append([series({ __name__: 'a' }, [[7000, 7]])]);
    expect(await metric(registry, 'prometheus_remote_storage_samples_dropped_total')).toBe(3);
    expect(await metric(registry, 'prometheus_remote_storage_samples_pending')).toBe(5);
    release();
    await vi.waitFor(() => expect(recv.requests).toHaveLength(2));
    expect(bySeries(recv.requests).get('{"__name__":"a"}')).toEqual([[0, 0], [4000, 4], [5000, 5], [6000, 6], [7000, 7]]);
  });

  it('adds external labels a series lacks, then applies write_relabel_configs', async () => {
    const recv = await receiver();
    const relabel = `
    write_relabel_configs:
      - {source_labels: [__name__], regex: 'dropped_.*', action: drop}
      - {action: labeldrop, regex: replica}
      - {source_labels: [cluster], target_label: region, regex: '(..)-.*', replacement: '$1'}`;
    const { rw, registry } = storage(config(recv.url, relabel), { externalLabels: { cluster: 'eu-1', replica: 'r0', tenant: 't' } });
    rw.append([series({ __name__: 'kept', cluster: 'us-2' }, [[1000, 1]]), series({ __name__: 'dropped_x' }, [[1000, 2], [2000, 3]]), series({ __name__: 'plain' }, [[1000, 4]])]);
    await vi.waitFor(() => expect(recv.requests).toHaveLength(1));
    expect(recv.requests[0]!.series).toEqual([
      { labels: { __name__: 'kept', cluster: 'us-2', region: 'us', tenant: 't' }, samples: [[1000, 1]] },
      { labels: { __name__: 'plain', cluster: 'eu-1', region: 'eu', tenant: 't' }, samples: [[1000, 4]] },
    ]);
    expect(await metric(registry, 'prometheus_remote_storage_samples_dropped_total')).toBe(2);
  });

  it('sends what is queued on close, without waiting for the batch deadline', async () => {
    const recv = await receiver();
    const registry = new Registry();
    const rw = new RemoteWriteStorage(parseRemoteWriteConfig(`remote_write: [{url: "${recv.url}", queue_config: {batch_send_deadline: 1h}}]`), { registry });
    rw.append([series({ __name__: 'a' }, [[1000, 1]])]);
    await rw.close();
    expect(recv.requests.map((r) => r.series)).toEqual([[{ labels: { __name__: 'a' }, samples: [[1000, 1]] }]]);
  });

  it('gives up at the flush deadline when the endpoint keeps failing', async () => {
    const recv = await receiver(() => 503);
    const { rw, registry } = storage(config(recv.url), { flushDeadlineMs: 50 });
    rw.append([series({ __name__: 'a' }, [[1000, 1], [2000, 2]])]);
    await vi.waitFor(() => expect(recv.requests.length).toBeGreaterThan(0));
    await rw.close();
    expect(await metric(registry, 'prometheus_remote_storage_samples_dropped_total')).toBe(2);
    expect(await metric(registry, 'prometheus_remote_storage_samples_pending')).toBe(0);
  });

  it('sends to every endpoint', async () => {
    const [one, two] = [await receiver(), await receiver()];
    const { rw } = storage(`remote_write: [{url: "${one.url}", queue_config: {batch_send_deadline: 5ms}}, {url: "${two.url}", queue_config: {batch_send_deadline: 5ms}}]`);
    rw.append([series({ __name__: 'a' }, [[1000, 1]])]);
    await vi.waitFor(() => expect([one.requests.length, two.requests.length]).toEqual([1, 1]));
  });
});

describe('remote write config', () => {
  it("takes Prometheus' remote_write entries with their defaults", () => {
    const [c] = parseRemoteWriteConfig(`
remote_write:
  - url: https://receive.example:19291/api/v1/receive
    remote_timeout: 1m
    authorization: {credentials: secret}
    tls_config: {insecure_skip_verify: true}
    metadata_config: {send: false}
    send_exemplars: false
`);
    expect(c).toMatchObject({
      url: 'https://receive.example:19291/api/v1/receive',
      remoteTimeoutMs: 60_000,
      headers: {},
      http: { bearerToken: 'secret', tls: { insecureSkipVerify: true } },
      queue: DEFAULT_REMOTE_WRITE_QUEUE,
    });
    expect(c!.name).toMatch(/^[0-9a-f]{6}$/);
    expect(parseRemoteWriteConfig('')).toEqual([]);
    expect(DEFAULT_REMOTE_WRITE_QUEUE).toEqual({ capacity: 2500, maxSamplesPerSend: 500, batchSendDeadlineMs: 5000, minBackoffMs: 30, maxBackoffMs: 5000, retryOnHttp429: false });
  });

  it('refuses what it does not know or support, saying where', () => {
    const bad: [string, string][] = [
      ['remote_write: [{url: "http://a/w", urls: x}]', 'remote_write[0]: unknown or unsupported field "urls"'],
      ['remote_read: []', 'unknown or unsupported field "remote_read"'],
      ['remote_write: [{name: x}]', 'remote_write[0]: url for remote_write is empty'],
      ['remote_write: [{url: "ftp://a/w"}]', 'scheme must be http or https'],
      ['remote_write: [{url: "http://a/w", oauth2: {client_id: x}}]', 'remote_write[0]: oauth2 is not supported by Strata'],
      ['remote_write: [{url: "http://a/w", headers: {User-Agent: x}}]', 'headers: User-Agent is a reserved header'],
      ['remote_write: [{url: "http://a/w", bearer_token: x, basic_auth: {username: u}}]', 'at most one of basic_auth, bearer_token must be configured'],
      ['remote_write: [{url: "http://a/w", authorization: {type: Basic}}]', 'use "basic_auth" instead'],
      ['remote_write: [{url: "http://a/w", remote_timeout: 30}]', 'remote_timeout: invalid duration "30"'],
      ['remote_write: [{url: "http://a/w", queue_config: {capacity: -1}}]', 'queue_config: capacity: expected a positive integer'],
      ['remote_write: [{url: "http://a/w", queue_config: {sample_age_limit: 1m}}]', 'queue_config: unknown or unsupported field "sample_age_limit"'],
      ['remote_write: [{url: "http://a/w", name: x}, {url: "http://b/w", name: x}]', 'found multiple remote write configs with name "x"'],
      ['remote_write: [{url: "http://a/w", write_relabel_configs: [{action: keep, regexp: x}]}]', 'write_relabel_configs[0]: unknown or unsupported field "regexp"'],
      ['remote_write: [{url: "http://a/w", write_relabel_configs: [{action: explode}]}]', 'unsupported relabel action "explode"'],
      ['remote_write: {url: x}', 'remote_write: expected a list'],
    ];
    for (const [yaml, message] of bad) expect(() => parseRemoteWriteConfig(yaml, 'rw.yml'), yaml).toThrow(message);
  });
});
