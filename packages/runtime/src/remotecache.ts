import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { Counter, Histogram, type Registry } from 'prom-client';
import { gate, type Gate } from './gate.js';
import type { Logger } from './logger.js';

/** How a remote cache client queues and batches its operations (Thanos' keys of its memcached and redis clients). */
export interface RemoteCacheLimits {
  /** Idle connections kept per server. */
  maxIdleConnections: number;
  /** Sets sent at once. */
  maxAsyncConcurrency: number;
  /** Sets waiting to be sent; one more is dropped (counted as skipped). */
  maxAsyncBufferSize: number;
  /** Get batches in flight at once. */
  maxGetMultiConcurrency: number;
  /** Keys per get command; 0: all of a server's keys in one. */
  maxGetMultiBatchSize: number;
  /** Larger values are not set. */
  maxItemSize: number;
}

/** One connection to a cache server, one operation at a time. */
export interface CacheConnection {
  readonly open: boolean;
  /** The values the server holds of `keys`; a key it lacks is absent. */
  get(keys: readonly string[]): Promise<Map<string, Buffer>>;
  /** Sets `key` for `ttlMs` (0: no expiry). */
  set(key: string, value: Buffer, ttlMs: number): Promise<void>;
  close(): void;
}

type Reason = 'max-item-size' | 'async-buffer-full' | 'malformed-key' | 'timeout' | 'server-error' | 'network-error' | 'other';

/** Operation metrics under Thanos' names (thanos_memcached_*, thanos_redis_*), with the cache's `name`. */
class RemoteCacheMetrics {
  readonly operations: Counter<'name' | 'operation'>;
  readonly failures: Counter<'name' | 'operation' | 'reason'>;
  readonly skipped: Counter<'name' | 'operation' | 'reason'>;
  readonly duration: Histogram<'name' | 'operation'>;

  constructor(registry: Registry | undefined, system: string, name: string) {
    const registers = registry !== undefined ? [registry] : [];
    const existing = <T>(metric: string): T | undefined => registry?.getSingleMetric(metric) as T | undefined;
    const prefix = `strata_${system}`;
    this.operations =
      existing(`${prefix}_operations_total`) ??
      new Counter({ name: `${prefix}_operations_total`, help: `Operations sent to ${system}, by cache and operation.`, labelNames: ['name', 'operation'], registers });
    this.failures =
      existing(`${prefix}_operation_failures_total`) ??
      new Counter({ name: `${prefix}_operation_failures_total`, help: 'Operations that failed (each failed key of a get a miss), by cache, operation and reason.', labelNames: ['name', 'operation', 'reason'], registers });
    this.skipped =
      existing(`${prefix}_operation_skipped_total`) ??
      new Counter({ name: `${prefix}_operation_skipped_total`, help: 'Operations not sent, by cache, operation and reason.', labelNames: ['name', 'operation', 'reason'], registers });
    this.duration =
      existing(`${prefix}_operation_duration_seconds`) ??
      new Histogram({
        name: `${prefix}_operation_duration_seconds`,
        help: `How long ${system} took to answer an operation, by cache and operation.`,
        labelNames: ['name', 'operation'],
        buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 3],
        registers,
      });
    for (const operation of ['getmulti', 'set']) {
      this.operations.inc({ name, operation }, 0);
      this.duration.zero({ name, operation });
    }
  }
}

/**
 * A client of a remote cache (memcached, redis) as Thanos' (pkg/cacheutil): what the cache misses or
 * fails on is a miss, never an error of the request it serves. Gets of many keys go to each server in
 * batches, at most `maxGetMultiConcurrency` at a time; sets are queued (at most `maxAsyncBufferSize`)
 * and sent by `maxAsyncConcurrency` workers, so that a slow or absent cache never holds up an answer.
 * A subclass says which server holds a key, how to talk to it, and which keys it takes.
 */
export abstract class RemoteCacheClient {
  readonly #limits: RemoteCacheLimits;
  readonly #system: string;
  protected readonly name: string;
  readonly #metrics: RemoteCacheMetrics;
  protected readonly logger: Logger | undefined;
  readonly #pools = new Map<string, CacheConnection[]>();
  readonly #queue: (() => Promise<void>)[] = [];
  #setsRunning = 0;
  readonly #getGate: Gate;
  /** Keys asked for with `get` this turn, and who waits for each. */
  readonly #pendingGets = new Map<string, ((value: Buffer | undefined) => void)[]>();
  #stopped = false;

  /** `system`: `memcached` or `redis`, in the metrics' names; `name`: the cache's name in their labels (e.g. `query-range`). */
  constructor(system: string, limits: RemoteCacheLimits, opts: { name: string; registry?: Registry; logger?: Logger }) {
    this.#limits = limits;
    this.#system = system;
    this.name = opts.name;
    this.#metrics = new RemoteCacheMetrics(opts.registry, system, opts.name);
    this.logger = opts.logger;
    this.#getGate = gate(Math.max(1, limits.maxGetMultiConcurrency));
  }

