import { execFile } from 'node:child_process';
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { registerCommands } from '@strata/cli';
import { parseBucketConfig } from '@strata/objstore';
import { parseResponseCacheConfig } from '@strata/frontend';
import { parseCachingBucketConfig, parseIndexCacheConfig } from '@strata/store';
import { buildHttpApp, createLogger, parseTracingConfig, Prober, type RemoteCacheConfig } from '@strata/runtime';
import { parseExpr } from '@strata/promql';
import { parseHashringsConfig } from '@strata/receive';
import { CLI_SOURCE, freePort, sleep, startProcess, tempDir, TSX_CHILD_ENV, waitForHttp, type Managed } from '@strata/testing/process';
import { promtool } from '@strata/testing/prometheus';
import { Command } from 'commander';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { kustomize, type K8sObject } from './kustomize.js';

const execFileP = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const composeDir = join(root, 'deploy', 'docker-compose');
const k8sDir = join(root, 'deploy', 'kubernetes');

/** A `strata …` invocation found in the deploy files: where, the subcommand path, and its flags. */
interface Invocation {
  where: string;
  args: string[];
}

function splitInvocation(args: string[]): { path: string[]; flags: string[] } {
  const i = args.findIndex((a) => a.startsWith('-'));
  return { path: i < 0 ? args : args.slice(0, i), flags: i < 0 ? [] : args.slice(i) };
}

function flagValue(args: string[], name: string): string | undefined {
  for (const a of args) if (a.startsWith(`${name}=`)) return a.slice(name.length + 1);
  return undefined;
}

function cliProgram(): Command {
  const program = new Command('strata');
  registerCommands(program);
  return program;
}

function findCommand(program: Command, path: string[]): Command | undefined {
  let cmd: Command | undefined = program;
  for (const name of path) cmd = cmd?.commands.find((c) => c.name() === name);
  return cmd;
}

interface ComposeService {
  image?: string;
  command?: string[];
  healthcheck?: { test: string[] };
  /** `source:target[:mode]`, sources resolved to absolute paths or named volumes. */
  volumes?: string[];
  /** `host:container` as `docker-compose config` writes them. */
  ports?: (string | { published: number | string; target: number })[];
  depends_on?: Record<string, { condition: string }>;
}

async function composeServices(): Promise<Record<string, ComposeService>> {
  // `docker-compose config` resolves anchors, merges and resolves paths exactly as Compose will.
  const { stdout } = await execFileP('docker-compose', ['config'], { cwd: composeDir });
  return (parse(stdout) as { services: Record<string, ComposeService> }).services;
}

/** The host path a service sees at `target` (a file or a directory under a bind mount). */
function hostPath(svc: ComposeService, target: string): string | undefined {
  for (const v of svc.volumes ?? []) {
    const [source, mountedAt] = v.split(':') as [string, string];
    if (source.startsWith('/') && (target === mountedAt || target.startsWith(`${mountedAt}/`))) return source + target.slice(mountedAt.length);
  }
  return undefined;
}

interface RuleGroups {
  groups: { name: string; rules: { record?: string; alert?: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }[] }[];
}

/** A rule file passes `promtool check rules`, and every expression parses with Strata's PromQL parser (what the ruler evaluates them with). */
async function checkRuleFile(file: string): Promise<RuleGroups> {
  expect(await promtool(['check', 'rules', file]), file).toContain('SUCCESS');
  const groups = parse(await readFile(file, 'utf8')) as RuleGroups;
  const rules = groups.groups.flatMap((g) => g.rules);
  expect(rules.filter((r) => r.record !== undefined).length, `${file}: recording rules`).toBeGreaterThanOrEqual(1);
  expect(rules.filter((r) => r.alert !== undefined).length, `${file}: alerts`).toBeGreaterThanOrEqual(1);
  for (const r of rules) expect(() => parseExpr(r.expr), `${file}: ${r.expr}`).not.toThrow();
  return groups;
}

/** The port of a `host:port` flag value. */
function portOf(address: string | undefined): number {
  return Number(address?.split(':').pop());
}

async function k8sObjects(): Promise<K8sObject[]> {
  return [...(await kustomize(join(k8sDir, 'base'))), ...(await kustomize(join(k8sDir, 'overlays', 'local-minio')))];
}

interface Container {
  name: string;
  image: string;
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
}

function containers(o: K8sObject): Container[] {
  const spec = o.spec as { template?: { spec?: { containers?: Container[] } } } | undefined;
  return spec?.template?.spec?.containers ?? [];
}

async function strataInvocations(): Promise<Invocation[]> {
  const out: Invocation[] = [];
  for (const [name, svc] of Object.entries(await composeServices())) {
    if (svc.image?.startsWith('strata:') && svc.command) out.push({ where: `compose service ${name}`, args: svc.command });
  }
  for (const o of await k8sObjects()) {
    for (const c of containers(o)) {
      if (c.image.startsWith('strata:')) out.push({ where: `${o.kind}/${o.metadata.name} container ${c.name}`, args: c.args ?? [] });
    }
  }
  return out;
}

