// Thanos' limits configuration as the receiver reads it, and the limiter's answers: request limits per
// tenant, the concurrency gate, and head series from a meta-monitoring endpoint (a stand-in HTTP server
// answering as Prometheus' query API does).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '@strata/runtime';
import { sleep } from '@strata/testing/process';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { parseLimitsConfig, WriteLimiter } from './limits.js';

const logger = createLogger({ write: () => undefined });

// Thanos' own example (docs/components/receive.md, pkg/receive/testdata/limits_config/good_limits.yaml).
const THANOS_EXAMPLE = `
write:
  global:
    max_concurrency: 30
    meta_monitoring_url: "http://localhost:9090"
    meta_monitoring_limit_query: "sum(prometheus_tsdb_head_series) by (tenant)"
  default:
    request:
      size_bytes_limit: 1024
      series_limit: 1000
      samples_limit: 10
    head_series_limit: 1000
  tenants:
    acme:
      request:
        size_bytes_limit: 0
        series_limit: 0
        samples_limit: 0
      head_series_limit: 2000
    ajax:
      request:
        series_limit: 50000
        samples_limit: 500
`;

describe('parseLimitsConfig', () => {
  it("reads Thanos' example: a tenant's limits left out are the default's, 0 is none", () => {
    const cfg = parseLimitsConfig(THANOS_EXAMPLE);
    expect(cfg.maxConcurrency).toBe(30);
    expect(cfg.metaMonitoring).toEqual({ url: 'http://localhost:9090', query: 'sum(prometheus_tsdb_head_series) by (tenant)' });
    expect(cfg.default).toEqual({ request: { sizeBytes: 1024, series: 1000, samples: 10 }, headSeries: 1000 });
    expect(cfg.tenants.get('acme')).toEqual({ request: { sizeBytes: 0, series: 0, samples: 0 }, headSeries: 2000 });
    expect(cfg.tenants.get('ajax')).toEqual({ request: { sizeBytes: 1024, series: 50000, samples: 500 }, headSeries: 1000 });
  });

  it('takes sizes with units, and an empty file as no limits', () => {
    expect(parseLimitsConfig('write: {default: {request: {size_bytes_limit: 1MB}}}').default.request.sizeBytes).toBe(1024 ** 2);
    expect(parseLimitsConfig('')).toEqual({ maxConcurrency: 0, default: { request: { sizeBytes: 0, series: 0, samples: 0 }, headSeries: 0 }, tenants: new Map() });
  });

  it('refuses unknown fields, bad numbers, and head series limits with nothing to count them', () => {
    expect(() => parseLimitsConfig('write: {default: {request: {series: 10}}}')).toThrow('--receive.limits-config: write.default.request: unknown or unsupported field "series"');
    expect(() => parseLimitsConfig('write: {global: {max_concurrency: -1}}')).toThrow('write.global.max_concurrency must be a whole number ≥ 0, not -1');
    expect(() => parseLimitsConfig('write: {default: {head_series_limit: 10}}')).toThrow('head_series_limit needs write.global.meta_monitoring_url');
  });
});

describe('WriteLimiter', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve()))));

  it('refuses requests over their tenant’s limits with 413 and counts by how much', async () => {
    const registry = new Registry();
    const limiter = new WriteLimiter(parseLimitsConfig(THANOS_EXAMPLE), registry, logger);
    expect(limiter.requestRefusal('ajax', 'series_limit', 50_000)).toBeUndefined();
    expect(limiter.requestRefusal('ajax', 'series_limit', 50_001)).toEqual({ status: 413, message: 'too many timeseries' });
    expect(limiter.requestRefusal('other', 'samples_limit', 11)).toEqual({ status: 413, message: 'too many samples' });
    expect(limiter.requestRefusal('other', 'size_bytes_limit', 2000)).toEqual({ status: 413, message: 'write request too large' });
    expect(limiter.requestRefusal('acme', 'size_bytes_limit', 1e9)).toBeUndefined();
    const text = await registry.metrics();
    expect(text).toContain('thanos_receive_write_limits{tenant="ajax",limit="series_limit"} 50000');
    expect(text).toContain('thanos_receive_write_limits_hit_sum{tenant="other",limit="size_bytes_limit"} 976');
  });

  it('lets max_concurrency writes in at once, the next when one leaves', async () => {
    const limiter = new WriteLimiter(parseLimitsConfig('write: {global: {max_concurrency: 2}}'), new Registry(), logger);
    const a = await limiter.enter();
    const b = await limiter.enter();
    let entered = false;
    const c = limiter.enter().then((leave) => {
      entered = true;
      return leave;
    });
    await sleep(20);
    expect(entered).toBe(false);
    a();
    (await c)();
    expect(entered).toBe(true);
    b();
  });

  it('refuses a tenant at its head series limit as meta-monitoring counts them (429), and nothing while it cannot', async () => {
    let answer: unknown = { status: 'success', data: { resultType: 'vector', result: [{ metric: { tenant: 'acme' }, value: [0, '2500'] }, { metric: { tenant: 'ajax' }, value: [0, '10'] }] } };
    let query = '';
    server = createServer((req, res) => {
      query = new URL(req.url ?? '', 'http://x').searchParams.get('query') ?? '';
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(answer));
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const registry = new Registry();
    const limiter = new WriteLimiter(parseLimitsConfig(THANOS_EXAMPLE.replace('http://localhost:9090', url)), registry, logger);
    limiter.startMetaMonitoring(50);
    try {
      for (let i = 0; i < 50 && limiter.headSeriesRefusal('acme') === undefined; i++) await sleep(20);
      expect(query).toBe('sum(prometheus_tsdb_head_series) by (tenant)');
      expect(limiter.headSeriesRefusal('acme')).toEqual({ status: 429, message: 'tenant is above active series limit' });
      expect(limiter.headSeriesRefusal('ajax')).toBeUndefined();
      // A tenant meta-monitoring does not know is not limited.
      expect(limiter.headSeriesRefusal('new')).toBeUndefined();
      expect(await registry.metrics()).toMatch(/thanos_receive_head_series_limited_requests_total\{tenant="acme"\} [1-9]/);
      answer = { status: 'error', error: 'down' };
      for (let i = 0; i < 50 && !(await registry.metrics()).includes('thanos_receive_metamonitoring_failed_queries_total 1'); i++) await sleep(20);
      expect(await registry.metrics()).toMatch(/thanos_receive_metamonitoring_failed_queries_total [1-9]/);
    } finally {
      limiter.stop();
    }
  });
});
