import { setMaxListeners } from 'node:events';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { goJson, sendJson } from '@strata/runtime';
import type { Downstream, DownstreamAnswer } from './downstream.js';
import type { FrontendMetrics } from './metrics.js';


/**
 * Aborted when the client goes away before its answer is written: the downstream requests for it stop
 * too. Each of them listens while it runs, as many as the request has pieces and shards: past
 * EventTarget's 10 listeners Node would print a leak warning.
 */
export function clientGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}

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

/** Sends the request on to the downstream querier as it came, and its answer back. */
export async function passThrough(downstream: Downstream, metrics: FrontendMetrics, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  metrics.queries.inc({ op: 'passthrough' });
  try {
    const body = Buffer.isBuffer(req.body) ? req.body : undefined;
    const a = await downstream.send({ method: req.method, path: req.url, headers: downstream.forwardedHeaders(req), ...(body !== undefined ? { body } : {}), signal: clientGone(reply) });
    return sendAnswer(reply, a);
  } catch (e) {
    return sendUnavailable(reply, e);
  }
}

/** Every route the frontend does not answer itself (instant queries, labels, series, metadata, the UI…) goes downstream as it is. */
export function passThroughPlugin(downstream: Downstream, metrics: FrontendMetrics): FastifyPluginAsync {
  return async (app) => {
    app.all('/*', { schema: {} }, (req, reply) => passThrough(downstream, metrics, req, reply));
  };
}
