// The remote-read HTTP/1.1 client against a raw TCP server writing responses byte by byte where it
// matters: chunked and Content-Length bodies, interim responses, kept-alive connections reused and
// retried once stale, truncation, malformed responses, and early exits.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Http1Client } from './http1.js';

interface TestServer {
  url: string;
  /** Connections accepted so far. */
  connections: number;
  close(): Promise<void>;
}

/** Answers each request (read up to the end of its body) with `respond(socket, index)`. */
async function server(respond: (socket: net.Socket, request: number) => void): Promise<TestServer> {
  let requests = 0;
  const sockets = new Set<net.Socket>();
  const s: TestServer = { url: '', connections: 0, close: async () => {} };
  const srv = net.createServer((socket) => {
    s.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket)).on('error', () => {});
    let buf = Buffer.alloc(0);
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const head = buf.indexOf('\r\n\r\n');
      if (head < 0) return;
      const length = Number(/content-length: (\d+)/i.exec(buf.toString('latin1', 0, head))?.[1] ?? 0);
      if (buf.length < head + 4 + length) return;
      buf = buf.subarray(head + 4 + length);
      respond(socket, requests++);
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  s.url = `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`;
  s.close = () =>
    new Promise<void>((r) => {
      for (const c of sockets) c.destroy();
      srv.close(() => r());
    });
  return s;
}

/** Writes `data` one byte per event-loop turn, so that every byte boundary is a socket read boundary. */
async function trickle(socket: net.Socket, data: string | Buffer): Promise<void> {
  for (const b of Buffer.from(data)) {
    socket.write(Buffer.of(b));
    await new Promise((r) => setTimeout(r, 1));
  }
}

async function text(body: AsyncIterable<Buffer>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const p of body) parts.push(p);
  return Buffer.concat(parts).toString();
}

const chunked = (...chunks: string[]) => `${chunks.map((c) => `${c.length.toString(16)}\r\n${c}\r\n`).join('')}0\r\n\r\n`;

let open: TestServer | undefined;
afterEach(async () => {
  await open?.close();
  open = undefined;
});

