/**
 * The leaf queries of a distributed plan, run through Thanos' Query API on the leaf queriers (remote
 * engines) whose external labels their selectors can match, and their answers served to the central
 * evaluation as the series of the selectors that stand for them.
 *
 * Answers of leaves with the same labels are replicas (HA leaf queriers of one partition), or leaves of
 * one partition over different times (one over its sidecars, one over its history), each asked only for
 * the steps whose data it holds whole: they are merged, the first leaf's value kept at each step. A
 * leaf answers at the query's steps; the selector that stands for its answer must see a value at a step
 * only where the leaf gave one, so every step a series misses after its first value holds a stale
 * marker, which ends the lookback there.
 */
import { walk, type NodeTelemetry, type PlanNode, type Querier, type Queryable, type SelectHints, type SelectRequest, type SeriesSet } from '@strata/promql';
import { EngineType, GrpcStatus, queryRangeRequest, StoreError, type PromTimeSeries, type QueryAnswer, type QueryOptions } from '@strata/storeapi';
import { ArraySampleIterator, Labels, STALE_NAN, type FloatHistogram, type Matcher, type Series } from '@strata/tsdb';
import { endpointMatches, type Endpoint, type EndpointScope, type UnavailableEndpoint } from '../endpoints/endpointset.js';
import { REMOTE_LABEL, type LeafQuery } from './plan.js';

/** Steps from `from` to `to` (ms, both included): those of a query a leaf can answer from data it holds whole. */
export interface StepSpan {
  readonly from: number;
  readonly to: number;
}

/** When and how a plan's leaf queries are asked; times in ms, whole seconds (as the Query API carries them). */
export interface RemoteQueryParams {
  readonly start: number;
  readonly end: number;
  /** 0: an instant query at `start`. */
  readonly step: number;
  /** For each leaf query, the steps each leaf is asked for; a leaf without a span is not asked. */
  readonly spans: readonly ReadonlyMap<EndpointScope, StepSpan>[];
  /** Everything but the query and its times, as the central query was asked. */
  readonly options: Omit<QueryOptions, 'query'>;
  readonly tenant?: string | undefined;
  /** Leaves whose health check failed: a warning under partial response where a leaf query needs them, else the query fails. */
  readonly unavailable: readonly UnavailableEndpoint[];
}

/** The leaf query a selector stands for, if it stands for one. */
export function remoteLeaf(matchers: readonly Matcher[]): number | undefined {
  return matchers.length === 1 && matchers[0]?.name === REMOTE_LABEL ? Number(matchers[0].value) : undefined;
}

/** Whether leaf query `q` asks leaf `e`: one of its selectors can match e's external labels, as Thanos prunes its remote engines. */
export function needsLeaf(q: LeafQuery, e: EndpointScope): boolean {
  return q.selectors.some((ms) => endpointMatches(e, ms, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY));
}

/** A central query's view of the data: its leaf queries' answers for REMOTE_LABEL selectors, `local` for the rest. */
export class RemoteQueryable implements Queryable {
  readonly #answers = new Map<number, Promise<SeriesSet>>();
  /** What each leaf's answer to each leaf query cost, by `<leaf query> <address>`. */
  readonly #costs = new Map<string, NodeTelemetry>();

  constructor(
    private readonly local: Queryable,
    private readonly engines: readonly Endpoint[],
    private readonly remote: readonly LeafQuery[],
    private readonly params: RemoteQueryParams,
  ) {}

