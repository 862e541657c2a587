/**
 * A write distributed over the hashring, as Thanos' receive handler fans it out (pkg/receive/handler.go):
 *
 * - Each series goes to the receiver the hashring names for it and the tenant, and its copies to the
 *   next `replication factor - 1` receivers the hashring names. The series bound for one peer as one
 *   copy go together in a WriteableStore call carrying the copy's number (1-indexed), which the peer
 *   writes without forwarding again; those bound for this receiver are one write into its TSDB.
 * - A write succeeds when every series reached its quorum: ⌊rf/2⌋+1 copies written (1 for rf 2, as
 *   Thanos: two Prometheus replicas' guarantees), or the one copy a forwarded write is. It returns as
 *   soon as each series' outcome is known; the copies still on their way finish in the background.
 * - A series that missed its quorum fails the write with the cause Thanos' replicationErrors gives: the
 *   most frequent of conflict, not ready and unavailable if it alone defeats the quorum, else
 *   unavailable (worth trying again). Across series, unavailable wins over not ready over conflict.
 * - A peer that answered Unavailable is not called again for a backoff (doubling up to
 *   `--receive-forward-max-backoff`); meanwhile its copies fail at once.
 */
import type { Logger } from '@strata/runtime';
import { type ClientTLS, type Compression, StoreClient } from '@strata/storeapi';
import type { Hashring, HashringEndpoint } from './hashring.js';
import type { RouterMetrics } from './metrics.js';
import { failureOfStatus, WriteError, type WriteFailure } from './writeerror.js';
import type { ReceivedSeries } from './writerequest.js';
import type { LocalWrite } from './writer.js';

export interface RouterOptions {
  /** --receive.local-endpoint: this receiver's address in the hashring; none: a router only. */
  localEndpoint: string | undefined;
  /** --receive.replication-factor */
  replicationFactor: number;
  /** --receive-forward-timeout (5s): each forwarded write's deadline. */
  forwardTimeoutMs: number;
  /** --receive-forward-max-backoff (5s) */
  maxBackoffMs: number;
  writeLocal: LocalWrite;
  /** How peers are called (--remote-write.client-tls-*, --receive.grpc-compression). */
  tls?: ClientTLS;
  compression?: Compression;
  metrics: RouterMetrics;
  logger: Logger;
}

/** One receiver's share of a write: a copy of some of its series. */
interface Destination {
  address: string;
  /** 0-indexed copy. */
  replica: number;
  local: boolean;
  series: number[];
}

export class Router {
  readonly #opts: RouterOptions;
  readonly #peers: Peers;
  #hashring: Hashring;

  constructor(hashring: Hashring, opts: RouterOptions) {
    this.#hashring = hashring;
    this.#opts = opts;
    this.#peers = new Peers(opts);
  }

  /** A new hashring (its file changed): the writes from now on follow it; peers it left out are let go. */
  setHashring(hashring: Hashring): void {
    this.#hashring = hashring;
    this.#peers.keepOnly(new Set(hashring.nodes().map((n) => n.address)));
  }

