import { gunzipSync, inflateSync } from 'node:zlib';
import { buildHttpApp, createLogger, Prober } from '@strata/runtime';
import { decodeChunkedReadResponse, decodeReadResponse, encodeReadRequest, MatcherType, ResponseType, serveStore, StoreError, GrpcStatus, toStoreSeries, type Meta, type MetricMetadata, type ServingStore, type StoreServer } from '@strata/storeapi';
import { Labels, XORChunk, type ChunkMeta } from '@strata/tsdb';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { EndpointSet } from '../endpoints/endpointset.js';
import { ProxyStore } from '../proxy/proxy.js';
import { responseEncoding } from '@strata/runtime';
import { corsOrigin } from '@strata/runtime';
import { EngineMetrics, QueryGate, RemoteReadGate } from './metrics.js';
import { apiPlugin } from './plugin.js';
import { DEFAULT_TENANCY } from '../tenancy.js';
import { DEFAULT_REMOTE_READ_LIMITS, type RemoteReadLimits } from './remoteread.js';

type Defaults = Parameters<typeof apiPlugin>[0]['defaults'];

/** `cors` null: --web.disable-cors; `log` gets the API's log lines. */
async function apiApp(
  overrides: Partial<Defaults> = {},
  cors: RegExp | null = corsOrigin('.*'),
  endpoints = new EndpointSet({ endpoints: [], logger: createLogger({ write: () => {} }) }),
  log: (line: string) => void = () => {},
  remoteRead: RemoteReadLimits = DEFAULT_REMOTE_READ_LIMITS,
) {
  const registry = new Registry();
  const logger = createLogger({ write: log });
  const api = apiPlugin({
    proxy: new ProxyStore(endpoints),
    endpoints,
    logger,
    gate: new QueryGate(1, registry),
    engineMetrics: new EngineMetrics(registry, 1),
    defaults: { replicaLabels: [], dedupFunc: 'penalty', partialResponse: true, autoDownsampling: false, lookbackDelta: 300_000, subqueryStep: 60_000, metadataTimeRange: 0, maxSamples: 50_000_000, maxConcurrentSelect: 4, logQueriesLongerThanMs: 0, timeout: 60_000, compat: 3, engine: 'prometheus', ...overrides },
    corsOrigin: cors ?? undefined,
    flags: {},
    tenancy: DEFAULT_TENANCY,
    remoteRead: { limits: remoteRead, gate: new RemoteReadGate(remoteRead.concurrentLimit, registry) },
  });
  return buildHttpApp({ registry, prober: new Prober('test', registry), logger, plugins: [api] });
}

/** Runs `fn` with an API over `server` alone (`remoteRead` its limits), stopping both after. */
async function withApiOver(server: ServingStore, fn: (api: Awaited<ReturnType<typeof apiApp>>) => Promise<void>, remoteRead?: RemoteReadLimits): Promise<void> {
  const endpoints = new EndpointSet({ endpoints: [server.address], logger: createLogger({ write: () => {} }) });
  try {
    await endpoints.refresh();
    const api = await apiApp({}, null, endpoints, () => {}, remoteRead);
    try {
      await fn(api);
    } finally {
      await api.close();
    }
  } finally {
    endpoints.stop();
    await server.stop();
  }
}

describe('API response compression', () => {
  it('picks the first of gzip and deflate the client lists, as exact tokens (Prometheus’ rule)', () => {
    expect(responseEncoding('gzip, deflate, br')).toBe('gzip');
    expect(responseEncoding('br, deflate , gzip')).toBe('deflate');
    expect(responseEncoding('br')).toBeUndefined();
    expect(responseEncoding('gzip;q=1.0')).toBeUndefined();
    expect(responseEncoding(undefined)).toBeUndefined();
  });

  it('compresses answers and errors when asked, and sends the same JSON', async () => {
    const app = await apiApp();
    // 10,001 points: an answer compressed in several pieces.
    const query = '/api/v1/query_range?query=time()%20/%207&start=0&end=10000&step=1';
    const plain = await app.inject(query);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(plain.body).data.result[0].values).toHaveLength(10_001);
    const gz = await app.inject({ url: query, headers: { 'accept-encoding': 'gzip, deflate' } });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.rawPayload).toString()).toBe(plain.body);
    const df = await app.inject({ url: query, headers: { 'accept-encoding': 'deflate' } });
    expect(df.headers['content-encoding']).toBe('deflate');
    expect(inflateSync(df.rawPayload).toString()).toBe(plain.body);
    const bad = await app.inject({ url: '/api/v1/query?query=sum(', headers: { 'accept-encoding': 'gzip' } });
    expect(bad.statusCode).toBe(400);
    expect(JSON.parse(gunzipSync(bad.rawPayload).toString())).toMatchObject({ status: 'error', errorType: 'bad_data' });
    await app.close();
  });
});

describe('a range query it cannot range over', () => {
  it('is bad data before evaluation; current Prometheus names the parameter, 2.42 does not (its live wording is in test/querier)', async () => {
    const range = (app: Awaited<ReturnType<typeof apiApp>>, q: string) => app.inject(`/api/v1/query_range?query=${encodeURIComponent(q)}&start=0&end=60&step=15`);
    const current = await apiApp();
    const old = await apiApp({ compat: 2 });
    for (const [q, reason] of [
      ['vector(1)[5m:]', 'invalid expression type "range vector" for range query, must be Scalar or instant Vector'],
      ['"a"', 'invalid expression type "string" for range query, must be Scalar or instant Vector'],
      ['sum(', '1:5: parse error: unclosed left parenthesis'],
    ] as const) {
      for (const [app, error] of [[current, `invalid parameter "query": ${reason}`], [old, reason]] as const) {
        const res = await range(app, q);
        expect(res.statusCode, q).toBe(400);
        expect(JSON.parse(res.body), q).toEqual({ status: 'error', errorType: 'bad_data', error });
      }
    }
    await current.close();
    await old.close();
  });
});

