/**
 * Thanos' Query API (thanos.Query over gRPC, on --grpc-address beside the StoreAPI): the querier's PromQL
 * for a Thanos ruler (--grpc-query-endpoint) or a Thanos querier in distributed mode, which reaches
 * this one as a remote engine. A query goes through what an HTTP one does: the gate
 * (--query.max-concurrent), the engine metrics, the active query file, a span, the tenant's matcher.
 *
 * As Thanos answers: the request's replica labels, or the querier's; its lookback delta, or the
 * querier's widened for its max resolution; an evaluation error fails an instant query with Aborted,
 * or becomes its warning under partial response, and fails a range query with Aborted.
 */
import { rangeQueryTypeError, type Engine, type QueryResult } from '@strata/promql';
import { EngineType, GrpcStatus, StoreError, type CallContext, type QueryApiServer, type QueryFrame, type QueryOptions, type QueryRangeRequest, type QueryRequest } from '@strata/storeapi';
import type { Matcher } from '@strata/tsdb';
import { toMatcher } from '../proxy/proxy.js';
import type { ReadOptions } from '../queryable.js';
import { tenantMatcher } from '../tenancy.js';
import { engineWith, storeMatchFilter, type ApiContext } from './context.js';
import { evaluate, queryInput } from './query.js';

/** Prometheus' cap on a range query's points per series, as the HTTP API applies it. */
const MAX_POINTS = 11_000;

export function queryApiServer(ctx: ApiContext): QueryApiServer {
  return {
    async query(req: QueryRequest, call: CallContext): Promise<QueryFrame[]> {
      const { engine, read, expr } = prepare(ctx, req, call);
      const time = req.timeSeconds === 0 ? Date.now() : req.timeSeconds * 1000;
      let res: QueryResult;
      try {
        const input = queryInput(ctx, engine, read, expr, { start: time, end: time, step: 0 });
        res = await evaluate(ctx, 'instant', req.query, () => engine.instantQuery(input.queryable, input.expr, time, { signal: call.signal }));
      } catch (e) {
        if (req.enablePartialResponse) return [{ warnings: (e as Error).message }];
        throw aborted(e);
      }
      return answerFrames(res);
    },

    async queryRange(req: QueryRangeRequest, call: CallContext): Promise<QueryFrame[]> {
      const { engine, read, expr } = prepare(ctx, req, call);
      const start = req.startTimeSeconds * 1000;
      const end = req.endTimeSeconds * 1000;
      const step = req.intervalSeconds * 1000;
      if (end < start) throw invalid('end timestamp must not be before start time');
      if (step <= 0) throw invalid('zero or negative query resolution step widths are not accepted. Try a positive integer');
      if ((end - start) / step > MAX_POINTS) throw invalid('exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)');
      const wrongType = rangeQueryTypeError(expr);
      if (wrongType !== undefined) throw invalid(wrongType);
      let res: QueryResult;
      try {
        const input = queryInput(ctx, engine, read, expr, { start, end, step });
        res = await evaluate(ctx, 'range', req.query, () => engine.rangeQuery(input.queryable, input.expr, start, end, step, { signal: call.signal }));
      } catch (e) {
        throw aborted(e);
      }
      return answerFrames(res);
    },
  };
}

/** The engine, read options and parsed query of a request; what is wrong with it as InvalidArgument. */
function prepare(ctx: ApiContext, req: QueryOptions, call: CallContext): { engine: Engine; read: ReadOptions; expr: ReturnType<Engine['parse']> } {
  if (req.engine !== EngineType.default && req.engine !== EngineType.prometheus && req.engine !== EngineType.thanos) throw invalid('invalid engine parameter');
  const maxSourceResolution = req.maxResolutionSeconds * 1000;
  const engine = engineWith(
    ctx,
    req.lookbackDeltaSeconds > 0 ? req.lookbackDeltaSeconds * 1000 : undefined,
    maxSourceResolution > 0 ? maxSourceResolution : undefined,
    req.timeoutSeconds > 0 ? req.timeoutSeconds * 1000 : undefined,
    req.engine === EngineType.thanos ? 'thanos' : req.engine === EngineType.prometheus ? 'prometheus' : undefined,
  );
  let expr: ReturnType<Engine['parse']>;
  try {
    expr = engine.parse(req.query);
  } catch (e) {
    throw invalid((e as Error).message);
  }
  const tenant = call.tenant ?? ctx.tenancy.defaultTenant;
  const storeMatchers = req.storeMatchers.map((set) => set.map(matcherOf));
  const read: ReadOptions = {
    dedup: req.enableDedup,
    replicaLabels: req.replicaLabels.length > 0 ? req.replicaLabels : ctx.defaults.replicaLabels,
    dedupFunc: ctx.defaults.dedupFunc,
    maxConcurrentSelect: ctx.defaults.maxConcurrentSelect,
    partialResponse: req.enablePartialResponse,
    maxSourceResolution,
    // The caller chose the resolution (a Thanos querier sends step/5 under auto-downsampling).
    autoDownsampling: false,
    ...(storeMatchers.length > 0 ? { endpointFilter: storeMatchFilter(storeMatchers) } : {}),
    ...(req.shardInfo !== undefined ? { shardInfo: req.shardInfo } : {}),
    tenant,
    ...(ctx.tenancy.enforce ? { tenantMatcher: tenantMatcher(tenant, ctx.tenancy) } : {}),
  };
  return { engine, read, expr };
}

/** The answer as Thanos streams it: warnings first, a message per series (a scalar's without labels), the stats last. */
function answerFrames(res: QueryResult): QueryFrame[] {
  const frames: QueryFrame[] = [];
  if (res.annotations.length > 0) frames.push({ warnings: res.annotations.join(', ') });
  const v = res.value;
  if (v.type === 'scalar') frames.push({ timeseries: { labels: [], samples: [{ value: v.v, timestamp: v.t }], histograms: [] } });
  else if (v.type === 'vector') {
    for (const s of v.samples) {
      const labels = s.labels.toArray();
      frames.push({ timeseries: s.h !== undefined ? { labels, samples: [], histograms: [{ timestamp: s.t, h: s.h }] } : { labels, samples: [{ value: s.f, timestamp: s.t }], histograms: [] } });
    }
  } else if (v.type === 'matrix') {
    for (const s of v.series) {
      frames.push({
        timeseries: { labels: s.labels.toArray(), samples: s.floats.map((p) => ({ value: p.f, timestamp: p.t })), histograms: s.histograms.map((p) => ({ timestamp: p.t, h: p.h })) },
      });
    }
  }
  frames.push({ stats: { samplesTotal: res.stats.samplesRead, peakSamples: res.stats.peakSamples } });
  return frames;
}

function matcherOf(m: Parameters<typeof toMatcher>[0]): Matcher {
  try {
    return toMatcher(m);
  } catch (e) {
    throw invalid(`store matcher ${m.name}: ${(e as Error).message}`);
  }
}

function invalid(message: string): StoreError {
  return new StoreError(GrpcStatus.INVALID_ARGUMENT, message);
}

function aborted(e: unknown): StoreError {
  return new StoreError(GrpcStatus.ABORTED, (e as Error).message);
}
