import type { ConnectionOptions } from 'node:tls';
import type { Registry } from 'prom-client';
import type { Logger } from './logger.js';
import { ClusterSlots, saysNotCluster } from './rediscluster.js';
import { CacheSocket, RemoteCacheClient, ServerError, SocketConnection, type CacheConnection, type RemoteCacheLimits } from './remotecache.js';

/**
 * A redis client as Thanos' (pkg/cacheutil: RedisClient; see RemoteCacheClient), for one standalone
 * redis server, the master of a Redis Sentinel group, or the masters of a Redis Cluster: AUTH (with the
 * username of an ACL user, or the requirepass password) and SELECT on each connection, MGET in batches
 * of `maxGetMultiBatchSize` keys, SET with a time to live in ms.
 *
 * With Sentinel (`masterName`), each new connection asks the sentinels, in turn, where the master is
 * (`SENTINEL get-master-addr-by-name`), and checks with `ROLE` that it reached a master. After a
 * failover the old master answers writes with a READONLY error: like any failed operation that closes
 * the connection, and the next one finds the new master.
 *
 * With several addresses and no `masterName`, they are seed nodes of a Redis Cluster, as rueidis (which
 * Thanos' client is built on) takes them: the slot map comes from `CLUSTER SLOTS` (see ClusterSlots),
 * each key goes to the master of its slot, with a pool of connections per node, and redirections are
 * followed (see ClusterConnection). A cluster has database 0 only.
 *
 * A single address without `masterName` is a cluster's seed too when its node is a cluster node (a
 * Kubernetes Service in front of one, ElastiCache's configuration endpoint): as rueidis does, the node
 * is asked `CLUSTER SLOTS`, on first use here (a server down at start fails no component; it is asked
 * again on the next use), and only an answer that it has no cluster support makes it a standalone
 * server. A cluster node with a `db` other than 0, which no config can tell in advance, is logged as
 * an error and fails every operation.
 *
 * The wire format is RESP2 (redis.io/docs/reference/protocol-spec): a command is an array of bulk
 * strings, `*<n>\r\n` then `$<len>\r\n<bytes>\r\n` each; an answer is `+<text>\r\n`, `-<error>\r\n`,
 * `:<integer>\r\n`, `$<len>\r\n<bytes>\r\n` (`$-1\r\n`: none) or `*<n>\r\n` and n answers.
 */
export interface RedisClientConfig extends RemoteCacheLimits {
  /**
   * `host:port` of the server (or of a node of a Redis Cluster, as it turns out); with `masterName`, of
   * the sentinels, comma-separated; several without `masterName`: of nodes of a Redis Cluster, asked in
   * turn for its slot map.
   */
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
  /** Without `masterName`: which node of a Redis Cluster owns each slot, should `addr` be of one. */
  readonly #slots: ClusterSlots | undefined;
  /** `#slots`, in use: `addr` is of a Redis Cluster (several addresses, or a single cluster node's). */
  #cluster: ClusterSlots | undefined;
  /** A single address without `masterName` whose node has not yet said whether it is a cluster node. */
  #unprobed: boolean;
  /** The question to it, in flight (see #probe). */
  #probing: Promise<void> | undefined;
  /** Its node is a cluster node while `db` is not 0, which a cluster lacks: the error of every operation. */
  #refusal: ServerError | undefined;

  /** `name`: the cache's name in the metrics (e.g. `query-range`). */
  constructor(cfg: RedisClientConfig, opts: { name: string; registry?: Registry; logger?: Logger }) {
    if (cfg.addr === '') throw new Error('redis: no addr given');
    super('redis', cfg, opts);
    this.#cfg = cfg;
    const seeds = cfg.addr.split(',').map((a) => a.trim());
    if (cfg.masterName === '') {
      if (seeds.length > 1 && cfg.db !== 0) throw new Error(`redis: a Redis Cluster (several addresses without master_name) has database 0 only, not db ${cfg.db}`);
      this.#slots = new ClusterSlots(seeds, { ask: (address) => this.#clusterSlots(address), dropped: (address) => this.dropConnections(address), failed: (e) => this.#slotMapFailed(e) });
    }
    this.#cluster = seeds.length > 1 ? this.#slots : undefined;
    this.#unprobed = cfg.masterName === '' && seeds.length === 1;
  }

  async start(): Promise<void> {
    // A cluster that does not answer yet is no error: the first keys used ask for its slot map again.
    await this.#cluster?.refresh().catch((e: Error) => this.#slotMapFailed(e));
  }

  override stop(): void {
    this.#slots?.stop();
    super.stop();
  }

  protected serverFor(key: string): string {
    return this.#cluster?.nodeFor(key) ?? this.#cfg.addr;
  }

