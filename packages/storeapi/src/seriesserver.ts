/**
 * Series calls served on the HTTP/2 stream itself: the server side of seriesclient.ts. grpc-js' server
 * call stack (its interceptors, Metadata objects, a Node stream and a status machine per call, a copy
 * of every response message into a framed buffer of its own) took about a third of a store gateway's
 * CPU on a small Series call; grpc-js hands Series streams over before building any of it
 * (`serveStreams`, which patches/@grpc__grpc-js@1.14.7.patch adds), and keeps serving the other methods.
 *
 * The protocol (grpc.io's PROTOCOL-HTTP2), answered as grpc-js answers it:
 * - the request: a POST whose body is one message (a byte that says whether it is compressed, in the
 *   `grpc-encoding` of the headers; its length as big-endian uint32; its bytes), and an optional
 *   `grpc-timeout` (digits and a unit: H M S m u n) after which the call fails with DeadlineExceeded;
 * - the answer: headers (`:status` 200, `content-type: application/grpc+proto`, the encodings accepted),
 *   the response messages in DATA frames, uncompressed, and trailers with `grpc-status` and
 *   `grpc-message` (percent-encoded where it is not printable ASCII); a call that fails before sending
 *   anything answers with headers holding the status alone ("trailers-only");
 * - the client cancelling (RST_STREAM, or its connection closing) aborts the call's signal.
 */
import * as http2 from 'node:http2';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { MessageArena } from './arena.js';
import * as codec from './codec.js';
import { ACCEPT_ENCODING, DECOMPRESS, MAX_MESSAGE_BYTES, StoreError, TENANT_METADATA } from './grpc.js';
import type { SeriesRequest, SeriesResponse, StoreSeries } from './messages.js';

/** What a call writes: one Series response, or several framed together (codec.SeriesMessages). */
export type SeriesFrameOut = SeriesResponse | codec.SeriesMessages;