describe('a POST body', () => {
  it('is read as a form, and ignored whatever else its type says, as Prometheus ignores it', async () => {
    const app = await apiApp();
    const post = (type: string, body: string) => app.inject({ method: 'POST', url: '/api/v1/query?query=1&time=5', headers: { 'content-type': type }, body });
    const one = { status: 'success', data: { resultType: 'scalar', result: [5, '1'] } };
    expect(JSON.parse((await post('application/json', '{bad')).body)).toEqual(one);
    expect(JSON.parse((await post('text/plain', 'query=2')).body)).toEqual(one);
    expect(JSON.parse((await post('application/x-www-form-urlencoded', 'query=3')).body)).toEqual({ status: 'success', data: { resultType: 'scalar', result: [5, '3'] } });
    await app.close();
  });
});

describe('a method an API path does not take', () => {
  it('is 405 Method Not Allowed, HEAD included, as Prometheus answers it', async () => {
    const app = await apiApp();
    for (const method of ['PUT', 'DELETE', 'HEAD', 'PATCH'] as const) {
      const res = await app.inject({ method, url: '/api/v1/query?query=1' });
      expect(res.statusCode, method).toBe(405);
      if (method !== 'HEAD') expect(res.body, method).toBe('Method Not Allowed\n');
    }
    expect((await app.inject({ method: 'POST', url: '/api/v1/labels' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'OPTIONS', url: '/api/v1/query' })).statusCode).toBe(204);
    expect((await app.inject({ method: 'PUT', url: '/api/v1/nope' })).statusCode).toBe(404);
    // Remote read takes POST only, federation GET only.
    expect((await app.inject({ method: 'GET', url: '/api/v1/read' })).statusCode).toBe(405);
    expect((await app.inject({ method: 'POST', url: '/federate' })).statusCode).toBe(405);
    await app.close();
  });
});

describe('parameters given twice', () => {
  it('count by their first value, as Go reads a form value', async () => {
    const app = await apiApp();
    const res = await app.inject('/api/v1/query?query=1&query=2&time=10&time=20');
    expect(JSON.parse(res.body)).toEqual({ status: 'success', data: { resultType: 'scalar', result: [10, '1'] } });
    // Typed as Prometheus types its answers, success or error: no charset.
    expect(res.headers['content-type']).toBe('application/json');
    expect((await app.inject('/api/v1/query?query=sum(')).headers['content-type']).toBe('application/json');
    await app.close();
  });
});

describe("Go's escapes in answers", () => {
  it('writes <, > and & in label values and strings as Prometheus does, in instant and range answers', async () => {
    const app = await apiApp();
    const expr = encodeURIComponent('label_replace(vector(1), "a", "x<y && z>w", "", "")');
    for (const url of [`/api/v1/query?query=${expr}&time=1`, `/api/v1/query_range?query=${expr}&start=0&end=2&step=1`]) {
      const res = await app.inject(url);
      expect(res.body).toContain('"a":"x\\u003cy \\u0026\\u0026 z\\u003ew"');
      expect(JSON.parse(res.body).data.result[0].metric.a).toBe('x<y && z>w');
    }
    const str = await app.inject(`/api/v1/query?query=${encodeURIComponent('"<&>"')}&time=1`);
    expect(str.body).toBe('{"status":"success","data":{"resultType":"string","result":[1,"\\u003c\\u0026\\u003e"]}}');
    await app.close();
  });
});

describe('annotations', () => {
  /** Classic histogram buckets that fall from le="1" to le="+Inf": histogram_quantile has to force them monotonic. */
  const unordered = 'histogram_quantile(0.5, label_replace(vector(2), "le", "1", "", "") or label_replace(vector(1), "le", "+Inf", "", ""))';
  const answer = async (app: Awaited<ReturnType<typeof apiApp>>, q: string) =>
    JSON.parse((await app.inject(`/api/v1/query?query=${encodeURIComponent(q)}&time=60`)).body) as { warnings?: string[]; infos?: string[] };

  it("go out as Prometheus' API sends them: infos under infos, warnings under warnings", async () => {
    const app = await apiApp();
    const info = await answer(app, unordered);
    expect(info.warnings).toBeUndefined();
    // Without delayed name removal the grouped buckets have no metric name, and the info names none.
    expect(info.infos).toEqual(['PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) (1:25)']);
    const both = await answer(app, `${unordered} + quantile(2, vector(1))`);
    // At the quantile's parameter: the column after `${unordered} + quantile(`.
    expect(both.warnings).toEqual([`PromQL warning: quantile value should be between 0 and 1, got 2 (1:${unordered.length + 13})`]);
    expect(both.infos).toHaveLength(1);
    const range = JSON.parse((await app.inject(`/api/v1/query_range?query=${encodeURIComponent(unordered)}&start=0&end=60&step=30&stats=all`)).body);
    expect(range.infos).toHaveLength(1);
    expect(range.warnings).toBeUndefined();
    await app.close();
  });

  it('are ten of each at the most, with a count of the others', async () => {
    const app = await apiApp();
    const many = (n: number, one: (i: number) => string) => Array.from({ length: n }, (_, i) => one(i)).join(' + ');
    const a = await answer(app, `${many(12, (i) => `quantile(${2 + i}, vector(1))`)} + ${many(11, () => unordered)}`);
    expect(a.warnings).toHaveLength(11);
    expect(a.warnings?.[10]).toBe('2 more warning annotations omitted');
    expect(a.infos).toHaveLength(11);
    expect(a.infos?.[10]).toBe('1 more info annotations omitted');
    await app.close();
  });
});

