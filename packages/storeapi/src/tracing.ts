import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import { GRPC_CODE_NAMES } from './grpc.js';

/**
 * StoreAPI calls as OpenTelemetry spans, their trace context carried in the call's metadata
 * (`traceparent`), so that a query's trace runs from the querier through every store it asked. Both do
 * nothing unless the process registered a tracer provider (runtime's startTracing).
 */

export interface CallSpan {
  /** Ends the span with the call's gRPC status (its number) and message. */
  end(code: number, details: string): void;
}

const NO_SPAN: CallSpan = { end: () => {} };

function tracer() {
  return trace.getTracer('strata');
}

function finish(span: Span, code: number, details: string): void {
  span.setAttribute('rpc.grpc.status_code', code);
  if (code !== 0) span.setStatus({ code: SpanStatusCode.ERROR, message: `${GRPC_CODE_NAMES[code] ?? code}: ${details}` });
  span.end();
}

/**
 * The client side of a call to `address`, when it is made for a traced request (a call made on its
 * own, as the endpoint set's periodic Info, starts no trace: undefined); its context is written into
 * `carrier`.
 */
export function startClientSpan(service: string, method: string, address: string, carrier: Record<string, string>): CallSpan | undefined {
  const parent = context.active();
  const parentSpan = trace.getSpan(parent);
  if (parentSpan === undefined) return undefined;
  if (!parentSpan.isRecording()) {
    // A request not sampled: no span, but the decision goes on, so that the server does not sample it anew.
    propagation.inject(parent, carrier);
    return undefined;
  }
  const span = tracer().startSpan(`${service}/${method}`, { kind: SpanKind.CLIENT, attributes: { 'rpc.system': 'grpc', 'rpc.service': service, 'rpc.method': method, 'server.address': address } }, parent);
  propagation.inject(trace.setSpan(parent, span), carrier);
  return { end: (code, details) => finish(span, code, details) };
}

/**
 * The server side of a call from `peer`, a child of the caller's span when `carrier` (the request's
 * metadata) names one; `ctx` is what the handler runs in. An Info call without a caller's trace is not
 * traced: queriers ask every few seconds.
 */
export function startServerSpan(service: string, method: string, peer: string, carrier: Record<string, unknown>): { ctx: Context; span: CallSpan } {
  const parent = propagation.extract(ROOT_CONTEXT, carrier);
  if (method === 'Info' && trace.getSpan(parent) === undefined) return { ctx: parent, span: NO_SPAN };
  const span = tracer().startSpan(`${service}/${method}`, { kind: SpanKind.SERVER, attributes: { 'rpc.system': 'grpc', 'rpc.service': service, 'rpc.method': method, 'client.address': peer } }, parent);
  return { ctx: trace.setSpan(parent, span), span: { end: (code, details) => finish(span, code, details) } };
}

/** Runs `fn` in `ctx` (the server span's), so that what it calls, and the calls it makes, belong to it. */
export function inContext<T>(ctx: Context, fn: () => T): T {
  return context.with(ctx, fn);
}
