import { mkdir, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nopLogger } from '@strata/runtime';
import { sleep, tempDir } from '@strata/testing/process';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EndpointConfigFile, parseEndpointConfig } from './sdconfig.js';

let dir: { path: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  dir = await tempDir('strata-sdconfig-');
  for (const f of ['ca.crt', 'client.crt', 'client.key', 'flag-ca.crt']) await writeFile(join(dir.path, f), `${f} PEM`);
});
afterEach(() => dir.cleanup());

const flagTls = { ca: Buffer.from('flag ca'), cert: Buffer.from('flag cert'), key: Buffer.from('flag key'), serverName: 'flag.internal' };

describe('parseEndpointConfig', () => {
  it("reads Thanos' fields, groups and strict endpoints taking the flags' client where they give none", async () => {
    const specs = await parseEndpointConfig(
      'endpoints:\n  - address: a:10901\n  - address: b:10901\n    strict: true\n  - address: store.svc:10901\n    group: true\n    service_config: \'{"loadBalancingPolicy":"round_robin"}\'\n  - address: dnssrv+_grpc._tcp.sidecar.svc\n',
      'cfg',
      { tls: flagTls, compression: 'snappy' },
    );
    expect(specs.map((s) => [s.address, s.strict, s.group, s.clientKey])).toEqual([
      ['a:10901', false, false, ''],
      ['b:10901', true, false, ''],
      ['store.svc:10901', false, true, ''],
      ['dnssrv+_grpc._tcp.sidecar.svc', false, false, ''],
    ]);
    for (const s of specs) expect(s.client).toEqual({ tls: flagTls, compression: 'snappy' });
    expect(await parseEndpointConfig('', 'cfg', {})).toEqual([]);
    expect(await parseEndpointConfig('endpoints: []\n', 'cfg', {})).toEqual([]);
  });

  it('gives an endpoint its own TLS: files read, the fields it leaves out taken from the flags unless it sets enabled', async () => {
    const f = (name: string) => join(dir.path, name);
    const [own] = await parseEndpointConfig(`endpoints:\n  - address: a:1\n    client_config:\n      server_name: a.internal\n      tls_config:\n        ca_file: ${f('ca.crt')}\n`, 'cfg', { tls: flagTls });
    // enabled left unset: the CA is its own, the client certificate the flags'.
    expect(own?.client.tls).toEqual({ ca: Buffer.from('ca.crt PEM'), cert: flagTls.cert, key: flagTls.key, serverName: 'a.internal' });
    expect(own?.clientKey).not.toBe('');
    const [explicit] = await parseEndpointConfig(`endpoints:\n  - address: a:1\n    client_config:\n      tls_config:\n        enabled: true\n        cert_file: ${f('client.crt')}\n        key_file: ${f('client.key')}\n        min_version: 1.3\n`, 'cfg', { tls: flagTls });
    expect(explicit?.client.tls).toEqual({ cert: Buffer.from('client.crt PEM'), key: Buffer.from('client.key PEM'), minVersion: 'TLSv1.3' });
    // Files given without the flags' TLS: TLS all the same.
    const [files] = await parseEndpointConfig(`endpoints:\n  - address: a:1\n    grpc_client_config:\n      compression_type: snappy\n      tls_config:\n        insecure_skip_verify: true\n`, 'cfg', {});
    expect(files?.client).toEqual({ tls: { skipVerify: true }, compression: 'snappy' });
    const [plain] = await parseEndpointConfig('endpoints:\n  - address: a:1\n    client_config:\n      tls_config:\n        enabled: false\n', 'cfg', { tls: flagTls, compression: 'gzip' });
    expect(plain?.client).toEqual({ compression: 'gzip' });
    // Only a compression: the flags' TLS.
    const [compressed] = await parseEndpointConfig('endpoints:\n  - address: a:1\n    client_config:\n      compression: snappy\n', 'cfg', { tls: flagTls });
    expect(compressed?.client).toEqual({ tls: flagTls, compression: 'snappy' });
  });

  it("takes a default_client_config for every endpoint, as the Thanos operator writes the file", async () => {
    const f = (name: string) => join(dir.path, name);
    const specs = await parseEndpointConfig(
      JSON.stringify({
        default_client_config: { tls_config: { enabled: true, ca_file: f('ca.crt') } },
        endpoints: [{ address: '10.0.0.10:10901', strict: false, group: false, client_config: { server_name: 'store.tls-query.svc' } }, { address: '10.0.0.11:10901' }],
      }),
      'cfg',
      {},
    );
    // The endpoint's own server name over the default's TLS; the other endpoint the default as it is.
    expect(specs.map((s) => s.client)).toEqual([{ tls: { ca: Buffer.from('ca.crt PEM'), serverName: 'store.tls-query.svc' } }, { tls: { ca: Buffer.from('ca.crt PEM') } }]);
    // Endpoints without a client of their own follow the default's changes too.
    expect(specs[1]?.clientKey).not.toBe('');
  });

  it("takes a group's load balancing policy from its service_config, round_robin unless it says pick_first", async () => {
    const policies = await parseEndpointConfig(
      [
        'endpoints:',
        '  - address: a:1\n    group: true',
        `  - address: b:1\n    group: true\n    service_config: '{"loadBalancingPolicy": "pick_first"}'`,
        `  - address: c:1\n    group: true\n    service_config: '{"loadBalancingConfig": [{"round_robin": {}}], "methodConfig": []}'`,
        '',
      ].join('\n'),
      'cfg',
      {},
    );
    expect(policies.map((s) => [s.balancing, s.clientKey])).toEqual([
      ['round_robin', ''],
      ['pick_first', '|pick_first'],
      ['round_robin', ''],
    ]);
  });

  it('gives equal client options equal keys, and a rotated certificate a new one', async () => {
    const text = `endpoints:\n  - address: a:1\n    client_config:\n      tls_config:\n        ca_file: ${join(dir.path, 'ca.crt')}\n`;
    const first = await parseEndpointConfig(text, 'cfg', {});
    expect((await parseEndpointConfig(text, 'cfg', {}))[0]?.clientKey).toBe(first[0]?.clientKey);
    await writeFile(join(dir.path, 'ca.crt'), 'rotated');
    expect((await parseEndpointConfig(text, 'cfg', {}))[0]?.clientKey).not.toBe(first[0]?.clientKey);
  });

  it('refuses what Thanos refuses, and names the endpoint', async () => {
    const bad = async (yaml: string) => parseEndpointConfig(yaml, 'cfg', {}).then(() => 'accepted', (e: Error) => e.message);
    expect(await bad('endpoints:\n  - address: dns+store:10901\n    strict: true\n')).toContain('dynamically specified endpoint i.e. it uses SD and that is not permitted under strict mode');
    expect(await bad("endpoints:\n  - address: a:1\n    service_config: '{}'\n")).toContain('a:1 service_config is only valid for endpoint groups');
    expect(await bad('endpoints:\n  - address: a:1\n    client_config:\n      compression: lz4\n')).toBe("cfg: endpoints[0].client_config: invalid compression: lz4, must be 'none' or 'snappy' (or gzip, deflate)");
    expect(await bad('endpoints:\n  - strict: true\n')).toContain('cfg: endpoints[0]: address must be');
    expect(await bad("endpoints:\n  - address: g:1\n    group: true\n    service_config: '{\"loadBalancingPolicy\": \"grpclb\"}'\n")).toBe(
      'cfg: endpoints[0].service_config: load balancing policy "grpclb" is not supported: round_robin or pick_first',
    );
    expect(await bad("endpoints:\n  - address: g:1\n    group: true\n    service_config: '{nope'\n")).toContain('cfg: endpoints[0].service_config: invalid JSON');
    expect(await bad('endpoints:\n  - address: a:1\n    adress: b\n')).toBe('cfg: endpoints[0]: unknown or unsupported field "adress"');
    expect(await bad('endpoints:\n  - address: a:1\n    client_config:\n      tls_config:\n        ca_file: /nonexistent/ca.crt\n')).toContain('cfg: endpoints[0].client_config.tls_config.ca_file /nonexistent/ca.crt: ENOENT');
    expect(await bad('endpoints:\n  - address: a:1\n    client_config:\n      tls_config:\n        min_version: "1.4"\n')).toContain('min_version: 1.4 is not a TLS version');
    expect(await bad(`endpoints:\n  - address: a:1\n    client_config:\n      tls_config:\n        cert_file: ${join(dir.path, 'client.crt')}\n`)).toContain('cert_file and key_file go together');
    expect(await bad('endpoints: a:1\n')).toBe('cfg: endpoints must be a list');
    expect(await bad('endpoints: [\n')).toContain('cfg: invalid YAML');
  });
});

