import { createHash } from 'node:crypto';
import type { Registry } from 'prom-client';
import { isDnsEndpoint, resolveDnsEndpoint, systemResolver, type DnsResolver } from './dns.js';
import type { Logger } from './logger.js';
import { CacheSocket, RemoteCacheClient, ServerError, SocketConnection, type CacheConnection, type RemoteCacheLimits } from './remotecache.js';

/**
 * A memcached client as Thanos' (pkg/cacheutil; see RemoteCacheClient). Keys are spread over the servers
 * by jump consistent hashing, as Thanos' MemcachedJumpHashSelector does, so that adding a server moves
 * only its share of the keys.
 *
 * The wire format is memcached's text protocol (protocol.txt):
 *   get <key>*\r\n                       → (VALUE <key> <flags> <bytes>\r\n<data>\r\n)* END\r\n
 *   set <key> <flags> <exptime> <bytes>\r\n<data>\r\n → STORED\r\n | NOT_STORED\r\n
 * and on a bad command ERROR, CLIENT_ERROR <message> or SERVER_ERROR <message>. Keys are at most 250
 * bytes without spaces or control characters.
 */
export interface MemcachedClientConfig extends RemoteCacheLimits {
  /** `host:port`, or Thanos' `dns+host:port`, `dnssrv+name`, `dnssrvnoa+name`, looked up every `dnsProviderUpdateIntervalMs`. */
  addresses: string[];
  /** For connecting and for each operation's answer (ms). */
  timeoutMs: number;
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

export class MemcachedClient extends RemoteCacheClient {
  readonly #cfg: MemcachedClientConfig;
  readonly #resolver: DnsResolver;
  /** The servers now, sorted (so that every client picks the same one for a key). */
  #servers: string[] = [];
  #timer: NodeJS.Timeout | undefined;

  /** `name`: the cache's name in the metrics (e.g. `query-range`). */
  constructor(cfg: MemcachedClientConfig, opts: { name: string; registry?: Registry; logger?: Logger; resolver?: DnsResolver }) {
    if (cfg.addresses.length === 0) throw new Error('memcached: no addresses given');
    super('memcached', cfg, opts);
    this.#cfg = cfg;
    this.#resolver = opts.resolver ?? systemResolver;
  }

  /** Looks up the addresses (a DNS name that fails keeps its last addresses) and then every dnsProviderUpdateIntervalMs. */
  async start(): Promise<void> {
    await this.#resolve();
    if (this.#cfg.addresses.some(isDnsEndpoint)) {
      this.#timer = setInterval(() => void this.#resolve(), this.#cfg.dnsProviderUpdateIntervalMs);
      this.#timer.unref();
    }
  }

  override stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    super.stop();
  }

  protected serverFor(key: string): string | undefined {
    const servers = this.#servers;
    if (servers.length <= 1) return servers[0];
    return servers[jumpHash(keyHash(key), servers.length)];
  }

  protected async openConnection(server: string): Promise<CacheConnection> {
    return new Connection(await CacheSocket.open(server, { connectTimeoutMs: this.#cfg.timeoutMs, timeoutMs: this.#cfg.timeoutMs }));
  }

  /** memcached's key rule: 1–250 bytes, none of them a space or a control character. */
  protected validKey(key: string): boolean {
    return key.length > 0 && Buffer.byteLength(key) <= 250 && !/[\s\x00-\x1f\x7f]/.test(key);
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
        this.logger?.warn('memcached: looking up addresses failed', { name: this.name, address: a, err: (e as Error).message });
        return;
      }
    }
    const servers = [...new Set(next)].sort();
    for (const server of this.#servers) if (!servers.includes(server)) this.dropConnections(server);
    this.#servers = servers;
  }
}

/** One connection to a memcached server. */
class Connection extends SocketConnection {
  async get(keys: readonly string[]): Promise<Map<string, Buffer>> {
    const values = new Map<string, Buffer>();
    await this.socket.request(Buffer.from(`get ${keys.join(' ')}\r\n`), (b) => {
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

  async set(key: string, value: Buffer, ttlMs: number): Promise<void> {
    await this.socket.request(Buffer.concat([Buffer.from(`set ${key} 0 ${expiry(ttlMs)} ${value.length}\r\n`), value, Buffer.from('\r\n')]), (b) => {
      const eol = b.indexOf('\r\n');
      if (eol < 0) return undefined;
      const line = b.toString('latin1', 0, eol);
      // NOT_STORED (a set memcached declined) is an answer, not a failure of the connection.
      if (line !== 'STORED' && line !== 'NOT_STORED') throw serverError(line);
      return { done: true, consumed: eol + 2 };
    });
  }
}

function serverError(line: string): Error {
  return new ServerError(`memcached answered ${JSON.stringify(line.slice(0, 200))}`);
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
