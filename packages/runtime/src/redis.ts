import type { ConnectionOptions } from 'node:tls';
import type { Registry } from 'prom-client';
import type { Logger } from './logger.js';
import { CacheSocket, RemoteCacheClient, ServerError, SocketConnection, type CacheConnection, type RemoteCacheLimits } from './remotecache.js';

/**
 * A redis client as Thanos' (pkg/cacheutil: RedisClient; see RemoteCacheClient), for one standalone
 * redis server, or the master of a Redis Sentinel group: AUTH (with the username of an ACL user, or the
 * requirepass password) and SELECT on each connection, MGET in batches of `maxGetMultiBatchSize` keys,
 * SET with a time to live in ms.
 *
 * With Sentinel (`masterName`), each new connection asks the sentinels, in turn, where the master is
 * (`SENTINEL get-master-addr-by-name`), and checks with `ROLE` that it reached a master. After a
 * failover the old master answers writes with a READONLY error: like any failed operation that closes
 * the connection, and the next one finds the new master.
 *
 * The wire format is RESP2 (redis.io/docs/reference/protocol-spec): a command is an array of bulk
 * strings, `*<n>\r\n` then `$<len>\r\n<bytes>\r\n` each; an answer is `+<text>\r\n`, `-<error>\r\n`,
 * `:<integer>\r\n`, `$<len>\r\n<bytes>\r\n` (`$-1\r\n`: none) or `*<n>\r\n` and n answers.
 */
export interface RedisClientConfig extends RemoteCacheLimits {
  /** `host:port` of the server; with `masterName`, of the sentinels, comma-separated. */
  addr: string;
  /** The Sentinel group whose master to use (Thanos' master_name); '': `addr` is the server itself. */
  masterName: string;
  username: string;
  password: string;
  db: number;
  dialTimeoutMs: number;
  /** For each operation, to be written and answered (ms; Thanos' write_timeout + read_timeout). */
  timeoutMs: number;
  /** Connect over TLS with these options (Thanos' tls_enabled and tls_config); undefined: plain TCP. */
  tls?: ConnectionOptions;
}

/** Thanos' defaults (pkg/cacheutil: DefaultRedisClientConfig); redis itself takes values up to 512 MiB. */
export const DEFAULT_REDIS_CLIENT_CONFIG: Omit<RedisClientConfig, 'addr'> = {
  masterName: '',
  username: '',
  password: '',
  db: 0,
  dialTimeoutMs: 5_000,
  timeoutMs: 6_000,
  maxIdleConnections: 100,
  maxAsyncConcurrency: 20,
  maxAsyncBufferSize: 10_000,
  maxGetMultiConcurrency: 100,
  maxGetMultiBatchSize: 100,
  maxItemSize: 512 * 1024 * 1024,
};

export class RedisClient extends RemoteCacheClient {
  readonly #cfg: RedisClientConfig;

  /** `name`: the cache's name in the metrics (e.g. `query-range`). */
  constructor(cfg: RedisClientConfig, opts: { name: string; registry?: Registry; logger?: Logger }) {
    if (cfg.addr === '') throw new Error('redis: no addr given');
    super('redis', cfg, opts);
    this.#cfg = cfg;
  }

  async start(): Promise<void> {}

  protected serverFor(): string {
    return this.#cfg.addr;
  }

  protected async openConnection(server: string): Promise<CacheConnection> {
    const { username, password, db, masterName } = this.#cfg;
    const address = masterName === '' ? server : await this.#master();
    const c = await this.#connect(address);
    try {
      if (password !== '') await c.command(username !== '' ? ['AUTH', username, password] : ['AUTH', password]);
      if (db !== 0) await c.command(['SELECT', String(db)]);
      if (masterName !== '') {
        const role = await c.command(['ROLE']);
        const name = Array.isArray(role) ? String(role[0]) : describe(role);
        if (name !== 'master') throw new ServerError(`redis at ${address}, named by the sentinels as the master of ${masterName}, is a ${name}`);
      }
    } catch (e) {
      c.close();
      throw e;
    }
    return c;
  }

