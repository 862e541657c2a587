import { configMapping, parseTlsConfig, parseYamlConfig, type TlsConfig } from '@strata/objstore';
import { configDuration } from './memcachedconfig.js';

/**
 * Where a component sends its traces: Thanos' `--tracing.config` with `type: OTLP` (pkg/tracing/otlp),
 * its keys and Go's OTLP exporter defaults.
 *
 * ```yaml
 * type: OTLP
 * config:
 *   client_type: grpc            # or http (OTLP/HTTP, protobuf)
 *   endpoint: otel-collector:4317
 *   insecure: true               # plain text; else TLS with tls_config
 *   service_name: strata-query   # default: strata-<component>
 *   sampler_type: traceidratiobased
 *   sampler_param: "0.1"
 * ```
 */
export interface TracingConfig {
  clientType: 'grpc' | 'http';
  /** host:port of the collector. */
  endpoint: string;
  /** OTLP/HTTP's path (default /v1/traces). */
  urlPath: string;
  insecure: boolean;
  tls?: TlsConfig;
  /** Sent with every export (authentication for a hosted backend). */
  headers: Record<string, string>;
  compression: 'gzip' | 'none';
  timeoutMs: number;
  serviceName?: string;
  sampler: TraceSampler;
}

/** Which traces started here are kept: all, none, or this ratio of them (by trace ID). A trace started by a caller keeps the caller's choice. */
export type TraceSampler = { type: 'always' } | { type: 'never' } | { type: 'ratio'; ratio: number };

const OTLP_KEYS = new Set([
  'client_type',
  'service_name',
  'reconnection_period',
  'compression',
  'insecure',
  'endpoint',
  'url_path',
  'timeout',
  'retry_config',
  'headers',
  'tls_config',
  'sampler_type',
  'sampler_param',
]);
const RETRY_KEYS = new Set(['retry_enabled', 'retry_initial_interval', 'retry_max_interval', 'retry_max_elapsed_time']);

/**
 * Parses the YAML; empty means no tracing. Unknown keys are refused. `reconnection_period` and
 * `retry_config` are accepted and left to the exporter, which reconnects and retries on its own.
 * Thanos' other types (JAEGER, GOOGLE_CLOUD, ELASTIC_APM, LIGHTSTEP, DATADOG) are refused by name:
 * Jaeger, Tempo and the OpenTelemetry collector all take OTLP.
 */
export function parseTracingConfig(text: string, what = 'tracing config'): TracingConfig | undefined {
  const doc = parseYamlConfig(text, what);
  if (doc === undefined || doc === null) return undefined;
  const top = configMapping(doc, what, new Set(['type', 'config']));
  const type = String(top.type ?? '').toUpperCase();
  if (type !== 'OTLP') {
    throw new Error(`${what}: type ${JSON.stringify(top.type ?? '')} is not supported; use type: OTLP (Jaeger 1.35+, Grafana Tempo and the OpenTelemetry collector take OTLP on ports 4317 and 4318)`);
  }
  const cfg = configMapping(top.config ?? {}, `${what}: config`, OTLP_KEYS);
  const str = (key: string): string => (cfg[key] === undefined || cfg[key] === null ? '' : String(cfg[key]));
  const clientType = (str('client_type') || 'grpc').toLowerCase();
  if (clientType !== 'grpc' && clientType !== 'http') throw new Error(`${what}: config.client_type: ${JSON.stringify(clientType)} is not grpc or http`);
  const compression = str('compression');
  if (compression !== '' && compression !== 'gzip' && compression !== 'none') throw new Error(`${what}: config.compression: ${JSON.stringify(compression)} is not gzip`);
  if (cfg.retry_config !== undefined && cfg.retry_config !== null) configMapping(cfg.retry_config, `${what}: config.retry_config`, RETRY_KEYS);
  if (cfg.reconnection_period !== undefined && cfg.reconnection_period !== null) configDuration(cfg.reconnection_period, `${what}: config.reconnection_period`);
  const headers = configMapping(cfg.headers ?? {}, `${what}: config.headers`);
  const tls = parseTlsConfig(cfg.tls_config, `${what}: config.tls_config`);
  const timeout = cfg.timeout === undefined || cfg.timeout === null ? 0 : configDuration(cfg.timeout, `${what}: config.timeout`);
  const serviceName = str('service_name');
  return {
    clientType,
    // Go's OTLP exporters' defaults.
    endpoint: str('endpoint') || (clientType === 'grpc' ? 'localhost:4317' : 'localhost:4318'),
    urlPath: str('url_path') || '/v1/traces',
    insecure: cfg.insecure === true,
    ...(tls !== undefined ? { tls } : {}),
    headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)])),
    compression: compression === 'gzip' ? 'gzip' : 'none',
    timeoutMs: timeout || 10_000,
    ...(serviceName !== '' ? { serviceName } : {}),
    sampler: sampler(str('sampler_type'), str('sampler_param'), what),
  };
}

/** Thanos' sampler_type names; without one every trace is kept, as Thanos keeps them. */
function sampler(type: string, param: string, what: string): TraceSampler {
  switch (type.toLowerCase()) {
    case '':
    case 'alwayssample':
      return { type: 'always' };
    case 'neversample':
      return { type: 'never' };
    case 'traceidratiobased': {
      const ratio = Number(param);
      if (param === '' || !(ratio >= 0 && ratio <= 1)) throw new Error(`${what}: config.sampler_param: traceidratiobased needs a ratio from 0 to 1, not ${JSON.stringify(param)}`);
      return { type: 'ratio', ratio };
    }
    default:
      throw new Error(`${what}: config.sampler_type: ${JSON.stringify(type)} is not alwayssample, neversample or traceidratiobased`);
  }
}
