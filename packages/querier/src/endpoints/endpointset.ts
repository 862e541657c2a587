import { MAX_INT64, MIN_INT64, StoreClient, type InfoResponse, type StoreApi, type StoreClientOptions } from '@strata/storeapi';
import { Labels, type Matcher } from '@strata/tsdb';
import type { Logger } from '@strata/runtime';
import { Gauge, type Registry } from 'prom-client';
import { isDnsEndpoint, resolveDnsEndpoint, systemResolver, type DnsResolver } from '@strata/runtime';
import { EndpointGroup } from './group.js';
import type { EndpointConfigSource, EndpointSpec } from './sdconfig.js';
import { readSdFile } from './sdfile.js';

/**
 * The StoreAPI endpoints a querier fans out to (Thanos' EndpointSet): static `--endpoint` addresses,
 * those `dns+`/`dnssrv+`/`dnssrvnoa+` endpoints resolve to (every `dnsIntervalMs`; a failed lookup keeps
 * the last answer) and those in `--endpoint.sd-files`, each asked for its Info every refresh. An endpoint that fails
 * is unhealthy at once and skipped by queries; it is forgotten after `unhealthyTimeoutMs` without a
 * success, and comes back as soon as it answers again (or reappears in an SD file). A strict endpoint
 * (`--endpoint-strict`) is never skipped: a failed Info leaves it asked, with what it last answered
 * (before its first answer: all time, any labels), so that its own failure shows in every answer that
 * could need its data, and a server that answers Series but not Info still serves. An endpoint group
 * (`--endpoint-group`, `--endpoint-group-strict`) is one endpoint whose calls go to one of the addresses
 * its DNS name stands for at a time (looked up as DNS endpoints are). Endpoints may also come from an
 * endpoint configuration (`--endpoint.sd-config`), which can change: each refresh connects those it
 * added, closes those it dropped, and connects anew those whose client options changed.
 */
export interface EndpointSetOptions {
  endpoints: readonly string[];
  /** Static addresses queried even while their Info call fails (Thanos' --endpoint-strict). */
  strictEndpoints?: readonly string[];
  /** DNS names of replicas asked as one endpoint, a call to one of them (Thanos' --endpoint-group, --endpoint-group-strict). */
  endpointGroups?: readonly string[];
  strictEndpointGroups?: readonly string[];
  sdFiles?: readonly string[];
  /** Endpoints configured besides the flags (Thanos' --endpoint.sd-config), read again on every refresh. */
  config?: EndpointConfigSource;
  /** How often DNS endpoints are looked up again (Thanos' --store.sd-dns-interval, default 30s). */
  dnsIntervalMs?: number;
  /** Where DNS endpoints are looked up (default: the system's resolver). */
  resolver?: DnsResolver;
  /** The client options of endpoints the flags name or discovery finds. */
  client?: StoreClientOptions;
  /** Timeout of one Info call. */
  infoTimeoutMs?: number;
  /** How long a failing endpoint stays listed before it is dropped. */
  unhealthyTimeoutMs?: number;
  logger: Logger;
  registry?: Registry;
  /** The labels of strata_store_nodes_grpc_connections beside `state` (Thanos' --query.conn-metric.label; default both). */
  connMetricLabels?: readonly ConnMetricLabel[];
}

export type ConnMetricLabel = 'external_labels' | 'store_type';
export const CONN_METRIC_LABELS: readonly ConnMetricLabel[] = ['external_labels', 'store_type'];

export interface Endpoint {
  readonly address: string;
  readonly client: StoreApi;
  /** Labels of each TSDB behind the endpoint (its external labels). */
  readonly labelSets: readonly Labels[];
  readonly minTime: number;
  readonly maxTime: number;
  readonly componentType: string;
  readonly supportsWithoutReplicaLabels: boolean;
  /** It answers a sharded Series call with its shard's series only (Info's supports_sharding); the querier filters the others' answers. */
  readonly supportsSharding: boolean;
  /** It serves Thanos' Metadata API (Info's metric_metadata). */
  readonly metricMetadata: boolean;
  /** It serves Thanos' Rules API (Info's rules). */
  readonly rules: boolean;
  /** It serves Thanos' Exemplars API (Info's exemplars). */
  readonly exemplars: boolean;
  /** It serves Thanos' Targets API (Info's targets). */
  readonly targets: boolean;
  /** It serves Thanos' Query API (Info's query): a querier, a leaf in distributed mode. */
  readonly query: boolean;
}

