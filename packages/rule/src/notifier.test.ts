import type { IncomingHttpHeaders } from 'node:http';
import type { DnsResolver } from '@strata/runtime';
import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { alertmanagerConfigFromUrl, parseAlertingConfig, type AlertmanagerConfig } from './alertmanagerconfig.js';
import { Notifier, type Alert, type NotifierOptions } from './notifier.js';
import { Relabeler } from '@strata/block';

interface FakeAlertmanager {
  /** `host:port` */
  address: string;
  posts: { url: string; headers: IncomingHttpHeaders; alerts: Record<string, unknown>[] }[];
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** An Alertmanager's alerts API that answers `status`. */
async function alertmanager(status = 200): Promise<FakeAlertmanager> {
  const app = Fastify();
  const posts: FakeAlertmanager['posts'] = [];
  app.post('/*', async (req, reply) => {
    posts.push({ url: req.url, headers: req.headers, alerts: req.body as Record<string, unknown>[] });
    return reply.code(status).send(status === 200 ? '' : 'broken');
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  closers.push(() => app.close());
  return { address: `127.0.0.1:${(app.server.address() as { port: number }).port}`, posts };
}

function notifier(configs: AlertmanagerConfig[], opts: Partial<NotifierOptions> = {}): { n: Notifier; registry: Registry } {
  const registry = new Registry();
  const n = new Notifier(configs, { registry, ...opts });
  closers.push(() => n.stop());
  return { n, registry };
}

const labels = (r: Record<string, string>) => Object.entries(r).map(([name, value]) => ({ name, value }));

function alert(name: string, extra: Record<string, string> = {}): Alert {
  return {
    labels: labels({ alertname: name, ...extra }),
    annotations: labels({ summary: `${name} fires` }),
    startsAt: Date.UTC(2024, 4, 1, 10, 0, 0, 123),
    endsAt: new Date(Date.UTC(2024, 4, 1, 10, 4, 0)),
    generatorURL: `http://ruler/graph?g0.expr=${name}`,
  };
}

async function value(registry: Registry, name: string, labelValue?: string): Promise<number> {
  const { values } = await registry.getSingleMetric(name)!.get();
  return values.filter((v) => labelValue === undefined || v.labels.alertmanager === labelValue).reduce((s, v) => s + v.value, 0);
}

describe('alert notifier', () => {
  it("posts Alertmanager's v2 JSON to every Alertmanager; one failing does not stop the other", async () => {
    const [good, bad] = [await alertmanager(), await alertmanager(500)];
    const { n, registry } = notifier([alertmanagerConfigFromUrl(`http://u:p@${good.address}/am`), alertmanagerConfigFromUrl(`http://${bad.address}`)]);
    n.send([alert('A'), { labels: labels({ alertname: 'B' }), annotations: [], startsAt: 0 }]);
    await vi.waitFor(async () => expect(await value(registry, 'thanos_alert_sender_errors_total', bad.address)).toBe(1));
    await vi.waitFor(() => expect(good.posts).toHaveLength(1));
    const [post] = good.posts;
    expect(post!.url).toBe('/am/api/v2/alerts');
    expect(post!.headers['content-type']).toBe('application/json');
    expect(post!.headers.authorization).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    expect(post!.alerts).toEqual([
      { annotations: { summary: 'A fires' }, endsAt: '2024-05-01T10:04:00.000Z', startsAt: '2024-05-01T10:00:00.123Z', generatorURL: 'http://ruler/graph?g0.expr=A', labels: { alertname: 'A' } },
      { endsAt: '0001-01-01T00:00:00.000Z', startsAt: '1970-01-01T00:00:00.000Z', labels: { alertname: 'B' } },
    ]);
    expect(bad.posts).toHaveLength(1);
    expect(bad.posts[0]!.url).toBe('/api/v2/alerts');
    expect(await value(registry, 'thanos_alert_sender_alerts_sent_total', good.address)).toBe(2);
    expect(await value(registry, 'thanos_alert_sender_alerts_sent_total', bad.address)).toBe(0);
    expect(await value(registry, 'thanos_alert_sender_alerts_dropped_total')).toBe(0);
  });

  it('counts a batch no Alertmanager took as dropped', async () => {
    const bad = await alertmanager(503);
    const { n, registry } = notifier([alertmanagerConfigFromUrl(`http://${bad.address}`)]);
    n.send([alert('A'), alert('B')]);
    await vi.waitFor(async () => expect(await value(registry, 'thanos_alert_sender_alerts_dropped_total')).toBe(2));
  });

  it('sends batches of at most maxBatchSize (100 by default), in order', async () => {
    const am = await alertmanager();
    const { n, registry } = notifier([alertmanagerConfigFromUrl(`http://${am.address}`)]);
    n.send(Array.from({ length: 250 }, (_, i) => alert(`A${i}`)));
    await n.stop();
    expect(am.posts.map((p) => p.alerts.length)).toEqual([100, 100, 50]);
    expect(am.posts.flatMap((p) => p.alerts.map((a) => (a.labels as Record<string, string>).alertname))).toEqual(Array.from({ length: 250 }, (_, i) => `A${i}`));
    expect(await value(registry, 'thanos_alert_queue_alerts_popped_total')).toBe(250);

    const small = await alertmanager();
    const other = notifier([alertmanagerConfigFromUrl(`http://${small.address}`)], { maxBatchSize: 64 });
    other.n.send(Array.from({ length: 130 }, (_, i) => alert(`A${i}`)));
    await other.n.stop();
    expect(small.posts.map((p) => p.alerts.length)).toEqual([64, 64, 2]);
  });

  it('drops the oldest alerts when the queue is full', async () => {
    const am = await alertmanager();
    const { n, registry } = notifier([alertmanagerConfigFromUrl(`http://${am.address}`)], { capacity: 3 });
    n.send([1, 2, 3, 4, 5].map((i) => alert(`A${i}`)));
    expect(await value(registry, 'thanos_alert_queue_alerts_dropped_total')).toBe(2);
    await n.stop();
    expect(am.posts.flatMap((p) => p.alerts.map((a) => (a.labels as Record<string, string>).alertname))).toEqual(['A3', 'A4', 'A5']);
  });

  it('drops --alert.label-drop labels, sets external labels, then relabels', async () => {
    const am = await alertmanager();
    const relabel = Relabeler.fromYaml(`
- {source_labels: [severity], regex: debug, action: drop}
- {source_labels: [cluster], target_label: region, regex: '(..)-.*'}
`, '--alert.relabel-config');
    const { n } = notifier([alertmanagerConfigFromUrl(`http://${am.address}`)], {
      externalLabels: labels({ cluster: 'eu-1', replica: 'r0' }),
      labelDrop: ['replica', 'pod'],
      relabel,
    });
    n.send([alert('A', { cluster: 'us-2', pod: 'p', severity: 'page' }), alert('B', { severity: 'debug' })]);
    await n.stop();
    expect(am.posts.flatMap((p) => p.alerts.map((a) => a.labels))).toEqual([{ alertname: 'A', cluster: 'eu-1', region: 'eu', severity: 'page' }]);
  });

  it('writes the v1 API with Go time.Time JSON', async () => {
    const am = await alertmanager();
    const [cfg] = parseAlertingConfig(`alertmanagers: [{static_configs: ["${am.address}"], api_version: v1, path_prefix: /prefix/}]`);
    const { n } = notifier([cfg!]);
    n.send([alert('A'), { labels: labels({ alertname: 'B' }), annotations: [], startsAt: Date.UTC(2024, 0, 1, 0, 0, 0, 500) }]);
    await n.stop();
    expect(am.posts[0]!.url).toBe('/prefix/api/v1/alerts');
    expect(am.posts[0]!.alerts).toEqual([
      { labels: { alertname: 'A' }, annotations: { summary: 'A fires' }, startsAt: '2024-05-01T10:00:00.123Z', endsAt: '2024-05-01T10:04:00Z', generatorURL: 'http://ruler/graph?g0.expr=A' },
      { labels: { alertname: 'B' }, annotations: {}, startsAt: '2024-01-01T00:00:00.5Z', endsAt: '0001-01-01T00:00:00Z' },
    ]);
  });

  it('looks up dns+ addresses and sends to each', async () => {
    const am = await alertmanager();
    const port = Number(am.address.split(':')[1]);
    const resolver: DnsResolver = { lookup: async (host) => (host === 'am.svc' ? ['127.0.0.1'] : []), resolveSrv: async () => [] };
    const { n, registry } = notifier([alertmanagerConfigFromUrl(`dns+http://am.svc:${port}`)], { resolver });
    n.send([alert('A')]);
    await n.stop();
    expect(am.posts).toHaveLength(1);
    expect(await value(registry, 'thanos_alert_sender_alerts_sent_total', `127.0.0.1:${port}`)).toBe(1);
  });
});

describe('alertmanagers config', () => {
  it("reads Thanos' alerting config with its defaults", () => {
    const cfgs = parseAlertingConfig(`
alertmanagers:
  - http_config:
      basic_auth: {username: u, password_file: /secrets/p}
      tls_config: {ca_file: /certs/ca.pem}
    static_configs: [am-0:9093, dnssrv+_web._tcp.am.svc]
    scheme: https
    path_prefix: /am
    timeout: 5s
  - static_configs: [am-1:9093]
`);
    expect(cfgs).toEqual([
      { http: { basicAuth: { username: 'u', passwordFile: '/secrets/p' }, tls: { caFile: '/certs/ca.pem', insecureSkipVerify: false } }, scheme: 'https', pathPrefix: '/am', staticAddresses: ['am-0:9093', 'dnssrv+_web._tcp.am.svc'], timeoutMs: 5000, apiVersion: 'v2' },
      { http: {}, scheme: 'http', pathPrefix: '', staticAddresses: ['am-1:9093'], timeoutMs: 10_000, apiVersion: 'v2' },
    ]);
  });

  it('reads --alertmanagers.url values', () => {
    expect(alertmanagerConfigFromUrl('https://user:pa%40ss@am.example:9093/prefix', 3000)).toEqual({
      http: { basicAuth: { username: 'user', password: 'pa@ss' } },
      scheme: 'https',
      pathPrefix: '/prefix',
      staticAddresses: ['am.example:9093'],
      timeoutMs: 3000,
      apiVersion: 'v2',
    });
    expect(alertmanagerConfigFromUrl('dns+http://am.svc').staticAddresses).toEqual(['dns+am.svc:9093']);
    expect(alertmanagerConfigFromUrl('dnssrv+https://_web._tcp.am.svc')).toMatchObject({ scheme: 'https', staticAddresses: ['dnssrv+_web._tcp.am.svc'] });
  });

  it('refuses what it does not know or support', () => {
    const bad: [string, string][] = [
      ['alertmanagers: [{static_configs: [a:1], timeuot: 1s}]', 'alertmanagers[0]: unknown or unsupported field "timeuot"'],
      ['alertmanagers: [{file_sd_configs: [{files: [x.json]}]}]', 'file_sd_configs is not supported'],
      ['alertmanagers: [{static_configs: [a:1], api_version: v3}]', 'expected Alertmanager API version to be one of [v1 v2] but got "v3"'],
      ['alertmanagers: [{static_configs: [a:1], scheme: ftp}]', 'scheme must be http or https'],
      ['alertmanagers: [{static_configs: [a:1], http_config: {bearer_token: t, basic_auth: {username: u}}}]', 'http_config: give one of basic_auth, bearer_token and bearer_token_file'],
      ['alertmanagers: [{static_configs: [a:1], timeout: soon}]', 'timeout: invalid duration "soon"'],
      ['alertmanager: []', 'unknown or unsupported field "alertmanager"'],
    ];
    for (const [yaml, message] of bad) expect(() => parseAlertingConfig(yaml, 'am.yml'), yaml).toThrow(message);
    expect(() => alertmanagerConfigFromUrl('ftp://am:9093')).toThrow('scheme must be http or https');
    expect(() => alertmanagerConfigFromUrl('am:9093')).toThrow();
    expect(() => Relabeler.fromYaml('- {action: drop, source_label: [a]}', '--alert.relabel-config')).toThrow('--alert.relabel-config[0]: unknown or unsupported field "source_label"');
  });
});
