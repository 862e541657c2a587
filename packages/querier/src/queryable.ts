import { dedupReplicas, splitOverlapping, type DedupFunc } from '@strata/dedup';
import type { Querier, Queryable, SelectHints, SelectRequest, SeriesSet } from '@strata/promql';
import { addQueryStats, Aggr, PartialResponseStrategy, seriesRequest, seriesRequestHints, type QueryStats, type ShardInfo } from '@strata/storeapi';
import { alternationOf, ChainMergeIterator, Matcher, type Labels, type SampleIterator, type Series } from '@strata/tsdb';
import pLimit, { type LimitFunction } from 'p-limit';
import { chunkRunSeries } from './chunks.js';
import type { LabeledSeries } from './proxy/merge.js';
import type { EndpointFilter, ProxyStore } from './proxy/proxy.js';
import { withTenant } from './tenancy.js';
import { fromMatcher } from './proxy/proxy.js';

/** Per-request read options: Thanos' query parameters. */
export interface ReadOptions {
  /** Merge replicas (Thanos' `dedup`; default true). Only effective with replica labels. */
  dedup: boolean;
  replicaLabels: readonly string[];
  dedupFunc: DedupFunc;
  /** Selects read at once (--query.max-concurrent-select; default 4); each goes to every matching endpoint at once. */
  maxConcurrentSelect?: number;
  partialResponse: boolean;
  /** Coarsest downsampling resolution to read (ms); 0 = raw only. */
  maxSourceResolution: number;
  /** Choose the resolution from the step (Thanos' `auto`: step/5). */
  autoDownsampling: boolean;
  endpointFilter?: EndpointFilter;
  /** When set, endpoints are asked what the query costs, and their reports are added up here. */
  costs?: QueryStats;
  /** Read only this shard's series (Thanos' `shard_info`, from a query frontend's vertical sharding). */
  shardInfo?: ShardInfo;
  /** Whose query it is: the stores are told (Thanos' `thanos-tenant` metadata). */
  tenant?: string;
  /** Every selection gets this matcher, in place of its own on the label (--query.enforce-tenancy). */
  tenantMatcher?: Matcher;
}

/**
 * The PromQL engine's view of every endpoint: a select fans out through the proxy, removing replica
 * labels at the source when deduplicating, then splits each series' overlapping chunks into
 * replicas and merges them with the penalty (or chain) algorithm, as Thanos' querier does. Selections
 * that differ only in their metric name (`errors / total`) are read with one call to each endpoint.
 */
export class StoreQueryable implements Queryable {
  /** The query's select gate: one StoreQueryable serves one query. */
  readonly #selects: LimitFunction;

  constructor(
    private readonly proxy: ProxyStore,
    private readonly opts: ReadOptions,
  ) {
    this.#selects = pLimit(opts.maxConcurrentSelect ?? 4);
  }

  querier(): Querier {
    return {
      select: (hints, matchers, signal) => this.#select(hints, matchers, signal ?? new AbortController().signal),
      selectAll: (selections, signal) => this.#selectAll(selections, signal ?? new AbortController().signal),
      close: () => {},
    };
  }