  /**
   * Writes `series` of `tenant`: `replica` 0 distributes a new write over the hashring with every copy,
   * n > 0 is the n-th copy a peer forwarded. Throws WriteError.
   */
  async write(tenant: string, series: readonly ReceivedSeries[], replica: number): Promise<void> {
    const rf = this.#opts.replicationFactor;
    if (replica > rf) throw new WriteError('bad-replica', `write request replica ${replica} is beyond the replication factor ${rf}`);
    if (series.length === 0) return;
    const copies = replica > 0 ? [replica - 1] : Array.from({ length: rf }, (_, i) => i);
    const quorum = replica > 0 ? 1 : rf === 2 ? 1 : Math.floor(rf / 2) + 1;
    const destinations = this.#distribute(tenant, series, copies);
    await new Fanout(series.length, quorum, copies.length - quorum + 1).run(destinations, (d) => this.#send(tenant, series, d, replica > 0));
  }

  close(): void {
    this.#peers.close();
  }

  /** Where each copy of each series goes: `copies` is every copy (0 to rf-1) of a new write, or the one copy a forwarded write is. */
  #distribute(tenant: string, series: readonly ReceivedSeries[], copies: readonly number[]): Destination[] {
    const byKey = new Map<string, Destination>();
    const hashring = this.#hashring;
    const endpoints: HashringEndpoint[] = [];
    for (let i = 0; i < series.length; i++) {
      const labels = (series[i] as ReceivedSeries).labels.toArray();
      try {
        if (copies.length > 1) hashring.replicas(tenant, labels, copies.length, endpoints);
        else endpoints[0] = hashring.getN(tenant, labels, copies[0] as number);
      } catch (err) {
        throw new WriteError('internal', (err as Error).message);
      }
      for (let c = 0; c < copies.length; c++) {
        const replica = copies[c] as number;
        const endpoint = endpoints[c] as HashringEndpoint;
        const local = endpoint.address === this.#opts.localEndpoint;
        // This receiver's copies are one write into its TSDB (it holds at most one copy of a series). A
        // peer's go by copy number, each call with its own: the peer finds itself by it in the hashring.
        const key = local ? '' : `${replica} ${endpoint.address}`;
        let d = byKey.get(key);
        if (d === undefined) byKey.set(key, (d = { address: endpoint.address, replica, local, series: [] }));
        d.series.push(i);
      }
    }
    return [...byKey.values()];
  }

  async #send(tenant: string, series: readonly ReceivedSeries[], d: Destination, forwarded: boolean): Promise<void> {
    const { metrics } = this.#opts;
    if (d.local) return this.#opts.writeLocal(tenant, d.series.map((i) => series[i] as ReceivedSeries));
    const peer = this.#peers.get(d.address);
    try {
      await peer.remoteWrite({ tenant, replica: d.replica + 1, timeseries: d.series.map((i) => (series[i] as ReceivedSeries).raw) }, { timeoutMs: this.#opts.forwardTimeoutMs });
      metrics.forwarded('success', !forwarded);
      this.#peers.up(d.address);
    } catch (err) {
      const e = err as { code?: number; details?: string; message: string };
      const failure = failureOfStatus(e.code);
      // A conflict is the peer's TSDB refusing samples, not the forwarding failing.
      if (failure !== 'conflict') metrics.forwarded('error', !forwarded);
      if (failure === 'unavailable') this.#peers.down(d.address);
      throw new WriteError(failure, `forwarding request to endpoint ${d.address} (replica ${d.replica + 1}): ${e.details ?? e.message}`);
    }
  }
}

/** The answers of one write's destinations, counted per series against the quorum. */
class Fanout {
  readonly #successes: Int32Array;
  readonly #failures: Int32Array;
  readonly #conflicts: Int32Array;
  readonly #errors: WriteError[][];
  readonly #quorum: number;
  /** Failures after which a series cannot reach its quorum. */
  readonly #hopeless: number;

  constructor(series: number, quorum: number, hopeless: number) {
    this.#successes = new Int32Array(series);
    this.#failures = new Int32Array(series);
    this.#conflicts = new Int32Array(series);
    this.#errors = Array.from({ length: series }, () => []);
    this.#quorum = quorum;
    this.#hopeless = hopeless;
  }

