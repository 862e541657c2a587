/**
 * The query engine: parses, selects every selector's series from the Queryable (asynchronously, all at
 * once, as Prometheus' populateSeries), then evaluates synchronously.
 */
import { Labels, type Matcher, type Series } from '@strata/tsdb';
import type { Call, Expr, TimeModifiers, VectorSelector } from '../parser/ast.js';
import { exprType, resolveDurations } from '../parser/ast.js';
import { parseExpr, type ParseOptions } from '../parser/parse.js';
import { parseMetricSelector } from '../parser/selector.js';
import type { Querier, Queryable, SelectHints, SeriesSet } from '../storage.js';
import { PackedSeriesPoints } from '../points.js';
import type { QueryResult, QueryValue, Sample, SeriesPoints } from '../value.js';
import { EvalError, QueryCanceledError, QueryTimeoutError } from './errors.js';
import { Evaluator, histogramStatsSelectors, rangeFunctionsFor, rangeReach, type EvalOptions, type EvalShared, type EvalStats } from './evaluator.js';
import { addTelemetry, type NodeTelemetry } from './explain.js';
import { infoSelector } from './info.js';
import { dropMetricName } from './names.js';
import { StepSeries, makeStepRange, removeDelayedNames, type StepRange, type VectorValue } from './steps.js';

export interface EngineOptions {
  /** How far back an instant selector looks for a sample (ms). Default 5m. */
  lookbackDelta?: number;
  /** Most samples held in memory at once before the query fails. Default 50,000,000. */
  maxSamples?: number;
  /** Query timeout (ms). Default 2m. */
  timeout?: number;
  /** Prometheus semantics to follow: 3 (current, default) or 2 (as Prometheus 2.42). */
  compat?: 2 | 3;
  /** Step of subqueries without an explicit one (ms). Default 1m. */
  subqueryStep?: number;
  /** Accept Prometheus' experimental functions, and with compat 2 all of 3.x's newer ones. Default: with compat 3. */
  experimentalFunctions?: boolean;
  /**
   * Keep `__name__` until the end of evaluation, as Prometheus' experimental promql-delayed-name-removal
   * feature does (its test suite runs with it). Default false.
   */
  delayedNameRemoval?: boolean;
  /**
   * Accept the `anchored` and `smoothed` range selector modifiers (Prometheus' experimental
   * promql-extended-range-selectors). Default false.
   */
  extendedRangeSelectors?: boolean;
  /** Accept `fill`, `fill_left` and `fill_right` on binary operators (promql-binop-fill-modifiers). Default false. */
  binopFillModifiers?: boolean;
  /** Offer Thanos' `xrate`, `xincrease` and `xdelta` (its engine's EnableXFunctions). Default false. */
  xFunctions?: boolean;
}

export interface QueryOptions {
  /** Aborts the query, e.g. when the HTTP client goes away. */
  signal?: AbortSignal;
  /** Measure what evaluating each node of the expression costs (QueryResult.telemetry; Thanos' analyze). */
  analyze?: boolean;
}

export class Engine {
  readonly #opts: Required<EngineOptions>;
  readonly #rangeFunctions;

