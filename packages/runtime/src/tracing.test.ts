import { ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { gate } from './gate.js';
import { buildHttpApp } from './http.js';
import { createLogger, nopLogger } from './logger.js';
import { Prober } from './prober.js';
import { inSpan, startTracing, strataTracer, type Tracing } from './tracing.js';
import { parseTracingConfig, type TracingConfig } from './tracingconfig.js';

describe('--tracing.config', () => {
  it("reads Thanos' OTLP config with Go's exporter defaults", () => {
    expect(parseTracingConfig('')).toBeUndefined();
    expect(parseTracingConfig('type: OTLP')).toEqual({ clientType: 'grpc', endpoint: 'localhost:4317', urlPath: '/v1/traces', insecure: false, headers: {}, compression: 'none', timeoutMs: 10_000, sampler: { type: 'always' } });
    expect(
      parseTracingConfig(`type: otlp
config:
  client_type: http
  service_name: querier-eu
  endpoint: tempo:4318
  url_path: /otlp/v1/traces
  insecure: true
  compression: gzip
  timeout: 3s
  headers: {X-Scope-OrgID: team-a}
  retry_config: {retry_enabled: true, retry_max_interval: 5s}
  reconnection_period: 1m
  sampler_type: traceidratiobased
  sampler_param: "0.25"`),
    ).toEqual({ clientType: 'http', endpoint: 'tempo:4318', urlPath: '/otlp/v1/traces', insecure: true, headers: { 'X-Scope-OrgID': 'team-a' }, compression: 'gzip', timeoutMs: 3_000, serviceName: 'querier-eu', sampler: { type: 'ratio', ratio: 0.25 } });
    expect(parseTracingConfig('type: OTLP\nconfig: {client_type: http, sampler_type: neversample}')?.sampler).toEqual({ type: 'never' });
  });

  it('refuses what it cannot do, saying which key', () => {
    expect(() => parseTracingConfig('type: JAEGER\nconfig: {agent_host: jaeger}')).toThrow('type "JAEGER" is not supported; use type: OTLP');
    expect(() => parseTracingConfig('type: OTLP\nconfig: {client_type: thrift}')).toThrow('config.client_type: "thrift" is not grpc or http');
    expect(() => parseTracingConfig('type: OTLP\nconfig: {compression: zstd}')).toThrow('config.compression: "zstd" is not gzip');
    expect(() => parseTracingConfig('type: OTLP\nconfig: {sampler_type: traceidratiobased}')).toThrow('traceidratiobased needs a ratio from 0 to 1, not ""');
    expect(() => parseTracingConfig('type: OTLP\nconfig: {sampler_type: remote}')).toThrow('config.sampler_type: "remote" is not alwayssample, neversample or traceidratiobased');
    expect(() => parseTracingConfig('type: OTLP\nconfig: {timeout: soon}')).toThrow('config.timeout: invalid duration "soon"');
    expect(() => parseTracingConfig('type: OTLP\nconfig: {retry_config: {retries: 3}}')).toThrow('config.retry_config: unknown or unsupported field "retries"');
    expect(() => parseTracingConfig('type: OTLP\nconfig: {tls_config: {cert_file: c.pem}}')).toThrow('cert_file and key_file go together');
  });
});

/** Keeps what it is given (the SDK's in-memory exporter forgets its spans when shut down). */
class KeepingExporter implements SpanExporter {
  readonly spans: ReadableSpan[] = [];
  export(spans: ReadableSpan[], done: (r: { code: ExportResultCode }) => void): void {
    this.spans.push(...spans);
    done({ code: ExportResultCode.SUCCESS });
  }
  async shutdown(): Promise<void> {}
}

const CONFIG: TracingConfig = { clientType: 'grpc', endpoint: 'unused:4317', urlPath: '/v1/traces', insecure: true, headers: {}, compression: 'none', timeoutMs: 1000, sampler: { type: 'always' } };

describe('tracing', () => {
  let tracing: Tracing | undefined;
  afterEach(async () => {
    await tracing?.stop();
    tracing = undefined;
  });

  async function traced(sampler: TracingConfig['sampler']) {
    const exporter = new KeepingExporter();
    tracing = startTracing({ ...CONFIG, sampler }, 'test', nopLogger, exporter);
    const registry = new Registry();
    const one = gate(1);
    const app = await buildHttpApp({
      registry,
      prober: new Prober('test', registry),
      logger: nopLogger,
      plugins: [
        async (scope) => {
          // Work in a child span: in the request's trace only if the handler runs in its span's context.
          scope.post('/work', async (req) => inSpan('work', { body: String(req.body) }, async () => 'done'));
          // Two requests through a gate of one: the second starts when the first ends, still in its own trace.
          scope.get('/gated', async () => one(() => inSpan('gated', {}, () => new Promise((r) => setTimeout(() => r('ok'), 20)))));
        },
      ],
    });
    return { exporter, app };
  }

  it('continues the caller\'s trace in a server span per request, names it in X-Thanos-Trace-Id, and runs the handler in it', async () => {
    const { exporter, app } = await traced({ type: 'always' });
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    // Metrics scrapes and probes start no traces.
    for (const url of ['/metrics', '/-/healthy', '/-/ready']) expect((await app.inject({ url })).headers['x-thanos-trace-id']).toBeUndefined();
    const res = await app.inject({ method: 'POST', url: '/work', headers: { traceparent, 'content-type': 'text/plain' }, payload: 'body' });
    expect(res.body).toBe('done');
    expect(res.headers['x-thanos-trace-id']).toBe('0af7651916cd43dd8448eb211c80319c');
    await tracing?.stop();
    tracing = undefined;
    expect(exporter.spans.map((s) => s.name)).toEqual(['work', 'POST /work']);
    const [work, server] = exporter.spans;
    expect(server?.name).toBe('POST /work');
    expect(server?.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(server?.attributes['http.response.status_code']).toBe(200);
    expect(work?.name).toBe('work');
    expect(work?.parentSpanContext?.spanId).toBe(server?.spanContext().spanId);
    expect(work?.attributes.body).toBe('body');
  });

  it('keeps each waiting task of a gate in its own trace', async () => {
    const { exporter, app } = await traced({ type: 'always' });
    const [a, b] = await Promise.all([app.inject({ url: '/gated' }), app.inject({ url: '/gated' })]);
    await tracing?.stop();
    tracing = undefined;
    const gated = exporter.spans.filter((s) => s.name === 'gated');
    expect(gated.map((s) => s.spanContext().traceId).sort()).toEqual([a?.headers['x-thanos-trace-id'], b?.headers['x-thanos-trace-id']].sort());
    for (const g of gated) {
      const parent = exporter.spans.find((s) => s.spanContext().spanId === g.parentSpanContext?.spanId);
      expect(parent?.spanContext().traceId).toBe(g.spanContext().traceId);
    }
  });

  it('samples as configured, and always a request with X-Thanos-Force-Tracing', async () => {
    const { exporter, app } = await traced({ type: 'never' });
    const plain = await app.inject({ method: 'POST', url: '/work', payload: 'x', headers: { 'content-type': 'text/plain' } });
    expect(plain.body).toBe('done');
    expect(plain.headers['x-thanos-trace-id']).toBeUndefined();
    const forced = await app.inject({ method: 'POST', url: '/work', payload: 'x', headers: { 'content-type': 'text/plain', 'x-thanos-force-tracing': 'true' } });
    expect(forced.body).toBe('done');
    await tracing?.stop();
    tracing = undefined;
    expect(exporter.spans.map((s) => [s.name, s.spanContext().traceId])).toEqual([
      ['work', forced.headers['x-thanos-trace-id']],
      ['POST /work', forced.headers['x-thanos-trace-id']],
    ]);
  });

  it('logs the batches the collector refuses, once a minute at most', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const lines: string[] = [];
      const failing: SpanExporter = {
        export: (_spans, done) => done({ code: ExportResultCode.FAILED, error: new Error('collector said 503') }),
        shutdown: async () => {},
      };
      tracing = startTracing(CONFIG, 'test', createLogger({ write: (l) => lines.push(l) }), failing);
      const spanEvery = async () => {
        strataTracer().startSpan('work').end();
        await vi.advanceTimersByTimeAsync(6_000);
      };
      await spanEvery();
      await spanEvery();
      expect(lines.filter((l) => l.includes('could not export traces'))).toEqual([expect.stringContaining('err="collector said 503" failures_not_logged=0')]);
      await vi.advanceTimersByTimeAsync(60_000);
      await spanEvery();
      expect(lines.filter((l) => l.includes('could not export traces'))[1]).toContain('failures_not_logged=1');
    } finally {
      vi.useRealTimers();
    }
  });
});
