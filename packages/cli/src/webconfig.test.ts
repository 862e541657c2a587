import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nopLogger, Prober, startHttpServer } from '@strata/runtime';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWebConfig } from './webconfig.js';

// bcrypt's published test vector: the password is "U*U".
const HASH = '$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW';

describe('--http.config (exporter-toolkit web config)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'strata-webconfig-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'k.pem', '-out', 'c.pem', '-days', '1', '-subj', '/CN=strata.internal'], { cwd: dir, stdio: 'pipe' });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function get(port: number, path: string, auth?: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, servername: 'strata.internal', ca: readFileSync(join(dir, 'c.pem')), ...(auth ? { auth } : {}) }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('serves over TLS with basic authentication and the configured headers, the files relative to the configuration', async () => {
    const config = join(dir, 'web.yml');
    writeFileSync(config, `tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n  min_version: TLS12\nhttp_server_config:\n  headers: {X-Frame-Options: deny}\nbasic_auth_users:\n  strata: ${HASH}\n`);
    const web = await loadWebConfig(config);
    const registry = new Registry();
    const prober = new Prober('test', registry);
    prober.healthy();
    const server = await startHttpServer({ address: '127.0.0.1:0', registry, prober, logger: nopLogger, web });
    const port = Number(server.address.split(':').pop());
    try {
      const ok = await get(port, '/-/healthy', 'strata:U*U');
      expect(ok).toMatchObject({ status: 200, body: 'OK' });
      expect(ok.headers['x-frame-options']).toBe('deny');
      // Again: the login is remembered, not hashed again.
      expect((await get(port, '/metrics', 'strata:U*U')).status).toBe(200);
      const anonymous = await get(port, '/-/healthy');
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers['www-authenticate']).toBe('Basic');
      expect((await get(port, '/-/healthy', 'strata:wrong')).status).toBe(401);
      expect((await get(port, '/-/healthy', 'nobody:U*U')).status).toBe(401);
      await expect(fetch(`http://127.0.0.1:${port}/-/healthy`)).rejects.toThrow();
    } finally {
      await server.close();
    }
  });

  it('asks for client certificates as client_auth_type says', async () => {
    const config = join(dir, 'mtls.yml');
    const start = async (mode: string) => {
      writeFileSync(config, `tls_server_config: {cert_file: c.pem, key_file: k.pem, client_auth_type: ${mode}, client_ca_file: c.pem}\n`);
      const registry = new Registry();
      const prober = new Prober('test', registry);
      prober.healthy();
      return startHttpServer({ address: '127.0.0.1:0', registry, prober, logger: nopLogger, web: await loadWebConfig(config) });
    };
    const status = (port: number, cert: boolean) =>
      new Promise<number | string>((resolve) => {
        const req = request({ host: '127.0.0.1', port, path: '/-/healthy', servername: 'strata.internal', ca: readFileSync(join(dir, 'c.pem')), ...(cert ? { cert: readFileSync(join(dir, 'c.pem')), key: readFileSync(join(dir, 'k.pem')) } : {}) }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', (e) => resolve(e.message));
        req.end();
      });
    for (const [mode, without] of [['RequireAnyClientCert', 403], ['VerifyClientCertIfGiven', 200], ['RequestClientCert', 200]] as const) {
      const server = await start(mode);
      const port = Number(server.address.split(':').pop());
      try {
        expect(await status(port, false), `${mode} without a certificate`).toBe(without);
        expect(await status(port, true), `${mode} with a trusted certificate`).toBe(200);
      } finally {
        await server.close();
      }
    }
    const strict = await start('RequireAndVerifyClientCert');
    const port = Number(strict.address.split(':').pop());
    try {
      expect(await status(port, false)).not.toBe(200);
      expect(await status(port, true)).toBe(200);
    } finally {
      await strict.close();
    }
  });

  it('refuses configurations it cannot serve, saying why', async () => {
    const write = (text: string) => {
      const p = join(dir, 'bad.yml');
      writeFileSync(p, text);
      return loadWebConfig(p);
    };
    await expect(write('tls_server_config: {cert_file: c.pem}\n')).rejects.toThrow(/tls_server_config needs cert_file and key_file/);
    await expect(write('tls_server_config: {cert_file: c.pem, key_file: nope.pem}\n')).rejects.toThrow(/tls_server_config.key_file .*nope.pem: ENOENT/);
    await expect(write('tls_server_config: {cert_file: c.pem, key_file: k.pem, client_auth_type: RequireAndVerifyClientCert}\n')).rejects.toThrow(/needs client_ca_file/);
    await expect(write('tls_server_config: {cert_file: c.pem, key_file: k.pem, min_version: SSL3}\n')).rejects.toThrow(/min_version must be one of TLS10/);
    await expect(write('basic_auth_users: {strata: secret}\n')).rejects.toThrow(/basic_auth_users.strata must be a bcrypt hash/);
    await expect(write('tls_config: {}\n')).rejects.toThrow(/unknown or unsupported field "tls_config"/);
  });
});