  async #select(hints: SelectHints, matchers: readonly Matcher[], signal: AbortSignal): Promise<SeriesSet> {
    const started = performance.now();
    const series: Series[] = [];
    const warnings = await this.#read(hints, matchers, signal, (s) => series.push(s));
    return { series, warnings, elapsedMs: performance.now() - started };
  }

  /**
   * Each group of selections that differ only in their metric name as one selection of all those names
   * (`__name__=~"a|b"`, which stores look up as a set), its series handed back to each by name: one call
   * per endpoint instead of one per selection, each of which costs every endpoint a request of its own
   * (a sidecar's remote read, a store gateway's pass over its blocks).
   */
  async #selectAll(selections: readonly SelectRequest[], signal: AbortSignal): Promise<SeriesSet[]> {
    const out: SeriesSet[] = new Array<SeriesSet>(selections.length);
    const names = selections.map(metricNameOf);
    await Promise.all(
      sameButMetricName(selections, names).map(async (group) => {
        const first = selections[group[0] as number] as SelectRequest;
        if (group.length === 1) {
          out[group[0] as number] = await this.#select(first.hints, first.matchers, signal);
          return;
        }
        const byName = new Map<string, Series[]>();
        for (const i of group) {
          const name = names[i] as string;
          let series = byName.get(name);
          if (series === undefined) byName.set(name, (series = []));
          out[i] = { series };
        }
        const matchers = [...first.matchers.filter((m) => m.name !== METRIC_NAME), new Matcher('=~', METRIC_NAME, alternationOf([...byName.keys()]))];
        const started = performance.now();
        const warnings = await this.#read(first.hints, matchers, signal, (s) => byName.get(s.labels.get(METRIC_NAME))?.push(s));
        const elapsedMs = performance.now() - started;
        for (const i of group) out[i] = { series: (out[i] as SeriesSet).series, warnings, elapsedMs };
      }),
    );
    return out;
  }

  /** Reads one selection through the proxy, handing each merged (and deduplicated) series to `onSeries`; returns the warnings. */
  async #read(hints: SelectHints, matchers: readonly Matcher[], signal: AbortSignal, onSeries: (s: Series) => void): Promise<string[]> {
    const dedup = this.opts.dedup && this.opts.replicaLabels.length > 0;
    const req = seriesRequest({
      minTime: hints.start,
      maxTime: hints.end,
      matchers: withTenant(matchers, this.opts.tenantMatcher).map(fromMatcher),
      maxResolutionWindow: this.#resolution(hints),
      aggregates: aggregatesFor(hints.func),
      partialResponseStrategy: this.opts.partialResponse ? PartialResponseStrategy.WARN : PartialResponseStrategy.ABORT,
      partialResponseDisabled: !this.opts.partialResponse,
      skipChunks: hints.func === 'series',
      step: hints.step,
      range: hints.range,
      withoutReplicaLabels: dedup ? [...this.opts.replicaLabels] : [],
      responseBatchSize: RESPONSE_BATCH_SIZE,
      ...(this.opts.shardInfo !== undefined ? { shardInfo: this.opts.shardInfo } : {}),
      ...(this.opts.costs !== undefined ? { hints: seriesRequestHints(true) } : {}),
    });
    // Each series is merged as soon as every endpoint has sent its part, while the rest still arrives.
    const onChunkSeries = (s: LabeledSeries) => {
      // Overlapping chunks are replicas (or overlapping blocks): split into runs that do not overlap.
      const runs = splitOverlapping(s.chunks, s.replicaOf).map((run) => chunkRunSeries(s.labels, run, req.aggregates));
      if (runs.length === 1) onSeries(runs[0] as Series);
      else if (!dedup) onSeries(new ChainedSeries(s.labels, runs));
      else if (runs.length > 1) onSeries(dedupReplicas(runs, this.opts.dedupFunc, hints.func));
    };
    const { warnings, stats } = await this.#selects(() => this.proxy.streamSeries(req, { signal, tenant: this.opts.tenant }, onChunkSeries, this.opts.endpointFilter));
    if (this.opts.costs !== undefined) addQueryStats(this.opts.costs, stats);
    return warnings;
  }

  /** Thanos' resolution choice: the requested max, or step/5 with auto; rate-like functions need ≥ 2 samples per range. */
  #resolution(hints: SelectHints): number {
    let res = this.opts.autoDownsampling ? Math.max(this.opts.maxSourceResolution, hints.step / 5) : this.opts.maxSourceResolution;
    if (NEEDS_TWO_SAMPLES.has(hints.func) && hints.range > 0) res = Math.min(res, hints.range / 2);
    return Math.floor(res);
  }
}

/**
 * Series per response frame, as Thanos' querier asks (store.DefaultResponseBatchSize): fewer, larger
 * gRPC messages cost both ends less per series than one message each.
 */
const RESPONSE_BATCH_SIZE = 64;

const NEEDS_TWO_SAMPLES = new Set(['rate', 'irate', 'increase', 'delta', 'idelta', 'deriv', 'predict_linear', 'holt_winters', 'double_exponential_smoothing']);

const METRIC_NAME = '__name__';

/** The metric name a selection asks for with `__name__="…"`, its only name matcher; else undefined. */
function metricNameOf(s: SelectRequest): string | undefined {
  const names = s.matchers.filter((m) => m.name === METRIC_NAME);
  return names.length === 1 && (names[0] as Matcher).type === '=' ? (names[0] as Matcher).value : undefined;
}

/**
 * Groups of selections (indexes, in order) that one read can serve: the same request to the stores
 * (time range, step, range, function) and the same matchers but for their metric names (`names`, as
 * metricNameOf gives them).
 */
function sameButMetricName(selections: readonly SelectRequest[], names: readonly (string | undefined)[]): number[][] {
  const groups = new Map<string, number[]>();
  const out: number[][] = [];
  selections.forEach((s, i) => {
    if (names[i] === undefined) {
      out.push([i]);
      return;
    }
    const { start, end, step, range, func } = s.hints;
    const others = s.matchers.filter((m) => m.name !== METRIC_NAME).map((m) => `${m.name}\u0000${m.type}\u0000${m.value}`);
    const key = JSON.stringify([start, end, step, range, func, others.sort()]);
    let group = groups.get(key);
    if (group === undefined) {
      groups.set(key, (group = []));
      out.push(group);
    }
    group.push(i);
  });
  return out;
}

/** Which downsampled aggregates a function reads (Thanos' aggrsFromFunc). */
export function aggregatesFor(func: string): Aggr[] {
  if (func === 'min' || func.startsWith('min_')) return [Aggr.MIN];
  if (func === 'max' || func.startsWith('max_')) return [Aggr.MAX];
  if (func === 'count' || func.startsWith('count_')) return [Aggr.COUNT];
  if (func.startsWith('sum_')) return [Aggr.SUM];
  if (['rate', 'increase', 'irate', 'resets', 'xrate', 'xincrease'].includes(func)) return [Aggr.COUNTER];
  return [Aggr.COUNT, Aggr.SUM];
}

/** Overlapping chunks of one series without deduplication: all samples, equal timestamps once. */
class ChainedSeries implements Series {
  constructor(
    readonly labels: Labels,
    private readonly runs: readonly Series[],
  ) {}

  iterator(): SampleIterator {
    return new ChainMergeIterator(this.runs.map((r) => r.iterator()));
  }
}
