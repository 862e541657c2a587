import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { startHttpServer } from './http.js';
import { createLogger, type LogLevel } from './logger.js';
import { freePort } from './net.js';
import { Prober } from './prober.js';
import { grpcRequestLogger, parseRequestLoggingConfig } from './requestlog.js';

/** A debug-level logger whose lines (as JSON objects) land in `lines`. */
function capture(level: LogLevel = 'debug') {
  const lines: Record<string, unknown>[] = [];
  return { lines, logger: createLogger({ level, format: 'json', write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) }) };
}

describe('--request.logging-config', () => {
  it('reads Thanos\' YAML: the protocol\'s options over the global ones, nothing logged without log_end', () => {
    expect(parseRequestLoggingConfig('')).toEqual({});
    expect(parseRequestLoggingConfig('options: {level: ERROR, decision: {log_start: false, log_end: true}}')).toEqual({
      http: { level: 'error', logStart: false },
      grpc: { level: 'error', logStart: false },
    });
    expect(
      parseRequestLoggingConfig(`
options: {level: ERROR, decision: {log_end: true}}
http:
  options: {level: DEBUG, decision: {log_start: true, log_end: true}}
  config: [{path: /api/v1/query, port: 10904}, {path: /api/v1/query_range, port: 10904}]
grpc:
  options: {level: WARNING, decision: {log_end: true}}
  config: [{service: thanos.Store, method: Series}]
`),
    ).toEqual({
      http: { level: 'debug', logStart: true, only: new Set(['/api/v1/query:10904', '/api/v1/query_range:10904']) },
      grpc: { level: 'warn', logStart: false, only: new Set(['/thanos.Store/Series']) },
    });
    // A protocol without options of its own takes the global ones; one whose decision logs nothing is off.
    expect(parseRequestLoggingConfig('options: {level: INFO, decision: {log_end: true}}\ngrpc: {options: {level: INFO, decision: {log_end: false}}}')).toEqual({ http: { level: 'info', logStart: false } });
    // The list alone, as Thanos' documentation shows it, logs nothing: the default decision logs no call.
    expect(parseRequestLoggingConfig('grpc: {config: [{service: thanos.Store, method: Info}]}')).toEqual({});
  });

  it('refuses what Thanos refuses, saying where', () => {
    expect(() => parseRequestLoggingConfig('options: {decision: {log_end: true}}')).toThrow('options.level: required when a decision is given');
    expect(() => parseRequestLoggingConfig('http: {options: {level: TRACE, decision: {log_end: true}}}')).toThrow('http.options.level: "TRACE" is not DEBUG, INFO, WARNING or ERROR');
    expect(() => parseRequestLoggingConfig('options: {level: INFO, decision: {log_start: true}}')).toThrow('log_start needs log_end');
    expect(() => parseRequestLoggingConfig('options: {level: INFO, decision: {log_end: yes please}}')).toThrow('options.decision.log_end: expected true or false');
    expect(() => parseRequestLoggingConfig('http: {opts: {}}')).toThrow('unknown or unsupported field "opts"');
    expect(() => parseRequestLoggingConfig('grpc: {config: [{service: thanos.Store}]}', '--request.logging-config')).toThrow('--request.logging-config: grpc.config[0]: give both service and method');
    expect(() => parseRequestLoggingConfig('http: {config: {path: /metrics}}')).toThrow('http.config: expected a list');
  });
});