describe('query defaults', () => {
  it('fails a query holding more than --query.max-samples samples at once with 422, as Prometheus', async () => {
    const q = '/api/v1/query_range?query=vector(1)&start=0&end=99&step=1';
    expect((await (await apiApp()).inject(q)).statusCode).toBe(200);
    const res = await (await apiApp({ maxSamples: 50 })).inject(q);
    expect(res.statusCode).toBe(422);
    expect(JSON.parse(res.body)).toEqual({ status: 'error', errorType: 'execution', error: 'query processing would load too many samples into memory in query execution' });
  });

  it('accepts experimental PromQL modifiers only when --enable-feature turned them on', async () => {
    const q = `/api/v1/query?query=${encodeURIComponent('rate(x[5m] anchored) + fill(0) rate(y[5m] smoothed)')}&time=600`;
    const off = await (await apiApp()).inject(q);
    expect(off.statusCode).toBe(400);
    expect(JSON.parse(off.body).error).toContain('anchored modifier is experimental and not enabled');
    const on = await (await apiApp({ features: { extendedRangeSelectors: true, binopFillModifiers: true } })).inject(q);
    expect(on.statusCode).toBe(200);
  });

  it('steps subqueries that give no step by --query.default-evaluation-interval', async () => {
    const points = async (app: Awaited<ReturnType<typeof apiApp>>) => JSON.parse((await app.inject('/api/v1/query?query=count_over_time(vector(1)[10m:])&time=3600')).body).data.result[0].value[1];
    expect(await points(await apiApp())).toBe('10');
    expect(await points(await apiApp({ subqueryStep: 120_000 }))).toBe('5');
  });
});

describe('metrics', () => {
  it("counts queries with Prometheus' engine metrics and Thanos' gate metrics (label requests are not gated, as in Thanos)", async () => {
    const app = await apiApp();
    expect((await app.inject('/api/v1/query_range?query=time()&start=0&end=600&step=15')).statusCode).toBe(200);
    expect((await app.inject('/api/v1/labels')).statusCode).toBe(200);
    const text = (await app.inject('/metrics')).body;
    for (const slice of ['queue_time', 'prepare_time', 'inner_eval']) expect(text).toMatch(new RegExp(`^prometheus_engine_query_duration_seconds_count\\{slice="${slice}"\\} 1$`, 'm'));
    for (const line of ['prometheus_engine_queries 0', 'prometheus_engine_queries_concurrent_max 1', 'prometheus_engine_query_samples_total 0']) expect(text).toContain(`\n${line}\n`);
    for (const line of ['strata_query_concurrent_gate_queries_in_flight 0', 'strata_query_concurrent_gate_queries_max 1', 'strata_query_concurrent_gate_duration_seconds_count 1']) expect(text).toContain(`\n${line}\n`);
    await app.close();
  });
});

