import { gunzipSync, inflateSync } from 'node:zlib';
import { readFile } from 'node:fs/promises';
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { compressPieces } from './compression.js';
import { grpcServerMetrics } from './grpc-metrics.js';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { buildHttpApp, startHttpServer } from './http.js';
import { createLogger } from './logger.js';
import { Prober } from './prober.js';
import { scrapedCounter, scrapedHistogram } from './scraped.js';
import { collectProcessMetrics } from './processmetrics.js';
import { STRATA_VERSION, versionText } from './version.js';

describe('component HTTP surface', () => {
  it('serves probes that follow the prober, and metrics', async () => {
    const registry = new Registry();
    const prober = new Prober('test', registry);
    const app = await buildHttpApp({ registry, prober, logger: createLogger({ write: () => {} }) });
    expect((await app.inject('/-/healthy')).statusCode).toBe(503);
    prober.healthy();
    expect((await app.inject('/-/healthy')).body).toBe('OK');
    const notReady = await app.inject('/-/ready');
    expect(notReady.statusCode).toBe(503);
    expect(notReady.body).toBe('NOT OK: starting');
    prober.ready();
    expect((await app.inject('/-/ready')).statusCode).toBe(200);
    const metrics = (await app.inject('/metrics')).body;
    expect(metrics).toContain('strata_status{component="test",check="ready"} 1');
    expect(metrics).toContain('http_requests_total{handler="/-/ready",code="503",method="GET"} 1');
    await app.close();
  });

  it('answers unknown paths as Prometheus does (Go\'s http.NotFound)', async () => {
    const registry = new Registry();
    const app = await buildHttpApp({ registry, prober: new Prober('test', registry), logger: createLogger({ write: () => {} }) });
    const res = await app.inject('/api/v1/status/nothing');
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.body).toBe('404 page not found\n');
    await app.close();
  });

  it('serves the probes and /metrics under a route prefix, as Prometheus, and at the root, as Thanos; the routes of its plugins under the prefix only', async () => {
    const registry = new Registry();
    const plugin = async (scope: FastifyInstance) => {
      scope.get('/api/v1/blocks', async () => ({ status: 'success' }));
    };
    const app = await buildHttpApp({ registry, prober: new Prober('test', registry), logger: createLogger({ write: () => {} }), plugins: [plugin], routePrefix: '/thanos/' });
    const status = async (path: string) => (await app.inject(path)).statusCode;
    for (const path of ['/-/healthy', '/-/ready', '/metrics']) {
      expect(await status(path)).not.toBe(404);
      expect(await status(`/thanos${path}`)).not.toBe(404);
    }
    expect(await status('/thanos/api/v1/blocks')).toBe(200);
    expect(await status('/api/v1/blocks')).toBe(404);
    await app.close();
  });
});

describe('closing the HTTP server', () => {
  /** A server whose /slow answers after `ms`, and the times (from `t0`) at which things happened. */
  async function serverWith(slowMs: number, gracePeriodMs: number) {
    const registry = new Registry();
    const slow: FastifyPluginAsync = async (app) => {
      app.get('/slow', async () => {
        await new Promise((r) => setTimeout(r, slowMs));
        return 'done';
      });
    };
    return startHttpServer({ address: '127.0.0.1:0', registry, prober: new Prober('test', registry), logger: createLogger({ write: () => {} }), plugins: [slow], gracePeriodMs });
  }

  it('lets a request in flight finish, refuses new ones, and does not wait for kept-alive connections', async () => {
    const server = await serverWith(500, 10_000);
    const base = `http://${server.address}`;
    expect((await fetch(`${base}/-/healthy`)).status).toBe(503); // leaves a kept-alive connection idle
    const t0 = performance.now();
    const inFlight = fetch(`${base}/slow`).then(async (r) => ({ status: r.status, body: await r.text(), connection: r.headers.get('connection') }));
    await new Promise((r) => setTimeout(r, 100));
    const closed = server.close().then(() => performance.now() - t0);
    await new Promise((r) => setTimeout(r, 50));
    await expect(fetch(`${base}/-/healthy`)).rejects.toThrow();
    expect(await inFlight).toEqual({ status: 200, body: 'done', connection: 'close' });
    // Closed once the slow answer is out, not after the grace period or the keep-alive timeout.
    expect(await closed).toBeLessThan(5_000);
  });

  it('cuts what is still in flight after the grace period', async () => {
    const server = await serverWith(60_000, 200);
    const inFlight = fetch(`http://${server.address}/slow`).then(
      (r) => r.status,
      (e: Error) => e.message,
    );
    await new Promise((r) => setTimeout(r, 100));
    await server.close();
    expect(await inFlight).toBe('fetch failed');
  });
});

