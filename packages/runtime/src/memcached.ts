import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { Counter, Histogram, type Registry } from 'prom-client';
import { isDnsEndpoint, resolveDnsEndpoint, systemResolver, type DnsResolver } from './dns.js';
import { gate, type Gate } from './gate.js';
import type { Logger } from './logger.js';

/**
 * A memcached client as Thanos' (pkg/cacheutil): what a cache misses or fails on is a miss, never an
 * error of the request it serves. Keys are spread over the servers by jump consistent hashing, as
 * Thanos' MemcachedJumpHashSelector does, so that adding a server moves only its share of the keys. Gets
 * of many keys go to each server in batches, at most `maxGetMultiConcurrency` at a time; sets are queued
 * (at most `maxAsyncBufferSize`) and sent by `maxAsyncConcurrency` workers, so that a slow or absent
 * memcached never holds up an answer.
 *
 * The wire format is memcached's text protocol (protocol.txt):
 *   get <key>*\r\n                       → (VALUE <key> <flags> <bytes>\r\n<data>\r\n)* END\r\n
 *   set <key> <flags> <exptime> <bytes>\r\n<data>\r\n → STORED\r\n | NOT_STORED\r\n
 * and on a bad command ERROR, CLIENT_ERROR <message> or SERVER_ERROR <message>. Keys are at most 250
 * bytes without spaces or control characters.
 */
export interface MemcachedClientConfig {
  /** `host:port`, or Thanos' `dns+host:port`, `dnssrv+name`, `dnssrvnoa+name`, looked up every `dnsProviderUpdateIntervalMs`. */
  addresses: string[];
  /** For connecting and for each operation's answer (ms). */
  timeoutMs: number;
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
  /** Larger values are not set (memcached's own -I limit defaults to 1 MiB). */
  maxItemSize: number;
  dnsProviderUpdateIntervalMs: number;
}

/** Thanos' defaults (pkg/cacheutil: defaultMemcachedClientConfig). */
export const DEFAULT_MEMCACHED_CLIENT_CONFIG: Omit<MemcachedClientConfig, 'addresses'> = {
  timeoutMs: 500,
  maxIdleConnections: 100,
  maxAsyncConcurrency: 20,
  maxAsyncBufferSize: 10_000,
  maxGetMultiConcurrency: 100,
  maxGetMultiBatchSize: 0,
  maxItemSize: 1024 * 1024,
  dnsProviderUpdateIntervalMs: 10_000,
};

type Reason = 'max-item-size' | 'async-buffer-full' | 'malformed-key' | 'timeout' | 'server-error' | 'network-error' | 'other';

/** Operation metrics under Thanos' names (thanos_memcached_*), with the cache's `name`. */
class MemcachedMetrics {
  readonly operations: Counter<'name' | 'operation'>;
  readonly failures: Counter<'name' | 'operation' | 'reason'>;
  readonly skipped: Counter<'name' | 'operation' | 'reason'>;
  readonly duration: Histogram<'name' | 'operation'>;