describe('--query.log-queries-longer-than', () => {
  it('logs the requests slower than the threshold with their parameters, every request below 0, none at 0', async () => {
    const lines: string[] = [];
    const query = '/api/v1/query_range?query=sum(vector(1))&start=0&end=600&step=15';
    for (const threshold of [-1, 0, 60_000]) {
      const app = await apiApp({ logQueriesLongerThanMs: threshold }, null, undefined, (l) => lines.push(l));
      await app.inject(query);
      await app.inject('/api/v1/query?query=sum(');
      await app.close();
    }
    const slow = lines.filter((l) => l.includes('slow query detected'));
    expect(slow).toHaveLength(2);
    expect(slow[0]).toMatch(
      /method=GET host=localhost:80 path=\/api\/v1\/query_range remote_user="" remote_addr=127.0.0.1 status=200 time_taken=\d+\.\d{3}s grafana_dashboard_uid=- grafana_panel_id=- trace_id=- param_query=sum\(vector\(1\)\) param_start=0 param_end=600 param_step=15/,
    );
    expect(slow[1]).toMatch(/path=\/api\/v1\/query remote_user="" remote_addr=127.0.0.1 status=400 .*param_query=sum\($/m);
  });
});

describe('/api/v1/metadata', () => {
  const meta = (type: string, help: string, unit = ''): Meta => ({ type, help, unit });
  /** A StoreAPI server with metric metadata only (a sidecar's, say), or failing with `error`. */
  function metadataServer(metadata: MetricMetadata, error?: string): StoreServer {
    const unused = () => Promise.reject(new Error('not called'));
    return {
      info: async () => ({ labelSets: [], componentType: 'sidecar', store: { minTime: 0, maxTime: 1, supportsSharding: false, supportsWithoutReplicaLabels: true, tsdbInfos: [], supportsProjections: false }, metricMetadata: true }),
      series: () => ({ [Symbol.asyncIterator]: () => ({ next: unused }) }),
      labelNames: unused,
      labelValues: unused,
      metricMetadata: async (req) => {
        if (error !== undefined) throw new StoreError(GrpcStatus.UNAVAILABLE, error);
        return { metadata: new Map([...metadata].filter(([name]) => req.metric === '' || name === req.metric)), warnings: [] };
      },
    };
  }

  it('merges the endpoints’ metadata as Thanos does, with Prometheus’ metric and limit, and partial response', async () => {
    const servers = await Promise.all([
      serveStore(metadataServer(new Map([['up', [meta('gauge', 'Up.')]], ['requests_total', [meta('counter', 'Requests.')]]])), { address: '127.0.0.1:0' }),
      serveStore(metadataServer(new Map([['up', [meta('gauge', 'Up.'), meta('gauge', 'Is up.')]]])), { address: '127.0.0.1:0' }),
      serveStore(metadataServer(new Map(), 'prometheus is down'), { address: '127.0.0.1:0' }),
    ]);
    const logger = createLogger({ write: () => {} });
    const endpoints = new EndpointSet({ endpoints: servers.map((s) => s.address), logger });
    try {
      await endpoints.refresh();
      const app = await apiApp({}, null, endpoints);
      const get = async (qs: string) => {
        const res = await app.inject(`/api/v1/metadata${qs}`);
        return { status: res.statusCode, body: JSON.parse(res.body) as { status: string; data: Record<string, Meta[]>; warnings?: string[]; errorType?: string; error?: string } };
      };
      const all = await get('');
      expect(all.status).toBe(200);
      expect(Object.keys(all.body.data).sort()).toEqual(['requests_total', 'up']);
      expect(all.body.data.up?.slice().sort((a, b) => a.help.localeCompare(b.help))).toEqual([meta('gauge', 'Is up.'), meta('gauge', 'Up.')]);
      expect(all.body.data.requests_total).toEqual([{ type: 'counter', help: 'Requests.', unit: '' }]);
      expect(all.body.warnings).toEqual([expect.stringContaining('prometheus is down')]);
      expect(Object.keys((await get('?metric=requests_total')).body.data)).toEqual(['requests_total']);
      expect(Object.keys((await get('?limit=1')).body.data)).toHaveLength(1);
      expect((await get('?limit=0')).body.data).toEqual({});
      expect(await get('?limit=x')).toEqual({ status: 400, body: { status: 'error', errorType: 'bad_data', error: 'limit must be a number' } });
      const abort = await get('?partial_response=false');
      expect(abort.status).not.toBe(200);
      expect(abort.body).toMatchObject({ status: 'error', error: expect.stringContaining('prometheus is down') });
      await app.close();
    } finally {
      endpoints.stop();
      await Promise.all(servers.map((s) => s.stop()));
    }
  });
});

describe('limit', () => {
  /** A StoreAPI server holding series m{i="…"} for the given i, labels only. */
  function labelServer(is: readonly string[], asked: number[]): StoreServer {
    const names = ['__name__', 'i', ...is.map((i) => `n${i}`)];
    return {
      info: async () => ({ labelSets: [], componentType: 'store', store: { minTime: 0, maxTime: 10_000_000, supportsSharding: false, supportsWithoutReplicaLabels: true, tsdbInfos: [], supportsProjections: false } }),
      async *series(req) {
        asked.push(req.limit);
        for (const i of is) yield { series: { labels: [{ name: '__name__', value: 'm' }, { name: 'i', value: i }], chunks: [] } };
      },
      labelNames: async (req) => (asked.push(req.limit), { names, warnings: [] }),
      labelValues: async (req) => (asked.push(req.limit), { values: req.label === 'i' ? [...is] : [], warnings: [] }),
    };
  }

  it('cuts series, label names and values, and query answers as Prometheus, asking each store for one more', async () => {
    const asked: number[] = [];
    const servers = await Promise.all([['0', '2', '4'], ['1', '3']].map((is) => serveStore(labelServer(is, asked), { address: '127.0.0.1:0' })));
    const endpoints = new EndpointSet({ endpoints: servers.map((s) => s.address), logger: createLogger({ write: () => {} }) });
    try {
      await endpoints.refresh();
      const app = await apiApp({}, null, endpoints);
      const get = async (url: string) => {
        const res = await app.inject(url);
        return { code: res.statusCode, ...(JSON.parse(res.body) as { data: unknown; warnings?: string[]; error?: string }) };
      };
      const truncated = ['results truncated due to limit'];
      const series = await get('/api/v1/series?match[]=m&limit=3');
      expect(series.data).toEqual(['0', '1', '2'].map((i) => ({ __name__: 'm', i })));
      expect(series.warnings).toEqual(truncated);
      expect(asked).toEqual([4, 4]);
      expect((await get('/api/v1/series?match[]=m&limit=5')).warnings).toBeUndefined();
      expect(await get('/api/v1/label/i/values?limit=4')).toMatchObject({ data: ['0', '1', '2', '3'], warnings: truncated });
      expect(await get('/api/v1/labels?limit=2')).toMatchObject({ data: ['__name__', 'i'], warnings: truncated });
      expect((await get('/api/v1/labels?limit=0')).data).toHaveLength(7);
      const two = 'label_replace(vector(1), "x", "a", "", "") or label_replace(vector(2), "x", "b", "", "")';
      const instant = await get(`/api/v1/query?query=${encodeURIComponent(two)}&limit=1`);
      expect(instant).toMatchObject({ data: { resultType: 'vector', result: [{ metric: { x: 'a' } }] }, warnings: truncated });
      const range = await get(`/api/v1/query_range?query=${encodeURIComponent(two)}&start=0&end=60&step=15&limit=1`);
      expect(range).toMatchObject({ data: { resultType: 'matrix', result: [{ metric: { x: 'a' } }] }, warnings: truncated });
      expect((await get(`/api/v1/query?query=${encodeURIComponent(two)}&limit=2`)).warnings).toBeUndefined();
      expect(await get('/api/v1/labels?limit=-1')).toMatchObject({ code: 400, error: 'invalid parameter "limit": limit must be non-negative' });
      expect(await get('/api/v1/query?query=1&limit=1.5')).toMatchObject({ code: 400, error: 'invalid parameter "limit": strconv.Atoi: parsing "1.5": invalid syntax' });
      await app.close();
    } finally {
      endpoints.stop();
      await Promise.all(servers.map((s) => s.stop()));
    }
  });
});

describe('CORS', () => {
  const preflight = { method: 'OPTIONS' as const, url: '/api/v1/query', headers: { origin: 'http://grafana.example' } };
  const cors = {
    'access-control-allow-headers': 'Accept, Authorization, Content-Type, Origin',
    'access-control-allow-methods': 'GET, POST, OPTIONS',
    'access-control-expose-headers': 'Date',
    vary: 'Origin',
  };

  it('answers browsers as Prometheus does with its default --web.cors.origin: every origin, a preflight with 204', async () => {
    const app = await apiApp();
    const pre = await app.inject(preflight);
    expect(pre.statusCode).toBe(204);
    expect(pre.body).toBe('');
    expect(pre.headers).toMatchObject({ ...cors, 'access-control-allow-origin': '*' });
    const get = await app.inject({ url: '/api/v1/query?query=1', headers: { origin: 'http://grafana.example' } });
    expect(get.headers).toMatchObject({ ...cors, 'access-control-allow-origin': '*' });
    // Without an Origin (not a browser's cross-origin request): no CORS headers.
    expect((await app.inject('/api/v1/query?query=1')).headers['access-control-allow-origin']).toBeUndefined();
  });

  it('allows only the origins --web.cors.origin matches, whole, and none with --web.disable-cors', async () => {
    const app = await apiApp({}, corsOrigin('https://grafana\\.example'));
    expect((await app.inject({ ...preflight, headers: { origin: 'https://grafana.example' } })).headers['access-control-allow-origin']).toBe('https://grafana.example');
    const other = await app.inject({ ...preflight, headers: { origin: 'https://grafana.example.evil' } });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    expect(other.headers).toMatchObject(cors);
    const disabled = await apiApp({}, null);
    expect((await disabled.inject(preflight)).headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('status', () => {
  it('reports the Prometheus API version Strata answers as in buildinfo, without features, so that Grafana reads a Prometheus', async () => {
    const res = await (await apiApp()).inject('/api/v1/status/buildinfo');
    expect(JSON.parse(res.body)).toEqual({ status: 'success', data: { version: '2.42.0', revision: 'strata-0.1.0', branch: '', buildUser: '', buildDate: '', goVersion: '' } });
  });
});

describe('shard_info', () => {
  it("answers a query with its shard's series only (read from Thanos' JSON), and refuses a malformed one with 400", async () => {
    const chunk = new XORChunk();
    const app = chunk.appender();
    for (let t = 0; t <= 60_000; t += 15_000) app.append(t, 1);
    // A store that cannot shard: the querier keeps the shard's series itself.
    const server = await serveStore(
      {
        info: async () => ({ labelSets: [], componentType: 'store', store: { minTime: 0, maxTime: 60_000, supportsSharding: false, supportsWithoutReplicaLabels: true, tsdbInfos: [], supportsProjections: false } }),
        async *series() {
          for (let i = 0; i < 12; i++) yield { series: toStoreSeries(Labels.from({ __name__: 'm', i: String(i).padStart(2, '0') }), [{ minTime: 0, maxTime: 60_000, chunk }]) };
        },
        labelNames: async () => ({ names: [], warnings: [] }),
        labelValues: async () => ({ values: [], warnings: [] }),
      },
      { address: '127.0.0.1:0' },
    );
    await withApiOver(server, async (api) => {
      const query = async (shardInfo?: string) => {
        const res = await api.inject(`/api/v1/query?query=m&time=30${shardInfo === undefined ? '' : `&shard_info=${encodeURIComponent(shardInfo)}`}`);
        return { code: res.statusCode, ...(JSON.parse(res.body) as { data: { result: { metric: { i: string } }[] }; error?: string }) };
      };
      const whole = (await query()).data.result.map((s) => s.metric.i);
      expect(whole).toHaveLength(12);
      const shards = await Promise.all([0, 1, 2].map(async (k) => (await query(`{"shard_index":${k},"total_shards":3,"by":true,"labels":["i"]}`)).data.result.map((s) => s.metric.i)));
      for (const s of shards) expect(s.length).toBeGreaterThan(0);
      expect(shards.flat().sort()).toEqual(whole);
      expect(await query('{"total_shards":3,"shard_index":3}')).toMatchObject({ code: 400, errorType: 'bad_data', error: 'invalid parameter "shard_info": shard_info.shard_index 3 is not below total_shards 3' });
      expect((await query('{')).code).toBe(400);
    });
  });
});

describe('--endpoint-strict', () => {
  /** A store of one series m{store=`name`}; `infoFails`: its Info call fails while Series answers (a caching layer in front of a store). */
  function oneSeriesStore(name: string, infoFails = false): StoreServer {
    const chunk = new XORChunk();
    const app = chunk.appender();
    for (let t = 0; t <= 60_000; t += 15_000) app.append(t, 1);
    return {
      info: async () => {
        if (infoFails) throw new StoreError(GrpcStatus.UNIMPLEMENTED, 'no Info here');
        return { labelSets: [], componentType: 'store', store: { minTime: 0, maxTime: 60_000, supportsSharding: false, supportsWithoutReplicaLabels: true, tsdbInfos: [], supportsProjections: false } };
      },
      async *series() {
        yield { series: toStoreSeries(Labels.from({ __name__: 'm', store: name }), [{ minTime: 0, maxTime: 60_000, chunk }]) };
      },
      labelNames: async () => ({ names: [], warnings: [] }),
      labelValues: async () => ({ values: [], warnings: [] }),
    };
  }

  it('queries a strict endpoint whose Info fails, and names one that is down in every answer, however long it stays down', async () => {
    const [live, noInfo, down] = await Promise.all([serveStore(oneSeriesStore('live'), { address: '127.0.0.1:0' }), serveStore(oneSeriesStore('no-info', true), { address: '127.0.0.1:0' }), serveStore(oneSeriesStore('down'), { address: '127.0.0.1:0' })]);
    await down.stop();
    const downLoose = await serveStore(oneSeriesStore('down-loose'), { address: '127.0.0.1:0' });
    const endpoints = new EndpointSet({ endpoints: [live.address, downLoose.address], strictEndpoints: [noInfo.address, down.address], unhealthyTimeoutMs: 0, logger: createLogger({ write: () => {} }) });
    try {
      await endpoints.refresh();
      // A non-strict endpoint that fails is dropped after --store.unhealthy-timeout (0 here), and then missed silently.
      await downLoose.stop();
      await endpoints.refresh();
      await endpoints.refresh();
      const api = await apiApp({}, null, endpoints);
      const query = async (qs = '') => {
        const res = await api.inject(`/api/v1/query?query=m&time=30${qs}`);
        return { code: res.statusCode, ...(JSON.parse(res.body) as { data?: { result: { metric: { store: string } }[] }; warnings?: string[]; error?: string }) };
      };
      const warn = await query();
      expect(warn.code).toBe(200);
      expect(warn.data?.result.map((s) => s.metric.store).sort()).toEqual(['live', 'no-info']);
      expect(warn.warnings).toEqual([expect.stringContaining(down.address)]);
      const abort = await query('&partial_response=false');
      expect(abort.code).not.toBe(200);
      expect(abort.error).toContain(down.address);
      // All four are listed, the failing ones unhealthy.
      expect(new Map(endpoints.status().map((s) => [s.address, s.healthy]))).toEqual(new Map([[live.address, true], [downLoose.address, false], [noInfo.address, false], [down.address, false]]));
      await api.close();
    } finally {
      endpoints.stop();
      await Promise.all([live.stop(), noInfo.stop()]);
    }
  });
});

/** A store of 12 series m{i}, each of `samples` samples 15s apart from 0 in chunks of `perChunk`, whatever it is asked. */
async function twelveSeries(samples = 5, perChunk = samples): Promise<ServingStore> {
  const chunks: ChunkMeta[] = [];
  for (let first = 0; first < samples; first += perChunk) {
    const chunk = new XORChunk();
    const app = chunk.appender();
    const last = Math.min(samples, first + perChunk) - 1;
    for (let k = first; k <= last; k++) app.append(k * 15_000, k * 15);
    chunks.push({ minTime: first * 15_000, maxTime: last * 15_000, chunk });
  }
  const maxTime = (samples - 1) * 15_000;
  return serveStore(
    {
      info: async () => ({ labelSets: [], componentType: 'store', store: { minTime: 0, maxTime, supportsSharding: false, supportsWithoutReplicaLabels: true, tsdbInfos: [], supportsProjections: false } }),
      async *series() {
        for (let i = 0; i < 12; i++) yield { series: toStoreSeries(Labels.from({ __name__: 'm', i: String(i).padStart(2, '0'), job: i % 2 === 0 ? 'a' : 'b' }), chunks) };
      },
      labelNames: async () => ({ names: [], warnings: [] }),
      labelValues: async () => ({ values: [], warnings: [] }),
    },
    { address: '127.0.0.1:0' },
  );
}

describe("Thanos' explain and analyze", () => {
  it('explains a query without evaluating it, with the query endpoints’ parameters and errors', async () => {
    const app = await apiApp();
    const explained = await app.inject(`/api/v1/query_explain?query=${encodeURIComponent('sum by (job) (rate(m[5m])) / 2')}&time=60`);
    expect(explained.statusCode).toBe(200);
    expect(JSON.parse(explained.body)).toEqual({
      status: 'success',
      data: {
        name: '[binary] /',
        children: [
          { name: '[aggregate] sum by (job)', children: [{ name: '[functionCall] rate', children: [{ name: '[matrixSelector] m[5m]' }] }] },
          { name: '[numberLiteral] 2' },
        ],
      },
    });
    // A range query's step-invariant subtree is evaluated once; POST forms are read as the query endpoints read them.
    const range = await app.inject({
      method: 'POST',
      url: '/api/v1/query_range_explain',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `query=${encodeURIComponent('m + on () sum(m @ 30)')}&start=0&end=60&step=15&engine=thanos`,
    });
    expect(JSON.parse(range.body).data).toEqual({
      name: '[binary] + on ()',
      children: [{ name: '[vectorSelector] m' }, { name: '[stepInvariant]', children: [{ name: '[aggregate] sum', children: [{ name: '[vectorSelector] m @ 30.000' }] }] }],
    });
    for (const [url, error] of [
      ['/api/v1/query_explain?query=sum(', 'invalid parameter "query": 1:5: parse error: unclosed left parenthesis'],
      ['/api/v1/query_range_explain?query=m&start=0&end=60', 'invalid parameter "step": cannot parse "" to a valid duration'],
      ['/api/v1/query_range_explain?query=m[5m]&start=0&end=60&step=15', 'invalid parameter "query": invalid expression type "range vector" for range query, must be Scalar or instant Vector'],
      ['/api/v1/query_explain?query=m&engine=mimir', "'mimir' bad engine"],
    ] as const) {
      const res = await app.inject(url);
      expect(res.statusCode, url).toBe(400);
      expect(JSON.parse(res.body), url).toEqual({ status: 'error', errorType: 'bad_data', error });
    }
    await app.close();
  });

  it('adds what each operator cost to an analyzed answer, after its stats, and nothing otherwise', async () => {
    const server = await twelveSeries();
    await withApiOver(server, async (api) => {
      const query = encodeURIComponent('sum by (job) (m) * 2');
      type Analysis = { name: string; executionTime?: string; peakSamples?: number; totalSamples?: number; children?: Analysis[] };
      const analyzed = async (params: string) => {
        const res = await api.inject(`/api/v1/query?query=${query}&time=30&${params}`);
        expect(res.statusCode).toBe(200);
        return { body: res.body, ...(JSON.parse(res.body) as { data: { result: unknown[]; analysis?: Analysis; stats?: unknown } }) };
      };
      const plain = await analyzed('');
      expect(plain.data.analysis).toBeUndefined();
      expect((await analyzed('analyze=false')).data.analysis).toBeUndefined();
      const goDuration = /^\d+(\.\d+)?(ns|µs|ms|s)$/;
      for (const param of ['analyze=true', 'analyze=1']) {
        const res = await analyzed(param);
        expect(res.data.result).toEqual(plain.data.result);
        const a = res.data.analysis as Analysis;
        // The sum's 2 samples were held with the 12 it summed.
        expect(a).toMatchObject({ name: '[binary] *', totalSamples: 12, peakSamples: 14 });
        expect(a.executionTime).toMatch(goDuration);
        const [sum, two] = a.children as [Analysis, Analysis];
        expect(sum).toMatchObject({ name: '[aggregate] sum by (job)', totalSamples: 12, peakSamples: 14 });
        expect(sum.children).toMatchObject([{ name: '[vectorSelector] m', totalSamples: 12, peakSamples: 12 }]);
        // A literal reads nothing: Go's omitempty leaves the zero out.
        expect(two).toMatchObject({ name: '[numberLiteral] 2', peakSamples: 1 });
        expect(two.totalSamples).toBeUndefined();
      }
      const withStats = await analyzed('analyze=true&stats=all');
      expect(withStats.body.indexOf('"stats":')).toBeGreaterThan(0);
      expect(withStats.body.indexOf('"analysis":')).toBeGreaterThan(withStats.body.indexOf('"stats":'));
      expect(withStats.data.stats).toMatchObject({ samples: { totalQueryableSamples: 12, peakSamples: 14 } });
      const range = await api.inject(`/api/v1/query_range?query=${query}&start=0&end=60&step=15&analyze=true`);
      expect(JSON.parse(range.body).data.analysis).toMatchObject({ name: '[binary] *', totalSamples: 12 * 5 });
    });
  });
});

describe('/api/v1/read', () => {
  it("answers Prometheus' remote read with its limits, and refuses what it cannot read as Prometheus does", async () => {
    const server = await twelveSeries(300, 100);
    await withApiOver(server, async (api) => {
      const read = (types: number[], endMs = 300 * 15_000) =>
        api.inject({
          method: 'POST',
          url: '/api/v1/read',
          headers: { 'content-type': 'application/x-protobuf' },
          payload: encodeReadRequest({ startMs: 0, endMs, matchers: [{ type: MatcherType.EQ, name: '__name__', value: 'm' }] }, types as ResponseType[]),
        });
      // The query's time range bounds the samples: 12 series of two samples are within the limit of 50.
      const samples = await read([ResponseType.SAMPLES], 20_000);
      expect(samples.statusCode, samples.body).toBe(200);
      expect(samples.headers['content-type']).toBe('application/x-protobuf');
      expect(samples.headers['content-encoding']).toBe('snappy');
      const series = decodeReadResponse(samples.rawPayload);
      expect(series.map((s) => s.labels.find((l) => l.name === 'i')?.value)).toEqual(['00', '01', '02', '03', '04', '05', '06', '07', '08', '09', '10', '11']);
      expect(series.map((s) => s.timestamps)).toEqual(Array.from({ length: 12 }, () => [0, 15_000]));
      // All their samples are not.
      const tooMany = await read([ResponseType.SAMPLES]);
      expect([tooMany.statusCode, tooMany.headers['content-type'], tooMany.body]).toEqual([400, 'text/plain; charset=utf-8', 'exceeded sample limit (50)\n']);
      // Streamed, the limit does not apply, and a series whose chunks outgrow a frame goes on in the next.
      const streamed = await read([7, ResponseType.STREAMED_XOR_CHUNKS, ResponseType.SAMPLES]);
      expect(streamed.headers['content-type']).toBe('application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse');
      // Three chunks of 100 samples, each past the frame's 40 bytes: three frames a series, the chunks as the store sent them.
      const frames = [...readFrameBodies(streamed.rawPayload)].map((f) => decodeChunkedReadResponse(f));
      expect(frames).toHaveLength(36);
      expect(frames.every((f) => f.length === 1 && f[0]?.chunks.length === 1)).toBe(true);
      const bounds = (fs: ReturnType<typeof decodeChunkedReadResponse>[]) => fs.map((f) => f[0]?.chunks[0]).map((c) => [c?.minTime, c?.maxTime, c?.data[1]]);
      expect(bounds(frames.slice(0, 3))).toEqual([[0, 99 * 15_000, 100], [100 * 15_000, 199 * 15_000, 100], [200 * 15_000, 299 * 15_000, 100]]);
      // A range that cuts a chunk: the chunk within it as it is, the part of the other within it encoded again.
      const cut = await read([ResponseType.STREAMED_XOR_CHUNKS], 150 * 15_000);
      expect(bounds([...readFrameBodies(cut.rawPayload)].map((f) => decodeChunkedReadResponse(f)).slice(0, 2))).toEqual([[0, 99 * 15_000, 100], [100 * 15_000, 150 * 15_000, 51]]);
      const unsupported = await read([5, 7]);
      expect([unsupported.statusCode, unsupported.body]).toEqual([400, 'server does not support any of the requested response types: [5 7]; supported: map[SAMPLES:{} STREAMED_XOR_CHUNKS:{}]\n']);
      const garbage = await api.inject({ method: 'POST', url: '/api/v1/read', payload: 'not snappy' });
      expect(garbage.statusCode).toBe(400);
      // Prometheus' gauge of remote reads running or waiting: none once they are answered.
      expect((await api.inject('/metrics')).body).toMatch(/^prometheus_api_remote_read_queries 0$/m);
    }, { sampleLimit: 50, concurrentLimit: 2, maxBytesInFrame: 40 });
  });
});

describe('/federate', () => {
  it('answers in the text format unless the scraper prefers protobuf, and refuses bad parameters with 400 as text', async () => {
    const app = await apiApp();
    const text = await app.inject('/federate?match[]=up');
    expect([text.statusCode, text.headers['content-type'], text.body]).toEqual([200, 'text/plain; version=0.0.4; charset=utf-8', '']);
    const accept = 'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3';
    expect((await app.inject({ url: '/federate?match[]=up', headers: { accept } })).headers['content-type']).toBe('application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited');
    const preferText = 'text/plain;version=0.0.4,application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5';
    expect((await app.inject({ url: '/federate?match[]=up', headers: { accept: preferText } })).headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    for (const url of ['/federate?match[]=up{', '/federate?match[]=up&lookback_delta=x']) {
      const bad = await app.inject(url);
      expect([bad.statusCode, bad.headers['content-type']], url).toEqual([400, 'text/plain; charset=utf-8']);
    }
    await app.close();
  });
});

describe('/api/v1/read of a store that fails', () => {
  it('answers 500 with the failure without partial response, streamed or not, and what the others hold with it', async () => {
    const server = await serveStore(
      {
        info: async () => ({ labelSets: [], componentType: 'store', store: { minTime: 0, maxTime: 60_000, supportsSharding: false, supportsWithoutReplicaLabels: true, tsdbInfos: [], supportsProjections: false } }),
        async *series() {
          throw new StoreError(GrpcStatus.INTERNAL, 'disk on fire');
        },
        labelNames: async () => ({ names: [], warnings: [] }),
        labelValues: async () => ({ values: [], warnings: [] }),
      },
      { address: '127.0.0.1:0' },
    );
    await withApiOver(server, async (api) => {
      for (const type of [ResponseType.SAMPLES, ResponseType.STREAMED_XOR_CHUNKS]) {
        const read = (query: string) =>
          api.inject({ method: 'POST', url: `/api/v1/read${query}`, payload: encodeReadRequest({ startMs: 0, endMs: 60_000, matchers: [{ type: MatcherType.EQ, name: '__name__', value: 'm' }] }, [type]) });
        const strict = await read('?partial_response=false');
        expect([strict.statusCode, strict.headers['content-type']], String(type)).toEqual([500, 'text/plain; charset=utf-8']);
        expect(strict.body).toContain('disk on fire');
        expect((await read('')).statusCode, String(type)).toBe(200);
      }
    });
  });
});

/** The payloads of a streamed remote-read body: uvarint length, CRC-32C, payload, in turn. */
function* readFrameBodies(body: Buffer): Generator<Buffer> {
  let at = 0;
  while (at < body.length) {
    let len = 0;
    let shift = 0;
    for (let b = 0x80; b & 0x80; shift += 7) {
      b = body[at++] as number;
      len |= (b & 0x7f) << shift;
    }
    yield body.subarray(at + 4, at + 4 + len);
    at += 4 + len;
  }
}

describe('/api/v1/status/tsdb', () => {
  /** A store of one replica's series (labels only), dropping the replica label when asked as Strata's stores do; `asked` gets each request's range and matchers. */
  function replicaServer(replica: string, series: Record<string, string>[], asked: string[]): StoreServer {
    return {
      info: async () => ({ labelSets: [[{ name: 'replica', value: replica }]], componentType: 'sidecar', store: { minTime: 0, maxTime: Number.MAX_SAFE_INTEGER, supportsSharding: false, supportsWithoutReplicaLabels: true, tsdbInfos: [], supportsProjections: false } }),
      async *series(req) {
        asked.push(`${req.maxTime - req.minTime} ${req.matchers.map((m) => `${m.name}${['=', '!=', '=~', '!~'][m.type]}${m.value}`).join(',')}`);
        const all = series.map((s) => Labels.from({ ...s, replica }).without(req.withoutReplicaLabels));
        for (const l of all.filter((l) => req.matchers.every((m) => m.type !== MatcherType.EQ || l.get(m.name) === m.value)).sort(Labels.compare)) yield { series: { labels: [...l.toArray()], chunks: [] } };
      },
      labelNames: async () => ({ names: [], warnings: [] }),
      labelValues: async () => ({ values: [], warnings: [] }),
    };
  }

  it("answers Prometheus' cardinality statistics over every replica's series, deduplicated, with Prometheus 3's limit", async () => {
    const asked: string[] = [];
    const shared: Record<string, string>[] = [{ __name__: 'up', job: 'a' }, { __name__: 'up', job: 'b' }, { __name__: 'http_requests_total', job: 'a', code: '200' }];
    const servers = await Promise.all([serveStore(replicaServer('r0', shared, asked), { address: '127.0.0.1:0' }), serveStore(replicaServer('r1', [...shared, { __name__: 'late', job: 'b' }], asked), { address: '127.0.0.1:0' })]);
    const endpoints = new EndpointSet({ endpoints: servers.map((s) => s.address), logger: createLogger({ write: () => {} }) });
    try {
      await endpoints.refresh();
      const app = await apiApp({ replicaLabels: ['replica'] }, null, endpoints);
      const get = async (query: string) => {
        const res = await app.inject(`/api/v1/status/tsdb${query}`);
        return { code: res.statusCode, ...(JSON.parse(res.body) as { data: Record<string, { name: string; value: number }[]> & { headStats: Record<string, number> }; error?: string; errorType?: string }) };
      };
      const all = await get('');
      expect(all.code).toBe(200);
      // Its fields in Prometheus' order; each series once, the replica label gone.
      expect(Object.keys(all.data)).toEqual(['headStats', 'seriesCountByMetricName', 'labelValueCountByLabelName', 'memoryInBytesByLabelName', 'seriesCountByLabelValuePair']);
      expect(all.data.headStats).toMatchObject({ numSeries: 4, numLabelPairs: 6, chunkCount: 0 });
      expect(all.data.headStats.maxTime! - all.data.headStats.minTime!).toBe(2 * 3600_000);
      expect(all.data.seriesCountByMetricName).toEqual([{ name: 'up', value: 2 }, { name: 'http_requests_total', value: 1 }, { name: 'late', value: 1 }]);
      expect(all.data.labelValueCountByLabelName).toEqual([{ name: '__name__', value: 3 }, { name: 'job', value: 2 }, { name: 'code', value: 1 }]);
      expect(all.data.memoryInBytesByLabelName).toEqual([{ name: '__name__', value: 25 }, { name: 'code', value: 3 }, { name: 'job', value: 2 }]);
      expect(all.data.seriesCountByLabelValuePair.slice(0, 3)).toEqual([{ name: '__name__=up', value: 2 }, { name: 'job=a', value: 2 }, { name: 'job=b', value: 2 }]);
      // All series of the last two hours by default.
      expect(asked).toEqual([`${2 * 3600_000} __name__=~.+`, `${2 * 3600_000} __name__=~.+`]);
      // Without deduplication each replica's series count, with their replica label.
      const both = await get('?dedup=false&limit=2');
      expect(both.data.headStats).toMatchObject({ numSeries: 7, numLabelPairs: 8 });
      expect(both.data.labelValueCountByLabelName).toEqual([{ name: '__name__', value: 3 }, { name: 'job', value: 2 }]);
      // Ties by name: replica=r1 holds 4 series too.
      expect(both.data.seriesCountByLabelValuePair).toEqual([{ name: '__name__=up', value: 4 }, { name: 'job=a', value: 4 }]);
      expect((await get('?dedup=false&limit=4')).data.seriesCountByLabelValuePair.map((s) => s.name)).toEqual(['__name__=up', 'job=a', 'replica=r1', 'job=b']);
      // match[] narrows the series, start and end set the range.
      asked.length = 0;
      const narrowed = await get('?match[]=up&start=100&end=200');
      expect(narrowed.data.headStats).toEqual({ numSeries: 2, numLabelPairs: 3, chunkCount: 0, minTime: 100_000, maxTime: 200_000 });
      expect(asked).toEqual(['100000 __name__=up', '100000 __name__=up']);
      for (const bad of ['0', '-1', 'x', '1.5']) expect(await get(`?limit=${bad}`)).toMatchObject({ code: 400, errorType: 'bad_data', error: 'limit must be a positive number' });
      expect(await get('?match[]={x=""}')).toMatchObject({ code: 400, errorType: 'bad_data' });
      await app.close();
    } finally {
      endpoints.stop();
      await Promise.all(servers.map((s) => s.stop()));
    }
  });
});
