// deploy/monitoring: the rule file passes promtool's checks and unit tests, the dashboard is Grafana JSON
// whose queries Strata's PromQL parser accepts, and every metric either names is on the /metrics of a
// real Strata component (all seven started from the CLI against s3rver and a Prometheus 2.42, which
// scrapes them, evaluates the alerts and remote-writes to the receiver; the ruler's alerts go to a fake
// Alertmanager).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { uploadBlock } from '@strata/block';
import { writeDemoBlocks } from '@strata/cli';
import { newBucket, parseBucketConfig } from '@strata/objstore';
import { parseExpr, walk, type Expr } from '@strata/promql';
import { distinctPorts, sleep, startProcess, startRefusingServer, tempDir, TSX_CHILD_ENV, waitForHttp, type Managed } from '@strata/testing/process';
import { promtool, startPrometheusOn, type PrometheusHandle } from '@strata/testing/prometheus';
import { remoteWriteTo } from '@strata/testing/remotewrite';
import { startS3rver, type S3Server } from '@strata/testing/s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = fileURLToPath(new URL('../../', import.meta.url));
const monitoringDir = join(root, 'deploy', 'monitoring');
const alertsFile = join(monitoringDir, 'alerts.yml');
const dashboardFile = join(monitoringDir, 'dashboards', 'strata-overview.json');
const HOUR = 3_600_000;

type Component = 'sidecar' | 'store' | 'query' | 'query-frontend' | 'compact' | 'rule' | 'receive';
const COMPONENTS: readonly Component[] = ['sidecar', 'store', 'query', 'query-frontend', 'compact', 'rule', 'receive'];
/** The job alerts.yml expects a component scraped under: the frontend's is not strata-query-frontend, which the querier's job=~"strata-query.*" would match. */
const jobOf = (c: Component): string => (c === 'query-frontend' ? 'strata-frontend' : `strata-${c}`);
/** Made by Prometheus for every target, not by a component. */
const SCRAPE_METRICS = new Set(['up']);

interface RuleFile {
  groups: { name: string; rules: { alert: string; expr: string; labels?: Record<string, string>; annotations?: Record<string, string> }[] }[];
}

interface Target {
  datasource?: { uid?: string };
  expr?: string;
}

interface Panel {
  type: string;
  title: string;
  id: number;
  gridPos?: unknown;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
}

interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: string | { query: string } }[] };
}

async function alertRules(): Promise<RuleFile> {
  return parse(await readFile(alertsFile, 'utf8')) as RuleFile;
}

async function dashboard(): Promise<Dashboard> {
  return JSON.parse(await readFile(dashboardFile, 'utf8')) as Dashboard;
}

/** A panel query as Prometheus receives it: Grafana's variables replaced by values of their kind. */
function grafanaExpr(expr: string): string {
  return expr.replace(/\$\{?(\w+)\}?/g, (_, name: string) => (name.startsWith('__') ? '5m' : '.+'));
}

/** The metric names an expression selects, by Strata's PromQL parser. */
function metricNames(expr: string): string[] {
  const names: string[] = [];
  walk(parseExpr(expr), (node: Expr) => {
    if (node.kind !== 'vectorSelector') return;
    const name = node.name ?? node.matchers.find((m) => m.name === '__name__' && m.type === '=')?.value;
    if (name !== undefined) names.push(name);
  });
  return names;
}

/** The component whose /metrics must show what an alert group or dashboard row names; undefined: any of them. */
function componentOf(title: string): Component | undefined {
  const byTitle: Record<string, Component> = {
    'strata-sidecar': 'sidecar',
    Sidecar: 'sidecar',
    'strata-store': 'store',
    'Store gateway': 'store',
    'strata-query': 'query',
    Querier: 'query',
    'strata-frontend': 'query-frontend',
    'Query frontend': 'query-frontend',
    'strata-compact': 'compact',
    Compactor: 'compact',
    'strata-rule': 'rule',
    Ruler: 'rule',
    'strata-receive': 'receive',
    Receiver: 'receive',
  };
  return byTitle[title];
}