/** What identifies an endpoint's data to a request: its address, external labels and time range. */
export type EndpointScope = Pick<Endpoint, 'address' | 'labelSets' | 'minTime' | 'maxTime'>;

/** An endpoint whose last Info call failed, as it was when it last answered, with the failure. */
export interface UnavailableEndpoint extends EndpointScope {
  readonly lastError: string;
}

export interface EndpointStatus {
  address: string;
  healthy: boolean;
  lastCheck: number;
  lastError: string | null;
  info: InfoResponse | null;
}

interface EndpointState {
  client: StoreApi;
  /** The EndpointSpec's clientKey it was connected with ('' for the default options). */
  clientKey: string;
  /** An endpoint group's members, and when they were last looked up. */
  group: { readonly members: EndpointGroup; resolvedAt: number } | undefined;
  info: InfoResponse | null;
  /** `info`'s label sets as Labels, made when it arrives rather than on every request. */
  labelSets: readonly Labels[];
  lastCheck: number;
  lastSuccess: number;
  lastError: string | null;
  /** Named by a flag or the endpoint configuration: kept, however it fails, while it is; else found by DNS or an SD file. */
  configured: boolean;
  strict: boolean;
}

/**
 * What a strict endpoint that has never answered Info is taken to serve (Thanos' maxRangeStoreMetadata):
 * the StoreAPI over all time, under any labels.
 */
const UNKNOWN_STORE: InfoResponse = {
  labelSets: [],
  componentType: '',
  store: { minTime: MIN_INT64, maxTime: MAX_INT64, supportsSharding: false, supportsWithoutReplicaLabels: false, tsdbInfos: [], supportsProjections: false },
};

export class EndpointSet {
  readonly #opts: EndpointSetOptions;
  readonly #states = new Map<string, EndpointState>();
  readonly #gauge: Gauge<ConnMetricLabel | 'state'> | undefined;
  /** The endpoints the flags name. */
  readonly #flagSpecs: readonly EndpointSpec[];
  /** Configured DNS endpoints by name, with the addresses of their last successful lookup. */
  readonly #dns = new Map<string, { addresses: readonly string[]; resolvedAt: number }>();
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;

