import { explain, prettify, rangeQueryTypeError, type Engine, type Expr, type NodeTelemetry, type PlanNode, type QueryResult } from '@strata/promql';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { emptyQueryStats, type QueryStats } from '@strata/storeapi';
import { inSpan } from '@strata/runtime';
import { StoreQueryable, type ReadOptions } from '../queryable.js';
import { engineFor, handle, readOptions, type ApiContext } from './context.js';
import { planQuery, type QueryInput, type QueryPurpose, type QueryTimes } from '../distributed/mode.js';
import { analysisJson } from './operators.js';
import { ApiError, invalidParam } from './errors.js';
import { firstOf, parseLimit } from './limit.js';
import { Params, SINGLE } from './params.js';
import { queryDataPieces, queryNotes, sendData, sendSuccessPieces } from './respond.js';

const MAX_POINTS = 11_000;

/** The parameters of a query, Prometheus' and Thanos', that an explanation of it reads too. */
export const QUERY_PARAMS = {
  query: SINGLE,
  time: SINGLE,
  start: SINGLE,
  end: SINGLE,
  step: SINGLE,
  timeout: SINGLE,
  lookback_delta: SINGLE,
  dedup: SINGLE,
  partial_response: SINGLE,
  max_source_resolution: SINGLE,
  'replicaLabels[]': { type: 'array', items: { type: 'string' } },
  'storeMatch[]': { type: 'array', items: { type: 'string' } },
  shard_info: SINGLE,
  engine: SINGLE,
} as const;

const querySchema = { querystring: { type: 'object', properties: { ...QUERY_PARAMS, stats: SINGLE, limit: SINGLE, analyze: SINGLE } } } as const;

const formatSchema = { querystring: { type: 'object', properties: { query: SINGLE } } } as const;

/**
 * `/api/v1/query` and `/api/v1/query_range`, GET or POST form, with Prometheus' and Thanos' parameters;
 * `/api/v1/format_query`.
 */
export function queryRoutes(ctx: ApiContext): FastifyPluginAsync {
  return async (app) => {
    const run = (prepare: (ctx: ApiContext, p: Params) => QueryRequest) => async (req: FastifyRequest, reply: FastifyReply) =>
      handle(ctx, req, reply, async ({ signal }) => {
        const p = Params.from(req.query, req.body);
        const q = prepare(ctx, p);
        const started = performance.now();
        const read = readOptionsWithCosts(ctx, req, p, q.engine);
        const input = queryInput(ctx, q.engine, read, q.expr, q.times);
        const analyze = wantsAnalysis(p);
        const { start, end, step } = q.times;
        const res = await evaluate(ctx, step === 0 ? 'instant' : 'range', p.get('query') ?? '', () =>
          step === 0 ? q.engine.instantQuery(input.queryable, input.expr, start, { signal, analyze }) : q.engine.rangeQuery(input.queryable, input.expr, start, end, step, { signal, analyze }));
        const analysis = res.telemetry === undefined ? undefined : explainQuery(q, input, res.telemetry);
        return respond(req, reply, limited(res, parseLimit(p)), p, started, read.costs, analysis);
      });
    // The query as Prometheus' prettifier writes it (Grafana's and Prometheus' UI "format query").
    const format = async (req: FastifyRequest, reply: FastifyReply) =>
      handle(ctx, req, reply, async () => {
        const p = Params.from(req.query, req.body);
        const engine = engineFor(ctx, p);
        return sendData(reply, prettify(parseQuery(engine, p), engine.compat));
      });
    app.get('/api/v1/format_query', { schema: formatSchema }, format);
    app.post('/api/v1/format_query', { schema: formatSchema }, format);
    app.get('/api/v1/query', { schema: querySchema }, run(instantRequest));
    app.post('/api/v1/query', { schema: querySchema }, run(instantRequest));
    app.get('/api/v1/query_range', { schema: querySchema }, run(rangeRequest));
    app.post('/api/v1/query_range', { schema: querySchema }, run(rangeRequest));
  };
}

/** A query request's engine, expression and times, checked as Prometheus checks them before evaluating. */
export interface QueryRequest {
  readonly engine: Engine;
  readonly expr: Expr;
  /** Step 0: an instant query at `start`. */
  readonly times: QueryTimes;
}

/** `/api/v1/query`'s parameters. */
export function instantRequest(ctx: ApiContext, p: Params): QueryRequest {
  const engine = engineFor(ctx, p);
  parseLimit(p);
  const time = p.time('time', Date.now());
  return { engine, expr: parseQuery(engine, p), times: { start: time, end: time, step: 0 } };
}

/** `/api/v1/query_range`'s parameters. */
export function rangeRequest(ctx: ApiContext, p: Params): QueryRequest {
  const engine = engineFor(ctx, p);
  parseLimit(p);
  const start = p.time('start');
  const end = p.time('end');
  if (end < start) throw invalidParam('end', 'end timestamp must not be before start time');
  const step = p.duration('step');
  if (step === undefined) throw invalidParam('step', 'cannot parse "" to a valid duration');
  if (step <= 0) throw invalidParam('step', 'zero or negative query resolution step widths are not accepted. Try a positive integer');
  if ((end - start) / step > MAX_POINTS) {
    throw new ApiError('bad_data', 'exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)');
  }
  // Prometheus rejects a query it cannot parse or range over before evaluating it; 2.42 without
  // naming the parameter (its NewRangeQuery errors went out as they were).
  const reject = (reason: string) => (engine.compat === 2 ? new ApiError('bad_data', reason) : invalidParam('query', reason));
  const expr = parseQuery(engine, p, reject);
  const wrongType = rangeQueryTypeError(expr);
  if (wrongType !== undefined) throw reject(wrongType);
  return { engine, expr, times: { start, end, step } };
}