/** Each non-row panel with the title of the row it is in. */
function panelsByRow(d: Dashboard): { row: string; panel: Panel }[] {
  let row = '';
  const out: { row: string; panel: Panel }[] = [];
  for (const p of d.panels) {
    if (p.type === 'row') row = p.title;
    else out.push({ row, panel: p });
  }
  return out;
}

describe('deploy/monitoring/alerts.yml', () => {
  it('passes promtool check rules', async () => {
    expect(await promtool(['check', 'rules', alertsFile])).toContain('SUCCESS');
  });

  it('passes its promtool unit tests', async () => {
    expect(await promtool(['test', 'rules', 'alerts.test.yml'], { cwd: monitoringDir })).toContain('SUCCESS');
  });

  it('gives every alert a severity, a summary and a description, and a group per component', async () => {
    const rules = await alertRules();
    expect(rules.groups.map((g) => g.name)).toEqual(['strata', ...COMPONENTS.map(jobOf)]);
    for (const r of rules.groups.flatMap((g) => g.rules)) {
      expect(['warning', 'critical'], r.alert).toContain(r.labels?.severity);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
      expect(r.annotations?.description, r.alert).toBeTruthy();
    }
  });
});

describe('deploy/monitoring/dashboards/strata-overview.json', () => {
  it('is a Grafana dashboard whose panels query ${datasource} with expressions Strata parses', async () => {
    const d = await dashboard();
    expect(d.uid).toBe('strata-overview');
    const datasource = d.templating.list.find((v) => v.name === 'datasource');
    expect(datasource).toMatchObject({ type: 'datasource', query: 'prometheus' });
    const panels = panelsByRow(d);
    expect(panels.length).toBeGreaterThan(20);
    expect(new Set(d.panels.map((p) => p.id)).size).toBe(d.panels.length);
    for (const { row, panel } of panels) {
      const where = `${row} / ${panel.title}`;
      expect(panel.gridPos, where).toBeDefined();
      expect(panel.datasource, where).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(panel.targets?.length, where).toBeGreaterThan(0);
      for (const t of panel.targets ?? []) {
        expect(t.datasource?.uid, where).toBe('${datasource}');
        expect(() => parseExpr(grafanaExpr(t.expr ?? '')), `${where}: ${t.expr}`).not.toThrow();
      }
    }
  });
});