  run(destinations: readonly Destination[], send: (d: Destination) => Promise<void>): Promise<void> {
    return new Promise((resolve, reject) => {
      let pending = destinations.length;
      let settled = false;
      const answered = (d: Destination, err: unknown) => {
        pending--;
        if (settled) return;
        if (err === undefined) for (const i of d.series) this.#successes[i]++;
        else {
          const e = err instanceof WriteError ? err : new WriteError('internal', (err as Error).message);
          for (const i of d.series) {
            this.#failures[i]++;
            if (e.failure === 'conflict') this.#conflicts[i]++;
            (this.#errors[i] as WriteError[]).push(e);
          }
        }
        // Until then, a series whose copies failed otherwise than by conflict waits for all its answers,
        // so that its cause is told right: refused for good (409), or worth sending again (503).
        if (pending > 0 && !this.#decided()) return;
        settled = true;
        const err2 = this.#outcome();
        if (err2 === undefined) resolve();
        else reject(err2);
      };
      for (const d of destinations) send(d).then(() => answered(d, undefined), (err: unknown) => answered(d, err));
    });
  }

  #decided(): boolean {
    for (let i = 0; i < this.#successes.length; i++) if ((this.#successes[i] as number) < this.#quorum && (this.#conflicts[i] as number) < this.#hopeless) return false;
    return true;
  }

  /** The write's error: each series that missed its quorum, by Thanos' writeErrors and replicationErrors causes. */
  #outcome(): WriteError | undefined {
    const causes = new Set<WriteFailure>();
    const reasons = new Set<string>();
    for (let i = 0; i < this.#failures.length; i++) {
      if ((this.#failures[i] as number) < this.#hopeless) continue;
      const errors = this.#errors[i] as WriteError[];
      causes.add(seriesCause(errors, this.#quorum));
      for (const e of errors) reasons.add(e.message);
    }
    if (causes.size === 0) return undefined;
    const failure = (['unavailable', 'not-ready', 'conflict'] as const).find((c) => causes.has(c)) ?? 'internal';
    const sorted = [...reasons].sort();
    return new WriteError(failure, sorted.length > 1 ? `${sorted.length} errors: ${sorted.join('; ')}` : (sorted[0] as string));
  }
}

/** Why one series missed its quorum: the kind of error that alone defeated it, else unavailable (Thanos' replicationErrors.Cause). */
function seriesCause(errors: readonly WriteError[], quorum: number): WriteFailure {
  const count = (f: WriteFailure) => errors.filter((e) => e.failure === f).length;
  // Ties go to the causes worth retrying: nothing is refused for good that a retry could have stored.
  let best: WriteFailure = 'unavailable';
  for (const f of ['not-ready', 'conflict'] as const) if (count(f) > count(best)) best = f;
  return count(best) >= quorum ? best : 'unavailable';
}

/** A client per peer, and which peers are backed off after answering Unavailable. */
class Peers {
  readonly #opts: Pick<RouterOptions, 'tls' | 'compression' | 'maxBackoffMs'>;
  readonly #clients = new Map<string, StoreClient>();
  readonly #backoff = new Map<string, { attempt: number; until: number }>();

  constructor(opts: Pick<RouterOptions, 'tls' | 'compression' | 'maxBackoffMs'>) {
    this.#opts = opts;
  }

  /** The peer's client; throws WriteError unavailable while it is backed off. */
  get(address: string): StoreClient {
    const b = this.#backoff.get(address);
    if (b !== undefined && Date.now() < b.until) throw new WriteError('unavailable', `backing off forward request for endpoint ${address}: it was unavailable`);
    let c = this.#clients.get(address);
    if (c === undefined) {
      const { tls, compression } = this.#opts;
      this.#clients.set(address, (c = new StoreClient(address, { ...(tls !== undefined ? { tls } : {}), ...(compression !== undefined ? { compression } : {}) })));
    }
    return c;
  }

  down(address: string): void {
    const attempt = (this.#backoff.get(address)?.attempt ?? 0) + 1;
    this.#backoff.set(address, { attempt, until: Date.now() + Math.min(this.#opts.maxBackoffMs, 100 * 2 ** attempt) });
  }

  up(address: string): void {
    this.#backoff.delete(address);
  }

  /** Closes the clients of the peers not in `addresses`. */
  keepOnly(addresses: ReadonlySet<string>): void {
    for (const [address, c] of this.#clients) {
      if (addresses.has(address)) continue;
      c.close();
      this.#clients.delete(address);
      this.#backoff.delete(address);
    }
  }

  close(): void {
    for (const c of this.#clients.values()) c.close();
    this.#clients.clear();
  }
}
