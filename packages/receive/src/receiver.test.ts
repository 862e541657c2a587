// A receiver whose hashring file is missing at start: not ready, writes answered 503, until a valid
// file appears; then a file that does not parse is counted and the hashring in use stays.
import { execFileSync } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { nopLogger } from '@strata/runtime';
import { Labels } from '@strata/tsdb';
import { freePort, sleep, tempDir } from '@strata/testing/process';
import { snappyLiterals, writeRequest } from '@strata/testing/remotewrite';
import { afterEach, describe, expect, it } from 'vitest';
import { start, type Receiver } from './receiver.js';

let tmp: { path: string; cleanup: () => Promise<void> } | undefined;
let receiver: Receiver | undefined;

afterEach(async () => {
  await receiver?.stop();
  await tmp?.cleanup();
});

async function until(ok: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100 && !(await ok()); i++) await sleep(100);
  expect(await ok()).toBe(true);
}

const metric = async (r: Receiver, name: string) => Number(/ (\S+)$/m.exec((await (await fetch(`http://${r.httpAddress}/metrics`)).text()).split('\n').find((l) => l.startsWith(`${name} `)) ?? ' NaN')?.[1]);

describe('receive with a hashring file', () => {
  it('is ready once a valid file is loaded, and keeps its hashring through an invalid one', async () => {
    tmp = await tempDir('strata-receive-hashring-');
    const file = join(tmp.path, 'hashrings.json');
    const grpc = `127.0.0.1:${await freePort()}`;
    const r = (receiver = await start({
      httpAddress: '127.0.0.1:0',
      grpcAddress: grpc,
      remoteWriteAddress: '127.0.0.1:0',
      tsdbPath: join(tmp.path, 'tsdb'),
      blockDurationMs: 7_200_000,
      retentionMs: 0,
      externalLabels: Labels.EMPTY,
      tenantHeader: 'THANOS-TENANT',
      defaultTenant: 'default-tenant',
      tenantLabelName: 'tenant_id',
      hashrings: { file, refreshIntervalMs: 100 },
      localEndpoint: grpc,
      logger: nopLogger,
    }));
    const ready = async () => (await fetch(`http://${r.httpAddress}/-/ready`)).status;
    const write = async () =>
      (await fetch(`http://${r.remoteWriteAddress}/api/v1/receive`, { method: 'POST', body: snappyLiterals(writeRequest([{ labels: { __name__: 'up' }, samples: [{ t: Date.now(), v: 1 }] }])) })).status;
    expect(await ready()).toBe(503);
    expect(await write()).toBe(503);
    expect(await metric(r, 'thanos_receive_hashrings_file_errors_total')).toBeGreaterThan(0);

    await writeFile(file, JSON.stringify([{ endpoints: [grpc] }]));
    await until(async () => (await ready()) === 200);
    expect(await write()).toBe(200);
    expect(await metric(r, 'thanos_receive_config_last_reload_successful')).toBe(1);
    expect(await metric(r, 'thanos_receive_hashring_nodes{name=""}')).toBe(1);

    const errors = await metric(r, 'thanos_receive_hashrings_file_errors_total');
    await writeFile(file, JSON.stringify([{ endpoints: [] }]));
    await until(async () => (await metric(r, 'thanos_receive_hashrings_file_errors_total')) > errors);
    expect(await metric(r, 'thanos_receive_config_last_reload_successful')).toBe(0);
    expect(await ready()).toBe(200);
    expect(await write()).toBe(200);
  });
});

describe('receive over HTTPS', () => {
  it('takes remote writes over TLS with --remote-write.server-tls-*, and requires a client certificate with a client CA', async () => {
    tmp = await tempDir('strata-receive-tls-');
    const dir = tmp.path;
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'k.pem', '-out', 'c.pem', '-days', '1', '-subj', '/CN=receive.internal', '-addext', 'subjectAltName=DNS:receive.internal'], { cwd: dir, stdio: 'pipe' });
    const cert = await readFile(join(dir, 'c.pem'));
    const key = await readFile(join(dir, 'k.pem'));
    const base = { httpAddress: '127.0.0.1:0', grpcAddress: '127.0.0.1:0', remoteWriteAddress: '127.0.0.1:0', blockDurationMs: 7_200_000, retentionMs: 0, externalLabels: Labels.EMPTY, tenantHeader: 'THANOS-TENANT', defaultTenant: 'default-tenant', tenantLabelName: 'tenant_id', logger: nopLogger };
    const post = (address: string, client: { cert?: Buffer; key?: Buffer } = {}) =>
      new Promise<number>((resolve, reject) => {
        const [host, port] = address.split(':') as [string, string];
        const body = snappyLiterals(writeRequest([{ labels: { __name__: 'up' }, samples: [{ t: Date.now(), v: 1 }] }]));
        const req = httpsRequest({ host, port: Number(port), method: 'POST', path: '/api/v1/receive', servername: 'receive.internal', ca: cert, ...client }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end(body);
      });
    receiver = await start({ ...base, tsdbPath: join(dir, 'a'), remoteWriteTls: { cert, key } });
    expect(await post(receiver.remoteWriteAddress)).toBe(200);
    await receiver.stop();
    // With a client CA, a client without a certificate is turned away; one with a certificate it signed is served.
    receiver = await start({ ...base, tsdbPath: join(dir, 'b'), remoteWriteTls: { cert, key, clientCA: cert } });
    await expect(post(receiver.remoteWriteAddress)).rejects.toThrow();
    expect(await post(receiver.remoteWriteAddress, { cert, key })).toBe(200);
    await receiver.stop();
    // With --receive.tenant-certificate-field, the tenant is the certificate's organization.
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ck.pem', '-out', 'cc.pem', '-days', '1', '-subj', '/O=team-x/CN=prometheus'], { cwd: dir, stdio: 'pipe' });
    const client = { cert: await readFile(join(dir, 'cc.pem')), key: await readFile(join(dir, 'ck.pem')) };
    receiver = await start({ ...base, tsdbPath: join(dir, 'c'), remoteWriteTls: { cert, key, clientCA: client.cert }, tenantCertificateField: 'organization' });
    expect(await post(receiver.remoteWriteAddress, client)).toBe(200);
    expect(await readdir(join(dir, 'c'))).toEqual(['team-x']);
  });
});