  async #connect(address: string): Promise<Connection> {
    const { dialTimeoutMs, timeoutMs, tls } = this.#cfg;
    return new Connection(await CacheSocket.open(address, { connectTimeoutMs: dialTimeoutMs, timeoutMs, ...(tls !== undefined ? { tls } : {}) }));
  }

  /** Where the sentinels say the master is: the first of them that answers, asked in turn. */
  async #master(): Promise<string> {
    const failures: string[] = [];
    for (const sentinel of this.#cfg.addr.split(',').map((a) => a.trim())) {
      let c: Connection | undefined;
      try {
        c = await this.#connect(sentinel);
        const reply = await c.command(['SENTINEL', 'get-master-addr-by-name', this.#cfg.masterName]);
        if (!Array.isArray(reply) || reply.length !== 2) throw new ServerError(`it knows no master named ${this.#cfg.masterName}`);
        const host = String(reply[0]);
        return `${host.includes(':') ? `[${host}]` : host}:${String(reply[1])}`;
      } catch (e) {
        failures.push(`${sentinel}: ${(e as Error).message}`);
      } finally {
        c?.close();
      }
    }
    throw new ServerError(`no sentinel named the master of ${this.#cfg.masterName}: ${failures.join('; ')}`);
  }

  /** Redis keys are binary safe; an empty one is refused. */
  protected validKey(key: string): boolean {
    return key.length > 0;
  }
}

/** A RESP answer; an error answer is thrown instead. */
type Reply = string | number | Buffer | null | Reply[];

/** One connection to a redis server. */
class Connection extends SocketConnection {
  /** Sends a command and resolves with its answer. */
  async command(args: readonly (string | Buffer)[]): Promise<Reply> {
    let reply: Reply = null;
    await this.socket.request(encodeCommand(args), (b) => {
      const parsed = parseReply(b, 0);
      if (parsed === undefined) return undefined;
      reply = parsed.reply;
      return { done: true, consumed: parsed.end };
    });
    return reply;
  }

  async get(keys: readonly string[]): Promise<Map<string, Buffer>> {
    const reply = await this.command(['MGET', ...keys]);
    if (!Array.isArray(reply) || reply.length !== keys.length) throw new ServerError(`redis answered MGET of ${keys.length} keys with ${describe(reply)}`);
    const values = new Map<string, Buffer>();
    reply.forEach((v, i) => {
      if (Buffer.isBuffer(v)) values.set(keys[i] as string, Buffer.from(v));
    });
    return values;
  }

  async set(key: string, value: Buffer, ttlMs: number): Promise<void> {
    const reply = await this.command(ttlMs > 0 ? ['SET', key, value, 'PX', String(Math.ceil(ttlMs))] : ['SET', key, value]);
    if (reply !== 'OK') throw new ServerError(`redis answered SET with ${describe(reply)}`);
  }
}

/** A command as RESP: an array of bulk strings. */
function encodeCommand(args: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const bytes = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** The answer that starts at `at`, and where it ends; undefined while it has not all arrived. Throws on an error answer. */
function parseReply(b: Buffer, at: number): { reply: Reply; end: number } | undefined {
  const eol = b.indexOf('\r\n', at);
  if (eol < 0) return undefined;
  const line = b.toString('latin1', at + 1, eol);
  switch (b[at]) {
    case 0x2b: // +
      return { reply: line, end: eol + 2 };
    case 0x2d: // -
      throw new ServerError(`redis answered ${JSON.stringify(line.slice(0, 200))}`);
    case 0x3a: // :
      return { reply: Number(line), end: eol + 2 };
    case 0x24: {
      // $
      const size = Number(line);
      if (size < 0) return { reply: null, end: eol + 2 };
      if (b.length < eol + 2 + size + 2) return undefined;
      // A view: an answer arriving in pieces is parsed again as each comes, and only get() keeps values.
      return { reply: b.subarray(eol + 2, eol + 2 + size), end: eol + 2 + size + 2 };
    }
    case 0x2a: {
      // *
      const n = Number(line);
      if (n < 0) return { reply: null, end: eol + 2 };
      const items: Reply[] = [];
      let end = eol + 2;
      for (let i = 0; i < n; i++) {
        const item = parseReply(b, end);
        if (item === undefined) return undefined;
        items.push(item.reply);
        end = item.end;
      }
      return { reply: items, end };
    }
    default:
      throw new ServerError(`redis answered ${JSON.stringify(b.toString('latin1', at, Math.min(eol, at + 200)))}, not RESP`);
  }
}

function describe(reply: Reply): string {
  if (Buffer.isBuffer(reply)) return `${reply.length} bytes`;
  return Array.isArray(reply) ? `${reply.length} answers` : JSON.stringify(reply);
}
