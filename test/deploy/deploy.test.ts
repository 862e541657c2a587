import { execFile } from 'node:child_process';
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { registerCommands } from '@strata/cli';
import { parseBucketConfig } from '@strata/objstore';
import { parseResponseCacheConfig } from '@strata/frontend';
import { parseCachingBucketConfig, parseIndexCacheConfig } from '@strata/store';
import { buildHttpApp, createLogger, parseTracingConfig, Prober, type RemoteCacheConfig } from '@strata/runtime';
import { tempDir } from '@strata/testing/process';
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

async function k8sObjects(): Promise<K8sObject[]> {
  return [...(await kustomize(join(k8sDir, 'base'))), ...(await kustomize(join(k8sDir, 'overlays', 'local-minio')))];
}

interface Container {
  name: string;
  image: string;
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
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
    expect(checked).toBeGreaterThanOrEqual(8);
  });
  it('Prometheus loads deploy/monitoring/alerts.yml and scrapes each component under the job the alerts expect', async () => {
    const prometheuses = Object.values(await composeServices()).filter((svc) => svc.image?.startsWith('prom/prometheus:'));
    expect(prometheuses.length).toBe(2);
    const tmp = await tempDir('strata-compose-prometheus-');
    try {
      for (const [i, svc] of prometheuses.entries()) {
        const config = parse(await readFile(hostPath(svc, '/etc/prometheus/prometheus.yml') as string, 'utf8')) as { rule_files: string[]; scrape_configs: { job_name: string }[] };
        expect(config.scrape_configs.map((c) => c.job_name)).toEqual(expect.arrayContaining(['strata-sidecar', 'strata-store', 'strata-query', 'strata-frontend', 'strata-compact']));
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
    expect(invocations.length).toBeGreaterThanOrEqual(10);
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
    expect(strata.length).toBeGreaterThanOrEqual(6);
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
