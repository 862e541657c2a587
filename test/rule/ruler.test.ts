// The ruler end to end: two Prometheus 2.42 replicas (each with a sidecar) evaluate a rule file; Strata's
// ruler evaluates the same file through a querier over both replicas, remote-writes its results into a
// third Prometheus (with a sidecar the querier reads too) and sends its alerts to a real Alertmanager.
// Its rules, alerts and evaluation times must be Prometheus' own; what only Thanos' ruler has (partial
// response per group, reloads, restoring alerts' `for` state after a restart) is checked against what
// Thanos documents.
import { writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { start as startQuerier, type Querier } from '@strata/querier';
import { alertmanagerConfigFromUrl, parseRemoteWriteConfig, start as startRuler, type Ruler, type RulerConfig } from '@strata/rule';
import { nopLogger } from '@strata/runtime';
import { start as startSidecar, type Sidecar } from '@strata/sidecar';
import { Labels } from '@strata/tsdb';
import { getBuffer, newBucket, parseBucketConfig, type Bucket } from '@strata/objstore';
import { startS3rver, type S3Server } from '@strata/testing/s3';
import { alertmanagerAvailable, startAlertmanager, type AlertmanagerHandle } from '@strata/testing/alertmanager';
import { freePort, sleep } from '@strata/testing/process';
import { startPrometheus, type PrometheusHandle } from '@strata/testing/prometheus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replicaStack, stable, type ReplicaStack } from '../querier/replicas.js';

// Evaluated by the replicas and by the ruler, from the same path: the groups' evaluation times follow
// from their file and name, so both evaluate at the same instants.
const SHARED_RULES = `groups:
  - name: shared
    interval: 2s
    rules:
      - record: eval_time
        expr: time()
      - record: answer
        expr: vector(42)
        labels:
          kind: rec
      - alert: AlwaysFiring
        expr: label_replace(vector(1234567.891), "instance", "host.example.com:9100", "", "")
        labels:
          severity: page
          host: "{{ $labels.instance }}"
        annotations:
          summary: "{{ $value }} on {{ $labels.instance }}"
          human: "{{ humanize $value }} ({{ printf \\"%.1f\\" $value }})"
      - alert: Pending
        expr: vector(1) > 0
        for: 1h
      - alert: Never
        expr: vector(1) < 0
      - record: failing
        expr: label_replace(vector(1), "x", "$1", "y", "(")
`;

// Thanos' own: a group's partial response strategy, which Prometheus refuses.
const THANOS_RULES = `groups:
  - name: partial-warn
    partial_response_strategy: warn
    interval: 2s
    rules:
      - record: warn_count
        expr: count(up)
  - name: partial-abort
    partial_response_strategy: abort
    interval: 2s
    rules:
      - record: abort_count
        expr: count(up)
`;

type Json = Record<string, unknown>;
const groupsOf = (body: Json) => (body.data as { groups: (Json & { rules: Json[] })[] }).groups;

async function get(url: string, init?: RequestInit): Promise<{ code: number; body: Json; text: string }> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { code: res.status, body: text.startsWith('{') ? (JSON.parse(text) as Json) : {}, text };
}

