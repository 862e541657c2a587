import { credentials, Metadata } from '@grpc/grpc-js';
import { context, propagation, SpanStatusCode, trace, type Attributes, type Context, type Link, type Span, type SpanKind, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { loggingErrorHandler, setGlobalErrorHandler, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as HttpTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOffSampler, AlwaysOnSampler, BatchSpanProcessor, ParentBasedSampler, SamplingDecision, TraceIdRatioBasedSampler, TracerProvider, type Sampler, type SamplingResult, type SpanExporter } from '@opentelemetry/sdk-trace';
import { tlsConnectOptions } from '@strata/objstore';
import type { Logger } from './logger.js';
import type { TraceSampler, TracingConfig } from './tracingconfig.js';
import { STRATA_VERSION } from './version.js';

/**
 * Distributed tracing with OpenTelemetry: spans for HTTP requests, StoreAPI calls (each side) and query
 * evaluation, linked across processes by W3C trace context (`traceparent`) in HTTP headers and gRPC
 * metadata, exported over OTLP. Instrumented code uses @opentelemetry/api, which does nothing until
 * `startTracing` registers a provider: a component without --tracing.config pays for a no-op call.
 */

/** The tracer Strata's spans come from. */
export function strataTracer(): Tracer {
  return trace.getTracer('strata', STRATA_VERSION);
}

/**
 * Runs `fn` in a child span of the active one, ended when its promise settles (an error status on a
 * rejection); without an active traced span, runs `fn` alone, so that internal work starts no traces.
 */
export function inSpan<T>(name: string, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
  if (trace.getActiveSpan()?.isRecording() !== true) return fn();
  return strataTracer().startActiveSpan(name, { attributes }, (span) => endedWith(span, fn()));
}

/** Runs `fn` in a span of its own, the root of a trace when none is active (a command's whole run). */
export function inRootSpan<T>(name: string, fn: () => Promise<T>): Promise<T> {
  return strataTracer().startActiveSpan(name, (span) => endedWith(span, fn()));
}

/** `p`, ending `span` when it settles, with an error status on a rejection. */
function endedWith<T>(span: Span, p: Promise<T>): Promise<T> {
  return p.then(
    (v) => {
      span.end();
      return v;
    },
    (e: unknown) => {
      span.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? e.message : String(e) });
      span.end();
      throw e;
    },
  );
}

/** Adds what a call cost to the span it runs in (the StoreAPI call's), when it is traced. */
export function annotateSpan(attributes: Attributes): void {
  trace.getActiveSpan()?.setAttributes(attributes);
}

/** Whether `startTracing` runs: HTTP servers add their tracing hooks only then. */
let enabled = false;
export function tracingEnabled(): boolean {
  return enabled;
}

/**
 * A request with this header is traced whatever the sampler says (Thanos' X-Thanos-Force-Tracing).
 * The HTTP server marks the span it starts with FORCE_TRACING_ATTRIBUTE, which the sampler honours.
 */
export const FORCE_TRACING_HEADER = 'x-thanos-force-tracing';
export const FORCE_TRACING_ATTRIBUTE = 'strata.force_tracing';
/** The response header naming the trace of a traced request (as Thanos' querier answers). */
export const TRACE_ID_HEADER = 'X-Thanos-Trace-Id';

/** How long stopping waits for the last spans to be sent. */
const STOP_TIMEOUT_MS = 3_000;

export interface Tracing {
  /** Sends what is buffered and stops. */
  stop(): Promise<void>;
}

/**
 * Registers the tracer provider, the async context manager and the W3C propagator for this process,
 * exporting to the collector `cfg` names; `component` names the service (strata-<component>) unless
 * the config does.
 */
