import {
  aggrChunkBytes,
  aggrChunkSamples,
  decodeSeriesResponseHints,
  emptyQueryStats,
  encodeSeriesResponseHints,
  isAbort,
  wantsQueryStats,
  type QueryStats,
  MatcherType,
  StoreError,
  GrpcStatus,
  type CallContext,
  type CallOptions,
  type InfoResponse,
  type LabelMatcher,
  type LabelNamesRequest,
  type LabelNamesResponse,
  type LabelValuesRequest,
  type LabelValuesResponse,
  type SeriesFrame,
  type SeriesRequest,
  type StoreServer,
  MAX_INT64,
  MIN_INT64,
  mergeMetricMetadata,
  PartialResponseStrategy,
  type MetricMetadata,
  type MetricMetadataRequest,
  type RuleGroup,
  type RulesRequest,
  type ExemplarData,
  type ExemplarsRequest,
  type TargetDiscovery,
  type TargetsRequest,
  ShardMatcher,
  checkSeriesLimits,
  SeriesLimitError,
  type SeriesLimits,
} from '@strata/storeapi';
import { setMaxListeners } from 'node:events';
import { parseExpr, walk, type Expr } from '@strata/promql';
import { compareStrings, Labels, Matcher } from '@strata/tsdb';
import { endpointMatches, type Endpoint, type EndpointScope, type EndpointSet } from '../endpoints/endpointset.js';
import { withTenant } from '../tenancy.js';
import type { SelectTelemetry } from './telemetry.js';
import { labeled, SeriesStreamMerge, stripLabels, type LabeledSeries } from './merge.js';
import { TsdbSelector } from './selector.js';

/**
 * Fans StoreAPI requests out to every endpoint that can hold matching data and merges the answers
 * (Thanos' ProxyStore). Under the WARN strategy a failing endpoint becomes a warning and the rest is
 * answered; under ABORT any failure fails the request. The querier reads through it, and also serves it
 * over gRPC so queriers can be stacked.
 */
export interface ProxyOptions {
  /** Per-endpoint timeout for a whole Series call (`--store.response-timeout`; 0 = none). */
  responseTimeoutMs?: number;
  /** Observes each Series fan-out's duration by its samples and series (--query.telemetry.*). */
  telemetry?: SelectTelemetry;
  /** Most series and samples one Series fan-out may bring back (--store.limits.request-series, --store.limits.request-samples). */
  limits?: SeriesLimits;
  /** Which endpoints' TSDBs are read, by their external labels, and the querier's own (--selector.relabel-config, --selector-label). */
  selector?: TsdbSelector;
}

export interface SeriesResult {
  series: LabeledSeries[];
  warnings: string[];
  /** What the endpoints reported the request cost (when the request asked for query stats). */
  stats: QueryStats;
}

/**
 * Lets every endpoint of a fan-out listen on `signal` at once, for as long as its call runs (as do all
 * the selects of a query): past EventTarget's 10 listeners Node would print a leak warning per request.
 */
function fannedOut(signal: AbortSignal): void {
  setMaxListeners(0, signal);
}

/** Restricts the endpoints of one request (Thanos' storeMatch[]: matchers on external labels and __address__). */
export type EndpointFilter = (e: EndpointScope) => boolean;

export class ProxyStore implements StoreServer {
  readonly #selector: TsdbSelector;

  constructor(
    private readonly endpoints: EndpointSet,
    private readonly opts: ProxyOptions = {},
  ) {
    this.#selector = opts.selector ?? new TsdbSelector();
  }