async function until(what: string, ok: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

const withAlertmanager = alertmanagerAvailable("the ruler's alerts");

let stack: ReplicaStack;
let receiver: PrometheusHandle;
let receiverSidecar: Sidecar;
let querier: Querier;
let alertmanager: AlertmanagerHandle | undefined;
let ruler: Ruler;
let rulerConfig: RulerConfig;
let sharedFile: string;
let thanosFile: string;
let dead: string;

beforeAll(async () => {
  stack = await replicaStack(
    2,
    (dir) => {
      sharedFile = join(dir, 'shared.yml');
      writeFileSync(sharedFile, SHARED_RULES);
      return { scrapeSelf: true, scrapeInterval: '1s', ruleFiles: [sharedFile] };
    },
    async (prom) => groupsOf((await get(`${prom.url}/api/v1/rules`)).body).every((g) => g.rules.every((r) => r.health !== 'unknown')),
  );
  thanosFile = join(stack.dir, 'thanos.yml');
  await writeFile(thanosFile, THANOS_RULES);
  receiver = await startPrometheus({ dir: join(stack.dir, 'receiver'), externalLabels: { cluster: 'c1', role: 'receiver' }, extraArgs: ['--web.enable-remote-write-receiver'] });
  receiverSidecar = await startSidecar({ prometheusUrl: receiver.url, tsdbPath: receiver.dataDir, grpcAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', logger: nopLogger });
  // A strict endpoint nobody serves: every query is partial, which only the warn group accepts.
  dead = `127.0.0.1:${await freePort()}`;
  querier = await startQuerier({
    httpAddress: '127.0.0.1:0',
    grpcAddress: '127.0.0.1:0',
    endpoints: [...stack.sidecars.map((s) => s.grpcAddress), receiverSidecar.grpcAddress],
    strictEndpoints: [dead],
    replicaLabels: ['replica'],
    promqlCompat: 2,
    logger: nopLogger,
  });
  if (withAlertmanager) alertmanager = await startAlertmanager(stack.dir);
  rulerConfig = {
    ruleFiles: [sharedFile, thanosFile],
    evalIntervalMs: 60_000,
    queryOffsetMs: 0,
    resendDelayMs: 60_000,
    queryAddresses: [querier.httpAddress],
    queryMethod: 'POST',
    storage: { remoteWrite: parseRemoteWriteConfig(`remote_write: [{url: "${receiver.url}/api/v1/write", queue_config: {batch_send_deadline: 100ms}}]`) },
    alertmanagers: alertmanager !== undefined ? [alertmanagerConfigFromUrl(alertmanager.url)] : [],
    alertLabelDrop: [],
    alertQueryUrl: 'http://querier.example.com',
    externalLabels: Labels.from({ ruler: 'r' }),
    forOutageToleranceMs: 3_600_000,
    forGracePeriodMs: 0,
    restoreIgnoredLabels: [],
    promqlCompat: 2,
    httpAddress: '127.0.0.1:0',
    grpcAddress: '127.0.0.1:0',
    logger: nopLogger,
  };
  ruler = await startRuler(rulerConfig);
  // Every rule evaluated twice, so that alerts write their series.
  await until('the ruler evaluating every rule', async () => groupsOf((await get(`http://${ruler.httpAddress}/api/v1/rules`)).body).every((g) => g.rules.every((r) => r.health !== 'unknown')));
  await sleep(4_500);
}, 180_000);

afterAll(async () => {
  await ruler?.stop();
  await alertmanager?.stop();
  await querier?.stop();
  await receiverSidecar?.stop();
  await receiver?.stop();
  await stack?.stop();
});

/** Prometheus' own rules of the shared file, as the ruler lists them: its external label on every rule and alert. */
function withRulerLabel(groups: (Json & { rules: Json[] })[]): Json[] {
  return groups.map((g) => ({
    ...g,
    rules: g.rules.map((r) => ({
      ...r,
      labels: { ...(r.labels as Json | undefined), ruler: 'r' },
      ...(r.type === 'alerting' ? { alerts: (r.alerts as Json[]).map((a) => ({ ...a, labels: { ...(a.labels as Json), ruler: 'r' } })) } : {}),
    })),
  }));
}

describe('strata rule, its results remote-written', () => {
  it('lists the rules and alerts Prometheus lists for the same file, templates expanded alike', async () => {
    const ours = groupsOf((await get(`http://${ruler.httpAddress}/api/v1/rules`)).body);
    const prometheus = groupsOf((await get(`${stack.replicas[0]?.url}/api/v1/rules`)).body);
    const shared = ours.filter((g) => g.file === sharedFile);
    // The failing rule's error is the querier's answer, where Prometheus has its engine's.
    const failing = (gs: (Json & { rules: Json[] })[]) => gs[0]?.rules.find((r) => r.name === 'failing') as Json;
    expect(failing(shared)).toMatchObject({ health: 'err' });
    expect(failing(shared).lastError).toContain(failing(prometheus).lastError as string);
    const withoutError = (gs: Json[]) => gs.map((g) => ({ ...g, rules: (g.rules as Json[]).map((r) => (r.name === 'failing' ? { ...r, lastError: 'error' } : r)) }));
    expect(withoutError(shared).map(stable)).toEqual(withoutError(withRulerLabel(prometheus)).map(stable));
  });

  it('evaluates each group at the instants Prometheus does, writing what it gives', async () => {
    const now = Date.now() / 1000;
    const raw = async (prom: PrometheusHandle, selector: string) =>
      ((await prom.api<{ result: { values: [number, string][] }[] }>('query', { query: `${selector}[20s]`, time: String(now) })).result[0]?.values ?? []).map(([t, v]) => [Math.round(t * 1000), Number(v)]);
    const ours = await raw(receiver, 'eval_time{ruler="r"}');
    const prometheus = new Set((await raw(stack.replicas[0] as PrometheusHandle, 'eval_time')).map(([t]) => t));
    expect(ours.length).toBeGreaterThan(1);
    for (const [t, v] of ours) {
      expect(prometheus.has(t as number), `evaluation at ${t}`).toBe(true);
      expect(v).toBe((t as number) / 1000);
    }
    expect(await raw(receiver, 'answer{kind="rec",ruler="r"}')).not.toEqual([]);
    const alerts = await receiver.api<{ result: { metric: Json; value: [number, string] }[] }>('query', { query: 'ALERTS{ruler="r"}' });
    expect(alerts.result.map((r) => `${r.metric.alertname as string} ${r.metric.alertstate as string}`).sort()).toEqual(['AlwaysFiring firing', 'Pending pending']);
  });

  it('applies each group’s partial response strategy', async () => {
    const rules = groupsOf((await get(`http://${ruler.httpAddress}/api/v1/rules`)).body).filter((g) => g.file === thanosFile);
    expect(rules.map((g) => [g.name, g.rules[0]?.health])).toEqual([
      ['partial-abort', 'err'],
      ['partial-warn', 'ok'],
    ]);
    expect(rules[0]?.rules[0]?.lastError).toContain(dead);
    // The warn group's answers came with a warning about the endpoint down, which Thanos' ruler counts.
    const metrics = (await get(`http://${ruler.httpAddress}/metrics`)).text;
    expect(Number(/^thanos_rule_evaluation_with_warnings_total\{strategy="warn"\} (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
  });

  it('serves its rules over the Rules API to a querier', async () => {
    const q = await startQuerier({ httpAddress: '127.0.0.1:0', grpcAddress: '127.0.0.1:0', endpoints: [ruler.grpcAddress], logger: nopLogger });
    try {
      await until('the querier listing the ruler', async () => groupsOf((await get(`http://${q.httpAddress}/api/v1/rules`)).body).length > 0);
      const viaQuerier = groupsOf((await get(`http://${q.httpAddress}/api/v1/rules?type=alert`)).body);
      const own = groupsOf((await get(`http://${ruler.httpAddress}/api/v1/rules?type=alert`)).body);
      const names = (gs: (Json & { rules: Json[] })[]) => gs.map((g) => [g.name, g.rules.map((r) => r.name).sort()]);
      expect(names(viaQuerier)).toEqual(names(own));
      const alerts = (await get(`http://${q.httpAddress}/api/v1/alerts`)).body.data as { alerts: Json[] };
      expect(alerts.alerts.map((a) => (a.labels as Json).alertname).sort()).toEqual(['AlwaysFiring', 'Pending']);
    } finally {
      await q.stop();
    }
  });

  it.skipIf(!withAlertmanager)('sends firing alerts to Alertmanager with their annotations and a link to their expression', async () => {
    await until('the alert in Alertmanager', async () => (await alertmanager?.alerts())?.some((a) => a.labels.alertname === 'AlwaysFiring') === true);
    const [alert] = (await alertmanager?.alerts()) ?? [];
    const ours = ((await get(`http://${ruler.httpAddress}/api/v1/alerts`)).body.data as { alerts: Json[] }).alerts.find((a) => (a.labels as Json).alertname === 'AlwaysFiring') as Json;
    expect(alert?.labels).toEqual(ours.labels);
    expect(alert?.annotations).toEqual(ours.annotations);
    const link = new URL(alert?.generatorURL ?? '');
    expect(link.origin + link.pathname).toBe('http://querier.example.com/graph');
    expect(link.searchParams.get('g0.expr')).toBe('label_replace(vector(1.234567891e+06), "instance", "host.example.com:9100", "", "")');
    expect(link.searchParams.get('g0.tab')).toBe('1');
  });

  it('reloads its rule files: a broken file keeps what runs, a removed group’s series are marked stale', async () => {
    const metric = async (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec((await get(`http://${ruler.httpAddress}/metrics`)).text)?.[1]);
    await writeFile(thanosFile, 'groups: [{name: x, rules: [{record: "bad name", expr: "1"}]}]\n');
    const refused = await get(`http://${ruler.httpAddress}/-/reload`, { method: 'POST' });
    expect(refused.code).toBe(500);
    expect(refused.text).toContain('bad name');
    expect(await metric('thanos_rule_config_last_reload_successful')).toBe(0);
    expect(groupsOf((await get(`http://${ruler.httpAddress}/api/v1/rules`)).body).map((g) => g.name)).toContain('partial-warn');

    await writeFile(thanosFile, 'groups: []\n');
    expect((await get(`http://${ruler.httpAddress}/-/reload`, { method: 'POST' })).code).toBe(200);
    expect(await metric('thanos_rule_config_last_reload_successful')).toBe(1);
    expect(groupsOf((await get(`http://${ruler.httpAddress}/api/v1/rules`)).body).map((g) => g.name)).toEqual(['shared']);
    // warn_count's last sample is seconds old, but a stale marker ends it.
    await until('warn_count marked stale', async () => (await receiver.api<{ result: unknown[] }>('query', { query: 'warn_count' })).result.length === 0);
    const last = await receiver.api<{ result: unknown[] }>('query', { query: 'warn_count[1m]' });
    expect(last.result).toHaveLength(1);
  });

  it('restores a pending alert’s `for` state after a restart', async () => {
    const pendingSince = async (r: Ruler) =>
      (((await get(`http://${r.httpAddress}/api/v1/alerts`)).body.data as { alerts: Json[] }).alerts.find((a) => (a.labels as Json).alertname === 'Pending')?.activeAt as string | undefined) ?? '';
    const before = Date.parse(await pendingSince(ruler));
    await ruler.stop();
    const restartedAt = Date.now();
    ruler = await startRuler(rulerConfig);
    // Restored after the second evaluation: the alert was pending before the restart, by as long as it had been then.
    await until('the restored alert', async () => {
      const since = await pendingSince(ruler);
      return since !== '' && Date.parse(since) < restartedAt;
    });
    expect(Date.parse(await pendingSince(ruler))).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
  });
});

describe('strata rule keeping its results in a TSDB of its own', () => {
  let s3: S3Server;
  let bucket: Bucket;
  let stateful: Ruler;
  let config: RulerConfig;
  let viaRuler: Querier;
  const dataDir = () => join(stack.dir, 'stateful');

  beforeAll(async () => {
    s3 = await startS3rver();
    bucket = newBucket(parseBucketConfig(s3.configYaml()));
    config = {
      ...rulerConfig,
      ruleFiles: [sharedFile],
      alertmanagers: [],
      externalLabels: Labels.from({ ruler: 's' }),
      // Blocks of 6 seconds, cut and shipped within seconds, so that the test sees them.
      storage: { tsdb: { dir: dataDir(), blockDurationMs: 6_000, retentionMs: 0, compactionIntervalMs: 500 }, bucket, shipper: { syncIntervalMs: 500 } },
    };
    stateful = await startRuler(config);
    viaRuler = await startQuerier({ httpAddress: '127.0.0.1:0', grpcAddress: '127.0.0.1:0', endpoints: [stateful.grpcAddress], logger: nopLogger });
  }, 60_000);

  afterAll(async () => {
    await viaRuler?.stop();
    await stateful?.stop();
    await bucket?.close();
    await s3?.stop();
  });

  /** The evaluation times of `eval_time` the querier reads from the ruler over the last minute. */
  async function evaluations(): Promise<number[]> {
    const body = (await get(`http://${viaRuler.httpAddress}/api/v1/query?query=${encodeURIComponent('eval_time[1m]')}&time=${Date.now() / 1000}`)).body;
    const result = (body.data as { result: { metric: Json; values: [number, string][] }[] }).result;
    expect(result.map((r) => r.metric)).toEqual([{ __name__: 'eval_time', ruler: 's' }]);
    return (result[0]?.values ?? []).map(([t, v]) => {
      expect(Number(v)).toBe(t);
      return Math.round(t * 1000);
    });
  }

  /** Every evaluation 2 seconds after the one before: none lost. */
  const contiguous = (ts: number[]) => ts.every((t, i) => i === 0 || t - (ts[i - 1] as number) === 2_000);

  it('serves its results over the StoreAPI, cuts them into blocks and ships the blocks to the bucket', async () => {
    const blocks = async () => {
      const names: string[] = [];
      for await (const e of bucket.list('')) if (/^[0-9A-Z]{26}\/$/.test(e.name)) names.push(e.name);
      return names;
    };
    await until('a block shipped', async () => (await blocks()).length > 0, 60_000);
    const [block] = await blocks();
    const meta = JSON.parse((await getBuffer(bucket, `${block}meta.json`)).toString()) as { thanos: Json; minTime: number; maxTime: number };
    expect(meta.thanos).toMatchObject({ labels: { ruler: 's' }, source: 'ruler', downsample: { resolution: 0 } });
    expect(meta.maxTime % 6_000).toBe(0);
    // Served once, from the block and the head, without gaps.
    const ts = await evaluations();
    expect(ts[0]).toBeLessThan(meta.maxTime);
    expect(ts.at(-1)).toBeGreaterThan(meta.maxTime);
    expect(contiguous(ts)).toBe(true);
  });

  it('loses nothing across a restart: its write-ahead log is read back', async () => {
    const before = await evaluations();
    await stateful.stop();
    stateful = await startRuler({ ...config, grpcAddress: stateful.grpcAddress });
    await until('an evaluation after the restart', async () => ((await evaluations()).at(-1) ?? 0) > (before.at(-1) ?? 0) + 2_000);
    const after = await evaluations();
    // Each evaluation before the restart is still there; the restart's own gap is the only one.
    for (const t of before) if (t > Date.now() - 55_000) expect(after).toContain(t);
  });
});

describe('strata rule in a highly available pair', () => {
  let pair: Ruler[] = [];
  let viaPair: Querier;

  beforeAll(async () => {
    // Two rulers of the same rules, told apart by a replica label, as Thanos' HA rulers are run: the
    // querier deduplicates their results on it, and Alertmanager gets one alert once it is dropped.
    for (const replica of ['A', 'B']) {
      pair.push(
        await startRuler({
          ...rulerConfig,
          ruleFiles: [sharedFile],
          alertmanagers: alertmanager !== undefined ? [alertmanagerConfigFromUrl(alertmanager.url)] : [],
          alertLabelDrop: ['replica'],
          externalLabels: Labels.from({ ruler: 'ha', replica }),
          storage: { tsdb: { dir: join(stack.dir, `ha-${replica}`), blockDurationMs: 2 * 3_600_000, retentionMs: 0 } },
        }),
      );
    }
    viaPair = await startQuerier({ httpAddress: '127.0.0.1:0', grpcAddress: '127.0.0.1:0', endpoints: pair.map((r) => r.grpcAddress), replicaLabels: ['replica'], logger: nopLogger });
  }, 60_000);

  afterAll(async () => {
    await viaPair?.stop();
    for (const r of pair) await r.stop();
    pair = [];
  });

  it('gives each result once through a querier deduplicating on the replica label', async () => {
    const answer = async () => ((await get(`http://${viaPair.httpAddress}/api/v1/query?query=answer`)).body.data as { result: { metric: Json; value: [number, string] }[] }).result;
    await until('both rulers’ results', async () => (await answer()).length > 0);
    expect((await answer()).map((r) => [r.metric, r.value[1]])).toEqual([[{ __name__: 'answer', kind: 'rec', ruler: 'ha' }, '42']]);
    const raw = await get(`http://${viaPair.httpAddress}/api/v1/query?query=answer&dedup=false`);
    expect((raw.body.data as { result: { metric: Json }[] }).result.map((r) => r.metric.replica).sort()).toEqual(['A', 'B']);
    // The rules and alerts too: each once, the replica label gone.
    await until('the pair’s alerts', async () => ((await get(`http://${viaPair.httpAddress}/api/v1/alerts`)).body.data as { alerts: unknown[] }).alerts.length === 2);
    const alerts = ((await get(`http://${viaPair.httpAddress}/api/v1/alerts`)).body.data as { alerts: { labels: Json }[] }).alerts;
    expect(alerts.map((a) => a.labels.alertname).sort()).toEqual(['AlwaysFiring', 'Pending']);
  });

  it.skipIf(!withAlertmanager)('sends Alertmanager one alert for both, the replica label dropped', async () => {
    await until('the pair’s alert in Alertmanager', async () => (await alertmanager?.alerts())?.some((a) => a.labels.ruler === 'ha') === true);
    const ha = ((await alertmanager?.alerts()) ?? []).filter((a) => a.labels.ruler === 'ha');
    expect(ha.map((a) => a.labels)).toEqual([{ alertname: 'AlwaysFiring', host: 'host.example.com:9100', instance: 'host.example.com:9100', ruler: 'ha', severity: 'page' }]);
  });
});
