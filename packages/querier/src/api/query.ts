import type { QueryResult } from '@strata/promql';
import type { FastifyPluginAsync } from 'fastify';
import { StoreQueryable } from '../queryable.js';
import { engineFor, handle, readOptions, type ApiContext } from './context.js';
import { ApiError, invalidParam } from './errors.js';
import { Params } from './params.js';
import { queryDataJson, sendSuccess } from './respond.js';

const MAX_POINTS = 11_000;

const querySchema = {
  querystring: {
    type: 'object',
    properties: {
      query: { type: 'string' },
      time: { type: 'string' },
      start: { type: 'string' },
      end: { type: 'string' },
      step: { type: 'string' },
      timeout: { type: 'string' },
      stats: { type: 'string' },
      lookback_delta: { type: 'string' },
      dedup: { type: 'string' },
      partial_response: { type: 'string' },
      max_source_resolution: { type: 'string' },
      'replicaLabels[]': { type: 'array', items: { type: 'string' } },
      'storeMatch[]': { type: 'array', items: { type: 'string' } },
    },
  },
} as const;

/** `/api/v1/query` and `/api/v1/query_range`, GET or POST form, with Prometheus' and Thanos' parameters. */
export function queryRoutes(ctx: ApiContext): FastifyPluginAsync {
  return async (app) => {
    const instant = async (req: import('fastify').FastifyRequest, reply: import('fastify').FastifyReply) =>
      handle(ctx, req, reply, async (signal) => {
        const p = Params.from(req.query, req.body);
        const engine = engineFor(ctx, p);
        const time = p.time('time', Date.now());
        const expr = parseQuery(engine, p);
        const started = performance.now();
        const res = await engine.instantQuery(new StoreQueryable(ctx.proxy, readOptions(ctx, p, engine)), expr, time, { signal });
        return respond(reply, res, p, started);
      });
    const range = async (req: import('fastify').FastifyRequest, reply: import('fastify').FastifyReply) =>
      handle(ctx, req, reply, async (signal) => {
        const p = Params.from(req.query, req.body);
        const engine = engineFor(ctx, p);
        const start = p.time('start');
        const end = p.time('end');
        if (end < start) throw invalidParam('end', 'end timestamp must not be before start time');
        const step = p.duration('step');
        if (step === undefined) throw invalidParam('step', 'cannot parse "" to a valid duration');
        if (step <= 0) throw invalidParam('step', 'zero or negative query resolution step widths are not accepted. Try a positive integer');
        if ((end - start) / step > MAX_POINTS) {
          throw new ApiError('bad_data', 'exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)');
        }
        const expr = parseQuery(engine, p);
        const started = performance.now();
        const res = await engine.rangeQuery(new StoreQueryable(ctx.proxy, readOptions(ctx, p, engine)), expr, start, end, step, { signal });
        return respond(reply, res, p, started);
      });
    app.get('/api/v1/query', { schema: querySchema }, instant);
    app.post('/api/v1/query', { schema: querySchema }, instant);
    app.get('/api/v1/query_range', { schema: querySchema }, range);
    app.post('/api/v1/query_range', { schema: querySchema }, range);
  };
}

function parseQuery(engine: ReturnType<typeof engineFor>, p: Params) {
  try {
    return engine.parse(p.get('query') ?? '');
  } catch (e) {
    throw invalidParam('query', (e as Error).message);
  }
}

function respond(reply: import('fastify').FastifyReply, res: QueryResult, p: Params, started: number) {
  const data = queryDataJson(res.value);
  if (p.get('stats') === undefined || p.get('stats') === '') return sendSuccess(reply, data, res.annotations);
  const seconds = (performance.now() - started) / 1000;
  const stats = {
    timings: { evalTotalTime: seconds, resultSortTime: 0, queryPreparationTime: 0, innerEvalTime: seconds, execQueueTime: 0, execTotalTime: seconds },
    samples: { totalQueryableSamples: res.stats.samplesRead, peakSamples: res.stats.peakSamples },
  };
  return sendSuccess(reply, `${data.slice(0, -1)},"stats":${JSON.stringify(stats)}}`, res.annotations);
}
