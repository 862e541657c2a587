import { GrpcStatus, StoreClient, StoreError, type CallOptions, type StoreApi, type StoreClientOptions } from '@strata/storeapi';
import type { GroupBalancing } from './sdconfig.js';

/** How long a member whose connection failed is passed over before it is tried again. */
const DOWN_MS = 5_000;

interface Member {
  readonly address: string;
  readonly client: StoreClient;
  /** Until when it is passed over (0: not down). */
  downUntil: number;
}

/**
 * An endpoint group (Thanos' --endpoint-group): replicas of one StoreAPI server (store gateways over the
 * same blocks, behind one DNS name) that the querier treats as one endpoint. Each call goes to one member
 * in turn (round robin, as Thanos' gRPC balancer sends them), not to all of them: two store gateways over
 * one bucket answer a query at one's cost. With pick_first (a group's service_config) every call goes to
 * the first member, in the order the name resolves to, that can be reached. A member that cannot be reached is passed over for a few
 * seconds and the call goes to the next; a call that fails otherwise, or after a member sent part of
 * its answer, fails as a single endpoint's would.
 */
export class EndpointGroup implements StoreApi {
  readonly name: string;
  readonly #clientOptions: StoreClientOptions | undefined;
  readonly #members = new Map<string, Member>();
  #turn = 0;

  constructor(
    name: string,
    clientOptions?: StoreClientOptions,
    private readonly balancing: GroupBalancing = 'round_robin',
  ) {
    this.name = name;
    this.#clientOptions = clientOptions;
  }

  /** The members' addresses now; the others are closed. */
  setMembers(addresses: readonly string[]): void {
    const wanted = new Set(addresses);
    for (const [address, m] of this.#members) {
      if (wanted.has(address)) continue;
      m.client.close();
      this.#members.delete(address);
    }
    for (const address of wanted) if (!this.#members.has(address)) this.#members.set(address, { address, client: new StoreClient(address, this.#clientOptions), downUntil: 0 });
  }

  get members(): string[] {
    return [...this.#members.keys()];
  }

  /** Every member once, from the next one's turn on, those that are down last. */
  #order(): Member[] {
    const all = [...this.#members.values()];
    if (all.length === 0) throw new StoreError(GrpcStatus.UNAVAILABLE, `endpoint group ${this.name}: no addresses`);
    const start = this.balancing === 'pick_first' ? 0 : this.#turn++ % all.length;
    const turned = [...all.slice(start), ...all.slice(0, start)];
    const now = Date.now();
    return [...turned.filter((m) => m.downUntil <= now), ...turned.filter((m) => m.downUntil > now)];
  }

  async #call<T>(fn: (client: StoreClient) => Promise<T>): Promise<T> {
    let failure: unknown;
    for (const m of this.#order()) {
      try {
        const answer = await fn(m.client);
        m.downUntil = 0;
        return answer;
      } catch (e) {
        if (!unreachable(e)) throw e;
        m.downUntil = Date.now() + DOWN_MS;
        failure = e;
      }
    }
    throw failure;
  }

  info(opts?: CallOptions): ReturnType<StoreClient['info']> {
    return this.#call((c) => c.info(opts));
  }

  labelNames(...args: Parameters<StoreClient['labelNames']>): ReturnType<StoreClient['labelNames']> {
    return this.#call((c) => c.labelNames(...args));
  }

  labelValues(...args: Parameters<StoreClient['labelValues']>): ReturnType<StoreClient['labelValues']> {
    return this.#call((c) => c.labelValues(...args));
  }

  metricMetadata(...args: Parameters<StoreClient['metricMetadata']>): ReturnType<StoreClient['metricMetadata']> {
    return this.#call((c) => c.metricMetadata(...args));
  }

  rules(...args: Parameters<StoreClient['rules']>): ReturnType<StoreClient['rules']> {
    return this.#call((c) => c.rules(...args));
  }

  exemplars(...args: Parameters<StoreClient['exemplars']>): ReturnType<StoreClient['exemplars']> {
    return this.#call((c) => c.exemplars(...args));
  }

  targets(...args: Parameters<StoreClient['targets']>): ReturnType<StoreClient['targets']> {
    return this.#call((c) => c.targets(...args));
  }

  query(...args: Parameters<StoreClient['query']>): ReturnType<StoreClient['query']> {
    return this.#call((c) => c.query(...args));
  }

  queryRange(...args: Parameters<StoreClient['queryRange']>): ReturnType<StoreClient['queryRange']> {
    return this.#call((c) => c.queryRange(...args));
  }

  async *series(...args: Parameters<StoreClient['series']>): ReturnType<StoreClient['series']> {
    let failure: unknown;
    for (const m of this.#order()) {
      let answered = false;
      try {
        for await (const frame of m.client.series(...args)) {
          answered = true;
          yield frame;
        }
        m.downUntil = 0;
        return;
      } catch (e) {
        // A member that failed midway sent part of the answer: another cannot finish it.
        if (answered || !unreachable(e)) throw e;
        m.downUntil = Date.now() + DOWN_MS;
        failure = e;
      }
    }
    throw failure;
  }

  close(): void {
    for (const m of this.#members.values()) m.client.close();
    this.#members.clear();
  }
}

/** A call that never reached its server (no connection), so another member may take it. */
function unreachable(e: unknown): boolean {
  return (e as { code?: unknown }).code === GrpcStatus.UNAVAILABLE;
}
