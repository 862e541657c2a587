import { gunzipSync, inflateSync } from 'node:zlib';
import { Http1Client, tlsConnectOptions } from '@strata/objstore';
import { gate, INTERNAL_TENANT_HEADER, requestTenantOrDefault, startHttpClientSpan, type Gate, type TenantSource } from '@strata/runtime';
import type { FastifyRequest } from 'fastify';
import type { FrontendMetrics } from './metrics.js';
import { DEFAULT_DOWNSTREAM_TRANSPORT, type DownstreamTransport } from './tripperconfig.js';

/** What the downstream querier answered. */
export interface DownstreamAnswer {
  readonly status: number;
  readonly contentType: string;
  /** Its headers that go back to the client (Location, Cache-Control, WWW-Authenticate…). */
  readonly headers: readonly [string, string][];
  readonly body: Buffer;
}

/** Request headers that belong to one connection (or are set again for the request sent on), not passed through. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-authorization', 'host', 'content-length', 'accept-encoding']);

/** Response headers not passed back: the connection's own, and what the body as read no longer has (it was decoded). */
const NOT_PASSED_BACK = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'content-encoding', 'content-type', 'date']);

/** A request to the downstream querier: `path` with its query string, under the downstream URL's path. */
export interface DownstreamRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Buffer;
  readonly signal?: AbortSignal;
}

/** One answer of the downstream querier, read whole. */
interface Exchanged {
  readonly status: number;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: Buffer;
}

/**
 * The HTTP/1.1 connections to the downstream querier, kept alive and shared by every request the
 * frontend sends it, as Thanos' --query-frontend.downstream-tripper-config sets them up: idle ones
 * kept and for how long, how many at once, the connect and response-head timeouts, TLS.
 */
export class DownstreamConnections {
  readonly #base: URL;
  readonly #client: Http1Client;
  readonly #slots: Gate | undefined;
  readonly #headerTimeoutMs: number;