const RESPONSE_HEADERS = {
  [http2.constants.HTTP2_HEADER_STATUS]: 200,
  [http2.constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc+proto',
  'grpc-accept-encoding': ACCEPT_ENCODING,
  'grpc-encoding': 'identity',
};

const TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/** grpc-timeout in ms, or undefined when it is not one (gRPC allows at most 8 digits). */
function timeoutMs(header: string): number | undefined {
  const m = /^(\d{1,8})([HMSmun])$/.exec(header);
  return m === null ? undefined : Number(m[1]) * (TIMEOUT_UNIT_MS[m[2] as string] as number);
}

/** grpc-message as gRPC has it: UTF-8 bytes outside printable ASCII, and `%`, written as %XX. */
export function percentEncoded(details: string): string {
  if (/^[\x20-\x24\x26-\x7e]*$/.test(details)) return details;
  let out = '';
  for (const b of Buffer.from(details, 'utf8')) out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

/**
 * Bytes a call may have waiting in its stream before the producer waits for 'drain'. The stream's own
 * high-water mark (16 KiB) is below a single SeriesBatch: waiting on it would cost a 'drain' per frame,
 * as grpc-js' object-mode stream did not (it buffered up to 16 frames). Past the stream's mark its write
 * has set the 'drain' this waits for.
 */
const MAX_BUFFERED_BYTES = 1 << 20;

/** Buffers of the Series messages being sent, reused once written to the socket. */
const seriesMessages = new MessageArena();

/**
 * A frame's messages, each after its 5-byte gRPC message header, in one buffer from the arena. Once
 * encoded, the series' chunks have been copied into it: their own memory goes back
 * (EncodedChunks.release), and the frame lets go of the series, which would otherwise live (and be
 * copied by the garbage collector) until the message has been written to the socket.
 */
function framed(frame: SeriesFrameOut): Buffer {
  const alloc = (bytes: number) => seriesMessages.alloc(frame, bytes);
  if ('messages' in frame) {
    const out = codec.encodeSeriesMessages(frame, alloc);
    releaseSeries(frame.messages);
    return out;
  }
  const out = codec.encodeSeriesResponse(frame, codec.GRPC_MESSAGE_HEADER_BYTES, alloc);
  out[0] = 0; // uncompressed
  out.writeUInt32BE(out.length - codec.GRPC_MESSAGE_HEADER_BYTES, 1);
  if ('series' in frame) frame.series.extraChunks?.release?.();
  else if ('batch' in frame) releaseSeries(frame.batch);
  return out;
}

function releaseSeries(series: StoreSeries[]): void {
  for (const s of series) s.extraChunks?.release?.();
  series.length = 0;
}

/** A Series call; its context (CallContext) too. */
export class SeriesCall {
  readonly #stream: http2.ServerHttp2Stream;
  readonly #headers: http2.IncomingHttpHeaders;
  /**
   * Made when something asks for the signal: a store gateway's Series never does, and an AbortController
   * cost ~5% of a small call's CPU in its profile.
   */
  #abort: AbortController | undefined;
  /** Why the call ended before its handler: the client cancelled, or the deadline passed. */
  #abortedWith: StoreError | undefined;
  #deadline: NodeJS.Timeout | undefined;
  #responded = false;
  #finished = false;

  constructor(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) {
    this.#stream = stream;
    this.#headers = headers;
    // A stream error is followed by 'close', which ends the call; without a listener it would be thrown.
    stream.on('error', () => {});
    stream.once('close', () => {
      clearTimeout(this.#deadline);
      if (!this.#finished) this.#cancel(new StoreError(GrpcStatus.CANCELLED, 'call cancelled by the client'));
      this.#finished = true;
    });
    const timeout = headers['grpc-timeout'];
    if (timeout === undefined) return;
    const ms = timeoutMs(String(timeout));
    if (ms === undefined) this.#fail(new StoreError(GrpcStatus.INTERNAL, `Invalid grpc-timeout value "${String(timeout)}"`));
    else this.#deadline = setTimeout(() => this.#fail(new StoreError(GrpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded')), ms);
  }

  /** Ends the call with `status` and aborts its work. */
  #fail(status: StoreError): void {
    this.finish(status.code, status.message);
    this.#cancel(status);
  }

  #cancel(reason: StoreError): void {
    if (this.#abortedWith !== undefined) return;
    this.#abortedWith = reason;
    this.#abort?.abort(reason);
  }

  /** Aborted when the client cancels or the deadline passes (its reason a StoreError saying which). */
  get signal(): AbortSignal {
    if (this.#abort === undefined) {
      this.#abort = new AbortController();
      if (this.#abortedWith !== undefined) this.#abort.abort(this.#abortedWith);
    }
    return this.#abort.signal;
  }

  get tenant(): string | undefined {
    const value = this.#headers[TENANT_METADATA];
    return value === undefined ? undefined : String(value);
  }

  /** As `signal.aborted` and `signal.reason`, without making the signal. */
  get aborted(): boolean {
    return this.#abortedWith !== undefined;
  }

  get reason(): StoreError | undefined {
    return this.#abortedWith;
  }

  /** The request: the body's one message, decompressed and decoded; a StoreError when it is not one. */
  request(): Promise<SeriesRequest> {
    return new Promise<SeriesRequest>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      const onData = (chunk: Buffer) => {
        bytes += chunk.length;
        chunks.push(chunk);
        if (bytes <= codec.GRPC_MESSAGE_HEADER_BYTES + MAX_MESSAGE_BYTES) return;
        this.#stream.off('data', onData);
        reject(new StoreError(GrpcStatus.RESOURCE_EXHAUSTED, `Received message larger than max (${bytes - codec.GRPC_MESSAGE_HEADER_BYTES} vs. ${MAX_MESSAGE_BYTES})`));
      };
      this.#stream.on('data', onData);
      this.#stream.once('end', () => {
        try {
          resolve(this.#decodeRequest(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
        } catch (e) {
          reject(e);
        }
      });
      this.#stream.once('close', () => reject(this.#abortedWith));
    });
  }

  #decodeRequest(body: Buffer): SeriesRequest {
    const header = codec.GRPC_MESSAGE_HEADER_BYTES;
    const length = body.length >= header ? body.readUInt32BE(1) : -1;
    if (body.length !== header + length) {
      throw new StoreError(GrpcStatus.INTERNAL, body.length === 0 ? 'no request message received' : `expected one request message, got ${body.length} bytes`);
    }
    let message = body.subarray(header);
    if (body[0] === 1) {
      const encoding = String(this.#headers['grpc-encoding'] ?? 'identity');
      const decompress = DECOMPRESS[encoding];
      if (decompress === undefined) throw new StoreError(GrpcStatus.UNIMPLEMENTED, `Received message compressed with unsupported encoding "${encoding}"`);
      try {
        message = decompress(message);
      } catch (e) {
        throw new StoreError(GrpcStatus.INTERNAL, `Failed to decompress ${encoding}-encoded message: ${(e as Error).message}`);
      }
    }
    try {
      return codec.decodeSeriesRequest(message);
    } catch (e) {
      throw new StoreError(GrpcStatus.INTERNAL, `Error deserializing request: ${(e as Error).message}`);
    }
  }

  /**
   * Writes `frame` as gRPC messages; false when the stream holds MAX_BUFFERED_BYTES or more not yet
   * written (wait for 'drain'). `cb` runs once they are handed to the socket, when their buffer from the
   * arena may be reused.
   */
  write(frame: SeriesFrameOut, cb: (err?: Error | null) => void): boolean {
    if (!this.#responded) {
      this.#responded = true;
      this.#stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
    }
    this.#stream.write(framed(frame), (err?: Error | null) => {
      seriesMessages.written(frame);
      cb(err);
    });
    return this.#stream.writableLength < MAX_BUFFERED_BYTES;
  }

  once(event: 'drain' | 'close', listener: () => void): void {
    this.#stream.once(event, listener);
  }

  off(event: 'drain' | 'close', listener: () => void): void {
    this.#stream.off(event, listener);
  }

  /** Ends the call with this status, once: trailers after the messages, or headers alone if none was sent. */
  finish(code: GrpcStatus, details: string): void {
    if (this.#finished) return;
    this.#finished = true;
    clearTimeout(this.#deadline);
    const stream = this.#stream;
    if (stream.destroyed || stream.closed) return;
    const status = { 'grpc-status': String(code), 'grpc-message': percentEncoded(details) };
    if (this.#responded) {
      stream.once('wantTrailers', () => stream.sendTrailers(status));
      stream.end();
    } else {
      this.#responded = true;
      stream.respond({ ...RESPONSE_HEADERS, ...status }, { endStream: true });
    }
  }
}
