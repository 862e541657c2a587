// --query-frontend.downstream-tripper-config: Thanos' YAML parsed strictly, and what each setting does to
// the frontend's requests to a stand-in querier: over TLS with a private CA and server name, the
// response header timeout, and the bound on connections at once.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { nopLogger } from '@strata/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start } from './frontend.js';
import { DEFAULT_DOWNSTREAM_TRANSPORT, parseDownstreamTransport, type DownstreamTransport } from './tripperconfig.js';

describe('parseDownstreamTransport', () => {
  it("takes Thanos' keys, with its defaults where they are absent or 0", () => {
    expect(parseDownstreamTransport('')).toEqual(DEFAULT_DOWNSTREAM_TRANSPORT);
    expect(
      parseDownstreamTransport(
        'idle_conn_timeout: 2m\nresponse_header_timeout: 30s\ntls_handshake_timeout: 0s\nexpect_continue_timeout: 1s\nmax_idle_conns: 20\nmax_idle_conns_per_host: 50\nmax_conns_per_host: 8\ntls_config:\n  ca_file: /etc/ca.pem\n  server_name: querier.internal',
      ),
    ).toEqual({ idleConnTimeoutMs: 120_000, responseHeaderTimeoutMs: 30_000, tlsHandshakeTimeoutMs: 10_000, maxIdleConns: 20, maxConnsPerHost: 8, tls: { caFile: '/etc/ca.pem', certFile: undefined, keyFile: undefined, serverName: 'querier.internal', insecureSkipVerify: false } });
  });

  it('refuses unknown keys and malformed values, naming them', () => {
    expect(() => parseDownstreamTransport('max_idle_conn: 3')).toThrow(/max_idle_conn/);
    expect(() => parseDownstreamTransport('idle_conn_timeout: soon')).toThrow(/idle_conn_timeout/);
    expect(() => parseDownstreamTransport('max_conns_per_host: -1')).toThrow(/max_conns_per_host/);
    expect(() => parseDownstreamTransport('tls_config: {cert_file: /c.pem}')).toThrow(/cert_file and key_file go together/);
  });
});

const MATRIX = JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [] } });

/** A stand-in querier's handler: every request answered with an empty matrix after `delayMs`, counting how many run at once. */
function slowAnswers(delayMs: number, seen: { now: number; most: number }) {
  return (req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    seen.now++;
    seen.most = Math.max(seen.most, seen.now);
    setTimeout(() => {
      seen.now--;
      res.writeHead(200, { 'content-type': 'application/json' }).end(MATRIX);
    }, delayMs);
  };
}

/** A range query from midnight to the midnight two days on (three pieces, split by day) through a frontend at `downstream`, with `transport`. */
async function through(downstream: string, transport: DownstreamTransport, maxRetries = 1): Promise<{ status: number; body: { status: string; error?: string } }> {
  const frontend = await start({ httpAddress: '127.0.0.1:0', downstreamUrl: downstream, downstreamTransport: transport, range: { maxRetries }, logger: nopLogger });
  try {
    const res = await fetch(`http://${frontend.httpAddress}/api/v1/query_range?query=up&start=0&end=172800&step=3600`);
    return { status: res.status, body: (await res.json()) as { status: string; error?: string } };
  } finally {
    await frontend.stop();
  }
}

describe('the downstream transport', () => {
  let dir: string;
  let secure: https.Server;
  let secureUrl: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'strata-tripper-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'k.pem', '-out', 'c.pem', '-days', '1', '-subj', '/CN=querier.internal', '-addext', 'subjectAltName=DNS:querier.internal'], { cwd: dir, stdio: 'pipe' });
    secure = https.createServer({ key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')) }, slowAnswers(0, { now: 0, most: 0 }));
    await new Promise<void>((r) => secure.listen(0, '127.0.0.1', r));
    secureUrl = `https://127.0.0.1:${(secure.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    secure.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reaches an https:// querier with the tls_config CA and server name, and not without them', async () => {
    const trusted = parseDownstreamTransport(`tls_config: {ca_file: ${join(dir, 'c.pem')}, server_name: querier.internal}`);
    expect(await through(secureUrl, trusted)).toEqual({ status: 200, body: JSON.parse(MATRIX) });
    const untrusted = await through(secureUrl, DEFAULT_DOWNSTREAM_TRANSPORT);
    expect(untrusted.status).toBe(503);
    expect(untrusted.body.error).toMatch(/self-signed certificate/);
    expect((await through(secureUrl, parseDownstreamTransport('tls_config: {insecure_skip_verify: true}'))).status).toBe(200);
  });

  it('gives up on an answer whose head does not come within response_header_timeout', async () => {
    const slow = createServer(slowAnswers(2000, { now: 0, most: 0 }));
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(slow.address() as AddressInfo).port}`;
      const timedOut = await through(url, parseDownstreamTransport('response_header_timeout: 100ms'));
      expect(timedOut.status).toBe(503);
      expect(timedOut.body.error).toContain('no answer within the response header timeout (100 ms)');
      expect((await through(url, DEFAULT_DOWNSTREAM_TRANSPORT)).status).toBe(200);
    } finally {
      slow.closeAllConnections();
      slow.close();
    }
  });

  it('reads an answer the querier gzipped though asked not to', async () => {
    const gzipping = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(gzipSync(MATRIX));
    });
    await new Promise<void>((r) => gzipping.listen(0, '127.0.0.1', r));
    try {
      expect(await through(`http://127.0.0.1:${(gzipping.address() as AddressInfo).port}`, DEFAULT_DOWNSTREAM_TRANSPORT)).toEqual({ status: 200, body: JSON.parse(MATRIX) });
    } finally {
      gzipping.close();
    }
  });

  it('sends at most max_conns_per_host requests at once', async () => {
    for (const [config, most] of [
      ['max_conns_per_host: 1', 1],
      ['', 3],
    ] as const) {
      const seen = { now: 0, most: 0 };
      const server = createServer(slowAnswers(100, seen));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      try {
        expect((await through(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, parseDownstreamTransport(config))).status).toBe(200);
        expect(seen.most).toBe(most);
      } finally {
        server.close();
      }
    }
  });
});
