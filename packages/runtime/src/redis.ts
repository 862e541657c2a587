import type { ConnectionOptions } from 'node:tls';
import type { Registry } from 'prom-client';
import type { Logger } from './logger.js';
import { CacheSocket, RemoteCacheClient, ServerError, SocketConnection, type CacheConnection, type RemoteCacheLimits } from './remotecache.js';

/**
 * A redis client as Thanos' (pkg/cacheutil: RedisClient; see RemoteCacheClient), for one standalone
 * redis server: AUTH (with the username of an ACL user, or the requirepass password) and SELECT on
 * each connection, MGET in batches of `maxGetMultiBatchSize` keys, SET with a time to live in ms.
 *
 * The wire format is RESP2 (redis.io/docs/reference/protocol-spec): a command is an array of bulk
 * strings, `*<n>\r\n` then `$<len>\r\n<bytes>\r\n` each; an answer is `+<text>\r\n`, `-<error>\r\n`,
 * `:<integer>\r\n`, `$<len>\r\n<bytes>\r\n` (`$-1\r\n`: none) or `*<n>\r\n` and n answers.
 */
export interface RedisClientConfig extends RemoteCacheLimits {
  /** `host:port`. */
  addr: string;
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
    const { dialTimeoutMs, timeoutMs, tls, username, password, db } = this.#cfg;
    const c = new Connection(await CacheSocket.open(server, { connectTimeoutMs: dialTimeoutMs, timeoutMs, ...(tls !== undefined ? { tls } : {}) }));
    try {
      if (password !== '') await c.command(username !== '' ? ['AUTH', username, password] : ['AUTH', password]);
      if (db !== 0) await c.command(['SELECT', String(db)]);
    } catch (e) {
      c.close();
      throw e;
    }
    return c;
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
