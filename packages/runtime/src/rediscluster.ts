/** The hash slots a Redis Cluster splits its keys into (redis.io/docs/reference/cluster-spec). */
export const HASH_SLOTS = 16384;

/** A burst of redirections or failures asks a node for the slot map once, as rueidis' lazy refresh does. */
const REFRESH_INTERVAL_MS = 1_000;

/**
 * The hash slot of `key` as Redis Cluster computes it: CRC16 (XMODEM) of the key's bytes mod 16384,
 * or of those between its first `{` and the first `}` after it when they are not empty (a hash tag:
 * keys sharing one share a slot).
 */
export function keySlot(key: string): number {
  const bytes = Buffer.from(key);
  const open = bytes.indexOf(0x7b);
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) return crc16(bytes, open + 1, close) % HASH_SLOTS;
  }
  return crc16(bytes, 0, bytes.length) % HASH_SLOTS;
}

/** CRC16-CCITT (XMODEM: polynomial 0x1021, initial 0, not reflected), a byte at a time by table. */
const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let bit = 0; bit < 8; bit++) c = c & 0x8000 ? (c << 1) ^ 0x1021 : c << 1;
    table[i] = c & 0xffff;
  }
  return table;
})();

function crc16(b: Buffer, from: number, to: number): number {
  let crc = 0;
  for (let i = from; i < to; i++) crc = ((crc << 8) & 0xffff) ^ (CRC16_TABLE[((crc >> 8) ^ (b[i] as number)) & 0xff] as number);
  return crc;
}

/**
 * Which node of a Redis Cluster owns each hash slot, as `CLUSTER SLOTS` answers (masters only: a cache
 * reads and writes its masters). Asked for at start (or taken from the answer that showed a single
 * address to be a cluster node: see `accept`) and again, at most once a second, whenever the client
 * learns the map is stale (a MOVED redirection, a node it cannot reach): of the node that answered
 * last, then the other nodes known, then the seed addresses, in turn.
 */
export class ClusterSlots {
  readonly #seeds: readonly string[];
  readonly #ask: (address: string) => Promise<unknown>;
  readonly #dropped: (address: string) => void;
  readonly #failed: (e: Error) => void;
  /** The address of each slot's master; empty until a node has answered. */
  #owners: (string | undefined)[] = [];
  #nodes: string[] = [];
  #answered: string | undefined;
  #refreshing: Promise<void> | undefined;
  #lastRefresh = 0;
  #scheduled: NodeJS.Timeout | undefined;
  #stopped = false;

  /**
   * `ask(address)`: the answer of the node at `address` to `CLUSTER SLOTS`; `dropped(address)`: called
   * for a node that no longer owns any slot; `failed`: called when no node answered a refreshSoon.
   */
  constructor(seeds: readonly string[], opts: { ask: (address: string) => Promise<unknown>; dropped: (address: string) => void; failed: (e: Error) => void }) {
    this.#seeds = seeds;
    this.#ask = opts.ask;
    this.#dropped = opts.dropped;
    this.#failed = opts.failed;
  }

  /**
   * The node that owns `key`'s slot. While none is known (no node has answered yet, or the slot has no
   * master), the first seed: it redirects the command, or answers the error that counts it as failed.
   */
  nodeFor(key: string): string {
    const owner = this.#owners[keySlot(key)];
    if (owner !== undefined) return owner;
    this.refreshSoon();
    return this.#seeds[0] as string;
  }

  /** Asks for the slot map now; joins a request in flight. Rejects when no node answered. */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#load().finally(() => (this.#refreshing = undefined));
    return this.#refreshing;
  }

  /** Asks for the slot map at once, or a second after it was last asked for. */
  refreshSoon(): void {
    if (this.#scheduled !== undefined || this.#stopped) return;
    this.#scheduled = setTimeout(
      () => {
        this.#scheduled = undefined;
        this.refresh().catch(this.#failed);
      },
      Math.max(0, this.#lastRefresh + REFRESH_INTERVAL_MS - Date.now()),
    );
    this.#scheduled.unref();
  }

  /** Asks for the slot map no more (a refresh in flight still ends). */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#scheduled);
  }

  /**
   * Takes `reply`, an answer to `CLUSTER SLOTS` that the node at `from` gave, as the slot map, as if
   * just refreshed: one asked for elsewhere need not be asked for again. Throws when it is no slot map.
   */
  accept(reply: unknown, from: string): void {
    this.#lastRefresh = Date.now();
    this.#take(reply, from);
  }

  async #load(): Promise<void> {
    this.#lastRefresh = Date.now();
    const failures: string[] = [];
    const candidates = [...new Set([...(this.#answered !== undefined ? [this.#answered] : []), ...this.#nodes, ...this.#seeds])];
    for (const address of candidates) {
      try {
        this.#take(await this.#ask(address), address);
        return;
      } catch (e) {
        failures.push(`${address}: ${(e as Error).message}`);
      }
    }
    throw new Error(`no node of the cluster answered CLUSTER SLOTS: ${failures.join('; ')}`);
  }

  #take(reply: unknown, from: string): void {
    const owners = slotOwners(reply, from);
    const nodes = [...new Set(owners.filter((o) => o !== undefined))];
    for (const node of this.#nodes) if (!nodes.includes(node)) this.#dropped(node);
    [this.#owners, this.#nodes, this.#answered] = [owners, nodes, from];
  }
}

/**
 * Whether `error`, a node's error answer to `CLUSTER SLOTS`, says it is no cluster node, as rueidis
 * (Thanos' redis client) takes it when it decides how to use a single address: one that mentions the
 * command (redis' "ERR This instance has cluster support disabled"; the unknown command of servers and
 * proxies without it), or a proxy's "command is not allowed". Any other (NOAUTH, say) settles nothing.
 */
export function saysNotCluster(error: string): boolean {
  return error === 'command is not allowed' || error.toUpperCase().includes('CLUSTER');
}

/**
 * Each slot's master from an answer to `CLUSTER SLOTS` that `from` gave: for each range, its first and
 * last slot and the master's endpoint, port and ID (replicas follow). An empty endpoint is `from`'s
 * host; `?` (an endpoint the node does not know) leaves the range unowned.
 */
function slotOwners(reply: unknown, from: string): (string | undefined)[] {
  if (!Array.isArray(reply)) throw new Error(`CLUSTER SLOTS answered ${typeof reply}, not a list of ranges`);
  const owners = new Array<string | undefined>(HASH_SLOTS).fill(undefined);
  for (const range of reply) {
    const [first, last, master] = Array.isArray(range) ? (range as unknown[]) : [];
    const [host, port] = Array.isArray(master) ? (master as unknown[]) : [];
    if (typeof first !== 'number' || typeof last !== 'number' || typeof port !== 'number' || host === undefined || host === null) {
      throw new Error('CLUSTER SLOTS answered a range without its first and last slot and master');
    }
    const endpoint = String(host);
    if (endpoint === '?') continue;
    const name = endpoint === '' ? from.slice(0, from.lastIndexOf(':')) : endpoint.includes(':') ? `[${endpoint}]` : endpoint;
    owners.fill(`${name}:${port}`, Math.max(0, first), Math.min(HASH_SLOTS - 1, last) + 1);
  }
  return owners;
}