  constructor(registry: Registry | undefined, name: string) {
    const registers = registry !== undefined ? [registry] : [];
    const existing = <T>(metric: string): T | undefined => registry?.getSingleMetric(metric) as T | undefined;
    this.operations =
      existing('strata_memcached_operations_total') ??
      new Counter({ name: 'strata_memcached_operations_total', help: 'Operations sent to memcached, by cache and operation.', labelNames: ['name', 'operation'], registers });
    this.failures =
      existing('strata_memcached_operation_failures_total') ??
      new Counter({ name: 'strata_memcached_operation_failures_total', help: 'Operations that failed (each failed key of a get a miss), by cache, operation and reason.', labelNames: ['name', 'operation', 'reason'], registers });
    this.skipped =
      existing('strata_memcached_operation_skipped_total') ??
      new Counter({ name: 'strata_memcached_operation_skipped_total', help: 'Operations not sent, by cache, operation and reason.', labelNames: ['name', 'operation', 'reason'], registers });
    this.duration =
      existing('strata_memcached_operation_duration_seconds') ??
      new Histogram({
        name: 'strata_memcached_operation_duration_seconds',
        help: 'How long memcached took to answer an operation, by cache and operation.',
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

export class MemcachedClient {
  readonly #cfg: MemcachedClientConfig;
  readonly #name: string;
  readonly #metrics: MemcachedMetrics;
  readonly #logger: Logger | undefined;
  readonly #resolver: DnsResolver;
  /** The servers now, sorted (so that every client picks the same one for a key). */
  #servers: string[] = [];
  readonly #pools = new Map<string, Connection[]>();
  readonly #queue: (() => Promise<void>)[] = [];
  #setsRunning = 0;
  readonly #getGate: Gate;
  /** Keys asked for with `get` this turn, and who waits for each. */
  readonly #pendingGets = new Map<string, ((value: Buffer | undefined) => void)[]>();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  /** `name`: the cache's name in the metrics (e.g. `query-range`). */
  constructor(cfg: MemcachedClientConfig, opts: { name: string; registry?: Registry; logger?: Logger; resolver?: DnsResolver }) {
    if (cfg.addresses.length === 0) throw new Error('memcached: no addresses given');
    this.#cfg = cfg;
    this.#name = opts.name;
    this.#metrics = new MemcachedMetrics(opts.registry, opts.name);
    this.#logger = opts.logger;
    this.#resolver = opts.resolver ?? systemResolver;
    this.#getGate = gate(Math.max(1, cfg.maxGetMultiConcurrency));
  }

  /** Looks up the addresses (a DNS name that fails keeps its last addresses) and then every dnsProviderUpdateIntervalMs. */
  async start(): Promise<void> {
    await this.#resolve();
    if (this.#cfg.addresses.some(isDnsEndpoint)) {
      this.#timer = setInterval(() => void this.#resolve(), this.#cfg.dnsProviderUpdateIntervalMs);
      this.#timer.unref();
    }
  }

  /**
   * The value memcached holds of `key` (undefined where it lacks it, or failed). Gets made in the same
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

  /** The values memcached holds of `keys`; a key it lacks, or that failed, is absent. */
  async getMulti(keys: readonly string[]): Promise<Map<string, Buffer>> {
    const found = new Map<string, Buffer>();
    const byServer = new Map<string, string[]>();
    for (const key of new Set(keys)) {
      if (!validKey(key)) {
        this.#metrics.skipped.inc({ name: this.#name, operation: 'getmulti', reason: 'malformed-key' });
        continue;
      }
      const server = this.#serverFor(key);
      if (server === undefined) continue;
      let list = byServer.get(server);
      if (list === undefined) byServer.set(server, (list = []));
      list.push(key);
    }
    const batches: [string, string[]][] = [];
    const size = this.#cfg.maxGetMultiBatchSize;
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
    const skip = (reason: Reason) => this.#metrics.skipped.inc({ name: this.#name, operation: 'set', reason });
    if (this.#stopped) return;
    if (!validKey(key)) return skip('malformed-key');
    if (value.length > this.#cfg.maxItemSize) return skip('max-item-size');
    if (this.#queue.length >= this.#cfg.maxAsyncBufferSize) return skip('async-buffer-full');
    this.#queue.push(async () => {
      const server = this.#serverFor(key);
      if (server !== undefined) await this.#operation('set', server, (c) => c.set(key, value, expiry(ttlMs)));
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
    if (this.#timer !== undefined) clearInterval(this.#timer);
    for (const pool of this.#pools.values()) for (const c of pool) c.close();
    this.#pools.clear();
  }

  #drain(): void {
    while (this.#setsRunning < this.#cfg.maxAsyncConcurrency && this.#queue.length > 0) {
      const next = this.#queue.shift() as () => Promise<void>;
      this.#setsRunning++;
      void next().finally(() => {
        this.#setsRunning--;
        this.#drain();
      });
    }
  }

  /** Runs one operation on a connection of `server`'s pool; a failure is counted and logged, and gives undefined. */
  async #operation<T>(operation: 'getmulti' | 'set', server: string, op: (c: Connection) => Promise<T>): Promise<T | undefined> {
    const labels = { name: this.#name, operation };
    this.#metrics.operations.inc(labels);
    const end = this.#metrics.duration.startTimer(labels);
    let c: Connection | undefined;
    try {
      c = this.#idle(server) ?? (await Connection.open(server, this.#cfg.timeoutMs));
      const out = await op(c);
      end();
      this.#release(server, c);
      return out;
    } catch (e) {
      c?.close();
      const reason = failureReason(e);
      this.#metrics.failures.inc({ ...labels, reason });
      this.#logger?.debug('memcached operation failed', { name: this.#name, operation, server, reason, err: (e as Error).message });
      return undefined;
    }
  }

  /** An idle connection to `server` that is still open (memcached closes idle ones after its -o idle_timeout). */
  #idle(server: string): Connection | undefined {
    const pool = this.#pools.get(server);
    for (let c = pool?.pop(); c !== undefined; c = pool?.pop()) {
      if (c.open) return c;
      c.close();
    }
    return undefined;
  }

  #release(server: string, c: Connection): void {
    let pool = this.#pools.get(server);
    if (pool === undefined) this.#pools.set(server, (pool = []));
    if (this.#stopped || pool.length >= this.#cfg.maxIdleConnections) c.close();
    else pool.push(c);
  }

  #serverFor(key: string): string | undefined {
    const servers = this.#servers;
    if (servers.length <= 1) return servers[0];
    return servers[jumpHash(keyHash(key), servers.length)];
  }

  async #resolve(): Promise<void> {
    const next: string[] = [];
    for (const a of this.#cfg.addresses) {
      if (!isDnsEndpoint(a)) {
        next.push(a);
        continue;
      }
      try {
        next.push(...(await resolveDnsEndpoint(a, this.#resolver)));
      } catch (e) {
        // Keep what the name stood for until it answers again.
        this.#logger?.warn('memcached: looking up addresses failed', { name: this.#name, address: a, err: (e as Error).message });
        return;
      }
    }
    const servers = [...new Set(next)].sort();
    for (const [server, pool] of this.#pools) {
      if (servers.includes(server)) continue;
      for (const c of pool) c.close();
      this.#pools.delete(server);
    }
    this.#servers = servers;
  }
}

/** One connection to a server, one operation at a time. */
class Connection {
  readonly #socket: Socket;
  readonly #timeoutMs: number;
  #buffered: Buffer = Buffer.alloc(0);
  /** The answer being read: given what has arrived, the answer and how many bytes it took, or undefined while incomplete. */
  #parse: ((b: Buffer) => { done: true; consumed: number } | undefined) | undefined;
  #fail: ((e: Error) => void) | undefined;

  private constructor(socket: Socket, timeoutMs: number) {
    this.#socket = socket;
    this.#timeoutMs = timeoutMs;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (e) => this.#fail?.(e));
    socket.on('close', () => this.#fail?.(new NetworkError('connection closed')));
  }

  static open(server: string, timeoutMs: number): Promise<Connection> {
    const colon = server.lastIndexOf(':');
    const host = server.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
    const port = Number(server.slice(colon + 1));
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new TimeoutError(`connecting to ${server} timed out`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new Connection(socket, timeoutMs));
      });
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(new NetworkError(e.message));
      });
    });
  }

  async get(keys: readonly string[]): Promise<Map<string, Buffer>> {
    const values = new Map<string, Buffer>();
    await this.#request(Buffer.from(`get ${keys.join(' ')}\r\n`), (b) => {
      let at = 0;
      for (;;) {
        const eol = b.indexOf('\r\n', at);
        if (eol < 0) return undefined;
        const line = b.toString('latin1', at, eol);
        if (line === 'END') return { done: true, consumed: eol + 2 };
        const m = /^VALUE (\S+) \d+ (\d+)/.exec(line);
        if (m === null) throw serverError(line);
        const size = Number(m[2]);
        if (b.length < eol + 2 + size + 2) return undefined;
        values.set(m[1] as string, Buffer.from(b.subarray(eol + 2, eol + 2 + size)));
        at = eol + 2 + size + 2;
      }
    });
    return values;
  }

  async set(key: string, value: Buffer, exptime: number): Promise<void> {
    await this.#request(Buffer.concat([Buffer.from(`set ${key} 0 ${exptime} ${value.length}\r\n`), value, Buffer.from('\r\n')]), (b) => {
      const eol = b.indexOf('\r\n');
      if (eol < 0) return undefined;
      const line = b.toString('latin1', 0, eol);
      // NOT_STORED (a set memcached declined) is an answer, not a failure of the connection.
      if (line !== 'STORED' && line !== 'NOT_STORED') throw serverError(line);
      return { done: true, consumed: eol + 2 };
    });
  }

  get open(): boolean {
    return !this.#socket.destroyed && this.#socket.readyState === 'open';
  }

  close(): void {
    this.#socket.destroy();
  }

  #request(command: Buffer, parse: (b: Buffer) => { done: true; consumed: number } | undefined): Promise<void> {
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

