import type { FastifyInstance } from 'fastify';
import { configMapping, parseYamlConfig } from '@strata/objstore';
import { grpcMethodType, type GrpcCallInfo, type GrpcServerObserver } from './grpcobserver.js';
import type { Logger, LogLevel } from './logger.js';

/**
 * Request logging as Thanos' `--request.logging-config` (pkg/logging): which HTTP requests and gRPC
 * calls a component logs, and at which level.
 *
 * ```yaml
 * options: {level: ERROR, decision: {log_start: false, log_end: true}}   # both protocols
 * http:                                                                  # overrides options for HTTP
 *   options: {level: DEBUG, decision: {log_start: true, log_end: true}}
 *   config: [{path: /api/v1/query, port: 10904}]                         # only these (exact match)
 * grpc:
 *   config: [{service: thanos.Store, method: Series}]
 * ```
 *
 * As in Thanos, a finished HTTP request is logged at debug below status 500 and at error from it, a
 * finished gRPC call at error for Unknown, Unimplemented, Internal and DataLoss and at debug otherwise,
 * a started one at debug; the component's `--log.level` filters these lines as any other. `level`
 * chooses what is logged: for HTTP the lines at that level or above; for gRPC the calls whose outcome
 * is that serious (OK, Canceled, InvalidArgument, NotFound, AlreadyExists and Unauthenticated are info;
 * DeadlineExceeded, PermissionDenied, ResourceExhausted, FailedPrecondition, Aborted, OutOfRange and
 * Unavailable warn; the rest error).
 */
export interface RequestLogging {
  http?: RequestLogPolicy;
  grpc?: RequestLogPolicy;
}

export interface RequestLogPolicy {
  level: LogLevel;
  /** Also log a line when a request starts (Thanos accepts log_start only together with log_end). */
  logStart: boolean;
  /** Only these requests: HTTP `path:port`, gRPC `/service/method`; every one when absent. */
  only?: ReadonlySet<string>;
}

