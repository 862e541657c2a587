/**
 * A lean HTTP/1.1 client for bodies that carry every byte of a query: Prometheus' API and remote read
 * (the sidecar), and object range reads from a plain-HTTP S3 endpoint (the store gateway's chunks).
 *
 * node:http hands the body over as one Buffer per HTTP chunk through a Readable (Prometheus flushes one
 * chunk per frame, several per socket read), and that stream plumbing cost the sidecar about as much CPU
 * as the kernel's copy of the bytes (measured: 19 MB response, ~18 ms CPU through node:http, ~9 ms on a
 * bare socket). Here the chunked encoding is decoded as socket reads arrive, and the body is given as
 * views of those reads: nothing is copied. Connections are kept alive and reused, as node:http's agent does.
 */
import net from 'node:net';
import tls from 'node:tls';

export interface Http1Response {
  status: number;
  /** Header names lower-cased; a repeated header's values joined with ", ". */
  headers: Map<string, string>;
  /** The body as views of the socket reads, in order; iterate once. Leaving early closes the connection. */
  body: AsyncIterable<Buffer>;
  /** Drops a response whose body will not be read. */
  cancel(): void;
  /**
   * Says that the pieces the body yielded before the last one are no longer used (a reader that
   * copies what it keeps): the client then reads into their memory again instead of new memory.
   */
  recycle(): void;
}

/** Largest response head accepted (status line and headers). */
const MAX_HEAD_BYTES = 64 * 1024;
/** Largest chunk-size or trailer line accepted. */
const MAX_LINE_BYTES = 8 * 1024;
/** Chunk data up to this size is moved next to the next chunk's, to be given as one piece with it. */
const MERGE_BYTES = 4096;
/** Body pieces queued before the socket is paused. */
const MAX_QUEUED_PIECES = 16;
/** Idle connections kept per client by default, and for how long. */
const MAX_IDLE_SOCKETS = 4;
const IDLE_TIMEOUT_MS = 30_000;

const enum State {
  Head,
  ChunkSize,
  ChunkData,
  ChunkEnd,
  Trailers,
  Length,
  UntilClose,
  Done,
}

const CR = 13;
const LF = 10;

/** The value of a hex digit's character code, -1 for anything else (undefined included). */
function hexDigit(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 0x20;
  return l >= 97 && l <= 102 ? l - 87 : -1;
}

/** One request's response, parsed from the socket's reads as they arrive. */
class Exchange {
  status = 0;
  readonly headers = new Map<string, string>();
  /** Any byte of the response has arrived (a reused connection that fails before that is retried). */
  received = false;
  #state = State.Head;
  #head: Buffer | undefined;
  /** Bytes left in the current chunk, the Content-Length body, or the CRLF after a chunk. */
  #remaining = 0;
  #line = '';
  #keepAlive = true;
  readonly #onHead: () => void;
  readonly #onPiece: (piece: Buffer) => void;

  /** `headOnly`: the answer to a HEAD request, whose headers describe a body it does not have. */
  constructor(
    onHead: () => void,
    private readonly headOnly: boolean,
    onPiece: (piece: Buffer) => void,
  ) {
    this.#onHead = onHead;
    this.#onPiece = onPiece;
  }

  get done(): boolean {
    return this.#state === State.Done;
  }

  get headParsed(): boolean {
    return this.#state !== State.Head;
  }

  /** Bytes of a Content-Length body still to come; -1 for any other body (or before the head). */
  get lengthRemaining(): number {
    return this.#state === State.Length ? this.#remaining : -1;
  }

  /** The connection can carry another request once this response is done. */
  get reusable(): boolean {
    return this.#state === State.Done && this.#keepAlive;
  }