class TimeoutError extends Error {}
class NetworkError extends Error {}
class ServerError extends Error {}

function serverError(line: string): Error {
  return new ServerError(`memcached answered ${JSON.stringify(line.slice(0, 200))}`);
}

function failureReason(e: unknown): Reason {
  if (e instanceof TimeoutError) return 'timeout';
  if (e instanceof NetworkError) return 'network-error';
  if (e instanceof ServerError) return 'server-error';
  return 'other';
}

/** memcached's key rule: 1–250 bytes, none of them a space or a control character. */
function validKey(key: string): boolean {
  return key.length > 0 && Buffer.byteLength(key) <= 250 && !/[\s\x00-\x1f\x7f]/.test(key);
}

/** memcached's exptime: seconds, rounded up (0 never expires); over 30 days it takes a Unix time instead. */
function expiry(ttlMs: number): number {
  if (ttlMs <= 0) return 0;
  const seconds = Math.ceil(ttlMs / 1000);
  return seconds <= 30 * 86_400 ? seconds : Math.ceil(Date.now() / 1000) + seconds;
}

/** 64 bits of a key's SHA-1, the input of the jump hash. */
function keyHash(key: string): bigint {
  return createHash('sha1').update(key).digest().readBigUInt64BE(0);
}

/** Lamping and Veach's jump consistent hash: the bucket in [0, n) of `key`. */
export function jumpHash(key: bigint, n: number): number {
  let b = -1;
  let j = 0;
  let k = key;
  while (j < n) {
    b = j;
    k = BigInt.asUintN(64, k * 2862933555777941757n + 1n);
    j = Math.floor((b + 1) * (2 ** 31 / (Number(k >> 33n) + 1)));
  }
  return b;
}