/** The HTTP paths every component serves (the shared runtime surface). */
async function servedPaths(paths: string[]): Promise<Record<string, number>> {
  const registry = new Registry();
  const prober = new Prober('deploy-test', registry);
  prober.healthy();
  prober.ready();
  const app = await buildHttpApp({ registry, prober, logger: createLogger({ write: () => {} }) });
  const codes: Record<string, number> = {};
  for (const p of paths) codes[p] = (await app.inject(p)).statusCode;
  await app.close();
  return codes;
}

describe('deploy/docker-compose', () => {
  it('is accepted by docker-compose config', async () => {
    await execFileP('docker-compose', ['config', '-q'], { cwd: composeDir });
  });

  it('health checks probe the port and path each component serves', async () => {
    const services = await composeServices();
    let checked = 0;
    for (const [name, svc] of Object.entries(services)) {
      if (!svc.image?.startsWith('strata:')) continue;
      const test = (svc.healthcheck?.test ?? []).join(' ');
      const url = /http:\/\/127\.0\.0\.1:(\d+)(\/[^'"\s)]*)/.exec(test);
      expect(url, `${name} has an HTTP health check`).not.toBeNull();
      const args = svc.command ?? [];
      const address = flagValue(args, '--http-address') ?? flagValue(args, '--listen-address');
      expect(address?.split(':').pop(), `${name}: health check port vs listen flag`).toBe(url?.[1]);
      const path = url?.[2] as string;
      if (flagValue(args, '--http-address')) expect((await servedPaths([path]))[path], `${name} serves ${path}`).toBe(200);
      else expect(path).toBe('/-/healthy');
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(9);
  });
  it('Prometheus loads deploy/monitoring/alerts.yml and scrapes each component under the job the alerts expect', async () => {
    const prometheuses = Object.values(await composeServices()).filter((svc) => svc.image?.startsWith('prom/prometheus:'));
    expect(prometheuses.length).toBe(2);
    const tmp = await tempDir('strata-compose-prometheus-');
    try {
      for (const [i, svc] of prometheuses.entries()) {
        const config = parse(await readFile(hostPath(svc, '/etc/prometheus/prometheus.yml') as string, 'utf8')) as { rule_files: string[]; scrape_configs: { job_name: string }[] };
        expect(config.scrape_configs.map((c) => c.job_name)).toEqual(expect.arrayContaining(['strata-sidecar', 'strata-store', 'strata-query', 'strata-frontend', 'strata-compact', 'strata-rule']));
        const ruleFiles = config.rule_files.map((f) => hostPath(svc, f));
        expect(ruleFiles).toEqual([join(root, 'deploy', 'monitoring', 'alerts.yml')]);
        // The configuration as the container reads it, its rule files at their host paths.
        const file = join(tmp.path, `prometheus-${i}.yml`);
        await writeFile(file, JSON.stringify({ ...config, rule_files: ruleFiles }));
        expect(await promtool(['check', 'config', file])).toContain('SUCCESS');
      }
    } finally {
      await tmp.cleanup();
    }
  });

  it('Grafana provisions the demo dashboard and the Strata overview', async () => {
    const grafana = (await composeServices()).grafana as ComposeService;
    const provisioning = parse(await readFile(join(composeDir, 'grafana', 'provisioning', 'dashboards', 'strata.yml'), 'utf8')) as { providers: { options: { path: string } }[] };
    const uids: string[] = [];
    for (const p of provisioning.providers) {
      const dir = hostPath(grafana, p.options.path) as string;
      for (const f of (await readdir(dir)).filter((n) => n.endsWith('.json'))) uids.push((JSON.parse(await readFile(join(dir, f), 'utf8')) as { uid: string }).uid);
    }
    expect(uids.sort()).toEqual(['strata-demo', 'strata-overview']);
  });

  it('the ruler: its rules mounted where --rule-file looks and passing promtool, its data and bucket, the querier and Alertmanager it names, and the querier reading it', async () => {
    const services = await composeServices();
    const rule = services.rule as ComposeService;
    const args = rule.command ?? [];
    expect(splitInvocation(args).path).toEqual(['rule']);
    // --rule-file: a glob under the bind mount of deploy/docker-compose/rules.
    const pattern = hostPath(rule, flagValue(args, '--rule-file') as string) as string;
    expect(dirname(pattern)).toBe(join(composeDir, 'rules'));
    expect(basename(pattern)).toBe('*.yml');
    const ruleFiles = (await readdir(dirname(pattern))).filter((f) => f.endsWith('.yml'));
    expect(ruleFiles).toEqual(['global.yml']);
    for (const f of ruleFiles) await checkRuleFile(join(dirname(pattern), f));
    // Its TSDB on a named volume, its blocks shipped to the bucket every component uses.
    expect(rule.volumes).toContain(`rule-data:${flagValue(args, '--data-dir')}:rw`);
    expect(hostPath(rule, flagValue(args, '--objstore.config-file') as string)).toBe(join(composeDir, 'objstore.yml'));
    expect(args).toContain('--label=ruler="global"');
    // --query: the querier's HTTP port, started first.
    const [queryHost, queryPort] = (flagValue(args, '--query') as string).split(':');
    expect(queryHost).toBe('query');
    expect(portOf(flagValue(services.query?.command ?? [], '--http-address'))).toBe(Number(queryPort));
    expect(rule.depends_on?.query?.condition).toBe('service_healthy');
    // --alertmanagers.url: the Alertmanager service, whose configuration amtool accepts.
    const alertmanager = new URL(flagValue(args, '--alertmanagers.url') as string);
    expect(alertmanager.hostname).toBe('alertmanager');
    const am = services.alertmanager as ComposeService;
    expect(am.image).toMatch(/^prom\/alertmanager:/);
    expect(am.healthcheck?.test.join(' ')).toContain(`http://127.0.0.1:${alertmanager.port}/-/ready`);
    const amConfig = hostPath(am, flagValue(am.command ?? [], '--config.file') as string) as string;
    expect(amConfig).toBe(join(composeDir, 'alertmanager', 'alertmanager.yml'));
    expect((await execFileP('amtool', ['check-config', amConfig])).stdout).toContain('SUCCESS');
    // The querier reads the ruler's results and rules over its gRPC port.
    expect(services.query?.command).toContain(`--endpoint=rule:${portOf(flagValue(args, '--grpc-address'))}`);
    // Host ports: one service each.
    const published = Object.values(services).flatMap((svc) => (svc.ports ?? []).map((p) => (typeof p === 'string' ? p.split(':')[0] : String(p.published))));
    expect(new Set(published).size).toBe(published.length);
  });

  it("the ruler's command runs: it loads rules/global.yml and evaluates every rule through the querier it is given", { timeout: 90_000 }, async () => {
    // The compose service's arguments as they are, but for what points into the compose network or the
    // container: the rule files at their host paths, a fresh data directory and filesystem bucket, local
    // ports, a stand-in querier (it answers every instant query with one series) and no tracing.
    const rule = (await composeServices()).rule as ComposeService;
    const tmp = await tempDir('strata-compose-rule-');
    const queries: URLSearchParams[] = [];
    const querier = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const params = new URLSearchParams(req.method === 'POST' ? body : (req.url ?? '').split('?')[1]);
        queries.push(params);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: { cluster: 'demo', job: 'demo' }, value: [Number(params.get('time')), '3'] }] } }));
      });
    });
    await new Promise<void>((resolve) => querier.listen(0, '127.0.0.1', resolve));
    let proc: Managed | undefined;
    try {
      const objstore = join(tmp.path, 'objstore.yml');
      await writeFile(objstore, `type: FILESYSTEM\nconfig:\n  directory: ${join(tmp.path, 'bucket')}\n`);
      const http = `127.0.0.1:${await freePort()}`;
      const address = querier.address() as { port: number };
      const replaced: Record<string, string | undefined> = {
        '--rule-file': hostPath(rule, flagValue(rule.command ?? [], '--rule-file') as string),
        '--data-dir': join(tmp.path, 'data'),
        '--objstore.config-file': objstore,
        '--query': `127.0.0.1:${address.port}`,
        // Nothing is sent while the alert is pending (its `for`).
        '--alertmanagers.url': `http://127.0.0.1:${await freePort()}`,
        '--grpc-address': `127.0.0.1:${await freePort()}`,
        '--http-address': http,
        '--tracing.config-file': undefined,
      };
      const args = (rule.command ?? []).flatMap((a) => {
        const name = a.split('=')[0] as string;
        if (!(name in replaced)) return [a];
        const value = replaced[name];
        return value === undefined ? [] : [`${name}=${value}`];
      });
      expect(args.filter((a) => a.startsWith('-')).map((a) => a.split('=')[0]).sort()).toEqual(
        (rule.command ?? []).filter((a) => a.startsWith('-') && a.split('=')[0] !== '--tracing.config-file').map((a) => a.split('=')[0]).sort(),
      );
      proc = startProcess(process.execPath, ['--import', 'tsx', CLI_SOURCE, ...args], { logFile: join(tmp.path, 'rule.log'), env: { ...process.env, ...TSX_CHILD_ENV } });
      await waitForHttp(`http://${http}/-/ready`, { proc, timeoutMs: 60_000 });

      const file = parse(await readFile(replaced['--rule-file']!.replace('*.yml', 'global.yml'), 'utf8')) as RuleGroups;
      const exprs = file.groups.flatMap((g) => g.rules.map((r) => r.expr));
      type ApiRule = { name: string; query: string; health: string; lastError?: string; labels?: Record<string, string>; lastEvaluation: string; state?: string };
      const rulesApi = async () => ((await (await fetch(`http://${http}/api/v1/rules`)).json()) as { data: { groups: { name: string; file: string; rules: ApiRule[] }[] } }).data.groups;
      // Groups start at an offset within their interval (30s), as Prometheus' do.
      for (let i = 0; i < 600 && !exprs.every((e) => queries.some((q) => q.get('query') === e)); i++) await sleep(100);
      for (let i = 0; i < 100 && (await rulesApi()).some((g) => g.rules.some((r) => r.lastEvaluation.startsWith('0001'))); i++) await sleep(100);
      // Asked of the querier as Thanos' ruler asks: deduplicated.
      for (const e of exprs) expect(queries.find((q) => q.get('query') === e)?.get('dedup'), e).toBe('true');
      const groups = await rulesApi();
      expect(groups.map((g) => g.name)).toEqual(file.groups.map((g) => g.name));
      const rules = groups.flatMap((g) => g.rules);
      expect(rules.map((r) => r.name)).toEqual(file.groups.flatMap((g) => g.rules.map((r) => r.record ?? r.alert)));
      for (const r of rules) expect([r.name, r.health, r.lastError ?? '']).toEqual([r.name, 'ok', '']);
      // The alert's answer is not empty: pending for its `for`, with the ruler's --label.
      const alerts = ((await (await fetch(`http://${http}/api/v1/alerts`)).json()) as { data: { alerts: { labels: Record<string, string>; state: string }[] } }).data.alerts;
      expect(alerts.map((a) => [a.labels.alertname, a.labels.ruler, a.state])).toEqual([['PrometheusClusterVanished', 'global', 'pending']]);
    } finally {
      await proc?.stop();
      await new Promise((resolve) => querier.close(resolve));
      await tmp.cleanup();
    }
  });
});