  /** Whether the endpoint's TSDBs that the selector reads can hold data for the request. */
  #matches(e: EndpointScope, matchers: readonly Matcher[], mint: number, maxt: number, filter: EndpointFilter | undefined): boolean {
    const selected = this.#selector.select(e.labelSets);
    if (selected === undefined || (filter !== undefined && !filter(e))) return false;
    return endpointMatches(selected.labelSets === e.labelSets ? e : { ...e, labelSets: selected.labelSets }, matchers, mint, maxt);
  }

  /**
   * The endpoints that can hold matching data, store gateways first: the calls start one after the
   * other, and a store gateway, reading blocks from the bucket, usually answers last.
   */
  #select(matchers: readonly Matcher[], mint: number, maxt: number, filter?: EndpointFilter): Endpoint[] {
    const targets = this.endpoints.endpoints().filter((e) => this.#matches(e, matchers, mint, maxt, filter));
    return [...targets.filter((e) => e.componentType === 'store'), ...targets.filter((e) => e.componentType !== 'store')];
  }

  /** A request's matchers without those on the selector labels; undefined where one of those does not match (nothing to answer). */
  #withoutSelectorLabels(matchers: readonly LabelMatcher[]): readonly LabelMatcher[] | undefined {
    return this.#selector.strip(matchers, (m, value) => toMatcher(m).matches(value));
  }

  /** `matchers` with those that confine the endpoint to the TSDBs the selector reads of it. */
  #confined(e: Endpoint, matchers: LabelMatcher[]): LabelMatcher[] {
    const extra = this.#selector.select(e.labelSets)?.matchers ?? [];
    return extra.length === 0 ? matchers : [...matchers, ...extra];
  }

  /**
   * What the request misses from unhealthy endpoints that could hold matching data: under ABORT the
   * request fails, under WARN each becomes a warning (`what`: "series" or "labels").
   */
  #missing(what: string, matchers: readonly Matcher[], mint: number, maxt: number, abort: boolean, warnings: string[], filter?: EndpointFilter): void {
    for (const e of this.endpoints.unavailable()) {
      if (!this.#matches(e, matchers, mint, maxt, filter)) continue;
      const msg = `fetch ${what} for ${describe(e)}: endpoint unavailable: ${e.lastError}`;
      if (abort) throw new StoreError(GrpcStatus.ABORTED, msg);
      warnings.push(msg);
    }
  }

  /** A call to an endpoint on `ctx`'s behalf: its signal, tenant and --store.response-timeout. */
  #callOptions(ctx: CallContext): CallOptions {
    const timeoutMs = this.opts.responseTimeoutMs || undefined;
    return { signal: ctx.signal, ...(timeoutMs ? { timeoutMs } : {}), ...(ctx.tenant !== undefined ? { tenant: ctx.tenant } : {}) };
  }

  /** Series from every matching endpoint, merged and sorted, with the warnings collected on the way. */
  async fetchSeries(req: SeriesRequest, ctx: CallContext, filter?: EndpointFilter): Promise<SeriesResult> {
    const series: LabeledSeries[] = [];
    const { warnings, stats } = await this.streamSeries(req, ctx, (s) => series.push(s), filter);
    return { series, warnings, stats };
  }

  /**
   * fetchSeries handing each merged series to `onSeries` as soon as it is complete (SeriesStreamMerge),
   * while the endpoints still send. An error thrown by `onSeries` fails the call once the endpoints
   * are done, and no series is handed on after it. Under WARN, what a failing endpoint sent before it
   * failed is kept, as Thanos' proxy keeps it.
   */
  async streamSeries(whole: SeriesRequest, ctx: CallContext, onSeries: (s: LabeledSeries) => void, filter?: EndpointFilter): Promise<Omit<SeriesResult, 'series'>> {
    const stripped = this.#withoutSelectorLabels(whole.matchers);
    if (stripped === undefined) return { warnings: [], stats: emptyQueryStats() };
    if (stripped.length === 0 && whole.matchers.length > 0) throw new StoreError(GrpcStatus.INVALID_ARGUMENT, 'no matchers specified (excluding selector labels)');
    const req = stripped === whole.matchers ? whole : { ...whole, matchers: [...stripped] };
    const matchers = req.matchers.map(toMatcher);
    const targets = this.#select(matchers, req.minTime, req.maxTime, filter);
    const abort = isAbort(req);
    if (targets.length === 0 && abort && this.endpoints.endpoints().length === 0) {
      throw new StoreError(GrpcStatus.UNAVAILABLE, 'No StoreAPIs available');
    }
    const warnings: string[] = [];
    this.#missing('series', matchers, req.minTime, req.maxTime, abort, warnings, filter);
    const started = performance.now();
    const stats = emptyQueryStats();
    const samples = { count: 0 };
    fannedOut(ctx.signal);
    let failed: { error: unknown } | undefined;
    // An endpoint of one label set serves one replica: its chunks are told apart from other replicas'
    // (LabeledSeries.replicaOf). One whose label set has no replica label serves what is no replica's
    // (history the compactor deduplicated): its chunks may continue any replica's where they do not
    // overlap, so that a replica's recent data after it is read on, not merged as another replica.
    const replicaLabels = req.withoutReplicaLabels;
    const replicas = targets.map((e) => {
      const set = e.labelSets.length === 1 ? (e.labelSets[0] as Labels) : undefined;
      if (set === undefined || (replicaLabels.length > 0 && !replicaLabels.some((n) => set.has(n)))) return undefined;
      return set.toString();
    });
    const merge = new SeriesStreamMerge(replicas, (s) => {
      if (failed !== undefined) return;
      try {
        onSeries(s);
      } catch (error) {
        failed = { error };
      }
    });
    const shard = ShardMatcher.of(req.shardInfo);
    // Every endpoint at once, as Thanos' proxy asks them (--query.max-concurrent-select bounds a query's selects).
    await Promise.all(
      targets.map(async (e, i) => {
        // An endpoint that cannot drop replica labels itself sends its series in another order than
        // they have without them: they join the merge when it is done, stripped and sorted again.
        const own: LabeledSeries[] | undefined = e.supportsWithoutReplicaLabels ? undefined : [];
        // One that cannot shard sends every series: the shard's are kept here, by the labels they are answered with.
        const inShard = shard === undefined || e.supportsSharding ? undefined : (s: LabeledSeries) => shard.matches(s.labels);
        // Its first series with replica labels are not the first without them, nor are its first series
        // the shard's first: a limit would cut the wrong ones.
        const cutsWrong = (own !== undefined && req.withoutReplicaLabels.length > 0) || inShard !== undefined;
        const confined = this.#confined(e, req.matchers);
        const limit = cutsWrong ? 0 : req.limit;
        const asked = confined === req.matchers && limit === req.limit ? req : { ...req, matchers: confined, limit };
        try {
          await this.#seriesFrom(e, asked, ctx, { warnings, stats, samples }, abort, (s) => {
            if (own !== undefined) own.push(s);
            else if (inShard === undefined || inShard(s)) merge.add(i, s);
          }, () => merge.drain());
          const stripped = own === undefined ? undefined : stripLabels(own, req.withoutReplicaLabels);
          merge.end(i, inShard === undefined ? stripped : stripped?.filter(inShard));
        } catch (err) {
          if (ctx.signal.aborted || err instanceof SeriesLimitError) throw err;
          const msg = `fetch series for ${describe(e)}: ${(err as Error).message}`;
          if (abort) throw new StoreError(GrpcStatus.ABORTED, msg);
          warnings.push(msg);
          merge.end(i);
        }
        merge.drain();
      }),
    );
    if (failed !== undefined) throw failed.error;
    this.opts.telemetry?.observe((performance.now() - started) / 1000, stats.seriesFetched, samples.count);
    return { warnings, stats };
  }

  /** Hands the endpoint's series to `onSeries` as they arrive, calling `onFrame` after each frame's. */
  async #seriesFrom(
    e: Endpoint,
    req: SeriesRequest,
    ctx: CallContext,
    { warnings, stats, samples }: { warnings: string[]; stats: QueryStats; samples: { count: number } },
    abort: boolean,
    onSeries: (s: LabeledSeries) => void,
    onFrame: () => void,
  ): Promise<void> {
    for await (const f of e.client.series(req, this.#callOptions(ctx))) {
      if ('warning' in f) {
        if (abort) throw new Error(f.warning);
        warnings.push(`${describe(e)}: ${f.warning}`);
      } else if ('series' in f || 'batch' in f) {
        for (const s of 'series' in f ? [f.series] : f.batch) {
          stats.seriesFetched++;
          stats.chunksFetched += s.chunks.length;
          for (const c of s.chunks) {
            stats.chunksFetchedSizeSum += aggrChunkBytes(c);
            samples.count += aggrChunkSamples(c);
          }
          // Counted over every endpoint of the fan-out: each one's next series stops it once one is past a limit.
          checkSeriesLimits(this.opts.limits, stats.seriesFetched, samples.count);
          onSeries(labeled(s));
        }
        onFrame();
      } else {
        // What reading the bucket cost, from stores that read one; series and chunks are counted above.
        const reported = decodeSeriesResponseHints(f.hints)?.queryStats;
        if (reported !== undefined) {
          stats.blocksQueried += reported.blocksQueried;
          stats.objectRequests += reported.objectRequests;
          stats.dataDownloadedSizeSum += reported.dataDownloadedSizeSum;
        }
      }
    }
  }

  /**
   * Metric metadata from every endpoint that serves Thanos' Metadata API, merged as Thanos' querier
   * merges it (each metric's distinct entries; at most `req.limit` metrics, in the order they arrive).
   * Also the querier's own thanos.Metadata, for stacked queriers.
   */
  async metricMetadata(req: MetricMetadataRequest, ctx: CallContext): Promise<{ metadata: MetricMetadata; warnings: string[] }> {
    const metadata: MetricMetadata = new Map();
    const warnings = await this.#fanOut('metric metadata', (e) => e.metricMetadata, req.partialResponseStrategy, ctx, async (e, opts) => {
      const res = await e.client.metricMetadata(req, opts);
      mergeMetricMetadata(metadata, res.metadata, req.limit);
      return res.warnings;
    });
    return { metadata, warnings };
  }

  /**
   * The rule groups of every endpoint that serves Thanos' Rules API, as they come (deduplicating
   * replicas is the reader's: rulesFor in api/rules.ts). Also the querier's own thanos.Rules.
   */
  async rules(req: RulesRequest, ctx: CallContext): Promise<{ groups: RuleGroup[]; warnings: string[] }> {
    const groups: RuleGroup[] = [];
    const warnings = await this.#fanOut('rules', (e) => e.rules, req.partialResponseStrategy, ctx, async (e, opts) => {
      const res = await e.client.rules(req, opts);
      groups.push(...res.groups);
      return res.warnings;
    });
    return { groups, warnings };
  }

  /**
   * The exemplars of the series the query selects, from every endpoint that serves Thanos' Exemplars
   * API and whose external labels the selectors admit (Thanos' exemplars.Proxy): each is asked for the
   * query's selectors alone, less their matchers on its external labels, which its Prometheus does
   * not store. Also the querier's own thanos.Exemplars.
   */
  async exemplars(req: ExemplarsRequest, ctx: CallContext, tenant?: Matcher): Promise<{ data: ExemplarData[]; warnings: string[] }> {
    let selectors: (readonly Matcher[])[];
    try {
      // As the series: matchers on selector labels dropped, selectors they do not match left out.
      selectors = selectorsOf(parseExpr(req.query)).flatMap((s) => {
        const own = this.#selector.strip(s, (m, value) => m.matches(value));
        return own === undefined ? [] : [withTenant([...own], tenant)];
      });
    } catch (e) {
      throw new StoreError(GrpcStatus.INVALID_ARGUMENT, (e as Error).message);
    }
    const data: ExemplarData[] = [];
    const warnings = await this.#fanOut('exemplars', (e) => e.exemplars && exemplarsQuery(selectors, e.labelSets) !== '', req.partialResponseStrategy, ctx, async (e, opts) => {
      const res = await e.client.exemplars({ ...req, query: exemplarsQuery(selectors, e.labelSets) }, opts);
      data.push(...res.data);
      return res.warnings;
    });
    return { data, warnings };
  }

  /** The scrape targets of every endpoint that serves Thanos' Targets API, their lists joined (deduplicated by the reader: api/targets.ts). Also the querier's own thanos.Targets. */
  async targets(req: TargetsRequest, ctx: CallContext): Promise<{ targets: TargetDiscovery; warnings: string[] }> {
    const targets: TargetDiscovery = { activeTargets: [], droppedTargets: [] };
    const warnings = await this.#fanOut('targets', (e) => e.targets, req.partialResponseStrategy, ctx, async (e, opts) => {
      const res = await e.client.targets(req, opts);
      targets.activeTargets.push(...res.targets.activeTargets);
      targets.droppedTargets.push(...res.targets.droppedTargets);
      return res.warnings;
    });
    return { targets, warnings };
  }

  /**
   * Calls `call` on every healthy endpoint `serves` selects, all at once; returns the warnings, theirs
   * and, under WARN, one per failing endpoint (under ABORT a failure fails the request).
   */
  async #fanOut(
    what: string,
    serves: (e: Endpoint) => boolean,
    strategy: PartialResponseStrategy,
    ctx: CallContext,
    call: (e: Endpoint, opts: CallOptions) => Promise<string[]>,
  ): Promise<string[]> {
    const warnings: string[] = [];
    fannedOut(ctx.signal);
    await Promise.all(
      this.endpoints
        .apiEndpoints()
        .filter(serves)
        .map(async (e) => {
          try {
            const theirs = await call(e, this.#callOptions(ctx));
            warnings.push(...theirs.map((w) => `${describe(e)}: ${w}`));
          } catch (err) {
            if (ctx.signal.aborted) throw err;
            const msg = `fetch ${what} for ${describe(e)}: ${(err as Error).message}`;
            if (strategy === PartialResponseStrategy.ABORT) throw new StoreError(GrpcStatus.ABORTED, msg);
            warnings.push(msg);
          }
        }),
    );
    return warnings;
  }

  // --- StoreServer: the querier's own StoreAPI, for stacking queriers ---

  async info(): Promise<InfoResponse> {
    // What this querier reads: the TSDBs the selector keeps, under its selector labels.
    const selected = this.endpoints.endpoints().flatMap((e) => {
      const s = this.#selector.select(e.labelSets);
      return s === undefined ? [] : [{ e, labelSets: s.labelSets }];
    });
    const eps = selected.map((s) => s.e);
    const labelSets = this.#selector.announced(selected.flatMap((s) => s.labelSets)).map((ls) => [...ls]);
    return {
      labelSets,
      componentType: 'query',
      store: {
        minTime: eps.length === 0 ? MAX_INT64 : Math.min(...eps.map((e) => e.minTime)),
        maxTime: eps.length === 0 ? MIN_INT64 : Math.max(...eps.map((e) => e.maxTime)),
        supportsSharding: true,
        supportsWithoutReplicaLabels: true,
        tsdbInfos: [],
        supportsProjections: false,
      },
      query: true,
      metricMetadata: true,
      rules: true,
      exemplars: { minTime: MIN_INT64, maxTime: MAX_INT64 },
      targets: true,
    };
  }

  async *series(req: SeriesRequest, ctx: CallContext): AsyncIterable<SeriesFrame> {
    // As every Thanos store: a request that only names external labels would select everything.
    const external = new Set(this.endpoints.endpoints().flatMap((e) => e.labelSets.flatMap((ls) => [...ls].map((l) => l.name))));
    for (const l of this.#selector.labels) external.add(l.name);
    if (req.matchers.every((m) => external.has(m.name))) {
      throw new StoreError(GrpcStatus.INVALID_ARGUMENT, 'no matchers specified (excluding external labels)');
    }
    const { series, warnings, stats } = await this.fetchSeries(req, ctx);
    for (const w of warnings) yield { warning: w };
    for (const s of series) yield { series: { labels: s.labels.toArray(), chunks: s.chunks } };
    if (wantsQueryStats(req.hints)) yield { hints: encodeSeriesResponseHints({ queriedBlocks: [], queryStats: stats }) };
  }

  async labelNames(req: LabelNamesRequest, ctx: CallContext): Promise<LabelNamesResponse> {
    const res = await this.#fanOutStrings(req, req.start, req.end, ctx, (e, matchers, opts) =>
      e.client.labelNames(matchers === req.matchers ? req : { ...req, matchers }, opts).then((r) => ({ values: r.names, warnings: r.warnings })),
    );
    return { names: res.values, warnings: res.warnings };
  }

  async labelValues(req: LabelValuesRequest, ctx: CallContext): Promise<LabelValuesResponse> {
    return this.#fanOutStrings(req, req.start, req.end, ctx, (e, matchers, opts) => e.client.labelValues(matchers === req.matchers ? req : { ...req, matchers }, opts));
  }

  /** Each endpoint is asked with the request's matchers less those on selector labels, confined to the TSDBs the selector reads of it. */
  async #fanOutStrings(
    req: { matchers: LabelMatcher[]; partialResponseDisabled: boolean; partialResponseStrategy: SeriesRequest['partialResponseStrategy'] },
    start: number,
    end: number,
    ctx: CallContext,
    call: (e: Endpoint, matchers: LabelMatcher[], opts: CallOptions) => Promise<{ values: string[]; warnings: string[] }>,
  ): Promise<LabelValuesResponse> {
    const stripped = this.#withoutSelectorLabels(req.matchers);
    if (stripped === undefined) return { values: [], warnings: [] };
    const own = stripped === req.matchers ? req.matchers : [...stripped];
    const matchers = own.map(toMatcher);
    const targets = this.#select(matchers, start, end);
    const abort = isAbort(req);
    const warnings: string[] = [];
    this.#missing('labels', matchers, start, end, abort, warnings);
    const values = new Set<string>();
    fannedOut(ctx.signal);
    await Promise.all(
      targets.map(async (e) => {
        try {
          const r = await call(e, this.#confined(e, own), this.#callOptions(ctx));
          for (const v of r.values) values.add(v);
          for (const w of r.warnings) {
            if (abort) throw new Error(w);
            warnings.push(`${describe(e)}: ${w}`);
          }
        } catch (err) {
          if (ctx.signal.aborted) throw err;
          const msg = `fetch labels for ${describe(e)}: ${(err as Error).message}`;
          if (abort) throw new StoreError(GrpcStatus.ABORTED, msg);
          warnings.push(msg);
        }
      }),
    );
    return { values: [...values].sort(compareStrings), warnings };
  }
}