describe('Http1Client', () => {
  it('decodes a chunked body however the socket reads split it, after an interim response; trailers skipped', async () => {
    open = await server(
      (s) =>
        void trickle(
          s,
          'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: a/b\r\nTransfer-Encoding: chunked\r\nX-Twice: 1\r\nX-Twice: 2\r\n\r\n' +
            'a;ext=1\r\n0123456789\r\n3\r\nabc\r\n0\r\nTrailer: x\r\n\r\n',
        ),
    );
    const res = await new Http1Client(open.url).request('POST', '/read', { 'X-A': 1 }, Buffer.from('q'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('a/b');
    expect(res.headers.get('x-twice')).toBe('1, 2');
    expect(await text(res.body)).toBe('0123456789abc');
  });

  it('keeps every piece of large bodies read at once on two connections intact (reads carved from per-connection slabs)', async () => {
    const body = (seed: number) => Buffer.from(Array.from({ length: 3_000_000 }, (_, i) => (i * seed + (i >> 9)) & 0xff));
    open = await server((s, i) => {
      const b = body(i + 3);
      const chunks: Buffer[] = [];
      for (let p = 0, n = 1; p < b.length; p += n, n = (n * 7 + 13) % 100_000) chunks.push(b.subarray(p, p + n));
      s.write(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n`);
      for (const c of chunks) s.write(Buffer.concat([Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n')]));
      s.end('0\r\n\r\n');
    });
    const client = new Http1Client(open.url);
    const [a, b] = await Promise.all([client.request('POST', '/', {}, Buffer.alloc(0)), client.request('POST', '/', {}, Buffer.alloc(0))]);
    const pieces: [Buffer[], Buffer[]] = [[], []];
    // Both bodies read side by side, every piece held until the end: none may be overwritten by a later read.
    await Promise.all([a, b].map(async (res, k) => { for await (const p of res.body) pieces[k]!.push(p); }));
    const got = pieces.map((ps) => Buffer.concat(ps));
    expect([got[0]!.equals(body(3)) || got[0]!.equals(body(4)), got[1]!.equals(body(3)) || got[1]!.equals(body(4)), got[0]!.equals(got[1]!)]).toEqual([true, true, false]);
  });

  it('reads into the memory of released pieces again (recycle), keeping the last piece and those still queued intact', async () => {
    const body = (seed: number) => Buffer.from(Array.from({ length: 8_000_000 }, (_, i) => (i * seed + (i >> 11)) & 0xff));
    open = await server((s, i) => {
      const b = body(i + 5);
      s.write(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n`);
      for (let p = 0, n = 1; p < b.length; p += n, n = (n * 7 + 13) % 100_000) {
        const c = b.subarray(p, p + n);
        s.write(Buffer.concat([Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n')]));
      }
      s.write('0\r\n\r\n'); // the connection stays open for the next response
    });
    const client = new Http1Client(open.url);
    for (const seed of [5, 6]) {
      // Two responses on one connection: the second reads into slabs the first released.
      const res = await client.request('POST', '/', {}, Buffer.alloc(0));
      // Let the socket fill the queue before reading, so that queued pieces span several slabs.
      await new Promise((r) => setTimeout(r, 50));
      const copies: Buffer[] = [];
      const memory = new Set<ArrayBufferLike>();
      let prev: Buffer | undefined;
      for await (const p of res.body) {
        // The piece before the last one released: it must not have changed since it was yielded.
        if (prev !== undefined) expect(prev.equals(copies[copies.length - 1]!)).toBe(true);
        copies.push(Buffer.from(p));
        memory.add(p.buffer);
        prev = p;
        res.recycle();
      }
      expect(Buffer.concat(copies).equals(body(seed))).toBe(true);
      expect(memory.size).toBeLessThanOrEqual(5); // 8 MB through a few 1 MiB slabs
    }
    expect(open.connections).toBe(1);
  });

  it('gives a small chunk and the next, read at once, as one piece (a Go server\'s frames), the bytes intact', async () => {
    const parts = Array.from({ length: 6 }, (_, i) => String.fromCharCode(97 + i).repeat(i % 2 === 0 ? 2048 : 30_000));
    open = await server((s) => s.write(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${chunked(...parts)}`));
    const res = await new Http1Client(open.url).request('GET', '/', {}, Buffer.alloc(0));
    const pieces: string[] = [];
    for await (const p of res.body) pieces.push(p.toString());
    expect(pieces.join('')).toBe(parts.join(''));
    // However the reads split the body, some pair lies within one.
    expect(pieces.filter((p) => p.length === 32_048).length).toBeGreaterThanOrEqual(1);
  });

  it('reuses a kept-alive connection; Content-Length and chunked bodies in one write', async () => {
    open = await server((s, i) => s.write(i % 2 === 0 ? `HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello` : `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${chunked('wor', 'ld')}`));
    const client = new Http1Client(open.url);
    for (let i = 0; i < 4; i++) expect(await text((await client.request('POST', '/', {}, Buffer.alloc(3))).body)).toBe(i % 2 === 0 ? 'hello' : 'world');
    expect(open.connections).toBe(1);
  });

  it("reads a Content-Length body into the caller's memory (`into`), nothing past it; other bodies and the next response as usual", async () => {
    const body = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 13) & 0xff));
    open = await server(async (s, i) => {
      if (i === 1) return s.write(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${chunked('wor', 'ld')}`);
      if (i === 2) return s.write('HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope');
      // The head and the body's first bytes in one read, the rest in pieces.
      s.write(Buffer.concat([Buffer.from(`HTTP/1.1 206 Partial Content\r\nContent-Length: ${body.length}\r\n\r\n`), body.subarray(0, 10)]));
      await new Promise((r) => setTimeout(r, 5));
      s.write(body.subarray(10, 100_000));
      await new Promise((r) => setTimeout(r, 5));
      s.write(body.subarray(100_000));
    });
    const client = new Http1Client(open.url);
    const into = Buffer.alloc(body.length + 16, 0xee);
    const res = await client.request('GET', '/', {}, Buffer.alloc(0), undefined, into);
    let n = 0;
    let direct = 0;
    for await (const p of res.body) {
      if (p.buffer === into.buffer && p.byteOffset === into.byteOffset + n) direct += p.length;
      else into.set(p, n);
      n += p.length;
    }
    expect(n).toBe(body.length);
    expect(direct).toBe(body.length - 10);
    expect(into.subarray(0, n).equals(body)).toBe(true);
    expect(into.subarray(n).every((b) => b === 0xee)).toBe(true);
    // The same connection: a chunked body, and an error's body, are read into its own memory.
    expect(await text((await client.request('GET', '/', {}, Buffer.alloc(0), undefined, into)).body)).toBe('world');
    expect(await text((await client.request('GET', '/', {}, Buffer.alloc(0), undefined, into)).body)).toBe('nope');
    expect(into.subarray(0, n).equals(body)).toBe(true);
    expect(into.subarray(n).every((b) => b === 0xee)).toBe(true);
    expect(open.connections).toBe(1);
  });

  it('retries on a new connection when the server closed the kept-alive one', async () => {
    open = await server((s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
    const client = new Http1Client(open.url);
    expect(await text((await client.request('POST', '/', {}, Buffer.alloc(0))).body)).toBe('ok');
    await new Promise((r) => setTimeout(r, 20));
    expect(await text((await client.request('POST', '/', {}, Buffer.alloc(0))).body)).toBe('ok');
    expect(open.connections).toBe(2);
  });

  it('reads a body that ends with the connection, and does not reuse that connection', async () => {
    open = await server((s) => s.end('HTTP/1.1 500 Oops\r\n\r\nbroken'));
    const client = new Http1Client(open.url);
    const res = await client.request('POST', '/', {}, Buffer.alloc(0));
    expect(res.status).toBe(500);
    expect(await text(res.body)).toBe('broken');
  });

  it('fails the body when the connection closes inside it, with the caller’s error type', async () => {
    open = await server((s) => s.end(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab`));
    const res = await new Http1Client(open.url, { error: (m) => new RangeError(`prom: ${m}`) }).request('POST', '/', {}, Buffer.alloc(0));
    await expect(text(res.body)).rejects.toThrow(new RangeError('prom: connection closed before the end of the response'));
  });

  it('rejects malformed responses and refused connections', async () => {
    open = await server((s) => s.write(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n`));
    const res = await new Http1Client(open.url).request('POST', '/', {}, Buffer.alloc(0));
    await expect(text(res.body)).rejects.toThrow(/malformed HTTP response: malformed chunk size "zz"/);
    const dead = open.url;
    await open.close();
    open = undefined;
    await expect(new Http1Client(dead).request('POST', '/', {}, Buffer.alloc(0))).rejects.toThrow(/ECONNREFUSED/);
  });

  it('closes the connection when the body is left early or the request is aborted', async () => {
    const closed: number[] = [];
    open = await server((s, i) => {
      s.on('close', () => closed.push(i));
      s.write(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${'3\r\nabc\r\n'.repeat(10)}`);
    });
    const client = new Http1Client(open.url);
    for await (const piece of (await client.request('POST', '/', {}, Buffer.alloc(0))).body) {
      expect(piece.toString()).toMatch(/^(abc)+$/); // small chunks read at once may come as one piece
      break;
    }
    const ac = new AbortController();
    const res = await client.request('POST', '/', {}, Buffer.alloc(0), ac.signal);
    ac.abort();
    await expect(text(res.body)).rejects.toThrow('request aborted');
    await new Promise((r) => setTimeout(r, 20));
    expect(closed).toEqual([0, 1]);
    expect(open.connections).toBe(2);
  });

  it('reads no body after the head of an answer to HEAD, and keeps the connection for the next request', async () => {
    open = await server((s, i) => s.write(i === 0 ? 'HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n' : 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
    const client = new Http1Client(open.url);
    const head = await client.request('HEAD', '/', {}, Buffer.alloc(0));
    expect(head.headers.get('content-length')).toBe('11');
    expect(await text(head.body)).toBe('');
    expect(await text((await client.request('GET', '/', {}, Buffer.alloc(0))).body)).toBe('ok');
    expect(open.connections).toBe(1);
  });

  it('gives up connecting after connectTimeoutMs: a server that never completes the TLS handshake', async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const url = `https://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
      await expect(new Http1Client(url, { connectTimeoutMs: 200 }).request('GET', '/', {}, Buffer.alloc(0))).rejects.toThrow(/took longer than 200 ms/);
    } finally {
      silent.close();
    }
  });

  it('speaks TLS to https: URLs, verifying the server against the system roots', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-http1-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'k.pem', '-out', 'c.pem', '-days', '1', '-subj', '/CN=localhost'], { cwd: dir, stdio: 'pipe' });
      const srv = https.createServer({ key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')) }, (_req, res) => res.end('secret'));
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
      try {
        const url = `https://localhost:${(srv.address() as net.AddressInfo).port}`;
        await expect(new Http1Client(url).request('GET', '/', {}, Buffer.alloc(0))).rejects.toThrow(/self-signed certificate/);
      } finally {
        srv.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
