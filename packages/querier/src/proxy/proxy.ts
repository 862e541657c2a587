import {
  aggrChunkBytes,
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
} from '@strata/storeapi';
import { compareStrings, Labels, Matcher } from '@strata/tsdb';
import pLimit from 'p-limit';
import { endpointMatches, type Endpoint, type EndpointSet } from '../endpoints/endpointset.js';
import { labeled, mergeSorted, stripLabels, type LabeledSeries } from './merge.js';

/**
 * Fans StoreAPI requests out to every endpoint that can hold matching data and merges the answers
 * (Thanos' ProxyStore). Under the WARN strategy a failing endpoint becomes a warning and the rest is
 * answered; under ABORT any failure fails the request. The querier reads through it, and also serves it
 * over gRPC so queriers can be stacked.
 */
export interface ProxyOptions {
  /** Concurrent endpoint calls per request (`--query.max-concurrent-select`). */
  maxConcurrency?: number;
  /** Per-endpoint timeout for a whole Series call (`--store.response-timeout`; 0 = none). */
  responseTimeoutMs?: number;
}

export interface SeriesResult {
  series: LabeledSeries[];
  warnings: string[];
  /** What the endpoints reported the request cost (when the request asked for query stats). */
  stats: QueryStats;
}

/** Restricts the endpoints of one request (Thanos' storeMatch[]: matchers on external labels and __address__). */
export type EndpointFilter = (e: Endpoint) => boolean;

export class ProxyStore implements StoreServer {
  constructor(
    private readonly endpoints: EndpointSet,
    private readonly opts: ProxyOptions = {},
  ) {}

