import { Agent, createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { seededRandom } from './random.js';

/** Shares of requests (0..1) that go wrong, each drawn independently in this order. */
export interface FaultRates {
  /** Answered 503 SlowDown without reaching the server. */
  fail?: number;
  /** Connection closed before any response. */
  reset?: number;
  /** Response headers and half the body, then the connection is closed. */
  truncate?: number;
  /** Held back by `delayMs` before being forwarded. */
  delay?: number;
  delayMs?: number;
}

export interface ProxiedRequest {
  readonly method: string;
  readonly path: string;
}

export interface FaultProxy {
  /** http://127.0.0.1:PORT */
  readonly endpoint: string;
  readonly stats: { requests: number; forwarded: number; failed: number; reset: number; truncated: number; delayed: number; refused: number };
  setFaults(rates: FaultRates): void;
  /** While down, every connection is closed at once, as if the server were unreachable. */
  setDown(down: boolean): void;
  /** Called for each request before faults are applied; may call setDown to cut off this very request. */
  onRequest(fn: ((req: ProxiedRequest) => void) | undefined): void;
  stop(): Promise<void>;
}

/**
 * An HTTP proxy on 127.0.0.1 in front of an S3 server that fails, drops, truncates or delays a
 * configurable share of requests, with a seeded random source so a failing run can be replayed.
 */
export async function startFaultProxy(target: string, opts: { faults?: FaultRates; seed?: number } = {}): Promise<FaultProxy> {
  const upstream = new URL(target);
  const agent = new Agent({ keepAlive: true });
  const random = seededRandom(opts.seed ?? 1);
  let faults: FaultRates = opts.faults ?? {};
  let down = false;
  let hook: ((req: ProxiedRequest) => void) | undefined;
  const stats = { requests: 0, forwarded: 0, failed: 0, reset: 0, truncated: 0, delayed: 0, refused: 0 };
  const sockets = new Set<Socket>();

  const server = createServer((req, res) => {
    stats.requests++;
    hook?.({ method: req.method ?? 'GET', path: req.url ?? '/' });
    if (down) {
      stats.refused++;
      req.socket.destroy();
      return;
    }
    if (random() < (faults.fail ?? 0)) {
      stats.failed++;
      req.resume();
      res.writeHead(503, { 'content-type': 'application/xml', connection: 'close' });
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>injected by fault proxy</Message></Error>');
      return;
    }
    if (random() < (faults.reset ?? 0)) {
      stats.reset++;
      req.socket.destroy();
      return;
    }
    const truncate = random() < (faults.truncate ?? 0);
    const delay = random() < (faults.delay ?? 0) ? (faults.delayMs ?? 200) : 0;
    if (delay > 0) stats.delayed++;
    setTimeout(() => forward(req, res, truncate), delay);
  });
  server.on('connection', (s: Socket) => {
    if (down) {
      stats.refused++;
      s.destroy();
      return;
    }
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });

  function forward(req: IncomingMessage, res: ServerResponse, truncate: boolean): void {
    stats.forwarded++;
    const up = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent },
      (upRes) => {
        const length = Number(upRes.headers['content-length'] ?? 0);
        if (truncate && length > 1) {
          stats.truncated++;
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          let sent = 0;
          upRes.on('data', (chunk: Buffer) => {
            const room = Math.floor(length / 2) - sent;
            if (room > 0) res.write(chunk.subarray(0, room));
            sent += chunk.length;
            if (sent >= length / 2) {
              upRes.destroy();
              res.socket?.destroy();
            }
          });
          return;
        }
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => res.socket?.destroy());
    req.pipe(up);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (typeof addr !== 'object' || addr === null) throw new Error('fault proxy: no address');
  return {
    endpoint: `http://127.0.0.1:${addr.port}`,
    stats,
    setFaults(r) {
      faults = r;
    },
    setDown(d) {
      down = d;
      if (d) for (const s of sockets) s.destroy();
    },
    onRequest(fn) {
      hook = fn;
    },
    async stop() {
      for (const s of sockets) s.destroy();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

