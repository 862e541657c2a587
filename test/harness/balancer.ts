import { Agent, createServer, request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';

export interface Balancer {
  /** http://127.0.0.1:PORT */
  readonly endpoint: string;
  /** Requests sent to each target, in the order given. */
  readonly forwarded: number[];
  stop(): Promise<void>;
}

/**
 * An HTTP proxy on 127.0.0.1 sending each request to the next of `targets` in turn, as a Service in front
 * of several queriers spreads a query frontend's requests.
 */
export async function startBalancer(targets: readonly string[]): Promise<Balancer> {
  const upstreams = targets.map((t) => new URL(t));
  const agent = new Agent({ keepAlive: true });
  const forwarded = targets.map(() => 0);
  const sockets = new Set<Socket>();
  let next = 0;
  const server = createServer((req, res) => {
    const i = next++ % upstreams.length;
    forwarded[i]!++;
    const up = upstreams[i]!;
    const out = httpRequest({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers: req.headers, agent }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    out.on('error', () => res.socket?.destroy());
    req.pipe(out);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (typeof addr !== 'object' || addr === null) throw new Error('balancer: no address');
  return {
    endpoint: `http://127.0.0.1:${addr.port}`,
    forwarded,
    async stop() {
      for (const s of sockets) s.destroy();
      agent.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