const LEVEL_NAMES: Record<string, LogLevel> = { DEBUG: 'debug', INFO: 'info', WARN: 'warn', WARNING: 'warn', ERROR: 'error' };
const LEVEL_ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Parses the YAML strictly (unknown keys refused, as Thanos' UnmarshalStrict). */
export function parseRequestLoggingConfig(text: string, what = 'request logging config'): RequestLogging {
  const cfg = configMapping(parseYamlConfig(text, what) ?? {}, what, new Set(['http', 'grpc', 'options']));
  const global = options(cfg.options, `${what}: options`);
  const protocol = (key: 'http' | 'grpc', itemKeys: readonly [string, string]): RequestLogPolicy | undefined => {
    const p = configMapping(cfg[key] ?? {}, `${what}: ${key}`, new Set(['options', 'config']));
    const own = options(p.options, `${what}: ${key}.options`);
    // As Thanos: the protocol's options where it has any, else the global ones, else ERROR and no logging.
    const o = own ?? global ?? { level: 'error', logStart: false, logEnd: false };
    const items = p.config ?? [];
    if (!Array.isArray(items)) throw new Error(`${what}: ${key}.config: expected a list`);
    const only = items.map((item, i) => {
      const entry = configMapping(item, `${what}: ${key}.config[${i}]`, new Set(itemKeys));
      const [a, b] = itemKeys.map((k) => entry[k]);
      if (a === undefined || a === null || b === undefined || b === null) throw new Error(`${what}: ${key}.config[${i}]: give both ${itemKeys.join(' and ')}`);
      return key === 'http' ? `${String(a)}:${String(b)}` : `/${String(a)}/${String(b)}`;
    });
    if (!o.logEnd) return undefined;
    return { level: o.level, logStart: o.logStart, ...(only.length > 0 ? { only: new Set(only) } : {}) };
  };
  const http = protocol('http', ['path', 'port']);
  const grpc = protocol('grpc', ['service', 'method']);
  return { ...(http !== undefined ? { http } : {}), ...(grpc !== undefined ? { grpc } : {}) };
}

/** An `options` mapping; undefined when it says nothing (no level, no decision), as Thanos reads an empty one. */
function options(v: unknown, what: string): { level: LogLevel; logStart: boolean; logEnd: boolean } | undefined {
  if (v === undefined || v === null) return undefined;
  const o = configMapping(v, what, new Set(['level', 'decision']));
  const d = configMapping(o.decision ?? {}, `${what}.decision`, new Set(['log_start', 'log_end']));
  const flag = (k: string): boolean => {
    if (d[k] === undefined || d[k] === null) return false;
    if (typeof d[k] !== 'boolean') throw new Error(`${what}.decision.${k}: expected true or false`);
    return d[k];
  };
  const logStart = flag('log_start');
  const logEnd = flag('log_end');
  const levelName = o.level === undefined || o.level === null ? '' : String(o.level);
  if (levelName === '' && !logStart && !logEnd) return undefined;
  if (levelName === '') throw new Error(`${what}.level: required when a decision is given (DEBUG, INFO, WARNING or ERROR)`);
  const level = LEVEL_NAMES[levelName];
  if (level === undefined) throw new Error(`${what}.level: ${JSON.stringify(levelName)} is not DEBUG, INFO, WARNING or ERROR`);
  if (logStart && !logEnd) throw new Error(`${what}.decision: log_start needs log_end (a request is logged when it finishes, and optionally when it starts)`);
  return { level, logStart, logEnd };
}

function enabled(policy: RequestLogPolicy, level: LogLevel): boolean {
  return LEVEL_ORDER[level] >= LEVEL_ORDER[policy.level];
}

/** Logs the app's requests as `policy` says, with Thanos' field names. */
export function addHttpRequestLogging(app: FastifyInstance, logger: Logger, policy: RequestLogPolicy): void {
  const log = logger.with({ protocol: 'http', 'http.component': 'server' });
  const logged = new WeakSet<object>();
  app.addHook('onRequest', async (req) => {
    if (policy.only !== undefined) {
      const path = req.url.split('?', 1)[0] ?? '';
      if (!policy.only.has(`${path}:${req.socket.localPort ?? ''}`)) return;
    }
    logged.add(req);
    if (policy.logStart && enabled(policy, 'debug')) {
      log.debug('started call', { 'http.start_time': new Date().toISOString(), 'http.method': `${req.method} ${req.url}`, 'http.request_id': req.headers['x-request-id']?.toString() ?? '' });
    }
  });
  app.addHook('onResponse', async (req, reply) => {
    if (!logged.has(req)) return;
    const level: LogLevel = reply.statusCode >= 200 && reply.statusCode < 500 ? 'debug' : 'error';
    if (!enabled(policy, level)) return;
    log[level]('finished call', {
      'http.method': `${req.method} ${req.url}`,
      'http.request_id': req.headers['x-request-id']?.toString() ?? '',
      'http.status_code': reply.statusCode,
      'http.time_ms': Math.round(reply.elapsedTime * 1000) / 1000,
      'http.remote_addr': `${req.socket.remoteAddress ?? ''}:${req.socket.remotePort ?? ''}`,
      'http.handler': req.routeOptions.url ?? 'unmatched',
    });
  });
}

/** How serious a call's outcome is, by its code (go-grpc-middleware's DefaultServerCodeToLevel). */
function outcomeLevel(code: string): LogLevel {
  switch (code) {
    case 'OK':
    case 'Canceled':
    case 'InvalidArgument':
    case 'NotFound':
    case 'AlreadyExists':
    case 'Unauthenticated':
      return 'info';
    case 'DeadlineExceeded':
    case 'PermissionDenied':
    case 'ResourceExhausted':
    case 'FailedPrecondition':
    case 'Aborted':
    case 'OutOfRange':
    case 'Unavailable':
      return 'warn';
    default:
      return 'error';
  }
}

/** Logs gRPC calls as `policy` says, with go-grpc-middleware's field names. */
export function grpcRequestLogger(logger: Logger, policy: RequestLogPolicy): GrpcServerObserver {
  const log = logger.with({ protocol: 'grpc', 'grpc.component': 'server' });
  const chosen = (service: string, method: string) => policy.only === undefined || policy.only.has(`/${service}/${method}`);
  const fields = (service: string, method: string, call: GrpcCallInfo, startedAt: number) => ({
    'grpc.service': service,
    'grpc.method': method,
    'grpc.method_type': grpcMethodType(method),
    'peer.address': call.peer,
    'grpc.start_time': new Date(startedAt).toISOString(),
  });
  return {
    started(service, method, call) {
      // As Thanos decides it: a call about to start counts as one that ends OK.
      if (policy.logStart && enabled(policy, 'info') && chosen(service, method)) log.debug('started call', fields(service, method, call, Date.now()));
    },
    handled(service, method, code, seconds, call, details) {
      if (!enabled(policy, outcomeLevel(code)) || !chosen(service, method)) return;
      const level: LogLevel = code === 'Unknown' || code === 'Unimplemented' || code === 'Internal' || code === 'DataLoss' ? 'error' : 'debug';
      log[level]('finished call', {
        ...fields(service, method, call, Date.now() - seconds * 1000),
        'grpc.code': code,
        ...(code !== 'OK' ? { 'grpc.error': details } : {}),
        'grpc.time_ms': Math.round(seconds * 1e6) / 1000,
      });
    },
  };
}