  #select(matchers: readonly Matcher[], mint: number, maxt: number, filter?: EndpointFilter): Endpoint[] {
    return this.endpoints.endpoints().filter((e) => endpointMatches(e, matchers, mint, maxt) && (filter === undefined || filter(e)));
  }

  /** Series from every matching endpoint, merged and sorted, with the warnings collected on the way. */
  async fetchSeries(req: SeriesRequest, signal: AbortSignal, filter?: EndpointFilter): Promise<SeriesResult> {
    const matchers = req.matchers.map(toMatcher);
    const targets = this.#select(matchers, req.minTime, req.maxTime, filter);
    const abort = isAbort(req);
    if (targets.length === 0 && abort && this.endpoints.endpoints().length === 0) {
      throw new StoreError(GrpcStatus.UNAVAILABLE, 'No StoreAPIs available');
    }
    const warnings: string[] = [];
    const stats = emptyQueryStats();
    const limit = pLimit(this.opts.maxConcurrency ?? 20);
    const lists = await Promise.all(
      targets.map((e) =>
        limit(async () => {
          try {
            const list = await this.#seriesFrom(e, req, signal, { warnings, stats }, abort);
            return e.supportsWithoutReplicaLabels ? list : stripLabels(list, req.withoutReplicaLabels);
          } catch (err) {
            if (signal.aborted) throw err;
            const msg = `fetch series for ${describe(e)}: ${(err as Error).message}`;
            if (abort) throw new StoreError(GrpcStatus.ABORTED, msg);
            warnings.push(msg);
            return [];
          }
        }),
      ),
    );
    return { series: mergeSorted(lists), warnings, stats };
  }

  async #seriesFrom(
    e: Endpoint,
    req: SeriesRequest,
    signal: AbortSignal,
    { warnings, stats }: { warnings: string[]; stats: QueryStats },
    abort: boolean,
  ): Promise<LabeledSeries[]> {
    const out: LabeledSeries[] = [];
    const timeoutMs = this.opts.responseTimeoutMs || undefined;
    for await (const f of e.client.series(req, { signal, ...(timeoutMs ? { timeoutMs } : {}) })) {
      if ('warning' in f) {
        if (abort) throw new Error(f.warning);
        warnings.push(`${describe(e)}: ${f.warning}`);
      } else if ('series' in f || 'batch' in f) {
        for (const s of 'series' in f ? [f.series] : f.batch) {
          stats.seriesFetched++;
          stats.chunksFetched += s.chunks.length;
          for (const c of s.chunks) stats.chunksFetchedSizeSum += aggrChunkBytes(c);
          push(out, labeled(s));
        }
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
    return out;
  }

  // --- StoreServer: the querier's own StoreAPI, for stacking queriers ---

  async info(): Promise<InfoResponse> {
    const eps = this.endpoints.endpoints();
    const seen = new Map<string, Labels>();
    for (const e of eps) for (const ls of e.labelSets) seen.set(ls.key(), ls);
    const labelSets = [...seen.values()].sort(Labels.compare).map((ls) => [...ls]);
    return {
      labelSets,
      componentType: 'query',
      store: {
        minTime: eps.length === 0 ? MAX_INT64 : Math.min(...eps.map((e) => e.minTime)),
        maxTime: eps.length === 0 ? MIN_INT64 : Math.max(...eps.map((e) => e.maxTime)),
        supportsSharding: false,
        supportsWithoutReplicaLabels: true,
        tsdbInfos: [],
        supportsProjections: false,
      },
      query: true,
    };
  }

  async *series(req: SeriesRequest, ctx: CallContext): AsyncIterable<SeriesFrame> {
    // As every Thanos store: a request that only names external labels would select everything.
    const external = new Set(this.endpoints.endpoints().flatMap((e) => e.labelSets.flatMap((ls) => [...ls].map((l) => l.name))));
    if (req.matchers.every((m) => external.has(m.name))) {
      throw new StoreError(GrpcStatus.INVALID_ARGUMENT, 'no matchers specified (excluding external labels)');
    }
    const { series, warnings, stats } = await this.fetchSeries(req, ctx.signal);
    for (const w of warnings) yield { warning: w };
    for (const s of series) yield { series: { labels: s.labels.toArray(), chunks: s.chunks } };
    if (wantsQueryStats(req.hints)) yield { hints: encodeSeriesResponseHints({ queriedBlocks: [], queryStats: stats }) };
  }

  async labelNames(req: LabelNamesRequest, ctx: CallContext): Promise<LabelNamesResponse> {
    const res = await this.#fanOutStrings(req, req.start, req.end, ctx.signal, (e, opts) => e.client.labelNames(req, opts).then((r) => ({ values: r.names, warnings: r.warnings })));
    return { names: res.values, warnings: res.warnings };
  }

  async labelValues(req: LabelValuesRequest, ctx: CallContext): Promise<LabelValuesResponse> {
    return this.#fanOutStrings(req, req.start, req.end, ctx.signal, (e, opts) => e.client.labelValues(req, opts));
  }

  async #fanOutStrings(
    req: { matchers: LabelMatcher[]; partialResponseDisabled: boolean; partialResponseStrategy: SeriesRequest['partialResponseStrategy'] },
    start: number,
    end: number,
    signal: AbortSignal,
    call: (e: Endpoint, opts: { signal: AbortSignal; timeoutMs?: number }) => Promise<{ values: string[]; warnings: string[] }>,
  ): Promise<LabelValuesResponse> {
    const targets = this.#select(req.matchers.map(toMatcher), start, end);
    const abort = isAbort(req);
    const warnings: string[] = [];
    const values = new Set<string>();
    const limit = pLimit(this.opts.maxConcurrency ?? 20);
    const timeoutMs = this.opts.responseTimeoutMs || undefined;
    await Promise.all(
      targets.map((e) =>
        limit(async () => {
          try {
            const r = await call(e, { signal, ...(timeoutMs ? { timeoutMs } : {}) });
            for (const v of r.values) values.add(v);
            for (const w of r.warnings) {
              if (abort) throw new Error(w);
              warnings.push(`${describe(e)}: ${w}`);
            }
          } catch (err) {
            if (signal.aborted) throw err;
            const msg = `fetch labels for ${describe(e)}: ${(err as Error).message}`;
            if (abort) throw new StoreError(GrpcStatus.ABORTED, msg);
            warnings.push(msg);
          }
        }),
      ),
    );
    return { values: [...values].sort(compareStrings), warnings };
  }
}

function push(out: LabeledSeries[], s: LabeledSeries): void {
  // A series may span several frames; consecutive frames with equal labels are one series.
  const last = out[out.length - 1];
  if (last !== undefined && last.labels.equals(s.labels)) last.chunks.push(...s.chunks);
  else out.push(s);
}

function describe(e: Endpoint): string {
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