describe('HTTP request logging', () => {
  async function serve(config: string, level: LogLevel = 'debug', port = 0) {
    const { lines, logger } = capture(level);
    const registry = new Registry();
    const prober = new Prober('test', registry);
    prober.healthy();
    const policy = parseRequestLoggingConfig(config).http;
    const server = await startHttpServer({
      address: `127.0.0.1:${port}`,
      registry,
      prober,
      logger,
      ...(policy !== undefined ? { requestLog: policy } : {}),
      gracePeriodMs: 100,
      plugins: [
        async (app) => {
          app.get('/fails', async (_req, reply) => reply.code(503).send('down'));
        },
      ],
    });
    const requests = () => lines.filter((l) => l.protocol === 'http');
    return { server, requests, url: (path: string) => `http://${server.address}${path}` };
  }

  it('logs the start and end of each request with Thanos\' fields, the end at debug below 500 and error from it', async () => {
    const s = await serve('http: {options: {level: DEBUG, decision: {log_start: true, log_end: true}}}');
    try {
      expect((await fetch(s.url('/-/healthy?x=1'), { headers: { 'X-Request-ID': 'r-1' } })).status).toBe(200);
      expect((await fetch(s.url('/fails'))).status).toBe(503);
      expect((await fetch(s.url('/nowhere'))).status).toBe(404);
      const [start, ready, ...rest] = s.requests();
      expect(start).toMatchObject({ level: 'debug', msg: 'started call', 'http.component': 'server', 'http.method': 'GET /-/healthy?x=1', 'http.request_id': 'r-1' });
      expect(ready).toMatchObject({ level: 'debug', msg: 'finished call', 'http.method': 'GET /-/healthy?x=1', 'http.request_id': 'r-1', 'http.status_code': 200, 'http.handler': '/-/healthy' });
      expect(ready?.['http.time_ms']).toEqual(expect.any(Number));
      expect(ready?.['http.remote_addr']).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(rest.filter((l) => l.msg === 'finished call').map((l) => [l.level, l['http.status_code'], l['http.handler']])).toEqual([
        ['error', 503, '/fails'],
        ['debug', 404, 'unmatched'],
      ]);
    } finally {
      await s.server.close();
    }
  });

  it('at level ERROR logs only the requests answered with 5xx, and only the listed path and port', async () => {
    const all = await serve('http: {options: {level: ERROR, decision: {log_end: true}}}');
    try {
      await fetch(all.url('/-/healthy'));
      await fetch(all.url('/fails'));
      expect(all.requests().map((l) => [l.msg, l['http.status_code']])).toEqual([['finished call', 503]]);
    } finally {
      await all.server.close();
    }
    // A path on another port than the server's is not this server's.
    const port = await freePort();
    const listed = await serve(`http: {options: {level: DEBUG, decision: {log_end: true}}, config: [{path: /-/healthy, port: ${port}}, {path: /-/ready, port: ${port + 1}}]}`, 'debug', port);
    try {
      await fetch(listed.url('/-/healthy?probe=1'));
      await fetch(listed.url('/-/ready'));
      await fetch(listed.url('/metrics'));
      expect(listed.requests().map((l) => l['http.method'])).toEqual(['GET /-/healthy?probe=1']);
    } finally {
      await listed.server.close();
    }
  });

  it('is filtered by the component\'s --log.level as any other line', async () => {
    const s = await serve('http: {options: {level: DEBUG, decision: {log_end: true}}}', 'info');
    try {
      await fetch(s.url('/-/healthy'));
      await fetch(s.url('/fails'));
      expect(s.requests().map((l) => l['http.status_code'])).toEqual([503]);
    } finally {
      await s.server.close();
    }
  });
});

describe('gRPC call logging', () => {
  const call = { peer: '127.0.0.1:40000' };

  it('logs the calls whose outcome is as serious as the level, failures of the server at error', () => {
    const { lines, logger } = capture();
    const log = grpcRequestLogger(logger, { level: 'warn', logStart: true });
    for (const [code, details] of [
      ['OK', ''],
      ['Canceled', 'call cancelled by the client'],
      ['ResourceExhausted', 'over --store.limits.request-samples'],
      ['Unknown', 'chunk CRC mismatch'],
    ] as const) {
      log.started('thanos.Store', 'Series', call);
      log.handled('thanos.Store', 'Series', code, 0.0123456, call, details);
    }
    // At WARNING a call that will end OK is not worth a start line; info outcomes are left out.
    expect(lines.map((l) => [l.level, l.msg, l['grpc.code'], l['grpc.error']])).toEqual([
      ['debug', 'finished call', 'ResourceExhausted', 'over --store.limits.request-samples'],
      ['error', 'finished call', 'Unknown', 'chunk CRC mismatch'],
    ]);
    expect(lines[0]).toMatchObject({ protocol: 'grpc', 'grpc.component': 'server', 'grpc.service': 'thanos.Store', 'grpc.method': 'Series', 'grpc.method_type': 'server_stream', 'peer.address': '127.0.0.1:40000', 'grpc.time_ms': 12.346 });
  });

  it('logs starts at debug and only the listed methods', () => {
    const { lines, logger } = capture();
    const log = grpcRequestLogger(logger, parseRequestLoggingConfig('grpc: {options: {level: DEBUG, decision: {log_start: true, log_end: true}}, config: [{service: thanos.info.Info, method: Info}]}').grpc ?? { level: 'error', logStart: false });
    log.started('thanos.Store', 'Series', call);
    log.handled('thanos.Store', 'Series', 'OK', 0.01, call, '');
    log.started('thanos.info.Info', 'Info', call);
    log.handled('thanos.info.Info', 'Info', 'OK', 0.001, call, '');
    expect(lines.map((l) => [l.level, l.msg, l['grpc.method'], l['grpc.method_type'], l['grpc.code']])).toEqual([
      ['debug', 'started call', 'Info', 'unary', undefined],
      ['debug', 'finished call', 'Info', 'unary', 'OK'],
    ]);
  });
});
