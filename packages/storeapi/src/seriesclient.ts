/**
 * Series calls over node:http2 directly: the gRPC protocol for one server-streaming method, without
 * grpc-js' channel, resolver, load balancer, interceptor and filter stack. A querier makes a Series
 * call per endpoint for every selector of every query, and grpc-js spends about 1 ms of CPU on a call
 * that returns nothing (0.4 ms this way, measured against the same store gateway); the other methods
 * (Info, LabelNames, LabelValues) stay on grpc-js.
 *
 * gRPC over HTTP/2 (grpc.io's PROTOCOL-HTTP2): a POST to /thanos.Store/Series with
 * `content-type: application/grpc` and `te: trailers`, the request as one message (a byte that says
 * whether it is compressed, its length as big-endian uint32, the bytes), and the answer as such
 * messages in DATA frames, closed by trailers holding grpc-status and grpc-message (or by headers
 * holding them, when the server fails before answering anything).
 */
import * as http2 from 'node:http2';
import { finished as streamFinished } from 'node:stream';
import { deflateSync, gzipSync } from 'node:zlib';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { ACCEPT_ENCODING, clientTlsOptions, type ClientTLS, type Compression, DECOMPRESS, Method, TENANT_METADATA } from './grpc.js';
import { decodeSeriesResponse, decodeSeriesResponseParts, encodeSeriesRequest } from './codec.js';
import type { SeriesRequest, SeriesResponse } from './messages.js';
import { encodeSnappyStream } from './snappystream.js';
import { startClientSpan, type CallSpan } from './tracing.js';

/** A failed call, shaped as grpc-js' ServiceError so that callers handle both alike. */
export class SeriesCallError extends Error {
  constructor(
    readonly code: GrpcStatus,
    readonly details: string,
  ) {
    super(`${code} ${GrpcStatus[code]}: ${details}`);
    this.name = 'SeriesCallError';
  }
}

/** A stream the server refused before it answered anything (REFUSED_STREAM): safe to send again. */
class RefusedStreamError extends SeriesCallError {
  constructor(message: string) {
    super(GrpcStatus.UNAVAILABLE, message);
    this.name = 'RefusedStreamError';
  }
}

export interface SeriesCallOptions {
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
  /** Sent as the call's `thanos-tenant` metadata. */
  tenant?: string | undefined;
}

/** The receive window per connection and stream, as the grpc-js channel's (grpc.ts). */
const WINDOW_BYTES = 8 * 1024 * 1024;
/** Keepalive while calls are open, as Thanos' client: a ping every 10s, the connection dropped after 5s without an answer. */
const PING_INTERVAL_MS = 10_000;
const PING_TIMEOUT_MS = 5_000;
const MESSAGE_HEADER_BYTES = 5;
/** gRPC's minimum connect timeout. */
const CONNECT_TIMEOUT_MS = 20_000;

/** gRPC's mapping of RST_STREAM codes to statuses (what grpc-js reports for them). */
function statusOfReset(rstCode: number): GrpcStatus {
  switch (rstCode) {
    case http2.constants.NGHTTP2_REFUSED_STREAM:
      return GrpcStatus.UNAVAILABLE;
    case http2.constants.NGHTTP2_CANCEL:
      return GrpcStatus.CANCELLED;
    case http2.constants.NGHTTP2_ENHANCE_YOUR_CALM:
      return GrpcStatus.RESOURCE_EXHAUSTED;
    case http2.constants.NGHTTP2_INADEQUATE_SECURITY:
      return GrpcStatus.PERMISSION_DENIED;
    default:
      return GrpcStatus.INTERNAL;
  }
}

/** gRPC's mapping of an HTTP status without grpc-status. */
function statusOfHttp(httpStatus: number): GrpcStatus {
  switch (httpStatus) {
    case 400:
      return GrpcStatus.INTERNAL;
    case 401:
      return GrpcStatus.UNAUTHENTICATED;
    case 403:
      return GrpcStatus.PERMISSION_DENIED;
    case 404:
      return GrpcStatus.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return GrpcStatus.UNAVAILABLE;
    default:
      return GrpcStatus.UNKNOWN;
  }
}

/** grpc-timeout: at most 8 digits and a unit. */
function grpcTimeout(ms: number): string {
  const t = Math.max(0, Math.ceil(ms));
  return t < 1e8 ? `${t}m` : `${Math.min(99_999_999, Math.ceil(t / 1000))}S`;
}