  async querier(mint: number, maxt: number): Promise<Querier> {
    const local = await this.local.querier(mint, maxt);
    return {
      select: (hints: SelectHints, matchers: readonly Matcher[], signal?: AbortSignal) => {
        const leaf = remoteLeaf(matchers);
        return leaf !== undefined ? this.#answer(leaf, signal) : local.select(hints, matchers, signal);
      },
      selectAll: async (selections: readonly SelectRequest[], signal?: AbortSignal) => {
        const leaves = selections.map((s) => remoteLeaf(s.matchers));
        const rest = selections.filter((_, i) => leaves[i] === undefined);
        const [remote, read] = await Promise.all([
          Promise.all(leaves.map((l) => (l !== undefined ? this.#answer(l, signal) : undefined))),
          local.selectAll !== undefined ? local.selectAll(rest, signal) : Promise.all(rest.map((s) => local.select(s.hints, s.matchers, signal))),
        ]);
        let next = 0;
        return remote.map((set) => set ?? (read[next++] as SeriesSet));
      },
      close: () => local.close(),
    };
  }

  /**
   * Leaf query `leaf` as an operator (`[remoteExec] <query>`) over the leaves it asks, each with the steps
   * it is asked for and, once it answered, how long that took and how many samples its answer held.
   */
  describe(leaf: number): PlanNode {
    const q = this.remote[leaf] as LeafQuery;
    const spans = this.params.spans[leaf] as ReadonlyMap<EndpointScope, StepSpan>;
    const children = this.engines.flatMap((e): PlanNode[] => {
      const span = spans.get(e);
      if (span === undefined || !needsLeaf(q, e)) return [];
      const steps = span.from === span.to ? `at ${new Date(span.from).toISOString()}` : `${new Date(span.from).toISOString()} to ${new Date(span.to).toISOString()}`;
      const cost = this.#costs.get(`${leaf} ${e.address}`);
      return [{ name: `[remoteEngine] ${e.address} ${steps}`, children: [], ...(cost !== undefined ? { telemetry: cost } : {}) }];
    });
    return { name: `[remoteExec] ${q.query}`, children };
  }

  /** Leaf query `leaf`'s answer from every engine, merged; asked once however often it is selected. */
  #answer(leaf: number, signal: AbortSignal | undefined): Promise<SeriesSet> {
    let answer = this.#answers.get(leaf);
    if (answer === undefined) {
      answer = this.#ask(leaf, signal);
      this.#answers.set(leaf, answer);
    }
    return answer;
  }

  async #ask(leaf: number, signal: AbortSignal | undefined): Promise<SeriesSet> {
    const started = performance.now();
    const p = this.params;
    const { query, expr } = this.remote[leaf] as LeafQuery;
    // Thanos' x-functions are its engine's: a leaf evaluates them when asked for that engine.
    let engine = p.options.engine;
    walk(expr, (node) => {
      if (node.kind === 'call' && node.func.thanos === true) engine = EngineType.thanos;
    });
    const spans = p.spans[leaf] as ReadonlyMap<EndpointScope, StepSpan>;
    const needs = (e: EndpointScope) => needsLeaf(this.remote[leaf] as LeafQuery, e);
    const warnings = p.unavailable.filter(needs).map((e) => `remote query on ${e.address}: endpoint unavailable: ${e.lastError}`);
    if (warnings.length > 0 && !p.options.enablePartialResponse) throw new StoreError(GrpcStatus.ABORTED, warnings[0] as string);
    // The central query's deadline and cancellation end the leaf queries too, through `signal`.
    const opts = { ...(signal !== undefined ? { signal } : {}), ...(p.tenant !== undefined ? { tenant: p.tenant } : {}) };
    const answers = await Promise.all(
      this.engines.filter(needs).map(async (e): Promise<QueryAnswer | undefined> => {
        const span = spans.get(e);
        if (span === undefined) return undefined;
        // An instant query too is asked as a range of one step: under partial response the Query API answers
        // an instant query's evaluation error as a warning, which would hide it, where a range query fails.
        const request = queryRangeRequest({ ...p.options, engine, query, startTimeSeconds: span.from / 1000, endTimeSeconds: span.to / 1000, intervalSeconds: Math.max(p.step / 1000, 1) });
        const started = performance.now();
        try {
          const answer = await e.client.queryRange(request, opts);
          this.#costs.set(`${leaf} ${e.address}`, { timeMs: performance.now() - started, samples: answerSamples(answer), peakSamples: 0 });
          return answer;
        } catch (err) {
          const code = (err as { code?: unknown }).code;
          const msg = `remote query ${query} on ${e.address}: ${(err as { details?: string }).details ?? (err as Error).message}`;
          // A leaf that could not be reached is partial response's to forgive; one whose evaluation failed is not.
          if (!p.options.enablePartialResponse || (code !== GrpcStatus.UNAVAILABLE && code !== GrpcStatus.DEADLINE_EXCEEDED)) throw new StoreError(GrpcStatus.ABORTED, msg);
          warnings.push(msg);
          return undefined;
        }
      }),
    );
    const series = new Map<string, { labels: Labels; answers: PromTimeSeries[] }>();
    for (const a of answers) {
      if (a === undefined) continue;
      warnings.push(...a.warnings);
      for (const s of a.series) {
        const labels = Labels.from(s.labels);
        const key = labels.key();
        const entry = series.get(key);
        if (entry === undefined) series.set(key, { labels, answers: [s] });
        else entry.answers.push(s);
      }
    }
    const merged = [...series.values()].sort((a, b) => Labels.compare(a.labels, b.labels)).map((s) => this.#series(s.labels, s.answers));
    return { series: merged, warnings, elapsedMs: performance.now() - started };
  }

  /**
   * One series from its replicas' answers: at each step the first one's value, a stale marker where none
   * has one; an instant query's value at its time, whatever time the leaf gave it.
   */
  #series(labels: Labels, answers: readonly PromTimeSeries[]): Series {
    const at = new Map<number, { f: number; h: FloatHistogram | undefined }>();
    for (const a of answers) {
      for (const s of a.samples) if (!at.has(s.timestamp)) at.set(s.timestamp, { f: s.value, h: undefined });
      for (const s of a.histograms) if (!at.has(s.timestamp)) at.set(s.timestamp, { f: 0, h: s.h });
    }
    const { start, end, step } = this.params;
    if (step === 0) {
      const v = at.values().next().value;
      return { labels, iterator: () => (v === undefined ? new ArraySampleIterator([], []) : new ArraySampleIterator([start], [v.f], [v.h])) };
    }
    const first = Math.min(...at.keys());
    const n = Math.floor((end - first) / step) + 1;
    const ts = new Float64Array(n);
    // A typed array keeps the stale marker's bits, which an array of numbers may not.
    const vs = new Float64Array(n);
    const hs: (FloatHistogram | undefined)[] = new Array<FloatHistogram | undefined>(n);
    for (let i = 0; i < n; i++) {
      const t = first + i * step;
      const v = at.get(t);
      ts[i] = t;
      vs[i] = v?.f ?? STALE_NAN;
      hs[i] = v?.h;
    }
    return { labels, iterator: () => new ArraySampleIterator(ts, vs, hs) };
  }
}

/** Samples in a leaf's answer, a histogram counted as one. */
function answerSamples(a: QueryAnswer): number {
  let n = 0;
  for (const s of a.series) n += s.samples.length + s.histograms.length;
  return n;
}