  constructor(opts: EngineOptions = {}) {
    this.#opts = {
      lookbackDelta: opts.lookbackDelta ?? 5 * 60_000,
      maxSamples: opts.maxSamples ?? 50_000_000,
      timeout: opts.timeout ?? 2 * 60_000,
      compat: opts.compat ?? 3,
      subqueryStep: opts.subqueryStep ?? 60_000,
      // 3.x's experimental functions: on by default with 3.x semantics; with 2.x's only when asked for.
      experimentalFunctions: opts.experimentalFunctions ?? (opts.compat ?? 3) === 3,
      delayedNameRemoval: opts.delayedNameRemoval ?? false,
      extendedRangeSelectors: opts.extendedRangeSelectors ?? false,
      binopFillModifiers: opts.binopFillModifiers ?? false,
      xFunctions: opts.xFunctions ?? false,
    };
    this.#rangeFunctions = rangeFunctionsFor(this.#opts.compat);
  }

  get compat(): 2 | 3 {
    return this.#opts.compat;
  }

  /** The lookback delta (ms) instant selectors use. */
  get lookbackDelta(): number {
    return this.#opts.lookbackDelta;
  }

  parse(query: string): Expr {
    return parseExpr(query, this.#parseOptions());
  }

  /** A series selector as the HTTP API reads `match[]` (Prometheus' ParseMetricSelector). */
  parseMetricSelector(selector: string): Matcher[] {
    return parseMetricSelector(selector, this.#parseOptions());
  }

  #parseOptions(): ParseOptions {
    const o = this.#opts;
    return {
      compat: o.compat, experimentalFunctions: o.experimentalFunctions, extendedRangeSelectors: o.extendedRangeSelectors, binopFillModifiers: o.binopFillModifiers,
      xFunctions: o.xFunctions,
    };
  }

  /** Evaluates `query` at `time` (ms). */
  instantQuery(q: Queryable, query: string | Expr, time: number, opts: QueryOptions = {}): Promise<QueryResult> {
    return this.#exec(q, query, makeStepRange(time, time, 0), false, opts);
  }

  /** Evaluates `query` at start, start+step, … ≤ end (ms). */
  rangeQuery(q: Queryable, query: string | Expr, start: number, end: number, step: number, opts: QueryOptions = {}): Promise<QueryResult> {
    if (step <= 0) throw new EvalError('zero or negative query resolution step widths are not accepted. Try a positive integer');
    if (end < start) throw new EvalError('end timestamp must not be before start time');
    return this.#exec(q, query, makeStepRange(start, end, step), true, opts);
  }

  async #exec(q: Queryable, query: string | Expr, range: StepRange, isRange: boolean, opts: QueryOptions): Promise<QueryResult> {
    const input = typeof query === 'string' ? query : '';
    const expr = typeof query === 'string' ? this.parse(query) : query;
    const wrongType = isRange ? rangeQueryTypeError(expr) : undefined;
    if (wrongType !== undefined) throw new EvalError(wrongType);
    const deadline = Date.now() + this.#opts.timeout;
    const signal = opts.signal;
    let where = 'query preparation';
    const checkAbort = (): void => {
      if (signal?.aborted === true) throw new QueryCanceledError(where);
      if (Date.now() > deadline) throw new QueryTimeoutError(where);
    };
    // A timeout of 0 has run out before anything: Prometheus' first check, in "query execution".
    if (this.#opts.timeout <= 0) throw new QueryTimeoutError('query execution');
    checkAbort();
    resolveDurations(expr, { start: range.start, end: range.end, step: isRange ? range.interval : 0 });
    const { selections, infoSelectors } = this.#selections(expr, range, isRange);
    const { mint, maxt } = timeSpan(selections);
    const annotations = new Set<string>();
    const data = new Map<VectorSelector, readonly Series[]>();
    const telemetry = opts.analyze === true ? new Map<Expr, NodeTelemetry>() : undefined;
    let querier: Querier | null = null;
    const prepared = performance.now();
    let preparationMs = 0;
    try {
      if (selections.length > 0) {
        querier = await q.querier(mint, maxt);
        checkAbort();
        // Selection is asynchronous (remote stores): it gets a signal that fires on abort and on timeout.
        const timeout = AbortSignal.timeout(Math.max(0, deadline - Date.now()));
        const selectSignal = AbortSignal.any([timeout, ...(signal ? [signal] : [])]);
        let sets: SeriesSet[];
        // Analyzed, each selection is timed, as the storage timed it or until its series were there.
        const timed = (set: SeriesSet): SeriesSet => (set.elapsedMs !== undefined ? set : { ...set, elapsedMs: performance.now() - prepared });
        try {
          const all = querier.selectAll?.bind(querier);
          sets = all
            ? await all(selections.map((s) => ({ hints: s.hints, matchers: s.vs.matchers })), selectSignal)
            : await Promise.all(selections.map((s) => (querier as Querier).select(s.hints, s.vs.matchers, selectSignal).then((set) => (telemetry === undefined ? set : timed(set)))));
          if (telemetry !== undefined) sets = sets.map(timed);
        } catch (e) {
          if (signal?.aborted === true) throw new QueryCanceledError(where);
          if (timeout.aborted) throw new QueryTimeoutError(where);
          throw e;
        }
        sets.forEach((set, k) => {
          const { vs } = selections[k] as Selection;
          data.set(vs, set.series);
          for (const w of set.warnings ?? []) annotations.add(w);
          if (telemetry !== undefined) addTelemetry(telemetry, vs, { fetchMs: set.elapsedMs as number, samples: 0, peakSamples: 0 });
        });
      }
      preparationMs = performance.now() - prepared;
      where = 'expression evaluation';
      checkAbort();
      const stats: EvalStats = { samplesRead: 0, peakSamples: 0, currentSamples: 0 };
      const shared: EvalShared = {
        opts: this.#evalOptions(),
        input,
        data,
        queryStart: range.start,
        queryEnd: range.end,
        stats,
        annotations,
        checkAbort,
        rangeFunctions: this.#rangeFunctions,
        isRangeQuery: isRange,
        queryStep: isRange ? range.interval : 0,
        histogramStatsSelectors: histogramStatsSelectors(expr),
        infoSelectors,
        ...(telemetry !== undefined ? { telemetry } : {}),
      };
      const ev = new Evaluator(range, shared);
      const value = isRange ? this.#rangeResult(ev.eval(expr), range) : this.#instantResult(ev, expr, range.start);
      const result = { value, annotations: [...annotations], stats: { samplesRead: stats.samplesRead, peakSamples: stats.peakSamples, preparationMs } };
      return shared.telemetry === undefined ? result : { ...result, telemetry: shared.telemetry };
    } finally {
      await querier?.close();
    }
  }

  #evalOptions(): EvalOptions {
    const o = this.#opts;
    return {
      lookbackDelta: o.lookbackDelta, compat: o.compat, subqueryStep: o.subqueryStep, maxSamples: o.maxSamples,
      delayedNameRemoval: o.delayedNameRemoval,
    };
  }

  /**
   * The times (ms) evaluating `expr` at these steps (step 0: an instant query at `start`) reads data of,
   * from its selectors' ranges, offsets, `@` and lookback; undefined when it reads no series.
   */
  dataRange(expr: Expr, start: number, end: number, step: number): { mint: number; maxt: number } | undefined {
    resolveDurations(expr, { start, end, step });
    const { selections } = this.#selections(expr, makeStepRange(start, end, step), step > 0);
    return selections.length > 0 ? timeSpan(selections) : undefined;
  }

  /**
   * Every selector with the time range it needs and Prometheus' select hints, and the selector made for
   * each info() call's info series.
   */
  #selections(expr: Expr, range: StepRange, isRange: boolean): { selections: Selection[]; infoSelectors: Map<Call, VectorSelector> } {
    const out: Selection[] = [];
    const infoSelectors = new Map<Call, VectorSelector>();
    const lookback = this.#opts.lookbackDelta;
    const atOf = (m: TimeModifiers): number | null =>
      m.atAnchor === 'start' ? range.start : m.atAnchor === 'end' ? range.end : m.timestamp;
    const visit = (e: Expr, lo: number, hi: number, ctx: { func: string; grouping: readonly string[]; by: boolean }): void => {
      switch (e.kind) {
        case 'vectorSelector':
        case 'matrixSelector': {
          const vs = e.kind === 'vectorSelector' ? e : e.vs;
          const at = atOf(vs);
          const from = (at ?? lo) - vs.offset;
          const to = (at ?? hi) - vs.offset;
          const window = e.kind === 'matrixSelector' ? e.range : lookback;
          // A smoothed instant selector interpolates from the sample after its time too.
          const { before, after } = e.kind === 'matrixSelector'
            ? rangeReach(vs.extension, ctx.func, lookback)
            : { before: 0, after: vs.extension === 'smoothed' ? lookback : 0 };
          out.push({
            vs,
            hints: {
              start: from - window - before, end: to + after, step: isRange ? range.interval : 0, func: ctx.func,
              range: e.kind === 'matrixSelector' ? e.range : 0, grouping: ctx.grouping, by: ctx.by,
            },
          });
          return;
        }
        case 'subquery': {
          const at = atOf(e);
          const step = e.step > 0 ? e.step : this.#opts.subqueryStep;
          visit(e.expr, (at ?? lo) - e.offset - e.range - step, (at ?? hi) - e.offset, { func: '', grouping: [], by: false });
          return;
        }
        case 'call':
          if (e.func.name === 'info') {
            // Its label selector selects nothing itself: its matchers go into the info series' selector.
            const info = infoSelector(e, atOf);
            infoSelectors.set(e, info);
            visit(e.args[0] as Expr, lo, hi, { ...ctx, func: 'info' });
            visit(info, lo, hi, { func: 'info', grouping: [], by: false });
            return;
          }
          for (const a of e.args) visit(a, lo, hi, { ...ctx, func: e.func.name });
          return;
        case 'aggregate':
          if (e.param !== null) visit(e.param, lo, hi, ctx);
          visit(e.expr, lo, hi, { func: ctx.func, grouping: e.grouping, by: !e.without });
          return;
        case 'binary':
          visit(e.lhs, lo, hi, ctx);
          visit(e.rhs, lo, hi, ctx);
          return;
        case 'unary':
        case 'paren':
          visit(e.expr, lo, hi, ctx);
          return;
        default:
          return;
      }
    };
    visit(expr, range.start, range.end, { func: '', grouping: [], by: false });
    return { selections: out, infoSelectors };
  }

  #instantResult(ev: Evaluator, expr: Expr, t: number): QueryValue {
    const type = exprType(expr);
    if (type === 'range vector') {
      const series: SeriesPoints[] = ev
        .evalRangeVector(expr)
        .map((s) => new PackedSeriesPoints(s.dropName ? dropMetricName(s.labels) : s.labels, s.ts, s.vs, s.hs));
      return { type: 'matrix', series };
    }
    const v = ev.eval(expr);
    if (v.type === 'string') return { type: 'string', t, v: v.value };
    if (v.type === 'scalar') return { type: 'scalar', t, v: v.vals[0] as number };
    const samples: Sample[] = [];
    for (const s of removeDelayedNames(v, 1).series) {
      if (s.has[0] !== 1) continue;
      const h = s.histAt(0);
      samples.push(h === undefined ? { labels: s.labels, t, f: s.vals[0] as number } : { labels: s.labels, t, f: 0, h });
    }
    return { type: 'vector', samples };
  }

  #rangeResult(v: ReturnType<Evaluator['eval']>, range: StepRange): QueryValue {
    let vec: VectorValue;
    if (v.type === 'scalar') {
      const s = new StepSeries(Labels.EMPTY, range.steps);
      s.vals.set(v.vals);
      s.has.fill(1);
      vec = { type: 'vector', series: [s] };
    } else {
      vec = removeDelayedNames(v as VectorValue, range.steps);
    }
    const series: SeriesPoints[] = [];
    for (const s of vec.series) {
      const { ts, vs, hs } = s.points(range);
      if (ts.length > 0) series.push(new PackedSeriesPoints(s.labels, ts, vs, hs));
    }
    series.sort((a, b) => Labels.compare(a.labels, b.labels));
    return { type: 'matrix', series };
  }
}

interface Selection {
  readonly vs: VectorSelector;
  readonly hints: SelectHints;
}

/** From the earliest start to the latest end of the selections' hints. */
function timeSpan(selections: readonly Selection[]): { mint: number; maxt: number } {
  return { mint: Math.min(...selections.map((s) => s.hints.start)), maxt: Math.max(...selections.map((s) => s.hints.end)) };
}

/** Why a range query cannot evaluate `expr` (Prometheus' NewRangeQuery), if it cannot. */
export function rangeQueryTypeError(expr: Expr): string | undefined {
  const type = exprType(expr);
  return type === 'scalar' || type === 'instant vector' ? undefined : `invalid expression type "${type}" for range query, must be Scalar or instant Vector`;
}
