import { setMaxListeners } from 'node:events';
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyReply } from 'fastify';
import { Counter, Histogram, type Registry } from 'prom-client';
import { addHttpTracing } from './httptracing.js';
import type { Logger } from './logger.js';
import type { Prober } from './prober.js';
import { addHttpRequestLogging, type RequestLogPolicy } from './requestlog.js';
import { tracingEnabled } from './tracing.js';
import { requestTenantOrDefault, type TenantSource } from './tenant.js';
import { addWebAuth, httpsOptions, type WebConfig } from './webauth.js';

/**
 * The HTTP surface every component shares: `/metrics`, `/-/healthy`, `/-/ready` (200 "OK" or 503
 * with the reason, as Thanos), request metrics per route, plus the component's own routes as fastify
 * plugins. Listens on `--http-address`.
 */
export interface HttpServerOptions {
  address: string;
  registry: Registry;
  prober: Prober;
  logger: Logger;
  /** Component routes, each plugin encapsulating one route group. */
  plugins?: FastifyPluginAsync[];
  /** Served under this path prefix (querier's --web.route-prefix). */
  routePrefix?: string;
  /** TLS, basic authentication and response headers (Thanos' --http.config). */
  web?: WebConfig;
  /** What /metrics answers, where not `registry`'s metrics alone (a worker process answers with every worker's). */
  metrics?: () => Promise<string>;
  /** How long close() lets requests in flight finish before it cuts them (Thanos' --http-grace-period; default 5s). */
  gracePeriodMs?: number;
  /** Which requests are logged (Thanos' --request.logging-config). */
  requestLog?: RequestLogPolicy;
  /** Where a request's tenant comes from (the querier's and query frontend's): the HTTP metrics then carry a `tenant` label, as Thanos'. */
  tenant?: TenantSource;
}

export interface HttpServer {
  readonly app: FastifyInstance;
  /** `host:port` actually bound (port 0 picks a free one). */
  readonly address: string;
  /**
   * Stops taking connections, closes the idle ones, and lets requests in flight finish (their
   * connections closed as they answer) for up to the grace period, then cuts what is left.
   */
  close(): Promise<void>;
}

/** Builds the app without listening, for tests that `inject` requests. */
export function buildHttpApp(opts: Omit<HttpServerOptions, 'address'>): Promise<FastifyInstance> {
  return buildApp(opts, { closing: false });
}

/** The app; once `lifecycle.closing`, the connections of the requests it answers are closed as they finish. */
async function buildApp(opts: Omit<HttpServerOptions, 'address'>, lifecycle: { closing: boolean }): Promise<FastifyInstance> {
  // An HTTPS server is a fastify instance of another server type; the routes are the same.
  const app = (opts.web?.tls !== undefined ? Fastify({ logger: false, forceCloseConnections: 'idle', https: httpsOptions(opts.web.tls) }) : Fastify({ logger: false, forceCloseConnections: 'idle' })) as unknown as FastifyInstance;

  const prefix = opts.routePrefix && opts.routePrefix !== '/' ? opts.routePrefix.replace(/\/$/, '') : '';
  if (tracingEnabled()) addHttpTracing(app, new Set(['/metrics', '/-/healthy', '/-/ready'].flatMap((path) => [path, prefix + path])));
  if (opts.requestLog !== undefined) addHttpRequestLogging(app, opts.logger, opts.requestLog);
  if (opts.web !== undefined) addWebAuth(app, opts.web);
  app.addHook('onSend', async (_req, reply) => {
    if (lifecycle.closing) reply.header('connection', 'close');
  });
  app.addHook('onResponse', async () => {
    if (lifecycle.closing) setImmediate(() => app.server.closeIdleConnections());
  });
  const labelNames = ['handler', 'code', 'method', ...(opts.tenant !== undefined ? ['tenant'] : [])];
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'Tracks the number of HTTP requests.',
    labelNames,
    registers: [opts.registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Tracks the latencies for HTTP requests.',
    labelNames,
    buckets: [0.001, 0.01, 0.1, 0.3, 0.6, 1, 3, 6, 9, 20, 30, 60, 90, 120],
    registers: [opts.registry],
  });
  const tenantOf = opts.tenant === undefined ? undefined : requestTenantOrDefault(opts.tenant);
  app.addHook('onResponse', async (req, reply) => {
    const labels: Record<string, string> = { handler: req.routeOptions.url ?? 'unmatched', code: String(reply.statusCode), method: req.method };
    if (tenantOf !== undefined) labels.tenant = tenantOf(req);
    requests.inc(labels);
    duration.observe(labels, reply.elapsedTime / 1000);
  });

  // Unknown paths answer as Go's http.NotFound, as Prometheus' and Thanos' servers answer them.
  app.setNotFoundHandler((_req, reply) => reply.code(404).type('text/plain; charset=utf-8').header('X-Content-Type-Options', 'nosniff').send('404 page not found\n'));
  const probes = async (scope: FastifyInstance) => {
    scope.get('/metrics', async (_req, reply) => {
      reply.header('Content-Type', opts.registry.contentType);
      return (opts.metrics ?? (() => opts.registry.metrics()))();
    });
    scope.get('/-/healthy', async (_req, reply) => {
      if (opts.prober.isHealthy()) return reply.type('text/plain').send('OK');
      return reply.code(503).type('text/plain').send('NOT OK');
    });
    scope.get('/-/ready', async (_req, reply) => {
      if (opts.prober.isReady()) return reply.type('text/plain').send('OK');
      return reply.code(503).type('text/plain').send(`NOT OK: ${opts.prober.notReadyReason}`);
    });
  };
  // Under a route prefix, /metrics and the probes answer both under it, as Prometheus serves them, and
  // at the root, as Thanos does: deployments of either probe their own way.
  if (prefix !== '') await app.register(probes);
  await app.register(
    async (scope) => {
      await probes(scope);
      for (const p of opts.plugins ?? []) await scope.register(p);
    },
    { prefix },
  );
  return app;
}

export async function startHttpServer(opts: HttpServerOptions): Promise<HttpServer> {
  const lifecycle = { closing: false };
  const app = await buildApp(opts, lifecycle);
  const { host, port } = parseAddress(opts.address);
  await app.listen({ host, port });
  const addr = app.server.address();
  const address = typeof addr === 'object' && addr !== null ? `${host}:${addr.port}` : opts.address;
  opts.logger.info('listening for HTTP', { address });
  const graceMs = opts.gracePeriodMs ?? 5_000;
  return {
    app,
    address,
    async close() {
      lifecycle.closing = true;
      const cut = setTimeout(() => {
        opts.logger.warn('HTTP requests still in flight after the grace period; closing their connections', { grace_period_ms: graceMs });
        app.server.closeAllConnections();
      }, graceMs);
      try {
        await app.close();
      } finally {
        clearTimeout(cut);
      }
    },
  };
}

/** `host:port`, `:port` (all interfaces) or `[v6]:port`. */
export function parseAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(address);
  if (!m) throw new Error(`invalid address ${JSON.stringify(address)}: want host:port`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port: Number(m[3]) };
}

/**
 * Aborted when the client goes away before its answer is written: the downstream requests for it stop
 * too. Each of them listens while it runs, as many as the request has pieces and shards: past
 * EventTarget's 10 listeners Node would print a leak warning.
 */
export function clientGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}