/** The operator tree a query is evaluated with (its distributed plan's, if it has one), with what each operator cost when it was analyzed. */
export function explainQuery(q: QueryRequest, input: QueryInput, telemetry?: ReadonlyMap<Expr, NodeTelemetry>): PlanNode {
  const { start, end, step } = q.times;
  const steps = step === 0 ? 1 : Math.floor((end - start) / step) + 1;
  return explain(input.expr, { steps, compat: q.engine.compat, ...(input.describe !== undefined ? { describe: input.describe } : {}), ...(telemetry !== undefined ? { telemetry } : {}) });
}

/** Thanos' `analyze`: only `true` and `1` ask for it. */
function wantsAnalysis(p: Params): boolean {
  const v = p.get('analyze');
  return v === 'true' || v === '1';
}

function parseQuery(engine: ReturnType<typeof engineFor>, p: Params, reject = (reason: string) => invalidParam('query', reason)) {
  try {
    return engine.parse(p.get('query') ?? '');
  } catch (e) {
    throw reject((e as Error).message);
  }
}

/**
 * Evaluates `query` once the gate (--query.max-concurrent) lets it, observed by the engine metrics,
 * kept in the active query file, and traced as Thanos names the span (promql_instant_query, promql_range_query).
 */
export function evaluate(ctx: ApiContext, kind: 'instant' | 'range', query: string, run: () => Promise<QueryResult>): Promise<QueryResult> {
  const tracker = ctx.activeQueries;
  return inSpan(`promql_${kind}_query`, { 'promql.query': query }, () => ctx.gate.run((queued) => ctx.engineMetrics.track(queued, tracker === undefined ? run : () => tracker.track(query, run))));
}

/** What a query reads: the stores through the proxy, and in distributed mode its plan's leaf queries too. */
export function queryInput(ctx: ApiContext, engine: Engine, read: ReadOptions, expr: Expr, times: QueryTimes, purpose: QueryPurpose = 'evaluate'): QueryInput {
  const local = new StoreQueryable(ctx.proxy, read);
  return ctx.distributed === undefined ? { expr, queryable: local } : planQuery(ctx.distributed, ctx.endpoints, ctx.logger, engine, read, local, expr, times, purpose);
}

/** A vector or matrix answer cut to its first `limit` series (Prometheus' truncateResults). */
function limited(res: QueryResult, limit: number): QueryResult {
  const v = res.value;
  const annotations = [...res.annotations];
  if (v.type === 'vector') return { ...res, value: { type: 'vector', samples: firstOf(v.samples, limit, annotations) }, annotations };
  if (v.type === 'matrix') return { ...res, value: { type: 'matrix', series: firstOf(v.series, limit, annotations) }, annotations };
  return res;
}

/** Read options that, with `stats`, also collect what the query cost the stores. */
function readOptionsWithCosts(ctx: ApiContext, req: FastifyRequest, p: Params, engine: ReturnType<typeof engineFor>): ReadOptions {
  const opts = readOptions(ctx, req, p, engine);
  return wantsStats(p) ? { ...opts, costs: emptyQueryStats() } : opts;
}

function wantsStats(p: Params): boolean {
  const v = p.get('stats');
  return v !== undefined && v !== '';
}

function respond(req: FastifyRequest, reply: FastifyReply, res: QueryResult, p: Params, started: number, costs: QueryStats | undefined, analysis: PlanNode | undefined) {
  const notes = queryNotes(res.annotations);
  // Thanos' field after the stats.
  const analyzed = analysis === undefined ? '' : `,"analysis":${JSON.stringify(analysisJson(analysis))}`;
  if (!wantsStats(p)) return sendSuccessPieces(req, reply, queryDataPieces(res.value, analyzed), notes);
  // In whole nanoseconds, as Prometheus' durations (not a float difference's noise: 0.000592293, not 0.0005922930000087944).
  const ns = Math.round((performance.now() - started) * 1e6);
  // Preparation is where Strata fetches the series from the stores (Prometheus opens its blocks there).
  const preparationNs = Math.round(res.stats.preparationMs * 1e6);
  const seconds = ns / 1e9;
  const stats = {
    timings: { evalTotalTime: seconds, resultSortTime: 0, queryPreparationTime: preparationNs / 1e9, innerEvalTime: (ns - preparationNs) / 1e9, execQueueTime: 0, execTotalTime: seconds },
    samples: { totalQueryableSamples: res.stats.samplesRead, peakSamples: res.stats.peakSamples },
    // Beyond Prometheus: what reading the data cost, as the stores reported it.
    ...(costs !== undefined
      ? {
          storage: {
            blocksQueried: costs.blocksQueried,
            seriesFetched: costs.seriesFetched,
            chunksFetched: costs.chunksFetched,
            chunkBytesFetched: costs.chunksFetchedSizeSum,
            objectStoreRequests: costs.objectRequests,
            objectStoreBytes: costs.dataDownloadedSizeSum,
          },
        }
      : {}),
  };
  return sendSuccessPieces(req, reply, queryDataPieces(res.value, `,"stats":${JSON.stringify(stats)}${analyzed}`), notes);
}