  /** Makes the client ready to use (e.g. looks up its servers). */
  abstract start(): Promise<void>;
  /** The server that holds `key`; undefined when there is none. */
  protected abstract serverFor(key: string): string | undefined;
  protected abstract openConnection(server: string): Promise<CacheConnection>;
  protected abstract validKey(key: string): boolean;

  /**
   * The value the cache holds of `key` (undefined where it lacks it, or failed). Gets made in the same
   * turn of the event loop go out together, as one multi-get per server: a store gateway's concurrent
   * index reads of a query (Thanos fetches a block's postings and series entries in batches).
   */
  get(key: string): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const waiting = this.#pendingGets.get(key);
      if (waiting !== undefined) waiting.push(resolve);
      else this.#pendingGets.set(key, [resolve]);
      if (this.#pendingGets.size === 1 && waiting === undefined) setImmediate(() => void this.#sendPendingGets());
    });
  }

  async #sendPendingGets(): Promise<void> {
    const pending = [...this.#pendingGets];
    this.#pendingGets.clear();
    const found = await this.getMulti(pending.map(([key]) => key));
    for (const [key, waiting] of pending) for (const resolve of waiting) resolve(found.get(key));
  }

  /** The values the cache holds of `keys`; a key it lacks, or that failed, is absent. */
  async getMulti(keys: readonly string[]): Promise<Map<string, Buffer>> {
    const found = new Map<string, Buffer>();
    const byServer = new Map<string, string[]>();
    for (const key of new Set(keys)) {
      if (!this.validKey(key)) {
        this.#metrics.skipped.inc({ name: this.name, operation: 'getmulti', reason: 'malformed-key' });
        continue;
      }
      const server = this.serverFor(key);
      if (server === undefined) continue;
      let list = byServer.get(server);
      if (list === undefined) byServer.set(server, (list = []));
      list.push(key);
    }
    const batches: [string, string[]][] = [];
    const size = this.#limits.maxGetMultiBatchSize;
    for (const [server, list] of byServer) {
      for (let i = 0; i < list.length; i += size > 0 ? size : list.length) batches.push([server, list.slice(i, size > 0 ? i + size : list.length)]);
    }
    await Promise.all(
      batches.map(([server, batch]) =>
        this.#getGate(async () => {
          const values = await this.#operation('getmulti', server, (c) => c.get(batch));
          if (values !== undefined) for (const [k, v] of values) found.set(k, v);
        }),
      ),
    );
    return found;
  }

  /** Queues a set of `key` for `ttlMs` (0: no expiry); dropped, and counted, when the queue is full or the value too large. */
  setAsync(key: string, value: Buffer, ttlMs: number): void {
    const skip = (reason: Reason) => this.#metrics.skipped.inc({ name: this.name, operation: 'set', reason });
    if (this.#stopped) return;
    if (!this.validKey(key)) return skip('malformed-key');
    if (value.length > this.#limits.maxItemSize) return skip('max-item-size');
    if (this.#queue.length >= this.#limits.maxAsyncBufferSize) return skip('async-buffer-full');
    this.#queue.push(async () => {
      const server = this.serverFor(key);
      if (server !== undefined) await this.#operation('set', server, (c) => c.set(key, value, ttlMs));
    });
    this.#drain();
  }

  /** Sends what is queued now and resolves once it was (for tests and a graceful stop). */
  async flush(): Promise<void> {
    while (this.#queue.length > 0 || this.#setsRunning > 0) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  stop(): void {
    this.#stopped = true;
    this.#queue.length = 0;
    for (const server of [...this.#pools.keys()]) this.dropConnections(server);
  }

  /** Closes the idle connections to `server` (one no longer in use). */
  protected dropConnections(server: string): void {
    for (const c of this.#pools.get(server) ?? []) c.close();
    this.#pools.delete(server);
  }

  #drain(): void {
    while (this.#setsRunning < this.#limits.maxAsyncConcurrency && this.#queue.length > 0) {
      const next = this.#queue.shift() as () => Promise<void>;
      this.#setsRunning++;
      void next().finally(() => {
        this.#setsRunning--;
        this.#drain();
      });
    }
  }

  /** Runs one operation on a connection of `server`'s pool; a failure is counted and logged, and gives undefined. */
  async #operation<T>(operation: 'getmulti' | 'set', server: string, op: (c: CacheConnection) => Promise<T>): Promise<T | undefined> {
    const labels = { name: this.name, operation };
    this.#metrics.operations.inc(labels);
    const end = this.#metrics.duration.startTimer(labels);
    let c: CacheConnection | undefined;
    try {
      c = this.#idle(server) ?? (await this.openConnection(server));
      const out = await op(c);
      end();
      this.#release(server, c);
      return out;
    } catch (e) {
      c?.close();
      const reason = failureReason(e);
      this.#metrics.failures.inc({ ...labels, reason });
      this.logger?.debug(`${this.#system} operation failed`, { name: this.name, operation, server, reason, err: (e as Error).message });
      return undefined;
    }
  }

  /** An idle connection to `server` that is still open (servers close idle ones). */
  #idle(server: string): CacheConnection | undefined {
    const pool = this.#pools.get(server);
    for (let c = pool?.pop(); c !== undefined; c = pool?.pop()) {
      if (c.open) return c;
      c.close();
    }
    return undefined;
  }

  #release(server: string, c: CacheConnection): void {
    let pool = this.#pools.get(server);
    if (pool === undefined) this.#pools.set(server, (pool = []));
    if (this.#stopped || pool.length >= this.#limits.maxIdleConnections) c.close();
    else pool.push(c);
  }
}

/** A connection over a CacheSocket: what a protocol's connection adds is its get and set. */
export abstract class SocketConnection implements CacheConnection {
  constructor(protected readonly socket: CacheSocket) {}

  get open(): boolean {
    return this.socket.open;
  }

  close(): void {
    this.socket.close();
  }

  abstract get(keys: readonly string[]): Promise<Map<string, Buffer>>;
  abstract set(key: string, value: Buffer, ttlMs: number): Promise<void>;
}

/** What an answer parser makes of the bytes arrived: done, with how many it took, or undefined while incomplete; it throws on an error answer. */
export type AnswerParser = (b: Buffer) => { done: true; consumed: number } | undefined;

/**
 * A socket to a cache server (TCP, or TLS with `tls`) that sends one request at a time and reads its
 * answer with the parser given, within `timeoutMs`.
 */
export class CacheSocket {
  readonly #socket: Socket;
  readonly #timeoutMs: number;
  #buffered: Buffer = Buffer.alloc(0);
  #parse: AnswerParser | undefined;
  #fail: ((e: Error) => void) | undefined;

  private constructor(socket: Socket, timeoutMs: number) {
    this.#socket = socket;
    this.#timeoutMs = timeoutMs;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (e) => this.#fail?.(e));
    socket.on('close', () => this.#fail?.(new NetworkError('connection closed')));
  }

  /** Connects to `server` (host:port), within `connectTimeoutMs`; each answer is then awaited for `timeoutMs`. */
  static open(server: string, opts: { connectTimeoutMs: number; timeoutMs: number; tls?: ConnectionOptions }): Promise<CacheSocket> {
    const colon = server.lastIndexOf(':');
    const host = server.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
    const port = Number(server.slice(colon + 1));
    return new Promise((resolve, reject) => {
      const socket = opts.tls !== undefined ? tlsConnect({ host, port, ...opts.tls }) : connect({ host, port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new TimeoutError(`connecting to ${server} timed out`));
      }, opts.connectTimeoutMs);
      socket.once(opts.tls !== undefined ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new CacheSocket(socket, opts.timeoutMs));
      });
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(new NetworkError(e.message));
      });
    });
  }

  get open(): boolean {
    return !this.#socket.destroyed && this.#socket.readyState === 'open';
  }

  close(): void {
    this.#socket.destroy();
  }

  /** Sends `command` and resolves once `parse` has read its whole answer. */
  request(command: Buffer, parse: AnswerParser): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => finish(new TimeoutError(`no answer within ${this.#timeoutMs} ms`)), this.#timeoutMs);
      const finish = (err?: Error) => {
        clearTimeout(timer);
        this.#parse = undefined;
        this.#fail = undefined;
        if (err !== undefined) reject(err);
        else resolve();
      };
      this.#fail = finish;
      this.#parse = (b) => {
        const answer = parse(b);
        if (answer !== undefined) finish();
        return answer;
      };
      this.#socket.write(command);
    });
  }

  #onData(chunk: Buffer): void {
    this.#buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    if (this.#parse === undefined) return;
    try {
      const answer = this.#parse(this.#buffered);
      if (answer !== undefined) this.#buffered = this.#buffered.subarray(answer.consumed);
    } catch (e) {
      this.#fail?.(e as Error);
    }
  }
}

export class TimeoutError extends Error {}
export class NetworkError extends Error {}
/** The server answered with an error. */
export class ServerError extends Error {}

function failureReason(e: unknown): Reason {
  if (e instanceof TimeoutError) return 'timeout';
  if (e instanceof NetworkError) return 'network-error';
  if (e instanceof ServerError) return 'server-error';
  return 'other';
}
