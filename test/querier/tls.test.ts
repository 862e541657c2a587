// The gRPC TLS flags end to end, as Thanos deployments set them: a store gateway serving its StoreAPI
// with --grpc-server-tls-* (client certificates required) and queriers connecting with and without
// --grpc-client-tls-*. Certificates are made with openssl.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, type SecureVersion } from 'node:tls';
import { newBucket, parseBucketConfig } from '@strata/objstore';
import { CLI_SOURCE, freePort, startCliComponent, startProcess, tempDir, TSX_CHILD_ENV, type Managed } from '@strata/testing/process';
import { makeCertificates } from '@strata/testing/certs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promtoolBlocks, randomHistory, uploadWithLabels } from '../store/fixtures.js';

const procs: Managed[] = [];
let dir: { path: string; cleanup: () => Promise<void> };
let storeAddress: string;
const history = randomHistory(5, 3);

/** Starts a CLI component and waits until it is ready; returns its HTTP URL. */
async function component(name: string, args: string[]): Promise<string> {
  const c = await startCliComponent(dir.path, name, args);
  procs.push(c.proc);
  if (name === 'store') storeAddress = c.grpc;
  return c.http;
}

/** The querier's view of the store gateway (/api/v1/stores). */
async function storeStatus(querier: string): Promise<{ lastError: string | null }> {
  const body = (await (await fetch(`${querier}/api/v1/stores`)).json()) as { data: Record<string, { name: string; lastError: string | null }[]> };
  const found = Object.values(body.data).flat().find((s) => s.name === storeAddress);
  if (found === undefined) throw new Error(`store ${storeAddress} not listed`);
  return found;
}

beforeAll(async () => {
  dir = await tempDir('strata-tls-test-');
  const certs = join(dir.path, 'certs');
  await mkdir(certs);
  await makeCertificates(certs, [
    { name: 'server', subject: '/CN=server', ext: 'subjectAltName=DNS:store.internal\nextendedKeyUsage=serverAuth' },
    { name: 'client', subject: '/CN=client', ext: 'extendedKeyUsage=clientAuth' },
  ]);
  const objstore = join(dir.path, 'objstore.yml');
  const objstoreYaml = `type: FILESYSTEM\nconfig:\n  directory: ${join(dir.path, 'bucket')}\n`;
  await writeFile(objstore, objstoreYaml);
  await mkdir(join(dir.path, 'bucket'));
  const bucket = newBucket(parseBucketConfig(objstoreYaml));
  for (const b of await promtoolBlocks(history.openMetrics, join(dir.path, 'blocks'))) await uploadWithLabels(bucket, b, { cluster: 'tls' });
  await bucket.close();
  const c = (f: string) => join(certs, f);
  await component('store', [
    'store',
    `--objstore.config-file=${objstore}`,
    `--data-dir=${join(dir.path, 'store')}`,
    `--grpc-server-tls-cert=${c('server.crt')}`,
    `--grpc-server-tls-key=${c('server.key')}`,
    `--grpc-server-tls-client-ca=${c('ca.crt')}`,
  ]);
}, 120_000);

afterAll(async () => {
  for (const p of procs.reverse()) await p.stop();
  await dir?.cleanup();
});