  /** The connection was closed: the end of an until-close body, else a failure message. */
  closed(): string | undefined {
    if (this.#state === State.UntilClose) {
      this.#state = State.Done;
      this.#keepAlive = false;
      return undefined;
    }
    if (this.#state === State.Done) return undefined;
    return this.#state === State.Head ? 'connection closed before the response' : 'connection closed before the end of the response';
  }

  /** Consumes one socket read; throws on a malformed response. */
  feed(buf: Buffer): void {
    this.received = true;
    let pos = 0;
    // The chunk data met last in `buf` and not given yet, [held, heldEnd); held < 0: none.
    let held = -1;
    let heldEnd = 0;
    while (pos < buf.length) {
      switch (this.#state) {
        case State.Head:
          pos = this.#readHead(buf);
          break;
        case State.ChunkData: {
          const n = Math.min(this.#remaining, buf.length - pos);
          // Go's servers (Prometheus) send a frame as a small chunk then the rest: a small chunk whose
          // successor's data is in the same read is moved over the chunk-size line between them and
          // given with it as one piece (half as many pieces to pass on and check). Never more bytes
          // are moved than the successor brings: a run of tiny chunks costs no more than its length.
          let start = pos;
          if (held >= 0) {
            const len = heldEnd - held;
            if (len <= MERGE_BYTES && len <= n) {
              start = pos - len;
              buf.copyWithin(start, held, heldEnd);
            } else this.#onPiece(buf.subarray(held, heldEnd));
          }
          held = start;
          heldEnd = pos + n;
          pos += n;
          this.#remaining -= n;
          if (this.#remaining === 0) {
            this.#state = State.ChunkEnd;
            this.#remaining = 2;
          }
          break;
        }
        case State.Length: {
          const n = Math.min(this.#remaining, buf.length - pos);
          this.#onPiece(buf.subarray(pos, pos + n));
          pos += n;
          this.#remaining -= n;
          if (this.#remaining === 0) this.#state = State.Done;
          break;
        }
        case State.ChunkEnd:
          if (buf[pos++] !== (this.#remaining === 2 ? CR : LF)) throw new Error('malformed chunked encoding: no CRLF after a chunk');
          if (--this.#remaining === 0) this.#state = State.ChunkSize;
          break;
        case State.ChunkSize:
        case State.Trailers: {
          if (this.#state === State.ChunkSize && this.#line === '') {
            const after = this.#chunkSizeInPlace(buf, pos);
            if (after >= 0) {
              pos = after;
              break;
            }
          }
          const end = this.#readLine(buf, pos);
          pos = end < 0 ? buf.length : end;
          if (end >= 0) this.#lineDone();
          break;
        }
        case State.UntilClose:
          this.#onPiece(pos === 0 ? buf : buf.subarray(pos));
          pos = buf.length;
          break;
        case State.Done:
          throw new Error(`${buf.length - pos} bytes after the end of the response`);
      }
    }
    if (held >= 0) this.#onPiece(buf.subarray(held, heldEnd));
  }

  /** Adds `buf[pos…]` up to a LF to the current line; returns the offset after the LF, or -1 if none. */
  #readLine(buf: Buffer, pos: number): number {
    const lf = buf.indexOf(LF, pos);
    const end = lf < 0 ? buf.length : lf + 1;
    this.#line += buf.toString('latin1', pos, end);
    if (this.#line.length > MAX_LINE_BYTES) throw new Error('chunk-size or trailer line too long');
    return lf < 0 ? -1 : end;
  }

  #lineDone(): void {
    const line = this.#line.trimEnd();
    this.#line = '';
    if (this.#state === State.Trailers) {
      if (line === '') this.#state = State.Done;
      return;
    }
    const size = line.split(';', 1)[0]!.trim();
    if (!/^[0-9a-fA-F]{1,12}$/.test(size)) throw new Error(`malformed chunk size ${JSON.stringify(line.slice(0, 40))}`);
    this.#chunkSize(parseInt(size, 16));
  }

  /**
   * The fast path, for nearly every chunk: "<hex size>\r\n" whole in this read, parsed in place. Returns
   * the offset after it, or -1 to read the line as text (an extension, or a line split between reads).
   */
  #chunkSizeInPlace(buf: Buffer, pos: number): number {
    let p = pos;
    let size = 0;
    for (let d = hexDigit(buf[p]); d >= 0 && p - pos < 12; d = hexDigit(buf[++p])) size = size * 16 + d;
    if (p === pos || buf[p] !== CR || buf[p + 1] !== LF) return -1;
    this.#chunkSize(size);
    return p + 2;
  }

  #chunkSize(size: number): void {
    this.#remaining = size;
    this.#state = size === 0 ? State.Trailers : State.ChunkData;
  }

  /** Reads the head from `buf`; returns the offset after it, or `buf.length` while it is incomplete. */
  #readHead(buf: Buffer): number {
    const prior = this.#head?.length ?? 0;
    const all = this.#head === undefined ? buf : Buffer.concat([this.#head, buf]);
    const end = all.indexOf('\r\n\r\n', Math.max(0, prior - 3), 'latin1');
    if (end < 0) {
      if (all.length > MAX_HEAD_BYTES) throw new Error(`response head larger than ${MAX_HEAD_BYTES} bytes`);
      this.#head = all === buf ? Buffer.from(buf) : all; // socket reads may be reused by the caller: keep a copy
      return buf.length;
    }
    this.#head = undefined;
    const lines = all.toString('latin1', 0, end).split('\r\n');
    const m = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0]!);
    if (!m) throw new Error(`malformed status line ${JSON.stringify(lines[0]!.slice(0, 80))}`);
    const status = Number(m[2]);
    const after = end + 4 - prior;
    if (status >= 100 && status < 200) return after; // an interim response: the real one follows
    this.status = status;
    this.headers.clear();
    for (let i = 1; i < lines.length; i++) {
      const colon = lines[i]!.indexOf(':');
      if (colon <= 0) throw new Error(`malformed header line ${JSON.stringify(lines[i]!.slice(0, 80))}`);
      const name = lines[i]!.slice(0, colon).trim().toLowerCase();
      const value = lines[i]!.slice(colon + 1).trim();
      const prev = this.headers.get(name);
      this.headers.set(name, prev === undefined ? value : `${prev}, ${value}`);
    }
    const connection = this.headers.get('connection')?.toLowerCase() ?? '';
    this.#keepAlive = m[1] === '1' ? !connection.includes('close') : connection.includes('keep-alive');
    const length = this.headers.get('content-length');
    if (status === 204 || status === 304 || this.headOnly) this.#state = State.Done;
    else if (this.headers.get('transfer-encoding')?.toLowerCase().includes('chunked')) this.#state = State.ChunkSize;
    else if (length !== undefined) {
      if (!/^\d{1,15}$/.test(length)) throw new Error(`malformed Content-Length ${JSON.stringify(length)}`);
      this.#remaining = Number(length);
      this.#state = this.#remaining === 0 ? State.Done : State.Length;
    } else {
      this.#state = State.UntilClose;
      this.#keepAlive = false;
    }
    this.#onHead();
    return after;
  }
}

/**
 * Plain TCP connections read into slabs carved one read after another (`onread`), instead of a new
 * 64 KiB buffer per read: the body's pieces are views of the slabs, which the garbage collector frees
 * once no piece refers to them (a 19 MB response: ~3 ms less CPU). Node asks for the buffer of a
 * connection's next read right after reporting the last one, so each connection carves its own slab.
 *
 * While a response is recycled (`Http1Response.recycle`), full slabs are kept, and those whose pieces
 * the reader has released are read into again: new memory for every response cost the sidecar, besides
 * its allocation, a full garbage collection every call or two (V8 collects when external memory grows).
 */
const READ_SLAB_BYTES = 1 << 20;
/** Below this much room left, the next read gets a new slab. */
const MIN_READ_BYTES = 64 * 1024;
/** Released slabs a connection keeps for its next responses. */
const MAX_FREE_READ_SLABS = 2;

class ReadSlabs {
  #slab: Buffer = Buffer.allocUnsafeSlow(2 * MIN_READ_BYTES); // small, until the connection reads more than a short answer
  #used = 0;
  /** Full slabs, oldest first, while a response is recycled; then slabs released for reuse. */
  #retired: Buffer[] = [];
  readonly #free: Buffer[] = [];
  #recycling = false;
  /** Where reads go instead while a body is read into its caller's memory (`direct`), and how far. */
  #direct: Buffer | undefined;
  #directUsed = 0;