  constructor(url: string, transport: DownstreamTransport = DEFAULT_DOWNSTREAM_TRANSPORT) {
    this.#base = new URL(url);
    this.#client = new Http1Client(this.#base.origin, {
      maxIdleSockets: transport.maxIdleConns,
      idleTimeoutMs: transport.idleConnTimeoutMs,
      connectTimeoutMs: transport.tlsHandshakeTimeoutMs,
      tls: tlsConnectOptions(transport.tls, 'downstream tripper config: tls_config'),
    });
    this.#slots = transport.maxConnsPerHost > 0 ? gate(transport.maxConnsPerHost) : undefined;
    this.#headerTimeoutMs = transport.responseHeaderTimeoutMs;
  }

  /** `path` with its query string, under the downstream URL's path. */
  exchange(method: string, path: string, headers: Record<string, string>, body: Buffer, signal?: AbortSignal): Promise<Exchanged> {
    const target = this.#base.pathname.replace(/\/$/, '') + path;
    return this.#slots === undefined ? this.#exchange(method, target, headers, body, signal) : this.#slots(() => this.#exchange(method, target, headers, body, signal));
  }

  async #exchange(method: string, path: string, headers: Record<string, string>, body: Buffer, signal: AbortSignal | undefined): Promise<Exchanged> {
    const request = new AbortController();
    const onAbort = () => request.abort();
    if (signal?.aborted === true) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    let headTimedOut = false;
    const headTimer =
      this.#headerTimeoutMs > 0
        ? setTimeout(() => {
            headTimedOut = true;
            request.abort();
          }, this.#headerTimeoutMs)
        : undefined;
    const traced = startHttpClientSpan(method, new URL(path, this.#base), headers);
    try {
      const res = await this.#client.request(method, path, traced?.headers ?? headers, body, request.signal);
      clearTimeout(headTimer);
      const pieces: Buffer[] = [];
      for await (const piece of res.body) pieces.push(piece);
      traced?.end(res.status);
      return { status: res.status, headers: res.headers, body: decoded(Buffer.concat(pieces), res.headers.get('content-encoding')) };
    } catch (e) {
      const error = headTimedOut ? new Error(`no answer within the response header timeout (${this.#headerTimeoutMs} ms)`) : (e as Error);
      traced?.end(error);
      throw error;
    } finally {
      clearTimeout(headTimer);
      signal?.removeEventListener('abort', onAbort);
    }
  }
}

/**
 * The querier the frontend stands in front of (Thanos' --query-frontend.downstream-url), over HTTP.
 * A request that gets a 5xx answer or none is sent again, up to `maxRetries` times in all (Thanos'
 * --query-range.max-retries-per-request); the last answer or error is the result. It is asked for
 * uncompressed answers: the frontend reads them, and compresses its own.
 */
export class Downstream {
  /** The request headers sent on (lower case), besides the body's content type and the tenant; undefined: all. */
  readonly #forward: ReadonlySet<string> | undefined;
  readonly #tenant: TenantSource;
  readonly #tenantOf: (req: FastifyRequest) => string;

  /** `forwardHeaders`: only these of a request's headers are sent on (Thanos' --query-frontend.forward-header); `tenant`: where a request's tenant comes from. */
  constructor(
    private readonly connections: DownstreamConnections,
    private readonly maxRetries: number,
    private readonly metrics: FrontendMetrics,
    tenant: TenantSource,
    forwardHeaders?: readonly string[],
  ) {
    this.#forward = forwardHeaders !== undefined && forwardHeaders.length > 0 ? new Set(['content-type', INTERNAL_TENANT_HEADER.toLowerCase(), ...forwardHeaders.map((h) => h.toLowerCase())]) : undefined;
    this.#tenant = tenant;
    this.#tenantOf = requestTenantOrDefault(tenant);
  }

  /**
   * The request's headers that go on to the querier (authorization, content type, tracing…), its tenant
   * in THANOS-TENANT whatever header named it here, as Thanos' frontend sends it
   * (InternalTenancyConversionTripper): a querier reads it there, and a tenant header of another name is
   * not passed on, so that it cannot say otherwise than a client certificate did.
   */
  forwardedHeaders(req: FastifyRequest): Record<string, string> {
    const custom = this.#tenant.header.toLowerCase();
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || HOP_BY_HOP.has(name) || name === custom) continue;
      out[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    out[INTERNAL_TENANT_HEADER.toLowerCase()] = this.#tenantOf(req);
    return out;
  }

  async send(req: DownstreamRequest): Promise<DownstreamAnswer> {
    const headers = { ...this.#forwarded(req.headers), 'accept-encoding': 'identity' };
    const body = req.body !== undefined && req.method !== 'GET' && req.method !== 'HEAD' ? req.body : EMPTY;
    for (let attempt = 1; ; attempt++) {
      const last = attempt >= this.maxRetries;
      const timer = this.metrics.downstreamDuration.startTimer();
      try {
        const res = await this.connections.exchange(req.method, req.path, headers, body, req.signal);
        timer();
        this.metrics.downstreamRequests.inc({ code: String(res.status) });
        if (res.status < 500 || last) {
          // A redirect (the UI's `/` to `/graph`) is the client's to follow, at the frontend's address.
          const passed = [...res.headers].filter(([name, value]) => passedBack(name, value));
          return { status: res.status, contentType: res.headers.get('content-type') ?? 'application/json', headers: passed, body: res.body };
        }
      } catch (e) {
        timer();
        this.metrics.downstreamRequests.inc({ code: '0' });
        if (last || req.signal?.aborted === true) throw e;
      }
      this.metrics.downstreamRetries.inc();
    }
  }

  #forwarded(headers: Readonly<Record<string, string>>): Record<string, string> {
    const allowed = this.#forward;
    return allowed === undefined ? { ...headers } : Object.fromEntries(Object.entries(headers).filter(([name]) => allowed.has(name.toLowerCase())));
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * Content encodings that are HTTP compression, which the frontend asked not to get and decodes if it
 * gets them anyway; any other (remote read's snappy) is the body's own, passed back as it is.
 */
const COMPRESSIONS = new Set(['identity', 'gzip', 'x-gzip', 'deflate']);

/** A body as sent, decoded where the querier compressed it though asked not to (that Content-Encoding is not passed back). */
function decoded(body: Buffer, encoding: string | undefined): Buffer {
  switch (encoding?.toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return gunzipSync(body);
    case 'deflate':
      return inflateSync(body);
    default:
      return body;
  }
}

/** Whether an answer's header goes back to the client: its Content-Encoding only where the body is still in it. */
function passedBack(name: string, value: string): boolean {
  return name === 'content-encoding' ? !COMPRESSIONS.has(value.toLowerCase()) : !NOT_PASSED_BACK.has(name);
}