  protected async openConnection(server: string): Promise<CacheConnection> {
    // Until its node has answered, a single address's keys all go to it: as a cluster node, it redirects those of other nodes.
    if (this.#unprobed) await (this.#probing ??= this.#probe().finally(() => (this.#probing = undefined)));
    if (this.#refusal !== undefined) throw this.#refusal;
    if (this.#cluster !== undefined) return this.#openNode(server, this.#cluster);
    const { db, masterName } = this.#cfg;
    const address = masterName === '' ? server : await this.#master();
    const c = await this.#connect(address);
    try {
      await this.#auth(c);
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

  /** A connection to the cluster node at `address`, authenticated. */
  async #openNode(address: string, slots: ClusterSlots): Promise<ClusterConnection> {
    let socket: CacheSocket;
    try {
      socket = await this.#socket(address);
    } catch (e) {
      // A node that cannot be reached may have been replaced by a failover: the map may name its successor.
      slots.refreshSoon();
      throw e;
    }
    const c = new ClusterConnection(socket, { address, slots, open: (to) => this.#openNode(to, slots) });
    try {
      await this.#auth(c);
    } catch (e) {
      c.close();
      throw e;
    }
    return c;
  }

  /**
   * Asks the node of a single address whether it is a cluster node, as rueidis does at start: a slot
   * map makes it the seed of a cluster, an answer that it is none a standalone server. Throws, and it
   * is asked again on the next use, when it cannot be reached or answers neither.
   */
  async #probe(): Promise<void> {
    const address = this.#cfg.addr;
    let reply: Reply;
    try {
      reply = await this.#clusterSlots(address);
    } catch (e) {
      if (!(e instanceof ErrorReply && saysNotCluster(e.text))) throw e;
      this.#unprobed = false;
      return;
    }
    if (this.#cfg.db !== 0) {
      this.#refusal = new ServerError(`redis at ${address} is a node of a Redis Cluster, which has database 0 only, not db ${this.#cfg.db}`);
      this.logger?.error('redis: the cache cannot be used', { name: this.name, err: this.#refusal.message });
    } else {
      const slots = this.#slots as ClusterSlots;
      slots.accept(reply, address);
      this.#cluster = slots;
    }
    this.#unprobed = false;
  }

  /** The answer of the cluster node at `address` to CLUSTER SLOTS, on a connection of its own. */
  async #clusterSlots(address: string): Promise<Reply> {
    const c = await this.#connect(address);
    try {
      await this.#auth(c);
      return await c.command(['CLUSTER', 'SLOTS']);
    } finally {
      c.close();
    }
  }

  #slotMapFailed(e: Error): void {
    this.logger?.warn('redis: reading the cluster slot map failed', { name: this.name, err: e.message });
  }

  async #auth(c: Connection): Promise<void> {
    const { username, password } = this.#cfg;
    if (password !== '') await c.command(username !== '' ? ['AUTH', username, password] : ['AUTH', password]);
  }

  async #connect(address: string): Promise<Connection> {
    return new Connection(await this.#socket(address));
  }

  #socket(address: string): Promise<CacheSocket> {
    const { dialTimeoutMs, timeoutMs, tls } = this.#cfg;
    return CacheSocket.open(address, { connectTimeoutMs: dialTimeoutMs, timeoutMs, ...(tls !== undefined ? { tls } : {}) });
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

/** An error answer (`-<error>`): thrown by `command`; among a pipeline's answers, one of them. */
class ErrorReply extends ServerError {
  constructor(readonly text: string) {
    super(`redis answered ${JSON.stringify(text.slice(0, 200))}`);
  }
}

/** A RESP answer. */
type Reply = string | number | Buffer | null | ErrorReply | Reply[];

type Command = readonly (string | Buffer)[];

/** One connection to a redis server. */
class Connection extends SocketConnection {
  /** Sends a command and resolves with its answer; an error answer is thrown. */
  async command(args: Command): Promise<Reply> {
    const [reply] = await this.pipeline([args]);
    if (reply instanceof ErrorReply) throw reply;
    return reply as Reply;
  }

  /** Sends `commands` at once and resolves with their answers, in order, error answers among them. */
  async pipeline(commands: readonly Command[]): Promise<Reply[]> {
    const replies: Reply[] = [];
    let at = 0;
    // Called again as more bytes arrive, those before still where they were: it goes on after the last whole answer.
    await this.socket.request(Buffer.concat(commands.map(encodeCommand)), (b) => {
      while (replies.length < commands.length) {
        const parsed = parseReply(b, at);
        if (parsed === undefined) return undefined;
        replies.push(parsed.reply);
        at = parsed.end;
      }
      return { done: true, consumed: at };
    });
    return replies;
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
    checkSet(await this.command(setCommand(key, value, ttlMs)));
  }
}

/**
 * A connection to a node of a Redis Cluster. MGET takes the keys of one slot only (CROSSSLOT otherwise),
 * and a node's keys mostly each have a slot of their own: a get sends one GET per key instead, all
 * written at once, so that it takes one round trip as an MGET does.
 *
 * A command redirected is sent again, once, to the node named: after `MOVED` (the slot has a new
 * master; the slot map is read again), and after `ASK` (the slot is being migrated and the key has
 * moved) with `ASKING` before it. On a connection of its own, closed after: redirections stop once
 * the map is read again or the migration ends.
 */
class ClusterConnection extends Connection {
  readonly #address: string;
  readonly #slots: ClusterSlots;
  readonly #open: (address: string) => Promise<Connection>;

  constructor(socket: CacheSocket, opts: { address: string; slots: ClusterSlots; open: (address: string) => Promise<Connection> }) {
    super(socket);
    this.#address = opts.address;
    this.#slots = opts.slots;
    this.#open = opts.open;
  }

  override async get(keys: readonly string[]): Promise<Map<string, Buffer>> {
    const replies = await this.#send(keys.map((key) => ['GET', key]));
    const values = new Map<string, Buffer>();
    replies.forEach((v, i) => {
      if (v instanceof ErrorReply) throw v;
      if (Buffer.isBuffer(v)) values.set(keys[i] as string, Buffer.from(v));
    });
    return values;
  }

  override async set(key: string, value: Buffer, ttlMs: number): Promise<void> {
    const [reply] = await this.#send([setCommand(key, value, ttlMs)]);
    if (reply instanceof ErrorReply) throw reply;
    checkSet(reply as Reply);
  }

  /** Sends `commands` at once, and those redirected again where redis said; their answers, in order. */
  async #send(commands: readonly Command[]): Promise<Reply[]> {
    let replies: Reply[];
    try {
      replies = await this.pipeline(commands);
    } catch (e) {
      // The node failed or stopped answering: a failover may give its slots another master.
      this.#slots.refreshSoon();
      throw e;
    }
    const redirected = new Map<string, { ask: boolean; address: string; indexes: number[] }>();
    replies.forEach((reply, i) => {
      const m = reply instanceof ErrorReply ? /^(MOVED|ASK) \d+ (.*)$/.exec(reply.text) : null;
      if (m === null) return;
      // An empty endpoint (`:port`) is on the host that redirected.
      const address = (m[2] as string).startsWith(':') ? this.#address.slice(0, this.#address.lastIndexOf(':')) + (m[2] as string) : (m[2] as string);
      const target = `${m[1] as string} ${address}`;
      let to = redirected.get(target);
      if (to === undefined) redirected.set(target, (to = { ask: m[1] === 'ASK', address, indexes: [] }));
      to.indexes.push(i);
    });
    await Promise.all(
      [...redirected.values()].map(async ({ ask, address, indexes }) => {
        if (!ask) this.#slots.refreshSoon();
        const c = await this.#open(address);
        try {
          const again = await c.pipeline(indexes.flatMap((i) => (ask ? [['ASKING'], commands[i] as Command] : [commands[i] as Command])));
          indexes.forEach((i, j) => (replies[i] = again[ask ? 2 * j + 1 : j] as Reply));
        } finally {
          c.close();
        }
      }),
    );
    return replies;
  }
}

function setCommand(key: string, value: Buffer, ttlMs: number): Command {
  return ttlMs > 0 ? ['SET', key, value, 'PX', String(Math.ceil(ttlMs))] : ['SET', key, value];
}

function checkSet(reply: Reply): void {
  if (reply !== 'OK') throw new ServerError(`redis answered SET with ${describe(reply)}`);
}

/** A command as RESP: an array of bulk strings. */
function encodeCommand(args: Command): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const bytes = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** The answer that starts at `at`, and where it ends; undefined while it has not all arrived. */
function parseReply(b: Buffer, at: number): { reply: Reply; end: number } | undefined {
  const eol = b.indexOf('\r\n', at);
  if (eol < 0) return undefined;
  const line = b.toString('latin1', at + 1, eol);
  switch (b[at]) {
    case 0x2b: // +
      return { reply: line, end: eol + 2 };
    case 0x2d: // -
      return { reply: new ErrorReply(line), end: eol + 2 };
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
  if (reply instanceof ErrorReply) return reply.message;
  return Array.isArray(reply) ? `${reply.length} answers` : JSON.stringify(reply);
}
