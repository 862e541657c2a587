import { formatTimestamp, formatValue } from '@strata/promql';
import { exemplarsRequest, MAX_INT64, MIN_INT64, PartialResponseStrategy, type ExemplarData } from '@strata/storeapi';
import { Labels } from '@strata/tsdb';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { selectorsOf } from '../proxy/proxy.js';
import { engineFor, handle, type ApiContext, tenantMatcherOf } from './context.js';
import { ApiError } from './errors.js';
import { Params, SINGLE } from './params.js';
import { labelsJson, sendSuccess } from './respond.js';

const exemplarsSchema = {
  querystring: { type: 'object', properties: { query: SINGLE, start: SINGLE, end: SINGLE, partial_response: SINGLE } },
} as const;

/**
 * `/api/v1/query_exemplars` (GET and POST) from the endpoints that serve Thanos' Exemplars API, a
 * series' exemplars once however many replicas have them (Thanos' dedupExemplarsSeriesLabels), in
 * Prometheus' JSON. A query without selectors is answered as Prometheus answers it: 204, no body.
 */
export function exemplarsRoutes(ctx: ApiContext): FastifyPluginAsync {
  return async (app) => {
    const exemplars = (req: FastifyRequest, reply: FastifyReply) =>
      handle(ctx, req, reply, async (call) => {
        const p = Params.from(req.query, req.body);
        const start = p.time('start', MIN_INT64);
        const end = p.time('end', MAX_INT64);
        if (end < start) throw new ApiError('bad_data', 'end timestamp must not be before start timestamp');
        const query = p.get('query') ?? '';
        let selectors;
        try {
          selectors = selectorsOf(engineFor(ctx, p).parse(query));
        } catch (e) {
          throw new ApiError('bad_data', (e as Error).message);
        }
        if (selectors.length === 0) return reply.code(204).send();
        const partial = p.bool('partial_response', ctx.defaults.partialResponse);
        const res = await ctx.proxy.exemplars(exemplarsRequest({ query, start, end, partialResponseStrategy: partial ? PartialResponseStrategy.WARN : PartialResponseStrategy.ABORT }), call, tenantMatcherOf(ctx, req));
        const data = dedupExemplars(res.data, new Set(ctx.defaults.replicaLabels));
        return sendSuccess(reply, `[${data.map(exemplarDataJson).join(',')}]`, res.warnings);
      });
    app.get('/api/v1/query_exemplars', { schema: exemplarsSchema }, exemplars);
    app.post('/api/v1/query_exemplars', { schema: exemplarsSchema }, exemplars);
  };
}

/** Series sorted by their labels, each kept once without the replica labels (the first replica's exemplars). */
export function dedupExemplars(data: readonly ExemplarData[], replicaLabels: ReadonlySet<string>): ExemplarData[] {
  const keyed = data.map((d) => ({ d, labels: Labels.from(d.seriesLabels) })).sort((a, b) => Labels.compare(a.labels, b.labels));
  const out: { d: ExemplarData; labels: Labels }[] = [];
  for (const { d, labels } of keyed) {
    const without = labels.without(replicaLabels);
    if (out.length > 0 && Labels.compare((out.at(-1) as { labels: Labels }).labels, without) === 0) continue;
    out.push({ d: { ...d, seriesLabels: [...without.toArray()] }, labels: without });
  }
  return out.map((o) => o.d);
}

function exemplarDataJson(d: ExemplarData): string {
  const exemplars = d.exemplars.map((e) => `{"labels":${labelsJson(Labels.from(e.labels))},"value":"${formatValue(e.value)}","timestamp":${formatTimestamp(e.ts)}}`);
  return `{"seriesLabels":${labelsJson(Labels.from(d.seriesLabels))},"exemplars":[${exemplars.join(',')}]}`;
}