describe('EndpointConfigFile', () => {
  it('follows the file as it changes, replaced by a rename too; a broken file keeps the endpoints before it', async () => {
    const path = join(dir.path, 'endpoints.yml');
    await writeFile(path, 'endpoints:\n  - address: a:1\n');
    const registry = new Registry();
    let changes = 0;
    const cfg = await EndpointConfigFile.open({ path, defaults: {}, reloadIntervalMs: 60_000, onChange: () => changes++, logger: nopLogger, registry });
    try {
      const addresses = () => cfg.specs().map((s) => s.address);
      const until = async (want: string[]) => {
        for (let i = 0; i < 100 && JSON.stringify(addresses()) !== JSON.stringify(want); i++) await sleep(50);
        expect(addresses()).toEqual(want);
      };
      expect(addresses()).toEqual(['a:1']);
      // Seen through the directory's notifications, well before the reload interval.
      await writeFile(path, 'endpoints:\n  - address: a:1\n  - address: b:1\n');
      await until(['a:1', 'b:1']);
      expect(changes).toBe(1);
      await writeFile(`${path}.new`, 'endpoints:\n  - address: c:1\n');
      await rename(`${path}.new`, path);
      await until(['c:1']);
      await writeFile(path, 'endpoints:\n  - address: dns+x:1\n    strict: true\n');
      await sleep(1_500);
      await cfg.reload();
      expect(addresses()).toEqual(['c:1']);
      expect(await registry.getSingleMetricAsString('strata_query_endpoint_config_last_reload_successful')).toMatch(/ 0$/m);
      // Read anew without a change: no change reported.
      await writeFile(path, 'endpoints:\n  - address: c:1\n');
      await cfg.reload();
      expect(changes).toBe(2);
      expect(await registry.getSingleMetricAsString('strata_query_endpoint_config_last_reload_successful')).toMatch(/ 1$/m);
    } finally {
      cfg.close();
    }
  });

  it('is read again every reload interval: a change behind a symlink, as Kubernetes mounts a ConfigMap, sends no notification', async () => {
    const real = join(dir.path, 'data');
    await mkdir(real);
    await writeFile(join(real, 'endpoints.yml'), 'endpoints: []\n');
    const path = join(dir.path, 'endpoints.yml');
    await symlink(join(real, 'endpoints.yml'), path);
    const cfg = await EndpointConfigFile.open({ path, defaults: {}, reloadIntervalMs: 200, logger: nopLogger });
    try {
      expect(cfg.specs()).toEqual([]);
      await writeFile(join(real, 'endpoints.yml'), 'endpoints:\n  - address: a:1\n');
      for (let i = 0; i < 100 && cfg.specs().length === 0; i++) await sleep(50);
      expect(cfg.specs().map((s) => s.address)).toEqual(['a:1']);
    } finally {
      cfg.close();
    }
  });

  it('fails to open on a broken file, and takes inline content', async () => {
    const path = join(dir.path, 'endpoints.yml');
    await writeFile(path, 'endpoints:\n  - address: a:1\n    group: yes please\n');
    await expect(EndpointConfigFile.open({ path, defaults: {}, reloadIntervalMs: 1000, logger: nopLogger })).rejects.toThrow(`--endpoint.sd-config-file ${path}: endpoints[0].group must be true or false`);
    const inline = await EndpointConfigFile.open({ content: 'endpoints:\n  - address: a:1\n', defaults: {}, reloadIntervalMs: 1000, logger: nopLogger });
    expect(inline.specs().map((s) => s.address)).toEqual(['a:1']);
    inline.close();
  });
});