export function startTracing(cfg: TracingConfig, component: string, logger: Logger, exporter: SpanExporter = otlpExporter(cfg)): Tracing {
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': cfg.serviceName ?? `strata-${component}`, 'service.version': STRATA_VERSION }),
    sampler: new ForceTracingSampler(new ParentBasedSampler({ root: rootSampler(cfg.sampler) })),
    spanProcessors: [new BatchSpanProcessor({ exporter })],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  setGlobalErrorHandler(exportFailures(logger));
  enabled = true;
  logger.info('exporting traces', { client_type: cfg.clientType, endpoint: cfg.endpoint });
  return {
    async stop() {
      enabled = false;
      // A collector that is down must not hold up the component's stop for its exporter's whole timeout.
      let timer: NodeJS.Timeout | undefined;
      const given = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${STOP_TIMEOUT_MS / 1000}s`)), STOP_TIMEOUT_MS);
      });
      try {
        await Promise.race([provider.shutdown(), given]);
      } catch (e) {
        logger.warn('could not send the last traces', { err: e as Error });
      } finally {
        clearTimeout(timer);
      }
      trace.disable();
      propagation.disable();
      context.disable();
      setGlobalErrorHandler(loggingErrorHandler());
    },
  };
}

/**
 * The SDK's failures (a batch the collector refused or never answered) as warnings, at most one a
 * minute, with how many were left out: spans are dropped, not retried forever, and a collector that is
 * down should show without filling the log.
 */
function exportFailures(logger: Logger): (e: unknown) => void {
  let last = Number.NEGATIVE_INFINITY;
  let unlogged = 0;
  return (e) => {
    const now = Date.now();
    if (now - last < 60_000) {
      unlogged++;
      return;
    }
    logger.warn('could not export traces', { err: e instanceof Error ? e : new Error(String(e)), failures_not_logged: unlogged });
    last = now;
    unlogged = 0;
  };
}

function rootSampler(s: TraceSampler): Sampler {
  if (s.type === 'always') return new AlwaysOnSampler();
  if (s.type === 'never') return new AlwaysOffSampler();
  return new TraceIdRatioBasedSampler(s.ratio);
}

/** Samples a span marked with FORCE_TRACING_ATTRIBUTE; asks `inner` about the others. */
class ForceTracingSampler implements Sampler {
  readonly #inner: Sampler;
  constructor(inner: Sampler) {
    this.#inner = inner;
  }
  shouldSample(ctx: Context, traceId: string, name: string, kind: SpanKind, attributes: Attributes, links: Link[]): SamplingResult {
    if (attributes[FORCE_TRACING_ATTRIBUTE] === true) return { decision: SamplingDecision.RECORD_AND_SAMPLED };
    return this.#inner.shouldSample(ctx, traceId, name, kind, attributes, links);
  }
  toString(): string {
    return `ForceTracing{${this.#inner.toString()}}`;
  }
}

/** OTLP over gRPC or HTTP (protobuf), plain text when `insecure`, else TLS with the config's CA and client certificate. */
function otlpExporter(cfg: TracingConfig): SpanExporter {
  const tls = tlsConnectOptions(cfg.tls, '--tracing.config: config.tls_config');
  const scheme = cfg.insecure ? 'http' : 'https';
  const compression = cfg.compression === 'gzip' ? CompressionAlgorithm.GZIP : CompressionAlgorithm.NONE;
  if (cfg.clientType === 'http') {
    return new HttpTraceExporter({
      url: `${scheme}://${cfg.endpoint}${cfg.urlPath.startsWith('/') ? '' : '/'}${cfg.urlPath}`,
      headers: cfg.headers,
      compression,
      timeoutMillis: cfg.timeoutMs,
      ...(cfg.insecure ? {} : { httpAgentOptions: tls }),
    });
  }
  return new GrpcTraceExporter({
    url: `${scheme}://${cfg.endpoint}`,
    compression,
    timeoutMillis: cfg.timeoutMs,
    ...(cfg.insecure ? { credentials: credentials.createInsecure() } : { credentials: credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null, tls.rejectUnauthorized === false ? { checkServerIdentity: () => undefined } : {}) }),
    ...(Object.keys(cfg.headers).length > 0 ? { metadata: grpcMetadata(cfg.headers) } : {}),
  });
}

function grpcMetadata(headers: Record<string, string>): Metadata {
  const md = new Metadata();
  for (const [k, v] of Object.entries(headers)) md.set(k, v);
  return md;
}