describe('metrics named by deploy/monitoring', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let s3: S3Server;
  let prometheus: PrometheusHandle;
  let alertmanager: Server | undefined;
  let refusing: Awaited<ReturnType<typeof startRefusingServer>> | undefined;
  /** What the ruler sent the fake Alertmanager. */
  const received: { labels: Record<string, string> }[] = [];
  let ruleFile: string;
  const procs: Managed[] = [];
  const http = {} as Record<Component, string>;
  /** Metric names with samples on each component's /metrics. */
  const exposed = {} as Record<Component, Set<string>>;

  function strata(component: Component, args: string[]): Managed {
    const proc = startProcess(process.execPath, ['--import', 'tsx', join(root, 'packages/cli/src/main.ts'), component, `--http-address=${http[component]}`, ...args], {
      logFile: join(dir.path, `${component}.log`),
      env: { ...process.env, ...TSX_CHILD_ENV },
    });
    procs.push(proc);
    return proc;
  }

  async function scrape(component: Component): Promise<Set<string>> {
    const text = await (await fetch(`http://${http[component]}/metrics`)).text();
    return new Set(text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => /^[^{ ]+/.exec(l)?.[0] as string));
  }

  beforeAll(async () => {
    dir = await tempDir('strata-monitoring-');
    s3 = await startS3rver();
    const objstore = join(dir.path, 'objstore.yml');
    await writeFile(objstore, s3.configYaml());
    // Two 2h blocks of yesterday: one already in the bucket (the store gateway serves it), one in
    // Prometheus' data directory (the sidecar uploads it).
    const start = Math.floor((Date.now() - 24 * HOUR) / (2 * HOUR)) * 2 * HOUR;
    const blocksDir = join(dir.path, 'blocks');
    const [inBucket, inPrometheus] = await writeDemoBlocks(blocksDir, {
      instances: ['demo-0'],
      job: 'demo',
      startMs: start,
      endMs: start + 4 * HOUR - 60_000,
      stepMs: 60_000,
      blockMs: 2 * HOUR,
    });
    const externalLabels = { cluster: 'c1', replica: 'r0' };
    const bucket = newBucket(parseBucketConfig(s3.configYaml()));
    await uploadBlock(bucket, join(blocksDir, inBucket!.ulid), { meta: { ...inBucket!, thanos: { labels: externalLabels, downsample: { resolution: 0 }, source: 'test' } } });
    await bucket.close();

    // Every address picked before its server binds it: no two alike.
    const port = distinctPorts();
    for (const c of COMPONENTS) http[c] = `127.0.0.1:${await port()}`;
    const grpc = { sidecar: `127.0.0.1:${await port()}`, store: `127.0.0.1:${await port()}`, query: `127.0.0.1:${await port()}`, rule: `127.0.0.1:${await port()}` };
    // Held by this test, so that no other test's server answers there meanwhile.
    refusing = await startRefusingServer();
    const unreachable = refusing.address;
    // The receiver, ready before Prometheus remote-writes to it (a write while it opens its TSDBs is answered
    // 503, which its error-rate alert would count).
    // A hashring of one, so that it shows its hashring's and forwarding's metrics too.
    const remoteWriteAddress = `127.0.0.1:${await port()}`;
    const receiveGrpc = `127.0.0.1:${await port()}`;
    const hashrings = join(dir.path, 'hashrings.json');
    await writeFile(hashrings, JSON.stringify([{ endpoints: [receiveGrpc] }]));
    // And write limits, a head series limit among them, counted by a meta-monitoring it cannot reach.
    const limits = JSON.stringify({ write: { global: { meta_monitoring_url: `http://${unreachable}` }, default: { request: { series_limit: 100000 } }, tenants: { 'team-a': { head_series_limit: 1000 } } } });
    const receiver = strata('receive', [
      `--remote-write.address=${remoteWriteAddress}`,
      `--grpc-address=${receiveGrpc}`,
      `--tsdb.path=${join(dir.path, 'receive')}`,
      `--objstore.config-file=${objstore}`,
      '--label=receive="r0"',
      `--receive.hashrings-file=${hashrings}`,
      `--receive.local-endpoint=${receiveGrpc}`,
      `--receive.limits-config=${limits}`,
    ]);
    await waitForHttp(`http://${http.receive}/-/ready`, { proc: receiver });
    prometheus = await startPrometheusOn([join(blocksDir, inPrometheus!.ulid)], {
      dir: join(dir.path, 'prometheus'),
      externalLabels,
      scrapeInterval: '1s',
      ruleFiles: [alertsFile],
      // The job names alerts.yml expects.
      scrapeConfigs: COMPONENTS.map((c) => ({ job_name: jobOf(c), static_configs: [{ targets: [http[c]] }] })),
      remoteWrite: [remoteWriteTo(remoteWriteAddress)],
    });
    const rulesDir = join(dir.path, 'rules');
    await mkdir(rulesDir);
    const started: Record<Exclude<Component, 'rule' | 'receive'>, Managed> = {
      sidecar: strata('sidecar', [`--prometheus.url=${prometheus.url}`, `--tsdb.path=${prometheus.dataDir}`, `--objstore.config-file=${objstore}`, `--grpc-address=${grpc.sidecar}`, `--reloader.rule-dir=${rulesDir}`]),
      store: strata('store', [`--objstore.config-file=${objstore}`, `--data-dir=${join(dir.path, 'store')}`, `--grpc-address=${grpc.store}`, '--store.caching-bucket.config=type: IN-MEMORY']),
      compact: strata('compact', ['--wait', `--objstore.config-file=${objstore}`, `--data-dir=${join(dir.path, 'compact')}`]),
      // One endpoint nothing listens on: the querier reports it unhealthy, and one alert goes pending.
      // In two worker processes: /metrics is theirs put together, and the workers' own metrics are there.
      query: strata('query', [`--endpoint=${grpc.sidecar}`, `--endpoint=${grpc.store}`, `--endpoint=${unreachable}`, `--grpc-address=${grpc.query}`, '--query.replica-label=replica', '--query.workers=2']),
      'query-frontend': strata('query-frontend', [`--query-frontend.downstream-url=http://${http.query}`, '--query-range.response-cache-config=type: IN-MEMORY', '--query-frontend.vertical-shards=2']),
    };
    for (const [c, proc] of Object.entries(started)) await waitForHttp(`http://${http[c as Component]}/-/ready`, { proc });

    // Ready once the sidecar's shipper has used the bucket and the querier has found both endpoints.
    const api = (path: string, params: Record<string, string> = {}, component: Component = 'query') => fetch(`http://${http[component]}/api/v1/${path}?${new URLSearchParams(params)}`);
    const bothFound = async () => {
      const types = Object.keys(((await (await api('stores')).json()) as { data: Record<string, unknown> }).data);
      return types.includes('sidecar') && types.includes('store');
    };
    for (let i = 0; i < 300 && !(await scrape('sidecar')).has('strata_objstore_bucket_operation_duration_seconds_bucket'); i++) await sleep(100);
    for (let i = 0; i < 300 && !(await bothFound()); i++) await sleep(100);
    // Ready once Prometheus' remote write has reached the receiver's TSDB.
    for (let i = 0; i < 300 && !(await scrape('receive')).has('thanos_receive_write_samples_bucket'); i++) await sleep(100);

    // The ruler, once its querier answers (evaluations failing before would raise its alerts): a recording
    // and an alerting rule over what Prometheus scrapes, its TSDB shipped to the bucket, its alerts sent to
    // a fake Alertmanager and to one nothing listens on (those sends fail: the sender's error counter).
    alertmanager = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method !== 'POST' || req.url !== '/api/v2/alerts') return void res.writeHead(404).end();
        received.push(...(JSON.parse(Buffer.concat(chunks).toString('utf8')) as { labels: Record<string, string> }[]));
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => alertmanager!.listen(0, '127.0.0.1', resolve));
    ruleFile = join(dir.path, 'rules.yml');
    await writeFile(
      ruleFile,
      [
        'groups:',
        '  - name: monitoring-test',
        '    interval: 2s',
        '    rules:',
        '      - record: job:up:sum',
        '        expr: sum by (job) (up)',
        '      - alert: QuerierScraped',
        '        expr: up{job="strata-query"} == 1',
        '',
      ].join('\n'),
    );
    const ruler = strata('rule', [
      `--rule-file=${ruleFile}`,
      `--query=${http.query}`,
      `--data-dir=${join(dir.path, 'rule')}`,
      `--objstore.config-file=${objstore}`,
      `--grpc-address=${grpc.rule}`,
      `--alertmanagers.url=http://127.0.0.1:${(alertmanager.address() as AddressInfo).port}`,
      `--alertmanagers.url=http://${unreachable}`,
    ]);
    await waitForHttp(`http://${http.rule}/-/ready`, { proc: ruler });
    // Until its group has been evaluated twice and its alert sent (and failed to send).
    const evaluated = async () => {
      const text = await (await fetch(`http://${http.rule}/metrics`)).text();
      const evaluations = /^prometheus_rule_group_iterations_total\{[^}]*\} (\d+)/m.exec(text);
      return Number(evaluations?.[1] ?? 0) >= 2 && /^thanos_alert_sender_alerts_sent_total\{/m.test(text) && /^thanos_alert_sender_errors_total\{/m.test(text);
    };
    for (let i = 0; i < 600 && !(await evaluated()); i++) await sleep(100);
    if (!(await evaluated())) throw new Error('the ruler did not evaluate its group twice and send its alert (to both Alertmanagers) within 60 s');
    // What operators' traffic does: queries over recent data and history, and a query that does not parse.
    expect((await api('query', { query: 'up' })).status).toBe(200);
    const history = { start: String(start / 1000), end: String((start + 4 * HOUR) / 1000), step: '300' };
    const rangeQuery = { query: 'rate(demo_cpu_usage_seconds_total[5m])', ...history };
    expect((await api('query_range', rangeQuery)).status).toBe(200);
    expect((await api('query', { query: 'rate(' })).status).toBe(400);
    // The same range query through the frontend twice: sent downstream, then answered from its cache.
    for (let i = 0; i < 2; i++) expect((await api('query_range', rangeQuery, 'query-frontend')).status).toBe(200);
    for (const c of COMPONENTS) exposed[c] = await scrape(c);
  }, 120_000);

  afterAll(async () => {
    for (const p of procs) await p.stop();
    await new Promise((resolve) => (alertmanager === undefined ? resolve(undefined) : alertmanager.close(resolve)));
    await prometheus?.stop();
    await refusing?.stop();
    await s3?.stop();
    await dir?.cleanup();
  });

  function missing(exprs: { where: string; component: Component | undefined; expr: string }[]): string[] {
    const out: string[] = [];
    for (const { where, component, expr } of exprs) {
      const on = component === undefined ? COMPONENTS : [component];
      for (const name of metricNames(expr)) {
        if (!SCRAPE_METRICS.has(name) && !on.some((c) => exposed[c].has(name))) out.push(`${where}: ${name} (${on.join(', ')})`);
      }
    }
    return out;
  }

  it('the ruler evaluates its rules through the querier and sends its alert', async () => {
    const text = await (await fetch(`http://${http.rule}/metrics`)).text();
    const group = `{rule_group="${ruleFile};monitoring-test"} `;
    const value = (name: string) => Number(text.split('\n').find((l) => l.startsWith(name + group))?.slice(name.length + group.length));
    expect(value('prometheus_rule_evaluations_total')).toBeGreaterThan(0);
    expect(value('prometheus_rule_evaluation_failures_total')).toBe(0);
    expect(value('prometheus_rule_group_rules')).toBe(2);
    expect(received.map((a) => [a.labels.alertname, a.labels.job])).toContainEqual(['QuerierScraped', 'strata-query']);
  });

  it("the receiver stores Prometheus' remote write", async () => {
    const text = await (await fetch(`http://${http.receive}/metrics`)).text();
    const value = (series: string) => Number(text.split('\n').find((l) => l.startsWith(series + ' '))?.slice(series.length + 1));
    expect(value('http_requests_total{handler="receive",code="200",method="POST"}')).toBeGreaterThan(0);
    expect(value('thanos_receive_write_samples_count{code="200",tenant="default-tenant"}')).toBeGreaterThan(0);
    expect(value('prometheus_tsdb_head_series{tenant="default-tenant"}')).toBeGreaterThan(0);
  });

  it('alerts.yml names only metrics its components expose', async () => {
    const exprs = (await alertRules()).groups.flatMap((g) => g.rules.map((r) => ({ where: r.alert, component: componentOf(g.name), expr: r.expr })));
    expect(missing(exprs)).toEqual([]);
  });

  it('the dashboard names only metrics its components expose', async () => {
    const d = await dashboard();
    const exprs = panelsByRow(d).flatMap(({ row, panel }) => (panel.targets ?? []).map((t) => ({ where: `${row} / ${panel.title}`, component: componentOf(row), expr: grafanaExpr(t.expr ?? '') })));
    for (const v of d.templating.list) {
      const query = typeof v.query === 'string' ? v.query : v.query.query;
      const selector = /^label_values\((.+),\s*\w+\)$/.exec(query)?.[1];
      if (selector !== undefined) exprs.push({ where: `variable ${v.name}`, component: undefined, expr: selector });
    }
    expect(missing(exprs)).toEqual([]);
  });

  it('a healthy stack raises only the alert for its unreachable endpoint', async () => {
    let names: string[] = [];
    for (let i = 0; i < 300; i++) {
      const alerts = await prometheus.api<{ alerts: { labels: { alertname: string } }[] }>('alerts');
      names = [...new Set(alerts.alerts.map((a) => a.labels.alertname))].sort();
      if (names.join() === 'StrataQueryEndpointsUnhealthy') break;
      await sleep(100);
    }
    expect(names).toEqual(['StrataQueryEndpointsUnhealthy']);
  });
});
