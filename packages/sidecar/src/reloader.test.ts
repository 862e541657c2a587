import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { nopLogger } from '@strata/runtime';
import { startProcess, tempDir, type Managed } from '@strata/testing/process';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PrometheusClient } from './promclient.js';
import { Reloader, substituteEnv, type ReloadMethod } from './reloader.js';

describe('substituteEnv', () => {
  it('replaces $(NAME) with the variable, and fails on an unset one', () => {
    expect(substituteEnv('replica: $(POD_NAME)-$(X_1) $HOME ${HOME}', { POD_NAME: 'prom-0', X_1: '' }, 'cfg')).toBe('replica: prom-0- $HOME ${HOME}');
    expect(() => substituteEnv('a: $(NOPE)', {}, 'prometheus.yml.tmpl')).toThrow('prometheus.yml.tmpl: found reference to unset environment variable "NOPE"');
  });
});

describe('Reloader against a fake Prometheus', () => {
  let server: Server;
  let reloads = 0;
  let failNext = 0;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const reloaders: Reloader[] = [];

  beforeEach(async () => {
    reloads = 0;
    failNext = 0;
    server = createServer((req, res) => {
      if (req.method === 'POST' && req.url === '/-/reload') {
        if (failNext > 0) {
          failNext--;
          res.writeHead(500).end('failed to reload config');
          return;
        }
        reloads++;
      }
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    dir = await tempDir('strata-reloader-');
  });
  afterEach(async () => {
    for (const r of reloaders.splice(0)) await r.stop();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await dir.cleanup();
  });

  function reloader(opts: {
    configFile?: string;
    configOutputFile?: string;
    ruleDirs?: string[];
    env?: NodeJS.ProcessEnv;
    retryIntervalMs?: number;
    method?: ReloadMethod;
    processName?: string;
  }): { r: Reloader; registry: Registry } {
    const registry = new Registry();
    const prometheus = new PrometheusClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const r = new Reloader({ prometheus, registry, logger: nopLogger, watchIntervalMs: 3_600_000, ...opts });
    reloaders.push(r);
    return { r, registry };
  }

  async function until(what: string, cond: () => boolean | Promise<boolean>): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!(await cond())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('writes the substituted configuration and reloads at start, then on every change of it or of a rule file, and only then', async () => {
    const template = join(dir.path, 'prometheus.yml.tmpl');
    const out = join(dir.path, 'prometheus.yml');
    const rules = join(dir.path, 'rules');
    await mkdir(rules);
    await writeFile(template, 'global:\n  external_labels: {replica: $(REPLICA)}\n');
    const { r, registry } = reloader({ configFile: template, configOutputFile: out, ruleDirs: [rules], env: { REPLICA: 'r0' } });
    r.start();
    await until('the first reload', () => reloads === 1);
    expect(await readFile(out, 'utf8')).toBe('global:\n  external_labels: {replica: r0}\n');
    await r.check();
    expect(reloads).toBe(1);
    // The template changes: noticed from the watch, written and reloaded.
    await writeFile(template, 'global:\n  external_labels: {replica: $(REPLICA), x: "1"}\n');
    await until('a reload after the template changed', () => reloads === 2);
    expect(await readFile(out, 'utf8')).toContain('x: "1"');
    // A rule file appears.
    await writeFile(join(rules, 'a.yml'), 'groups: []\n');
    await until('a reload after a rule file appeared', () => reloads === 3);
    // The same template gzipped: the same configuration, no reload.
    await writeFile(template, gzipSync('global:\n  external_labels: {replica: $(REPLICA), x: "1"}\n'));
    await new Promise((res) => setTimeout(res, 300));
    await r.check();
    expect(reloads).toBe(3);
    const metrics = await registry.metrics();
    expect(metrics).toMatch(/^strata_sidecar_reloader_reloads_total 3$/m);
    expect(metrics).toMatch(/^strata_sidecar_reloader_config_apply_operations_total 2$/m);
    expect(metrics).toMatch(/^strata_sidecar_reloader_last_reload_successful 1$/m);
    expect(metrics).toMatch(/^strata_sidecar_reloader_watches 2$/m);
  });

  it('takes no notice of its own writes of the output file next to the template', async () => {
    const template = join(dir.path, 'prometheus.yml.tmpl');
    await writeFile(template, 'a: $(A)\n');
    const { r, registry } = reloader({ configFile: template, configOutputFile: join(dir.path, 'prometheus.yml'), env: { A: '1' } });
    r.start();
    await until('the first reload', () => reloads === 1);
    await new Promise((res) => setTimeout(res, 300));
    expect(await registry.metrics()).toMatch(/^strata_sidecar_reloader_watch_events_total 0$/m);
  });

  it('keeps the last configuration when the template names an unset variable, and retries a failed reload until it succeeds', async () => {
    const template = join(dir.path, 'prometheus.yml.tmpl');
    const out = join(dir.path, 'prometheus.yml');
    await writeFile(template, 'a: $(A)\n');
    const { r, registry } = reloader({ configFile: template, configOutputFile: out, env: { A: '1' }, retryIntervalMs: 50 });
    failNext = 2;
    r.start();
    await until('a reload after two failures', () => reloads === 1);
    expect(await registry.metrics()).toMatch(/^strata_sidecar_reloader_reloads_failed_total 2$/m);
    await writeFile(template, 'a: $(B)\n');
    await until('the failed apply', async () => /^strata_sidecar_reloader_config_apply_operations_failed_total [1-9]/m.test(await registry.metrics()));
    expect(await readFile(out, 'utf8')).toBe('a: 1\n');
    expect(reloads).toBe(1);
  });

  describe('with --reloader.method=signal', () => {
    const children: Managed[] = [];
    afterEach(async () => {
      for (const c of children.splice(0)) await c.stop();
    });

    /** A process named `name` (more than comm's 15 bytes: found by its first argument) that writes a line to `hups` at every SIGHUP. */
    async function namedProcess(name: string, hups: string): Promise<void> {
      const script = `process.title = process.argv[1];
        process.on('SIGHUP', () => require('node:fs').appendFileSync(process.argv[2], 'hup\\n'));
        setInterval(() => {}, 1 << 30);
        console.log('ready');`;
      const log = join(dir.path, `${name}.log`);
      children.push(startProcess(process.execPath, ['-e', script, name, hups], { logFile: log }));
      await until(`${name} is ready`, async () => (await readFile(log, 'utf8').catch(() => '')).includes('ready'));
    }

    const hupsIn = async (file: string) => (await readFile(file, 'utf8').catch(() => '')).split('\n').filter((l) => l === 'hup').length;
    const uniqueName = () => `strata-reload-test-${randomBytes(4).toString('hex')}`;

    it('sends SIGHUP to the process named --reloader.process-name at start and at every change, instead of POST /-/reload', async () => {
      const name = uniqueName();
      const hups = join(dir.path, 'hups');
      await namedProcess(name, hups);
      const config = join(dir.path, 'prometheus.yml');
      await writeFile(config, 'a: 1\n');
      const { r, registry } = reloader({ configFile: config, method: 'signal', processName: name });
      r.start();
      await until('a SIGHUP at start', async () => (await hupsIn(hups)) === 1);
      await writeFile(config, 'a: 2\n');
      await until('a SIGHUP after the configuration changed', async () => (await hupsIn(hups)) === 2);
      // Counted once the other processes have been looked at too.
      await until('both reloads counted', async () => /^strata_sidecar_reloader_reloads_total 2$/m.test(await registry.metrics()));
      expect(reloads).toBe(0);
    });

    it('fails the reload while no process has that name, and retries it until one has', async () => {
      const name = uniqueName();
      const config = join(dir.path, 'prometheus.yml');
      await writeFile(config, 'a: 1\n');
      const { r, registry } = reloader({ configFile: config, method: 'signal', processName: name, retryIntervalMs: 50 });
      r.start();
      await until('two failed reloads', async () => /^strata_sidecar_reloader_reloads_failed_total [2-9]/m.test(await registry.metrics()));
      expect(await registry.metrics()).toMatch(/^strata_sidecar_reloader_last_reload_successful 0$/m);
      const hups = join(dir.path, 'hups');
      await namedProcess(name, hups);
      await until('the retried reload', async () => (await hupsIn(hups)) === 1);
      await until('the reload counted', async () => /^strata_sidecar_reloader_last_reload_successful 1$/m.test(await registry.metrics()));
      expect(reloads).toBe(0);
    });
  });
});
