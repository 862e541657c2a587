import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { clientGone, goJson, sendJson } from '@strata/runtime';
import type { Downstream, DownstreamAnswer } from './downstream.js';
import type { FrontendMetrics } from './metrics.js';
import { askingStats, type ForcedQueryStats, type QueryCosts } from './querystats.js';
import { requestParams } from './request.js';

export function sendAnswer(reply: FastifyReply, a: DownstreamAnswer): FastifyReply {
  for (const [name, value] of a.headers) reply.header(name, value);
  return reply.code(a.status).type(a.contentType).send(a.body);
}

/** The answer to a request that reached no downstream querier: Prometheus' error for an unavailable backend. */
export function sendUnavailable(reply: FastifyReply, e: unknown): FastifyReply {
  return sendJson(reply.code(503), goJson(JSON.stringify({ status: 'error', errorType: 'unavailable', error: `downstream querier: ${(e as Error).message}` })));
}

/** Prometheus' error for a request the frontend refuses itself (400, bad_data). */
export function sendBadData(reply: FastifyReply, message: string): FastifyReply {
  return reply.code(400).send({ status: 'error', errorType: 'bad_data', error: message });
}

/**
 * Sends the request on to the downstream querier as it came, and its answer back; a query with
 * `forced` stats (--query-frontend.force-query-stats) asks for the querier's stats, which are taken
 * out of the answer unless the client asked for them too.
 */
export async function passThrough(downstream: Downstream, metrics: FrontendMetrics, req: FastifyRequest, reply: FastifyReply, forced?: ForcedQueryStats): Promise<FastifyReply> {
  metrics.queries.inc({ op: 'passthrough' });
  try {
    const clientAsked = forced === undefined || requestParams(req).has('stats');
    const { path, body } = clientAsked ? { path: req.url, body: Buffer.isBuffer(req.body) ? req.body : undefined } : askingStatsOf(req);
    const a = await downstream.send({ method: req.method, path, headers: downstream.forwardedHeaders(req), ...(body !== undefined ? { body } : {}), signal: clientGone(reply) });
    if (forced === undefined) return sendAnswer(reply, a);
    const answer = withCostsTaken(a, forced.costsOf(req), clientAsked);
    forced.setTiming(req, reply);
    return sendAnswer(reply, answer);
  } catch (e) {
    return sendUnavailable(reply, e);
  }
}

/** The request's path and body with `stats=all` added: to a form body where it has one, else to the query string. */
function askingStatsOf(req: FastifyRequest): { path: string; body: Buffer | undefined } {
  const type = String(req.headers['content-type'] ?? '');
  if (req.method === 'POST' && Buffer.isBuffer(req.body) && type.startsWith('application/x-www-form-urlencoded')) {
    return { path: req.url, body: Buffer.from(askingStats(new URLSearchParams(req.body.toString('utf8'))).toString()) };
  }
  const q = req.url.indexOf('?');
  const query = askingStats(new URLSearchParams(q < 0 ? '' : req.url.slice(q + 1)));
  return { path: `${q < 0 ? req.url : req.url.slice(0, q)}?${query.toString()}`, body: Buffer.isBuffer(req.body) ? req.body : undefined };
}

/** A successful answer's stats added to `costs`; the answer written again without them unless `keep`. */
function withCostsTaken(a: DownstreamAnswer, costs: QueryCosts, keep: boolean): DownstreamAnswer {
  if (a.status !== 200) return a;
  let parsed: { data?: unknown };
  try {
    parsed = JSON.parse(a.body.toString('utf8')) as { data?: unknown };
  } catch {
    return a;
  }
  costs.take(parsed, keep);
  return keep ? a : { ...a, body: Buffer.from(goJson(JSON.stringify(parsed))) };
}

/** Every route the frontend does not answer itself (instant queries, labels, series, metadata, the UI…) goes downstream as it is. */
export function passThroughPlugin(downstream: Downstream, metrics: FrontendMetrics): FastifyPluginAsync {
  return async (app) => {
    app.all('/*', { schema: {} }, (req, reply) => passThrough(downstream, metrics, req, reply));
  };
}