describe('deploy/kubernetes', () => {
  it('every assembled manifest validates against the Kubernetes API schema', async () => {
    const objects = await k8sObjects();
    expect(objects.length).toBeGreaterThan(10);
    for (const o of objects) {
      const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
      const modulePath = `kubernetes-models/${group ? `${group}/` : ''}${version}/${o.kind}`;
      const mod = (await import(modulePath)) as Record<string, new (data: unknown) => { validate(): void }>;
      const Model = mod[o.kind];
      expect(Model, modulePath).toBeDefined();
      expect(() => new (Model as new (data: unknown) => { validate(): void })(o).validate(), `${o.kind}/${o.metadata.name}`).not.toThrow();
    }
  });

  it('ships deploy/monitoring/alerts.yml as the ConfigMap strata-alerts', async () => {
    const alerts = (await kustomize(join(k8sDir, 'base'))).find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'strata-alerts');
    expect(alerts?.metadata.namespace).toBe('strata');
    expect((alerts?.data as Record<string, string>)['alerts.yml']).toBe(await readFile(join(root, 'deploy', 'monitoring', 'alerts.yml'), 'utf8'));
  });

  it('runs the ruler as a StatefulSet with its rules from a ConfigMap, a volume for its TSDB, a headless Service the queriers find', async () => {
    const objects = await kustomize(join(k8sDir, 'base'));
    const find = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);
    const sts = find('StatefulSet', 'rule') as K8sObject;
    expect(sts).toBeDefined();
    const spec = sts.spec as { serviceName: string; template: { spec: { volumes: { name: string; configMap?: { name: string }; secret?: { secretName: string } }[] } }; volumeClaimTemplates: { metadata: { name: string } }[] };
    const [c] = containers(sts) as [Container];
    const args = c.args ?? [];
    expect(splitInvocation(args).path).toEqual(['rule']);
    const mountOf = (path: string) => c.volumeMounts?.find((m) => path === m.mountPath || path.startsWith(`${m.mountPath}/`));
    const volumeOf = (path: string) => spec.template.spec.volumes.find((v) => v.name === mountOf(path)?.name);
    // --rule-file: a glob over the ConfigMap's mount; its rules pass promtool and Strata's parser.
    const pattern = flagValue(args, '--rule-file') as string;
    expect(mountOf(pattern)?.mountPath).toBe(dirname(pattern));
    const configMap = find('ConfigMap', volumeOf(pattern)?.configMap?.name as string);
    expect(configMap?.metadata.name).toBe('strata-rules');
    const data = configMap?.data as Record<string, string>;
    expect(Object.keys(data).filter((k) => k.endsWith(basename(pattern).replace('*', '')))).toEqual(Object.keys(data));
    const tmp = await tempDir('strata-k8s-rules-');
    try {
      for (const [name, text] of Object.entries(data)) {
        await writeFile(join(tmp.path, name), text);
        await checkRuleFile(join(tmp.path, name));
      }
    } finally {
      await tmp.cleanup();
    }
    // --data-dir on the claim template's volume, the bucket from the objstore Secret.
    expect(mountOf(flagValue(args, '--data-dir') as string)?.name).toBe('data');
    expect(spec.volumeClaimTemplates.map((t) => t.metadata.name)).toEqual(['data']);
    expect(volumeOf(flagValue(args, '--objstore.config-file') as string)?.secret?.secretName).toBe('strata-objstore');
    expect(args).toContain('--label=ruler="global"');
    // --query: the querier Service's HTTP port.
    const query = containers(find('Deployment', 'query') as K8sObject)[0] as Container;
    const queryService = (find('Service', 'query') as K8sObject).spec as { ports: { name: string; port: number }[] };
    expect((flagValue(args, '--query') as string).split(':')[0]).toBe('query.strata.svc.cluster.local');
    expect(portOf(flagValue(args, '--query'))).toBe(queryService.ports.find((p) => p.name === 'http')?.port);
    expect(portOf(flagValue(args, '--query'))).toBe(portOf(flagValue(query.args ?? [], '--http-address')));
    // The headless Service's grpc port (what dnssrv+_grpc._tcp answers) is the ruler's --grpc-address, and the queriers list it.
    const service = (find('Service', spec.serviceName) as K8sObject).spec as { clusterIP: string; ports: { name: string; port: number }[] };
    expect(service.clusterIP).toBe('None');
    expect(service.ports.find((p) => p.name === 'grpc')?.port).toBe(portOf(flagValue(args, '--grpc-address')));
    expect(service.ports.find((p) => p.name === 'http')?.port).toBe(portOf(flagValue(args, '--http-address')));
    expect(c.ports?.find((p) => p.name === 'grpc')?.containerPort).toBe(portOf(flagValue(args, '--grpc-address')));
    expect(query.args).toContain(`--endpoint=dnssrv+_grpc._tcp.${spec.serviceName}.strata.svc.cluster.local`);
  });

  it('runs the receivers as a StatefulSet whose hashring file names each pod as its --receive.local-endpoint, and the queriers deduplicate their copies', async () => {
    const objects = await kustomize(join(k8sDir, 'base'));
    const find = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);
    const sts = find('StatefulSet', 'receive') as K8sObject;
    const spec = sts.spec as { serviceName: string; replicas: number; template: { spec: { volumes: { name: string; configMap?: { name: string } }[] } } };
    const [c] = containers(sts) as [Container];
    const args = c.args ?? [];
    expect(splitInvocation(args).path).toEqual(['receive']);
    // The hashring file, from the ConfigMap mounted where --receive.hashrings-file looks, is one Strata reads,
    // and names every pod of the StatefulSet at its stable DNS name and gRPC port, as each pod names itself.
    const file = flagValue(args, '--receive.hashrings-file') as string;
    const mount = c.volumeMounts?.find((m) => dirname(file) === m.mountPath);
    const configMap = find('ConfigMap', spec.template.spec.volumes.find((v) => v.name === mount?.name)?.configMap?.name as string);
    const hashrings = parseHashringsConfig((configMap?.data as Record<string, string>)[basename(file)] as string);
    const grpcPort = portOf(flagValue(args, '--grpc-address'));
    const podAddress = (pod: string) => `${pod}.${spec.serviceName}.strata.svc.cluster.local:${grpcPort}`;
    expect(hashrings.flatMap((h) => h.endpoints.map((e) => e.address))).toEqual(Array.from({ length: spec.replicas }, (_, i) => podAddress(`${sts.metadata.name}-${i}`)));
    expect(flagValue(args, '--receive.local-endpoint')).toBe(podAddress('$(POD_NAME)'));
    expect(c.env).toContainEqual({ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
    const replicationFactor = Number(flagValue(args, '--receive.replication-factor'));
    expect(replicationFactor).toBeGreaterThan(1);
    expect(replicationFactor).toBeLessThanOrEqual(spec.replicas);
    // Each pod's copies carry its own receive_replica label, which the queriers deduplicate on; they find every pod.
    expect(args).toContain('--label=receive_replica="$(POD_NAME)"');
    const query = containers(find('Deployment', 'query') as K8sObject)[0] as Container;
    expect(query.args).toContain('--query.replica-label=receive_replica');
    expect(query.args).toContain(`--endpoint=dnssrv+_grpc._tcp.${spec.serviceName}.strata.svc.cluster.local`);
    const service = (find('Service', spec.serviceName) as K8sObject).spec as { clusterIP: string; ports: { name: string; port: number }[] };
    expect(service.clusterIP).toBe('None');
    expect(service.ports.find((p) => p.name === 'grpc')?.port).toBe(grpcPort);
    expect(service.ports.find((p) => p.name === 'remote-write')?.port).toBe(portOf(flagValue(args, '--remote-write.address')));
  });

  it("every querier --endpoint names a headless Service's grpc port", async () => {
    const objects = await kustomize(join(k8sDir, 'base'));
    const query = containers(objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'query') as K8sObject)[0] as Container;
    const endpoints = (query.args ?? []).filter((a) => a.startsWith('--endpoint=')).map((a) => a.slice('--endpoint='.length));
    expect(endpoints.length).toBeGreaterThanOrEqual(3);
    for (const e of endpoints) {
      const m = /^dnssrv\+_grpc\._tcp\.([a-z0-9-]+)\.strata\.svc\.cluster\.local$/.exec(e);
      expect(m, e).not.toBeNull();
      const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === m?.[1])?.spec as { clusterIP?: string; ports: { name: string }[] } | undefined;
      expect(service?.clusterIP, e).toBe('None');
      expect(service?.ports.map((p) => p.name), e).toContain('grpc');
    }
  });

  it('has probes on the ports and paths the components serve, resources, and a querier PDB', async () => {
    const objects = await k8sObjects();
    expect(objects.some((o) => o.kind === 'PodDisruptionBudget' && o.metadata.name === 'query')).toBe(true);
    // Long-running workloads only: a Job's container runs to completion and has nothing to probe.
    for (const o of objects.filter((x) => x.kind !== 'Job')) {
      for (const c of containers(o)) {
        expect((c as { resources?: { requests?: unknown } }).resources?.requests, `${o.metadata.name}/${c.name} requests`).toBeDefined();
        if (!c.image.startsWith('strata:')) {
          // A server without HTTP (memcached) is probed on its port.
          for (const probe of [c.readinessProbe, c.livenessProbe]) expect(probe?.httpGet ?? (probe as { tcpSocket?: unknown } | undefined)?.tcpSocket, `${o.metadata.name}/${c.name} probes`).toBeDefined();
          continue;
        }
        expect(c.readinessProbe?.httpGet, `${o.metadata.name}/${c.name} readiness`).toBeDefined();
        expect(c.livenessProbe?.httpGet, `${o.metadata.name}/${c.name} liveness`).toBeDefined();
        const httpPort = Number(flagValue(c.args ?? [], '--http-address')?.split(':').pop());
        for (const probe of [c.readinessProbe, c.livenessProbe]) {
          const get = probe?.httpGet as { path: string; port: string | number };
          const port = typeof get.port === 'number' ? get.port : c.ports?.find((p) => p.name === get.port)?.containerPort;
          expect(port, `${o.metadata.name}/${c.name} probe port`).toBe(httpPort);
          expect((await servedPaths([get.path]))[get.path]).toBe(200);
        }
      }
    }
  });
});

