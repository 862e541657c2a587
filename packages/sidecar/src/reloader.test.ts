import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { nopLogger } from '@strata/runtime';
import { tempDir } from '@strata/testing/process';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PrometheusClient } from './promclient.js';
import { Reloader, substituteEnv } from './reloader.js';

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

  function reloader(opts: { configFile?: string; configOutputFile?: string; ruleDirs?: string[]; env?: NodeJS.ProcessEnv; retryIntervalMs?: number }): { r: Reloader; registry: Registry } {
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
});