function percentDecoded(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** A gRPC message of the response: its compressed flag and its bytes, as views of the chunks they came in. */
interface Message {
  compressed: boolean;
  parts: Buffer[];
}

/** Splits the response body into gRPC messages, each handed on as the chunks (or parts of them) it came in. */
class MessageReader {
  #chunks: Buffer[] = [];
  #bytes = 0;

  /** Adds a chunk; appends the messages it completes to `out` and returns their bytes. */
  push(chunk: Buffer, out: Message[]): number {
    if (chunk.length === 0) return 0;
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    let taken = 0;
    while (this.#bytes >= MESSAGE_HEADER_BYTES) {
      const len = this.#firstLength();
      if (this.#bytes < MESSAGE_HEADER_BYTES + len) break;
      const compressed = this.#chunks[0]![0] === 1;
      this.#take(MESSAGE_HEADER_BYTES);
      out.push({ compressed, parts: this.#take(len) });
      taken += MESSAGE_HEADER_BYTES + len;
    }
    return taken;
  }

  /** Bytes left over that are not a whole message. */
  get pending(): number {
    return this.#bytes;
  }

  /** Removes the first `n` bytes from the chunks held, returned as views of them. */
  #take(n: number): Buffer[] {
    const parts: Buffer[] = [];
    this.#bytes -= n;
    while (n > 0) {
      const c = this.#chunks[0]!;
      if (c.length <= n) {
        parts.push(c);
        this.#chunks.shift();
        n -= c.length;
      } else {
        parts.push(c.subarray(0, n));
        this.#chunks[0] = c.subarray(n);
        n = 0;
      }
    }
    return parts;
  }

  /** The length field of the first message, whose header may span chunks. */
  #firstLength(): number {
    let len = 0;
    let i = 0;
    for (const c of this.#chunks) {
      for (let k = 0; k < c.length && i < MESSAGE_HEADER_BYTES; k++, i++) if (i > 0) len = len * 256 + (c[k] as number);
      if (i === MESSAGE_HEADER_BYTES) break;
    }
    return len;
  }
}

/**
 * Received messages waiting for the caller: the stream is paused while they hold more than this many
 * bytes (the HTTP/2 window then stops the server), and resumed once the caller has taken them all.
 */
const MAX_QUEUED_BYTES = 4 * 1024 * 1024;

const COMPRESS: Partial<Record<Compression, (b: Buffer) => Buffer>> = { gzip: gzipSync, deflate: deflateSync, snappy: encodeSnappyStream };

/** One endpoint's HTTP/2 connection for Series calls, opened on the first call and again after it fails. */
export class SeriesConnection {
  readonly #address: string;
  readonly #authority: string;
  readonly #tls: ClientTLS | undefined;
  readonly #compression: Compression;
  #session: http2.ClientHttp2Session | undefined;
  #open = 0;
  #pinger: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(address: string, opts: { tls?: ClientTLS | undefined; compression?: Compression | undefined } = {}) {
    this.#address = address;
    this.#authority = `${opts.tls !== undefined ? 'https' : 'http'}://${address}`;
    this.#tls = opts.tls;
    this.#compression = opts.compression ?? 'none';
  }

  #connect(): http2.ClientHttp2Session {
    const current = this.#session;
    if (current !== undefined && !current.closed && !current.destroyed) return current;
    const tls = this.#tls;
    const session = http2.connect(this.#authority, {
      settings: { initialWindowSize: WINDOW_BYTES },
      ...(tls !== undefined ? clientTlsOptions(tls) : {}),
    });
    // A failed connection fails its open streams, which report it; the next call connects again.
    session.on('error', () => {});
    // A peer that never answers (packets dropped) fails the calls waiting for it after gRPC's minimum connect timeout.
    const connecting = setTimeout(() => session.destroy(new Error(`no connection to ${this.#authority} within ${CONNECT_TIMEOUT_MS / 1000}s`)), CONNECT_TIMEOUT_MS);
    connecting.unref();
    session.once('connect', () => {
      clearTimeout(connecting);
      session.setLocalWindowSize(WINDOW_BYTES);
    });
    session.once('close', () => {
      clearTimeout(connecting);
      if (this.#session === session) this.#session = undefined;
    });
    session.unref();
    this.#session = session;
    return session;
  }

  /** While calls are open the connection keeps the process alive and is pinged, so that a dead peer fails them. */
  #opened(session: http2.ClientHttp2Session): void {
    session.ref();
    if (this.#open++ > 0) return;
    this.#pinger = setInterval(() => {
      const s = this.#session;
      if (s === undefined || s.destroyed) return;
      const timer = setTimeout(() => s.destroy(new Error('keepalive ping unanswered')), PING_TIMEOUT_MS);
      const sent = s.ping((err) => {
        clearTimeout(timer);
        if (err !== null && !s.destroyed) s.destroy(err);
      });
      if (!sent) clearTimeout(timer);
    }, PING_INTERVAL_MS);
    this.#pinger.unref();
  }

  #closedCall(): void {
    if (--this.#open > 0) return;
    clearInterval(this.#pinger);
    const s = this.#session;
    if (s !== undefined && !s.destroyed) s.unref();
  }

  /** The Series frames; a failure is thrown as a SeriesCallError. Breaking out of the loop cancels the call. */
  series(req: SeriesRequest, opts: SeriesCallOptions = {}): AsyncGenerator<SeriesResponse> {
    const traceHeaders: Record<string, string> = {};
    const span = startClientSpan('thanos.Store', 'Series', this.#address, traceHeaders);
    const frames = this.#sentAgainIfRefused(req, opts, traceHeaders);
    return span === undefined ? frames : endingSpan(frames, span);
  }

  /**
   * The call, made once more (on a new connection) when the server refused its stream unprocessed, as
   * gRPC clients retry such a stream transparently: a server that asks its clients to reconnect (GOAWAY)
   * refuses what they sent before they heard it.
   */
  async *#sentAgainIfRefused(req: SeriesRequest, opts: SeriesCallOptions, traceHeaders: Record<string, string>): AsyncGenerator<SeriesResponse> {
    try {
      yield* this.#call(req, opts, traceHeaders);
    } catch (e) {
      if (!(e instanceof RefusedStreamError)) throw e;
      yield* this.#call(req, opts, traceHeaders);
    }
  }

  async *#call(req: SeriesRequest, opts: SeriesCallOptions, traceHeaders: Record<string, string>): AsyncGenerator<SeriesResponse> {
    if (this.#closed) throw new SeriesCallError(GrpcStatus.UNAVAILABLE, 'Channel has been shut down');
    if (opts.signal?.aborted === true) throw new SeriesCallError(GrpcStatus.CANCELLED, 'Cancelled on client');
    const session = this.#connect();
    const compress = COMPRESS[this.#compression];
    const headers: http2.OutgoingHttpHeaders = {
      ':method': 'POST',
      ':path': Method.Series,
      'content-type': 'application/grpc',
      te: 'trailers',
      'grpc-accept-encoding': ACCEPT_ENCODING,
      ...(compress !== undefined ? { 'grpc-encoding': this.#compression } : {}),
      ...(opts.timeoutMs !== undefined ? { 'grpc-timeout': grpcTimeout(opts.timeoutMs) } : {}),
      ...(opts.tenant !== undefined ? { [TENANT_METADATA]: opts.tenant } : {}),
      ...traceHeaders,
    };
    const message = encodeSeriesRequest(req);
    const body = compress !== undefined ? compress(message) : message;
    const frame = Buffer.allocUnsafe(MESSAGE_HEADER_BYTES + body.length);
    frame[0] = compress !== undefined ? 1 : 0;
    frame.writeUInt32BE(body.length, 1);
    frame.set(body, MESSAGE_HEADER_BYTES);

    let stream: http2.ClientHttp2Stream;
    try {
      stream = session.request(headers);
    } catch (e) {
      // E.g. the connection ran out of stream ids: the next call gets a new one.
      session.destroy();
      throw new SeriesCallError(GrpcStatus.UNAVAILABLE, (e as Error).message);
    }
    this.#opened(session);
    let head: http2.IncomingHttpHeaders | undefined;
    let trailers: http2.IncomingHttpHeaders | undefined;
    stream.once('response', (h) => (head = h));
    stream.once('trailers', (t) => (trailers = t));
    let expired = false;
    const onAbort = () => stream.close(http2.constants.NGHTTP2_CANCEL);
    const onDeadline = () => {
      expired = true;
      onAbort();
    };
    const timer = opts.timeoutMs !== undefined ? setTimeout(onDeadline, opts.timeoutMs) : undefined;
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const failure = (): SeriesCallError | undefined => {
      if (expired) return new SeriesCallError(GrpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded');
      if (opts.signal?.aborted === true) return new SeriesCallError(GrpcStatus.CANCELLED, 'Cancelled on client');
      return undefined;
    };
    let finished = false;
    try {
      stream.end(frame);
      // Chunks are taken as 'data' events and split into messages as they come, and the caller is woken
      // only when it waits: an async iterator over the stream costs a read() call, a tick and a promise
      // per DATA chunk (about every 12 KiB), as much CPU as decoding the series in them.
      const reader = new MessageReader();
      const queue: Message[] = [];
      let next = 0;
      let queuedBytes = 0;
      let done = false;
      let streamError: Error | undefined;
      let wake: (() => void) | undefined;
      const woken = () => {
        const w = wake;
        wake = undefined;
        w?.();
      };
      stream.on('data', (chunk: Buffer) => {
        const bytes = reader.push(chunk, queue);
        if (bytes === 0) return;
        queuedBytes += bytes;
        if (queuedBytes > MAX_QUEUED_BYTES) stream.pause();
        woken();
      });
      // As the stream's async iterator would: its end, its error, or its closing early (a reset).
      streamFinished(stream, { writable: false }, (err) => {
        done = true;
        streamError = err ?? undefined;
        woken();
      });
      let encoding: string | undefined;
      try {
        for (;;) {
          // A failed stream (reset, connection lost, cancelled here) fails the call before what it left queued.
          if (streamError !== undefined) throw streamError;
          if (next === queue.length) {
            if (done) break;
            queue.length = next = queuedBytes = 0;
            if (stream.isPaused()) stream.resume();
            await new Promise<void>((resolve) => (wake = resolve));
            continue;
          }
          const m = queue[next++]!;
          if (!m.compressed) {
            yield decodeSeriesResponseParts(m.parts);
            continue;
          }
          encoding ??= String(head?.['grpc-encoding'] ?? 'identity');
          const decompress = DECOMPRESS[encoding];
          if (decompress === undefined) throw new SeriesCallError(GrpcStatus.INTERNAL, `compressed message with unsupported grpc-encoding ${encoding}`);
          yield decodeSeriesResponse(decompress(m.parts.length === 1 ? m.parts[0]! : Buffer.concat(m.parts)));
        }
      } catch (e) {
        if (e instanceof SeriesCallError) throw e;
        // A stream the server refused unanswered (sent on a connection it was closing: GOAWAY, as after
        // --grpc-server-max-connection-age) was never processed, and may be sent again.
        if (stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM && head === undefined && failure() === undefined) throw new RefusedStreamError((e as Error).message);
        // A connection that failed (refused, reset, gone away) is Unavailable; a stream reset on a live one says why.
        const code = session.destroyed || session.closed || !stream.rstCode ? GrpcStatus.UNAVAILABLE : statusOfReset(stream.rstCode);
        throw failure() ?? new SeriesCallError(code, (e as Error).message);
      }
      const failed = failure();
      if (failed !== undefined) throw failed;
      if (head === undefined && stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM) throw new RefusedStreamError(`Received RST_STREAM with code ${stream.rstCode}`);
      // Trailers, or headers only when the server failed before sending anything.
      const end = trailers ?? head;
      const code = end?.['grpc-status'];
      if (code === undefined) {
        const httpStatus = Number(head?.[':status'] ?? 0);
        if (httpStatus !== 200) throw new SeriesCallError(statusOfHttp(httpStatus), `Received HTTP status code ${httpStatus}`);
        if (stream.rstCode) throw new SeriesCallError(statusOfReset(stream.rstCode), `Received RST_STREAM with code ${stream.rstCode}`);
        throw new SeriesCallError(GrpcStatus.UNKNOWN, 'No status received');
      }
      if (Number(code) !== GrpcStatus.OK) throw new SeriesCallError(Number(code) as GrpcStatus, percentDecoded(String(end?.['grpc-message'] ?? '')));
      if (reader.pending > 0) throw new SeriesCallError(GrpcStatus.INTERNAL, `response ended inside a message (${reader.pending} bytes left)`);
      finished = true;
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (!finished && !stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
      this.#closedCall();
    }
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#pinger);
    this.#session?.close();
    this.#session = undefined;
  }
}

/** `frames`, ending `span` with the call's status when they end (Cancelled when the caller stops reading). */
async function* endingSpan(frames: AsyncGenerator<SeriesResponse>, span: CallSpan): AsyncGenerator<SeriesResponse> {
  let status: [GrpcStatus, string] = [GrpcStatus.CANCELLED, 'Cancelled on client'];
  try {
    yield* frames;
    status = [GrpcStatus.OK, ''];
  } catch (e) {
    status = e instanceof SeriesCallError ? [e.code, e.details] : [GrpcStatus.UNKNOWN, (e as Error).message];
    throw e;
  } finally {
    span.end(...status);
  }
}