describe('gRPC TLS between querier and store gateway', () => {
  it('connects with the CA, a client certificate and the server name, or skipping verification; refuses without TLS or without a certificate', async () => {
    const c = (f: string) => join(dir.path, 'certs', f);
    const endpoint = () => `--endpoint=${storeAddress}`;
    const mutual = await component('query-mtls', [
      'query',
      endpoint(),
      '--grpc-client-tls-secure',
      `--grpc-client-tls-ca=${c('ca.crt')}`,
      `--grpc-client-tls-cert=${c('client.crt')}`,
      `--grpc-client-tls-key=${c('client.key')}`,
      '--grpc-client-server-name=store.internal',
      // Series requests snappy-compressed as well, as Thanos' querier sends them with this flag.
      '--grpc-compression=snappy',
    ]);
    // Without the CA, skipping verification: encrypted, the client certificate still presented.
    const unverified = await component('query-skip-verify', [
      'query',
      endpoint(),
      '--grpc-client-tls-secure',
      '--grpc-client-tls-skip-verify',
      `--grpc-client-tls-cert=${c('client.crt')}`,
      `--grpc-client-tls-key=${c('client.key')}`,
    ]);
    const untrusted = await component('query-untrusted', ['query', endpoint(), '--grpc-client-tls-secure', `--grpc-client-tls-cert=${c('client.crt')}`, `--grpc-client-tls-key=${c('client.key')}`]);
    const plain = await component('query-plain', ['query', endpoint()]);
    const anonymous = await component('query-no-cert', ['query', endpoint(), '--grpc-client-tls-secure', `--grpc-client-tls-ca=${c('ca.crt')}`, '--grpc-client-server-name=store.internal']);
    expect((await storeStatus(mutual)).lastError).toBeNull();
    // Series calls (over their own HTTP/2 connection) go through TLS too.
    const params = new URLSearchParams({ query: 'count(rh_temp)', time: String(history.end / 1000 - 60) });
    const answer = (await (await fetch(`${mutual}/api/v1/query?${params}`)).json()) as { status: string; warnings?: string[]; data: { result: { value: [number, string] }[] } };
    expect(answer.warnings).toBeUndefined();
    expect(Number(answer.data.result[0]?.value[1])).toBeGreaterThan(0);
    expect((await storeStatus(unverified)).lastError).toBeNull();
    const unverifiedAnswer = (await (await fetch(`${unverified}/api/v1/query?${params}`)).json()) as { warnings?: string[]; data: { result: unknown[] } };
    expect(unverifiedAnswer.warnings).toBeUndefined();
    expect(unverifiedAnswer.data.result).toHaveLength(1);
    // The same without skipping verification: the store's certificate is not from a CA the querier trusts.
    expect((await storeStatus(untrusted)).lastError).not.toBeNull();
    expect((await storeStatus(plain)).lastError).not.toBeNull();
    expect((await storeStatus(anonymous)).lastError).not.toBeNull();
  }, 120_000);

  it("gives each endpoint of --endpoint.sd-config its own TLS, as Thanos' client_config, over the --grpc-client-tls-* flags", async () => {
    const c = (f: string) => join(dir.path, 'certs', f);
    const ownTls = [
      'endpoints:',
      `  - address: ${storeAddress}`,
      '    client_config:',
      '      server_name: store.internal',
      '      compression: snappy',
      '      tls_config:',
      `        ca_file: ${c('ca.crt')}`,
      `        cert_file: ${c('client.crt')}`,
      `        key_file: ${c('client.key')}`,
      '        min_version: 1.3',
    ].join('\n');
    const own = await component('query-sd-config-tls', ['query', `--endpoint.sd-config=${ownTls}`]);
    expect((await storeStatus(own)).lastError).toBeNull();
    const params = new URLSearchParams({ query: 'count(rh_temp)', time: String(history.end / 1000 - 60) });
    const answer = (await (await fetch(`${own}/api/v1/query?${params}`)).json()) as { warnings?: string[]; data: { result: { value: [number, string] }[] } };
    expect(answer.warnings).toBeUndefined();
    expect(Number(answer.data.result[0]?.value[1])).toBeGreaterThan(0);
    // The flags would connect; the endpoint's own `enabled: false` sends plain text, which the store refuses.
    const plain = await component('query-sd-config-plain', [
      'query',
      `--endpoint.sd-config=endpoints:\n  - address: ${storeAddress}\n    client_config:\n      tls_config:\n        enabled: false\n`,
      '--grpc-client-tls-secure',
      `--grpc-client-tls-ca=${c('ca.crt')}`,
      `--grpc-client-tls-cert=${c('client.crt')}`,
      `--grpc-client-tls-key=${c('client.key')}`,
      '--grpc-client-server-name=store.internal',
    ]);
    expect((await storeStatus(plain)).lastError).not.toBeNull();
  }, 120_000);

  it("refuses TLS older than --grpc-server-tls-min-version (1.3 unless told, as Thanos)", async () => {
    const [host, port] = [storeAddress.slice(0, storeAddress.lastIndexOf(':')), Number(storeAddress.slice(storeAddress.lastIndexOf(':') + 1))];
    const handshake = (maxVersion: SecureVersion) =>
      new Promise<string>((resolve) => {
        const socket = connect({ host, port, maxVersion, rejectUnauthorized: false, ALPNProtocols: ['h2'] }, () => {
          resolve(socket.getProtocol() ?? 'unknown');
          socket.destroy();
        });
        socket.on('error', (e) => resolve(`refused: ${e.message}`));
      });
    expect(await handshake('TLSv1.3')).toBe('TLSv1.3');
    expect(await handshake('TLSv1.2')).toMatch(/^refused: .*protocol version/);
  });

  it('refuses at start an endpoint configuration Thanos refuses', async () => {
    const proc = startProcess(
      process.execPath,
      ['--import', 'tsx', CLI_SOURCE, 'query', '--endpoint.sd-config=endpoints:\n  - address: dns+store.internal:10901\n    strict: true\n', '--http-address=127.0.0.1:0', '--grpc-address=127.0.0.1:0'],
      { logFile: join(dir.path, 'query-bad-sd-config.log'), env: { ...process.env, ...TSX_CHILD_ENV } },
    );
    const code = await new Promise<number | null>((resolve) => proc.child.once('exit', (c) => resolve(c)));
    expect(code).toBe(1);
    expect(await readFile(proc.logFile, 'utf8')).toContain('--endpoint.sd-config: endpoints[0]: dns+store.internal:10901 is a dynamically specified endpoint');
  }, 60_000);

  it("takes Thanos' deprecated names of --endpoint, --endpoint-strict and --endpoint.sd-files: --store, --store-strict and --store.sd-files", async () => {
    const c = (f: string) => join(dir.path, 'certs', f);
    const sd = join(dir.path, 'stores.yml');
    await writeFile(sd, `- targets: ['${storeAddress}']\n`);
    const unreachable = `127.0.0.1:${await freePort()}`;
    const strict = `127.0.0.1:${await freePort()}`;
    const querier = await component('query-store-flags', [
      'query',
      `--store=${unreachable}`,
      `--store-strict=${strict}`,
      `--store.sd-files=${sd}`,
      '--grpc-client-tls-secure',
      `--grpc-client-tls-ca=${c('ca.crt')}`,
      `--grpc-client-tls-cert=${c('client.crt')}`,
      `--grpc-client-tls-key=${c('client.key')}`,
      '--grpc-client-server-name=store.internal',
    ]);
    expect((await storeStatus(querier)).lastError).toBeNull();
    const stores = (await (await fetch(`${querier}/api/v1/stores`)).json()) as { data: Record<string, { name: string; lastError: string | null }[]> };
    const listed = Object.values(stores.data).flat();
    expect(listed.map((e) => e.name).sort()).toEqual([storeAddress, unreachable, strict].sort());
    expect(listed.find((e) => e.name === unreachable)?.lastError).not.toBeNull();
    // A strict endpoint is asked even while it is down: its failure shows in every answer.
    expect(((await (await fetch(`${querier}/api/v1/query?query=up`)).json()) as { warnings?: string[] }).warnings?.some((w) => w.includes(strict))).toBe(true);
  }, 120_000);
});