describe('deploy files and the CLI', () => {
  it('use only strata flags that exist', async () => {
    const program = cliProgram();
    const invocations = await strataInvocations();
    expect(invocations.length).toBeGreaterThanOrEqual(12);
    for (const inv of invocations) {
      const { path, flags } = splitInvocation(inv.args);
      const cmd = findCommand(program, path);
      expect(cmd, `${inv.where}: strata ${path.join(' ')}`).toBeDefined();
      const known = new Set((cmd as Command).options.map((o) => o.long));
      for (const f of flags) expect(known, `${inv.where}: flag ${f.split('=')[0]}`).toContain(f.split('=')[0]);
    }
  });

  it("takes the arguments kube-thanos (jsonnet) and the Prometheus operator's sidecar give Thanos, command for command", () => {
    // Their flags as those projects write them (values aside): a deployment moved to Strata keeps its arguments.
    const thanosDeployments: Record<string, string[]> = {
      query: [
        '--grpc-address', '--http-address', '--log.level', '--log.format', '--query.replica-label', '--endpoint', '--query.timeout', '--query.lookback-delta',
        '--query.auto-downsampling', '--web.prefix-header', '--tracing.config', '--query.telemetry.request-duration-seconds-quantiles',
        '--query.telemetry.request-samples-quantiles', '--query.telemetry.request-series-seconds-quantiles', '--query.promql-engine', '--endpoint-group',
        '--endpoint-strict', '--query.max-concurrent', '--grpc-client-tls-secure', '--query.tenant-header', '--query.enforce-tenancy',
      ],
      store: [
        '--log.level', '--log.format', '--data-dir', '--grpc-address', '--http-address', '--objstore.config', '--ignore-deletion-marks-delay', '--index-cache.config',
        '--store.caching-bucket.config', '--store.enable-index-header-lazy-reader', '--tracing.config', '--selector.relabel-config', '--min-time', '--max-time',
        '--store.grpc.series-max-concurrency', '--sync-block-duration', '--block-sync-concurrency', '--chunk-pool-size',
      ],
      compact: [
        '--wait', '--log.level', '--log.format', '--objstore.config', '--data-dir', '--debug.accept-malformed-index', '--retention.resolution-raw',
        '--retention.resolution-5m', '--retention.resolution-1h', '--delete-delay', '--compact.concurrency', '--downsample.concurrency', '--downsampling.disable',
        '--deduplication.replica-label', '--deduplication.func', '--tracing.config', '--http-address', '--block-files-concurrency',
        '--compact.blocks-fetch-concurrency', '--block-meta-fetch-concurrency', '--hash-func', '--compact.cleanup-interval',
      ],
      'query-frontend': [
        '--query-frontend.compress-responses', '--http-address', '--query-frontend.downstream-url', '--query-range.split-interval', '--labels.split-interval',
        '--query-range.max-retries-per-request', '--labels.max-retries-per-request', '--query-frontend.log-queries-longer-than', '--query-range.response-cache-config',
        '--labels.response-cache-config', '--cache-compression-type', '--tracing.config', '--log.level', '--log.format', '--query-frontend.tenant-header',
      ],
      sidecar: [
        '--prometheus.url', '--grpc-address', '--http-address', '--log.level', '--log.format', '--tsdb.path', '--objstore.config', '--reloader.config-file',
        '--reloader.config-envsubst-file', '--reloader.rule-dir', '--shipper.upload-compacted', '--min-time', '--tracing.config', '--grpc-server-tls-cert',
        '--grpc-server-tls-key', '--grpc-server-tls-client-ca', '--prometheus.http-client', '--hash-func',
      ],
      rule: [
        '--log.level', '--log.format', '--grpc-address', '--http-address', '--objstore.config', '--data-dir', '--label', '--alert.label-drop', '--tsdb.retention',
        '--tsdb.block-duration', '--query', '--rule-file', '--alertmanagers.url', '--alertmanagers.config', '--remote-write.config', '--tracing.config',
        '--eval-interval', '--resend-delay', '--alert.query-url', '--alert.relabel-config', '--grpc-server-tls-cert', '--grpc-server-tls-key',
        '--grpc-server-tls-client-ca',
      ],
    };
    const program = cliProgram();
    for (const [command, flags] of Object.entries(thanosDeployments)) {
      const known = new Set((findCommand(program, [command]) as Command).options.map((o) => o.long));
      for (const f of flags) expect(known, `strata ${command} ${f}`).toContain(f);
    }
  });

  it("takes the other flags of Thanos' --help that deployments set: TLS, memory, endpoint files, limits, the block viewer", () => {
    const thanosFlags: Record<string, string[]> = {
      query: [
        '--endpoint.sd-config-file', '--endpoint.sd-config', '--endpoint.sd-config-reload-interval', '--grpc-client-tls-min-version', '--grpc-server-tls-min-version',
        '--enable-auto-gomemlimit', '--auto-gomemlimit.ratio', '--store.sd-interval', '--query.mode', '--query.partition-label',
        '--selector.relabel-config', '--selector.relabel-config-file', '--selector-label', '--query.conn-metric.label', '--alert.query-url',
        '--query.enable-x-functions', '--store-strict', '--log.request.decision',
      ],
      store: [
        '--grpc-server-tls-min-version', '--enable-auto-gomemlimit', '--auto-gomemlimit.ratio', '--cache-index-header', '--store.enable-lazy-expanded-postings',
        '--store.index-header-lazy-download-strategy', '--store.posting-group-max-key-series-ratio', '--block-discovery-strategy', '--matcher-cache-size', '--web.disable',
        '--web.external-prefix', '--web.route-prefix', '--web.prefix-header', '--web.disable-cors', '--bucket-web-label', '--disable-admin-operations',
      ],
      sidecar: ['--grpc-server-tls-min-version', '--enable-auto-gomemlimit', '--auto-gomemlimit.ratio', '--store.limits.request-series', '--store.limits.request-samples', '--shipper.upload-concurrency', '--prometheus.get_config_timeout', '--reloader.method', '--reloader.process-name', '--shipper.meta-file-name'],
      compact: [
        '--enable-auto-gomemlimit', '--auto-gomemlimit.ratio', '--compact.progress-interval', '--compact.skip-block-with-out-of-order-chunks', '--block-discovery-strategy', '--web.disable',
        '--web.route-prefix', '--web.external-prefix', '--web.prefix-header', '--web.disable-cors', '--disable-admin-operations',
        '--debug.halt-on-error', '--compact.block-max-index-size',
      ],
      'query-frontend': [
        '--enable-auto-gomemlimit', '--auto-gomemlimit.ratio', '--query-frontend.slow-query-logs-user-header', '--query-frontend.force-query-stats',
        '--query-frontend.enable-x-functions', '--log.request.decision',
      ],
      rule: ['--query.config', '--query.config-file', '--grpc-query-endpoint'],
      receive: ['--tsdb.out-of-order.time-window', '--tsdb.out-of-order.cap-max', '--tsdb.max-exemplars', '--tsdb.too-far-in-future.time-window'],
    };
    const program = cliProgram();
    for (const [command, flags] of Object.entries(thanosFlags)) {
      const known = new Set((findCommand(program, [command]) as Command).options.flatMap((o) => [o.long, o.short]));
      for (const f of flags) expect(known, `strata ${command} ${f}`).toContain(f);
    }
    expect((findCommand(program, ['compact']) as Command).options.map((o) => o.short)).toContain('-w');
  });

  it("takes --no-<flag> for every boolean flag, as Thanos' kingpin does, leaving the defaults as they were", async () => {
    const parsed = async (args: string[]) => {
      const program = cliProgram();
      const query = findCommand(program, ['query']) as Command;
      let opts: Record<string, unknown> = {};
      query.action((o: Record<string, unknown>) => {
        opts = o;
      });
      await program.parseAsync(['query', ...args], { from: 'user' });
      return opts;
    };
    const defaults = await parsed([]);
    expect([defaults['web.disableCors'], defaults['query.partialResponse'], defaults['query.enforceTenancy']]).toEqual([false, true, false]);
    const negated = await parsed(['--no-web.disable-cors', '--no-query.auto-downsampling', '--no-query.partial-response', '--no-enable-auto-gomemlimit']);
    expect([negated['web.disableCors'], negated['query.autoDownsampling'], negated['query.partialResponse'], negated.enableAutoGomemlimit]).toEqual([false, false, false, false]);
    expect((await parsed(['--web.disable-cors']))['web.disableCors']).toBe(true);
    // Unlisted: the help stays as it was.
    expect((findCommand(cliProgram(), ['query']) as Command).helpInformation()).not.toContain('--no-web.disable-cors');
  });

  it('cache configs parse with Strata own loaders, memcached ones naming the memcached deployed with them', async () => {
    const parsers: Record<string, (text: string, what: string) => object> = {
      '--index-cache.config': parseIndexCacheConfig,
      '--store.caching-bucket.config': parseCachingBucketConfig,
      '--query-range.response-cache-config': parseResponseCacheConfig,
      '--labels.response-cache-config': parseResponseCacheConfig,
    };
    let memcached = 0;
    for (const inv of await strataInvocations()) {
      for (const [flag, parse] of Object.entries(parsers)) {
        const value = flagValue(inv.args, flag);
        if (value === undefined) continue;
        // A remote cache: `cache` (index cache, results caches) or `remote` (caching bucket).
        const parsed = parse(value, `${inv.where} ${flag}`) as { cache?: RemoteCacheConfig; remote?: RemoteCacheConfig };
        const remote = parsed.cache ?? parsed.remote;
        if (remote === undefined) continue;
        expect(remote.type, `${inv.where} ${flag}`).toBe('MEMCACHED');
        const addresses = remote.type === 'MEMCACHED' ? remote.client.addresses : [];
        memcached++;
        const host = inv.where.startsWith('compose') ? 'memcached:11211' : 'dns+memcached.strata.svc.cluster.local:11211';
        expect(addresses, `${inv.where} ${flag}`).toEqual([host]);
      }
    }
    // The store gateway's two caches and the frontend's two: in compose, and in each Kubernetes layout.
    expect(memcached % 4).toBe(0);
    expect(memcached).toBeGreaterThanOrEqual(8);
    expect(Object.keys(await composeServices())).toContain('memcached');
    expect((await k8sObjects()).some((o) => o.kind === 'Service' && o.metadata.name === 'memcached' && (o.spec as { clusterIP?: string }).clusterIP === 'None')).toBe(true);
  });

  it('sends every component\'s traces to Jaeger, the tracing config mounted where the flag names it', async () => {
    const config = parseTracingConfig(await readFile(join(composeDir, 'tracing.yml'), 'utf8'), 'compose tracing.yml');
    expect(config?.endpoint).toBe('jaeger:4317');
    const services = await composeServices();
    expect(services.jaeger?.image).toMatch(/^jaegertracing\/all-in-one:/);
    const strata = Object.entries(services).filter(([, svc]) => svc.image?.startsWith('strata:') && svc.command?.[0] !== 'tools');
    expect(strata.length).toBeGreaterThanOrEqual(7);
    for (const [name, svc] of strata) {
      expect(svc.command, name).toContain('--tracing.config-file=/etc/strata/tracing.yml');
      expect(svc.volumes?.some((v) => v.endsWith(':/etc/strata/tracing.yml:ro')), name).toBe(true);
    }
  });

  it('objstore configs parse with Strata own loader', async () => {
    parseBucketConfig(await readFile(join(composeDir, 'objstore.yml'), 'utf8'), 'compose objstore.yml');
    const secrets = (await k8sObjects()).filter((o) => o.kind === 'Secret');
    expect(secrets.length).toBeGreaterThanOrEqual(2);
    for (const s of secrets) parseBucketConfig((s.stringData as Record<string, string>)['objstore.yml'] as string, `Secret ${s.metadata.name}`);
  });
});

