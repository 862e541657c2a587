/**
 * Thanos' explain and analyze: `/api/v1/query_explain` and `/api/v1/query_range_explain` answer the
 * operator tree a query would be evaluated with (its distributed plan's, with the leaf queries asked of
 * each leaf), without evaluating it; `analyze=true` on `/api/v1/query(_range)` adds the tree with what
 * each operator cost to the answer (`analysis`). Thanos offers both with its own engine only; Strata's
 * engine explains any query.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { handle, readOptions, type ApiContext } from './context.js';
import { Params } from './params.js';
import { explainQuery, instantRequest, QUERY_PARAMS, queryInput, rangeRequest, type QueryRequest } from './query.js';
import { explanationJson } from './operators.js';
import { sendData } from './respond.js';

const explainSchema = { querystring: { type: 'object', properties: QUERY_PARAMS } } as const;

/** `/api/v1/query_explain` and `/api/v1/query_range_explain`, GET or POST form, with the query endpoints' parameters. */
export function explainRoutes(ctx: ApiContext): FastifyPluginAsync {
  return async (app) => {
    const explainer = (prepare: (ctx: ApiContext, p: Params) => QueryRequest) => async (req: FastifyRequest, reply: FastifyReply) =>
      handle(ctx, req, reply, async () => {
        const p = Params.from(req.query, req.body);
        const q = prepare(ctx, p);
        const input = queryInput(ctx, q.engine, readOptions(ctx, req, p, q.engine), q.expr, q.times, 'explain');
        return sendData(reply, explanationJson(explainQuery(q, input)));
      });
    app.get('/api/v1/query_explain', { schema: explainSchema }, explainer(instantRequest));
    app.post('/api/v1/query_explain', { schema: explainSchema }, explainer(instantRequest));
    app.get('/api/v1/query_range_explain', { schema: explainSchema }, explainer(rangeRequest));
    app.post('/api/v1/query_range_explain', { schema: explainSchema }, explainer(rangeRequest));
  };
}