describe('compressPieces', () => {
  it('compresses small bodies at once and large ones piece by piece, to the same bytes as written', async () => {
    const piece = (i: number) => `[${i},"${'x'.repeat(i % 50)}"],`;
    for (const count of [0, 1, 10, 1500, 3000, 20_000]) {
      // Strings and Buffers mixed, in pieces of up to ~32 KB as the querier writes them.
      const pieces: (string | Buffer)[] = [];
      let current = '';
      for (let i = 0; i < count; i++) {
        current += piece(i);
        if (current.length >= 32 * 1024) {
          pieces.push(pieces.length % 2 === 0 ? current : Buffer.from(current));
          current = '';
        }
      }
      pieces.push(current);
      const text = pieces.map((p) => p.toString()).join('');
      expect(gunzipSync(await compressPieces(pieces, 'gzip')).toString(), `${count} pieces, gzip`).toBe(text);
      expect(inflateSync(await compressPieces(pieces, 'deflate')).toString(), `${count} pieces, deflate`).toBe(text);
    }
  });
});

describe('process metrics', () => {
  it("exposes Node's process metrics, the event loop's delay among them", async () => {
    const registry = new Registry();
    collectProcessMetrics(registry);
    const text = await registry.metrics();
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_p99_seconds']) expect(text).toContain(`# TYPE ${name} `);
  });

  it("exposes the version as strata_build_info, as Prometheus' and Thanos' build_info, from the package Strata is released as", async () => {
    const registry = new Registry();
    collectProcessMetrics(registry);
    const version = (JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
    expect(STRATA_VERSION).toBe(version);
    expect(await registry.metrics()).toContain(`strata_build_info{version="${version}",nodeversion="${process.version}",os="${process.platform}",arch="${process.arch}"} 1`);
    expect(versionText()).toMatch(new RegExp(`^strata, version ${version.replace(/\./g, '\\.')}\n`));
  });
});

describe('gRPC server metrics', () => {
  it('counts calls per method and code under go-grpc-prometheus names', async () => {
    const registry = new Registry();
    const m = grpcServerMetrics(registry);
    const call = { peer: '127.0.0.1:40000' };
    for (const code of ['OK', 'OK', 'Canceled']) {
      m.started('thanos.Store', 'Series', call);
      m.handled('thanos.Store', 'Series', code, 0.002, call, code === 'OK' ? '' : 'call cancelled by the client');
    }
    m.started('thanos.info.Info', 'Info', call);
    m.handled('thanos.info.Info', 'Info', 'OK', 0.5, call, '');
    const text = await registry.metrics();
    const series = 'grpc_service="thanos.Store",grpc_method="Series",grpc_type="server_stream"';
    expect(text).toContain(`grpc_server_started_total{${series}} 3`);
    expect(text).toContain(`grpc_server_handled_total{${series},grpc_code="OK"} 2`);
    expect(text).toContain(`grpc_server_handled_total{${series},grpc_code="Canceled"} 1`);
    expect(text).toContain(`grpc_server_handling_seconds_bucket{le="0.01",${series}} 3`);
    expect(text).toContain('grpc_server_handled_total{grpc_service="thanos.info.Info",grpc_method="Info",grpc_type="unary",grpc_code="OK"} 1');
    expect(text).toContain('grpc_server_handling_seconds_bucket{le="0.3",grpc_service="thanos.info.Info",grpc_method="Info",grpc_type="unary"} 0');
  });
});

describe('logger', () => {
  it('writes logfmt with quoting', () => {
    const lines: string[] = [];
    const log = createLogger({ write: (l) => lines.push(l) }).with({ component: 'sidecar' });
    log.info('uploaded block', { block: '01H', err: new Error('a b') });
    log.debug('hidden');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^ts=\S+ level=info component=sidecar msg="uploaded block" block=01H err="a b"\n$/);
  });
});

describe('scraped metrics', () => {
  it("expose cells' histograms exactly as prom-client's Histogram exposes the same observations, and counters as its Counter", async () => {
    const buckets = [0.001, 0.5, 1, 10];
    const observations = [0, 0.001, 0.0011, 0.4, 0.5, 0.7, 1, 9.99, 10, 11, 1e9];
    const cells = new Registry();
    const histogram = scrapedHistogram(cells, 'h_seconds', 'A histogram.', ['a', 'b'], buckets);
    const counter = scrapedCounter(cells, 'c_total', 'A counter.', ['a']);
    const reference = new Registry();
    const h = new Histogram({ name: 'h_seconds', help: 'A histogram.', labelNames: ['a', 'b'], buckets, registers: [reference] });
    const c = new Counter({ name: 'c_total', help: 'A counter.', labelNames: ['a'], registers: [reference] });
    const x = histogram({ a: 'x', b: 'y' });
    const empty = histogram({ a: 'e', b: '"quoted"\n' });
    h.observe({ a: 'x', b: 'y' }, 0);
    h.zero({ a: 'e', b: '"quoted"\n' });
    x.observe(0);
    for (const v of observations) {
      x.observe(v);
      h.observe({ a: 'x', b: 'y' }, v);
    }
    counter({ a: '1' }).value += 3;
    c.inc({ a: '1' }, 3);
    expect(empty.count).toBe(0);
    expect(await cells.metrics()).toBe(await reference.metrics());
    // Registry.resetMetrics empties the cells as it empties prom-client's metrics.
    cells.resetMetrics();
    expect(x.count).toBe(0);
    expect(await cells.metrics()).toContain('h_seconds_bucket{le="+Inf",a="x",b="y"} 0');
  });
});