describe('Dockerfile', () => {
  it('builds with the README build steps, and the artifact runs', { timeout: 600_000 }, async () => {
    const dockerfile = await readFile(join(root, 'Dockerfile'), 'utf8');
    const buildStage = dockerfile.split(/^FROM /m)[1] as string;
    const runs = [...buildStage.matchAll(/^RUN (.+)$/gm)].map((m) => (m[1] as string).trim());
    expect(runs.length).toBeGreaterThanOrEqual(3);
    const readme = await readFile(join(root, 'README.md'), 'utf8');
    for (const r of runs) expect(readme, `README lists "${r}"`).toContain(r);

    const tmp = await tempDir('strata-docker-build-');
    try {
      const src = join(tmp.path, 'src');
      const { stdout } = await execFileP('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: root, maxBuffer: 1 << 26 });
      for (const f of stdout.split('\0').filter((x) => x !== '')) {
        await mkdir(dirname(join(src, f)), { recursive: true });
        await cp(join(root, f), join(src, f)).catch(() => undefined);
      }
      const out = join(tmp.path, 'out');
      // Global installs (the image's `npm install -g pnpm@…`) go to a prefix of their own, first on the
      // PATH: reinstalling the machine's pnpm would pull it from under tests running meanwhile.
      const prefix = join(tmp.path, 'npm-global');
      const env = { ...process.env, CI: 'true', NPM_CONFIG_PREFIX: prefix, PATH: `${join(prefix, 'bin')}:${process.env.PATH ?? ''}` };
      for (const r of runs) await execFileP('bash', ['-c', r.replaceAll(' /out', ` ${out}`)], { cwd: src, maxBuffer: 1 << 26, env });
      const help = await execFileP('node', [join(out, 'dist', 'main.js'), '--help']);
      expect(help.stdout).toContain('tools');
    } finally {
      await tmp.cleanup();
    }
  });
});