  constructor(opts: EndpointSetOptions) {
    this.#opts = opts;
    const spec = (strict: boolean, group: boolean) => (address: string): EndpointSpec => ({ address, strict, group, client: opts.client ?? {}, clientKey: '' });
    this.#flagSpecs = [
      ...opts.endpoints.map(spec(false, false)),
      ...(opts.strictEndpoints ?? []).map(spec(true, false)),
      ...(opts.endpointGroups ?? []).map(spec(false, true)),
      ...(opts.strictEndpointGroups ?? []).map(spec(true, true)),
    ];
    this.#reconcile();
    if (opts.registry) {
      this.#gauge = new Gauge({
        name: 'strata_store_nodes_grpc_connections',
        help: 'Number of StoreAPI endpoints known to the querier, by state (and by their external labels and component, as --query.conn-metric.label asks).',
        labelNames: ['state', ...(opts.connMetricLabels ?? CONN_METRIC_LABELS)],
        registers: [opts.registry],
        // Querier workers each know the same endpoints: counted once.
        aggregator: 'max',
      });
    }
  }

  /**
   * Brings the endpoints in line with the flags and the endpoint configuration as it is now: connects
   * those it added, closes those it dropped or whose client options changed.
   */
  #reconcile(): void {
    const wanted = new Map<string, EndpointSpec>();
    const dnsNames = new Set<string>();
    for (const s of [...this.#flagSpecs, ...(this.#opts.config?.specs() ?? [])]) {
      if (!s.group && isDnsEndpoint(s.address)) {
        dnsNames.add(s.address);
        continue;
      }
      // An address given twice is one endpoint, strict if either says so.
      const known = wanted.get(s.address);
      wanted.set(s.address, known === undefined ? s : { ...s, strict: known.strict || s.strict });
    }
    for (const name of this.#dns.keys()) if (!dnsNames.has(name)) this.#dns.delete(name);
    for (const name of dnsNames) if (!this.#dns.has(name)) this.#dns.set(name, { addresses: [], resolvedAt: Number.NEGATIVE_INFINITY });
    for (const [address, s] of this.#states) {
      const spec = wanted.get(address);
      const same = spec !== undefined && spec.clientKey === s.clientKey && spec.group === (s.group !== undefined);
      if (same) {
        s.configured = true;
        s.strict = spec.strict;
      } else if (s.configured || spec !== undefined) {
        s.client.close();
        this.#states.delete(address);
      }
      // Else a discovered endpoint, kept until discovery drops it.
    }
    for (const spec of wanted.values()) {
      if (this.#states.has(spec.address)) continue;
      const group = spec.group ? { members: new EndpointGroup(spec.address, spec.client, spec.balancing), resolvedAt: Number.NEGATIVE_INFINITY } : undefined;
      this.#add(spec.address, { configured: true, strict: spec.strict, clientKey: spec.clientKey, group, client: group?.members ?? new StoreClient(spec.address, spec.client) });
    }
  }

  #add(address: string, how: Pick<EndpointState, 'configured' | 'strict' | 'clientKey' | 'group' | 'client'>): void {
    this.#states.set(address, { ...how, info: null, labelSets: [], lastCheck: 0, lastSuccess: Date.now(), lastError: null });
  }

  /** Re-reads SD files and asks every endpoint for its Info once. Concurrent calls share one refresh. */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #refresh(): Promise<void> {
    this.#reconcile();
    const discovered = new Set<string>();
    const dnsInterval = this.#opts.dnsIntervalMs ?? 30_000;
    await Promise.all(
      [...this.#dns].map(async ([name, d]) => {
        if (Date.now() - d.resolvedAt < dnsInterval) return;
        try {
          d.addresses = await resolveDnsEndpoint(name, this.#opts.resolver ?? systemResolver);
          d.resolvedAt = Date.now();
        } catch (e) {
          this.#opts.logger.warn('looking up endpoint in DNS failed; keeping its last addresses', { endpoint: name, err: e as Error });
        }
      }),
    );
    await Promise.all(
      [...this.#states.values()].map(async ({ group }) => {
        if (group === undefined || Date.now() - group.resolvedAt < dnsInterval) return;
        const name = group.members.name;
        try {
          group.members.setMembers(await resolveDnsEndpoint(isDnsEndpoint(name) ? name : `dns+${name}`, this.#opts.resolver ?? systemResolver));
          group.resolvedAt = Date.now();
        } catch (e) {
          this.#opts.logger.warn('looking up endpoint group in DNS failed; keeping its last addresses', { endpoint_group: name, err: e as Error });
        }
      }),
    );
    for (const d of this.#dns.values()) for (const a of d.addresses) discovered.add(a);
    for (const f of this.#opts.sdFiles ?? []) {
      try {
        for (const a of await readSdFile(f)) discovered.add(a);
      } catch (e) {
        this.#opts.logger.warn('reading endpoint SD file failed', { file: f, err: e as Error });
      }
    }
    for (const a of discovered) {
      if (!this.#states.has(a)) this.#add(a, { configured: false, strict: false, clientKey: '', group: undefined, client: new StoreClient(a, this.#opts.client) });
    }
    const now = Date.now();
    const timeoutMs = this.#opts.infoTimeoutMs ?? 5000;
    await Promise.all(
      [...this.#states.entries()].map(async ([address, s]) => {
        try {
          s.info = await s.client.info({ timeoutMs });
          s.labelSets = s.info.labelSets.map((ls) => Labels.from(ls));
          s.lastSuccess = Date.now();
          if (s.lastError !== null) this.#opts.logger.info('endpoint is back', { address });
          s.lastError = null;
        } catch (e) {
          if (s.lastError === null) this.#opts.logger.warn('endpoint unhealthy', { address, err: e as Error });
          s.lastError = (e as Error).message;
        }
        s.lastCheck = Date.now();
      }),
    );
    const dropAfter = this.#opts.unhealthyTimeoutMs ?? 5 * 60_000;
    for (const [address, s] of this.#states) {
      const gone = !s.configured && !discovered.has(address);
      if (gone || (s.lastError !== null && now - s.lastSuccess > dropAfter && !s.configured)) {
        s.client.close();
        this.#states.delete(address);
      } else if (s.lastError !== null && now - s.lastSuccess > dropAfter && !s.strict) {
        s.info = null;
      }
    }
    this.#countConnections();
  }

  /** strata_store_nodes_grpc_connections: the endpoints by state, and by what --query.conn-metric.label asks. */
  #countConnections(): void {
    const gauge = this.#gauge;
    if (gauge === undefined) return;
    const by = this.#opts.connMetricLabels ?? CONN_METRIC_LABELS;
    gauge.reset();
    const empty = new Set(['healthy', 'unhealthy']);
    for (const s of this.#states.values()) {
      const labels: Partial<Record<ConnMetricLabel | 'state', string>> = { state: s.lastError === null ? 'healthy' : 'unhealthy' };
      empty.delete(labels.state as string);
      // As Thanos writes them: each label set as PromQL writes it, sorted, joined by commas.
      if (by.includes('external_labels')) labels.external_labels = s.labelSets.map((ls) => ls.toString()).sort().join(',');
      if (by.includes('store_type')) labels.store_type = s.info?.componentType ?? '';
      gauge.inc(labels);
    }
    // A state no endpoint is in is a zero, as alerts on "no healthy endpoint" expect.
    for (const state of empty) gauge.set({ state, ...Object.fromEntries(by.map((l) => [l, ''])) }, 0);
  }

  /** Starts refreshing every `intervalMs` (Thanos: 5s). */
  start(intervalMs = 5000): void {
    this.#timer = setInterval(() => void this.refresh(), intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    for (const s of this.#states.values()) s.client.close();
  }

  /**
   * Endpoints that served the StoreAPI until their last Info call failed, not yet forgotten: a request
   * that could need their data is answered without it, and says so (a warning, or a failure under ABORT),
   * instead of leaving it out silently until they are dropped.
   */
  unavailable(): UnavailableEndpoint[] {
    const out: UnavailableEndpoint[] = [];
    for (const [address, s] of this.#states) {
      if (s.strict || s.lastError === null || s.info === null || s.info.store === undefined) continue;
      out.push({ address, labelSets: s.labelSets, minTime: s.info.store.minTime, maxTime: s.info.store.maxTime, lastError: s.lastError });
    }
    return out;
  }

  /** Healthy endpoints that serve the StoreAPI, and strict ones however they are. */
  endpoints(): Endpoint[] {
    return this.#endpoints(false);
  }

  /**
   * Every healthy endpoint (and strict ones), the StoreAPI served or not, for the Rules, Metadata,
   * Exemplars and Targets APIs: a stateless ruler serves its Rules API alone, as Thanos' querier finds it.
   */
  apiEndpoints(): Endpoint[] {
    return this.#endpoints(true);
  }

  #endpoints(withoutStore: boolean): Endpoint[] {
    const out: Endpoint[] = [];
    for (const [address, s] of this.#states) {
      if (s.lastError !== null && !s.strict) continue;
      const info = s.strict ? (s.info ?? UNKNOWN_STORE) : s.info;
      if (info === null || (info.store === undefined && !withoutStore)) continue;
      out.push({
        address,
        client: s.client,
        labelSets: s.labelSets,
        // No data at all where no StoreAPI is served.
        minTime: info.store?.minTime ?? MAX_INT64,
        maxTime: info.store?.maxTime ?? MIN_INT64,
        componentType: info.componentType,
        supportsWithoutReplicaLabels: info.store?.supportsWithoutReplicaLabels ?? false,
        supportsSharding: info.store?.supportsSharding ?? false,
        metricMetadata: info.metricMetadata === true,
        rules: info.rules === true,
        exemplars: info.exemplars !== undefined,
        targets: info.targets === true,
        query: info.query === true,
      });
    }
    return out;
  }

  status(): EndpointStatus[] {
    return [...this.#states.entries()].map(([address, s]) => ({
      address,
      healthy: s.lastError === null && s.info !== null,
      lastCheck: s.lastCheck,
      lastError: s.lastError,
      info: s.info,
    }));
  }
}

/**
 * Whether an endpoint may hold series for `matchers` in [mint, maxt] (Thanos' storeMatches): its time
 * range overlaps, and one of its label sets agrees with every matcher on the labels it has. An endpoint
 * without label sets may hold anything.
 */
export function endpointMatches(e: EndpointScope, matchers: readonly Matcher[], mint: number, maxt: number): boolean {
  if (e.minTime > maxt || e.maxTime < mint) return false;
  if (e.labelSets.length === 0) return true;
  return e.labelSets.some((ls) => matchers.every((m) => !ls.has(m.name) || m.matches(ls.get(m.name))));
}
