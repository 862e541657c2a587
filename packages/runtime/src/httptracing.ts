import { context, propagation, SpanKind, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest, RouteHandlerMethod } from 'fastify';
import { FORCE_TRACING_ATTRIBUTE, FORCE_TRACING_HEADER, strataTracer, TRACE_ID_HEADER } from './tracing.js';

/**
 * A server span per HTTP request (`GET /api/v1/query_range`), a child of the caller's when its
 * `traceparent` names one. Each route's handler runs in the span's context, so the calls it makes
 * (a querier's StoreAPI calls, a frontend's requests to its querier) continue the trace; a route
 * wrapped rather than a hook's context entered, because a request body is read in the socket's context,
 * not the hook's. A traced answer names its trace in X-Thanos-Trace-Id. The `untraced` routes (metrics
 * scrapes and probes, every few seconds) start no traces.
 */
export function addHttpTracing(app: FastifyInstance, untraced: ReadonlySet<string>): void {
  const traced = new WeakMap<FastifyRequest, { span: Span; ctx: Context }>();
  app.addHook('onRoute', (route) => {
    const handler = route.handler as RouteHandlerMethod;
    route.handler = function (this: FastifyInstance, req, reply) {
      const t = traced.get(req);
      return t === undefined ? handler.call(this, req, reply) : context.with(t.ctx, () => handler.call(this, req, reply));
    } as RouteHandlerMethod;
  });
  app.addHook('onRequest', async (req, reply) => {
    const route = req.routeOptions.url;
    if (route !== undefined && untraced.has(route)) return;
    const parent = propagation.extract(context.active(), req.headers);
    const span = strataTracer().startSpan(
      `${req.method} ${route ?? 'unmatched'}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': req.method,
          'url.path': req.url.split('?', 1)[0],
          ...(route !== undefined ? { 'http.route': route } : {}),
          'client.address': req.socket.remoteAddress ?? '',
          ...(req.headers[FORCE_TRACING_HEADER] !== undefined ? { [FORCE_TRACING_ATTRIBUTE]: true } : {}),
        },
      },
      parent,
    );
    // Unsampled too: the handler's calls pass the decision on, so that the servers behind follow it.
    traced.set(req, { span, ctx: trace.setSpan(parent, span) });
    if (span.isRecording()) reply.header(TRACE_ID_HEADER, span.spanContext().traceId);
  });
  const end = (req: FastifyRequest, status: number | undefined) => {
    const t = traced.get(req);
    if (t === undefined) return;
    traced.delete(req);
    if (status !== undefined) t.span.setAttribute('http.response.status_code', status);
    if (status === undefined || status >= 500) t.span.setStatus({ code: SpanStatusCode.ERROR, ...(status === undefined ? { message: 'the client went away' } : {}) });
    t.span.end();
  };
  app.addHook('onResponse', async (req, reply) => end(req, reply.statusCode));
  app.addHook('onRequestAbort', async (req) => end(req, undefined));
}

/** An HTTP request made for a traced one: its span, and the headers to send, carrying the span's context. */
export interface HttpClientSpan {
  readonly headers: Record<string, string>;
  /** Ends the span with the answer's status, or the error that left none. */
  end(outcome: number | Error): void;
}

/**
 * The client side of `method url` when it is made for a traced request (undefined otherwise: nothing to
 * do); `headers` plus `traceparent`, so that the server (a querier behind the frontend, Prometheus behind
 * the sidecar) continues the trace.
 */
export function startHttpClientSpan(method: string, url: URL, headers: Record<string, string>): HttpClientSpan | undefined {
  const parent = context.active();
  const parentSpan = trace.getSpan(parent);
  if (parentSpan === undefined) return undefined;
  if (!parentSpan.isRecording()) {
    // A request not sampled: no span, but the decision goes on, so that the server does not sample it anew.
    const carried: Record<string, string> = { ...headers };
    propagation.inject(parent, carried);
    return { headers: carried, end: () => {} };
  }
  const span = strataTracer().startSpan(`${method} ${url.pathname}`, { kind: SpanKind.CLIENT, attributes: { 'http.request.method': method, 'url.full': `${url.origin}${url.pathname}`, 'server.address': url.host } }, parent);
  const carried: Record<string, string> = { ...headers };
  propagation.inject(trace.setSpan(parent, span), carried);
  return {
    headers: carried,
    end(outcome) {
      if (typeof outcome === 'number') {
        span.setAttribute('http.response.status_code', outcome);
        if (outcome >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      } else {
        span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.message });
      }
      span.end();
    },
  };
}