  /** Room for the next read. */
  buffer(): Buffer {
    if (this.#direct !== undefined) return this.#direct.subarray(this.#directUsed);
    if (this.#slab.length - this.#used < MIN_READ_BYTES) {
      if (this.#recycling) this.#retired.push(this.#slab);
      this.#slab = this.#free.pop() ?? Buffer.allocUnsafeSlow(READ_SLAB_BYTES);
      this.#used = 0;
    }
    return this.#slab.subarray(this.#used);
  }

  /** `n` bytes were read into the last `buffer()`. */
  read(n: number): void {
    if (this.#direct !== undefined) {
      this.#directUsed += n;
      if (this.#directUsed === this.#direct.length) this.#direct = undefined;
      return;
    }
    this.#used += (n + 7) & ~7; // 8-byte aligned starts
  }

  /** Slabs older than the one holding `inUse` (a piece still used) may be read into again. */
  releaseBefore(inUse: Buffer): void {
    this.#recycling = true;
    let i = this.#retired.findIndex((slab) => slab.buffer === inUse.buffer);
    if (i < 0) {
      if (inUse.buffer !== this.#slab.buffer) return; // older than every slab kept: none older to release
      i = this.#retired.length;
    }
    for (const slab of this.#retired.splice(0, i)) {
      if (slab.length === READ_SLAB_BYTES && this.#free.length < MAX_FREE_READ_SLABS) this.#free.push(slab);
    }
  }

  /**
   * The next reads go into `target`, no further than its end (the rest of a body known to fit), then
   * into slabs again. Reads never go past the end of the body: no byte of a later response lands there.
   */
  direct(target: Uint8Array): void {
    this.#direct = target.length > 0 ? Buffer.from(target.buffer, target.byteOffset, target.length) : undefined;
    this.#directUsed = 0;
  }

  endDirect(): void {
    this.#direct = undefined;
  }

  /** The response ended: slabs still retired may be referred to by pieces its reader kept. */
  endRecycling(): void {
    this.#recycling = false;
    this.#retired = [];
  }
}

/** A connection and whoever takes its reads now: the exchange on it, or the idle pool. */
interface Conn {
  readonly socket: net.Socket;
  onData: (buf: Buffer) => void;
  /** Plain TCP connections' read memory. */
  readonly reads?: ReadSlabs;
  /** While idle: closes it and takes it out of the pool. */
  drop?: () => void;
}

const ignore = () => {};

export interface Http1ClientOptions {
  /** Makes the errors of connections and responses (given their message). */
  error?: (message: string) => Error;
  /** Connections kept alive between requests (as many as requests run at once, at best); default 4. */
  maxIdleSockets?: number;
  /** How long an idle connection is kept (ms); default 30 s. */
  idleTimeoutMs?: number;
  /** How long connecting may take, the TLS handshake included (ms); 0: as long as the system allows. */
  connectTimeoutMs?: number;
  /** For https: URLs, what tls.connect takes besides the host (a CA, a client certificate, a server name). */
  tls?: tls.ConnectionOptions;
  /** How the host name is resolved (default: the system's resolver). */
  lookup?: net.LookupFunction;
}

/** Requests to one origin (`http:` or `https:`), over kept-alive connections. */
export class Http1Client {
  readonly #url: URL;
  readonly #idle: Conn[] = [];
  readonly #tls: tls.ConnectionOptions;
  readonly #lookup: { lookup?: net.LookupFunction };
  readonly #error: (message: string) => Error;
  readonly maxIdleSockets: number;
  readonly #idleTimeoutMs: number;
  readonly #connectTimeoutMs: number;

  constructor(origin: string | URL, opts: Http1ClientOptions = {}) {
    this.#url = new URL(origin);
    this.#tls = opts.tls ?? {};
    this.#lookup = opts.lookup !== undefined ? { lookup: opts.lookup } : {};
    this.#error = opts.error ?? ((message) => new Error(message));
    this.maxIdleSockets = opts.maxIdleSockets ?? MAX_IDLE_SOCKETS;
    this.#idleTimeoutMs = opts.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
    this.#connectTimeoutMs = opts.connectTimeoutMs ?? 0;
    if (this.#url.protocol !== 'http:' && this.#url.protocol !== 'https:') throw new Error(`unsupported protocol ${this.#url.protocol}`);
  }

  #connect(): Conn {
    const host = this.#url.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = Number(this.#url.port || (this.#url.protocol === 'https:' ? 443 : 80));
    let conn: Conn;
    if (this.#url.protocol === 'https:') {
      const socket = tls.connect({ host, port, ...(net.isIP(host) === 0 ? { servername: host } : {}), ...this.#lookup, ...this.#tls });
      conn = { socket, onData: ignore };
      socket.on('data', (buf: Buffer) => conn.onData(buf));
    } else {
      const reads = new ReadSlabs();
      const onread = {
        buffer: (): Buffer => reads.buffer(),
        callback: (n: number, buf: Uint8Array): boolean => {
          reads.read(n);
          conn.onData((buf as Buffer).subarray(0, n));
          return true; // the exchange pauses the socket itself when its queue is full
        },
      };
      conn = { socket: net.connect({ host, port, onread, ...this.#lookup }), onData: ignore, reads };
    }
    conn.socket.setNoDelay(true);
    if (this.#connectTimeoutMs > 0) {
      const socket = conn.socket;
      const ms = this.#connectTimeoutMs;
      const timer = setTimeout(() => socket.destroy(new Error(`connecting to ${this.#url.host} took longer than ${ms} ms`)), ms);
      const connected = () => clearTimeout(timer);
      socket.once(this.#url.protocol === 'https:' ? 'secureConnect' : 'connect', connected).once('close', connected);
    }
    return conn;
  }

  /**
   * Sends `method path` with `headers` and `body`; resolves once the response head has arrived. With
   * `into`, a Content-Length body that fits in it is read straight into it (plain TCP connections): the
   * body's pieces are then views of `into` at their offset in the body, but for those that arrived with
   * the head, which the reader copies.
   */
  async request(method: string, path: string, headers: Record<string, string | number>, body: Buffer, signal?: AbortSignal, into?: Uint8Array): Promise<Http1Response> {
    if (signal?.aborted) throw this.#error('request aborted');
    const head = [`${method} ${path} HTTP/1.1`, `Host: ${this.#url.host}`, `Content-Length: ${body.length}`];
    for (const [name, value] of Object.entries(headers)) head.push(`${name}: ${value}`);
    const request = Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), body]);
    for (;;) {
      const pooled = this.#idle.pop();
      try {
        return await this.#exchange(pooled ?? this.#connect(), pooled !== undefined, request, method === 'HEAD', signal, into);
      } catch (e) {
        // A kept-alive connection the server closed meanwhile fails before any response byte: retry on a new one.
        if (!(e instanceof StaleConnection)) throw e;
      }
    }
  }

  #exchange(conn: Conn, reused: boolean, request: Buffer, headOnly: boolean, signal: AbortSignal | undefined, into: Uint8Array | undefined): Promise<Http1Response> {
    const socket = conn.socket;
    if (conn.drop !== undefined) {
      socket.off('close', conn.drop).off('error', conn.drop).off('timeout', conn.drop);
      conn.drop = undefined;
      socket.setTimeout(0);
      socket.ref();
    }
    const queue: Buffer[] = [];
    /** The last piece the body yielded. */
    let last: Buffer | undefined;
    /** The exchange is over (its connection may serve another). */
    let ended = false;
    let failure: Error | undefined;
    let wake: (() => void) | undefined;
    /** Body bytes given so far; whether reads may still be sent into `into`. */
    let bodyBytes = 0;
    let intoPending = into !== undefined && conn.reads !== undefined;
    const notify = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    return new Promise<Http1Response>((resolve, reject) => {
      const ex = new Exchange(
        () =>
          resolve({
            status: ex.status,
            headers: ex.headers,
            body: body(),
            cancel: () => finish(this.#error('response cancelled')),
            recycle: () => {
              if (last !== undefined && !ended) conn.reads?.releaseBefore(last);
            },
          }),
        headOnly,
        (piece) => {
          bodyBytes += piece.length;
          queue.push(piece);
          if (queue.length >= MAX_QUEUED_PIECES) socket.pause();
        },
      );
      /** Ends the exchange: the connection goes back to the pool after a complete response, else is closed. */
      const finish = (err?: Error) => {
        ended = true;
        conn.onData = ignore;
        conn.reads?.endRecycling();
        conn.reads?.endDirect();
        socket.off('error', onError).off('close', onClose);
        signal?.removeEventListener('abort', onAbort);
        if (err === undefined && ex.reusable) this.#release(conn);
        else socket.destroy();
        if (err !== undefined) {
          failure ??= err;
          if (!ex.headParsed) reject(reused && !ex.received ? new StaleConnection() : err);
        }
        notify();
      };
      const onError = (e: Error) => finish(this.#error(e.message));
      const onClose = () => {
        const message = ex.closed();
        finish(message === undefined ? undefined : this.#error(message));
      };
      const onAbort = () => finish(this.#error('request aborted'));
      const unread = () => this.#error('response body left unread');
      conn.onData = (buf: Buffer) => {
        try {
          ex.feed(buf);
        } catch (e) {
          finish(this.#error(`malformed HTTP response: ${(e as Error).message}`));
          return;
        }
        if (ex.done) finish();
        else {
          if (intoPending && ex.headParsed) {
            intoPending = false;
            const left = ex.lengthRemaining;
            if (ex.status >= 200 && ex.status < 300 && left > 0 && bodyBytes + left <= (into as Uint8Array).length) conn.reads?.direct((into as Uint8Array).subarray(bodyBytes, bodyBytes + left));
          }
          notify();
        }
      };
      socket.on('error', onError).on('close', onClose);
      signal?.addEventListener('abort', onAbort, { once: true });
      socket.write(request);

      const body = () =>
        readBody({
          next: () => {
            const piece = queue.shift();
            if (piece !== undefined) last = piece;
            return piece;
          },
          end: () => {
            if (failure !== undefined) throw failure;
            return ex.done;
          },
          wait: () => {
            if (socket.isPaused()) socket.resume();
            return new Promise<void>((r) => (wake = r));
          },
          left: () => {
            if (!ex.done && failure === undefined) finish(unread());
          },
        });
    });
  }

  #release(conn: Conn): void {
    const socket = conn.socket;
    if (this.#idle.length >= this.maxIdleSockets || socket.destroyed) {
      socket.destroy();
      return;
    }
    socket.resume(); // may have been paused by the last response; an idle connection reads to notice its close
    const drop = () => {
      const i = this.#idle.indexOf(conn);
      if (i >= 0) this.#idle.splice(i, 1);
      socket.destroy();
    };
    conn.drop = drop;
    conn.onData = drop; // nothing may arrive between responses
    socket.on('close', drop).on('error', drop).on('timeout', drop);
    socket.setTimeout(this.#idleTimeoutMs);
    socket.unref();
    this.#idle.push(conn);
  }
}

/** What a response body's generator takes from its exchange. */
interface BodySource {
  /** The next piece that has arrived, if any. */
  next(): Buffer | undefined;
  /** Whether the response has ended; throws the failure that ended it early. */
  end(): boolean;
  /** Resolves once more has arrived or the exchange has ended. */
  wait(): Promise<void>;
  /** The body's iteration is over, at its end or before. */
  left(): void;
}

/**
 * A response body. A generator function of its own, not one made per exchange: each generator function
 * has its own prototype, so the bodies of one made per exchange each had a map of their own, and the
 * code reading them (the remote-read frame reader) was deoptimized and compiled again on many calls.
 */
async function* readBody(src: BodySource): AsyncGenerator<Buffer> {
  try {
    for (;;) {
      const piece = src.next();
      if (piece !== undefined) {
        yield piece;
        continue;
      }
      if (src.end()) return;
      await src.wait();
    }
  } finally {
    src.left();
  }
}

/** A reused connection failed before any byte of the response: the request was not answered. */
class StaleConnection extends Error {}