function describe(e: EndpointScope): string {
  const labels = e.labelSets.map((l) => l.toString()).join(',');
  return `store ${e.address}${labels ? ` with labels ${labels}` : ''}`;
}

const MATCH_TYPES = { [MatcherType.EQ]: '=', [MatcherType.NEQ]: '!=', [MatcherType.RE]: '=~', [MatcherType.NRE]: '!~' } as const;

export function toMatcher(m: LabelMatcher): Matcher {
  return new Matcher(MATCH_TYPES[m.type], m.name, m.value);
}

export function fromMatcher(m: Matcher): LabelMatcher {
  const type = { '=': MatcherType.EQ, '!=': MatcherType.NEQ, '=~': MatcherType.RE, '!~': MatcherType.NRE }[m.type];
  return { type, name: m.name, value: m.value };
}

/** The label matchers of every vector selector in a query (Prometheus' parser.ExtractSelectors). */
export function selectorsOf(expr: Expr): Matcher[][] {
  const out: Matcher[][] = [];
  walk(expr, (node) => {
    if (node.kind === 'vectorSelector') out.push([...node.matchers]);
  });
  return out;
}

/** The label matchers of every vector selector of a PromQL query (what an Exemplars API server selects by); throws if it does not parse. */
export function querySelectors(query: string): Matcher[][] {
  return selectorsOf(parseExpr(query));
}

/**
 * The query an endpoint with external `labelSets` is asked for exemplars: each selector that its
 * external labels satisfy, without the matchers on them, joined by `+` as Thanos joins them; '' when
 * none applies.
 */
export function exemplarsQuery(selectors: readonly (readonly Matcher[])[], labelSets: readonly Labels[]): string {
  const parts: string[] = [];
  next: for (const matchers of selectors) {
    const kept: string[] = [];
    for (const m of matchers) {
      const ext = labelSets.find((ls) => ls.has(m.name))?.get(m.name);
      if (ext === undefined) kept.push(m.toString());
      else if (!m.matches(ext)) continue next;
    }
    parts.push(`{${kept.join(', ')}}`);
  }
  return parts.join(' + ');
}
