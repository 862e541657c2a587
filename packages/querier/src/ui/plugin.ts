import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { uiHtml } from './page.js';

export interface UiOptions {
  /** --web.external-prefix: the path a reverse proxy serves the querier under, for the page's API calls. */
  externalPrefix?: string;
  /** --web.prefix-header: a request header that carries that path (ignored with an external prefix). */
  prefixHeader?: string;
  /** --query.default-step (seconds): the smallest step of the graph's range queries, which otherwise take a 250th of the range. */
  defaultStepSeconds?: number;
}

/** Serves the web UI at `/` (and at Prometheus' page paths: `/graph`, `/alerts`, `/rules`, `/targets`, `/tsdb-status`; and `/stores`, as Thanos). */
export function uiPlugin(opts: UiOptions = {}): FastifyPluginAsync {
  const step = opts.defaultStepSeconds ?? 1;
  const fixed = opts.externalPrefix !== undefined ? uiHtml(opts.externalPrefix, step) : undefined;
  const header = opts.prefixHeader?.toLowerCase();
  const prefixOf = (req: FastifyRequest): string | undefined => {
    const v = header !== undefined ? req.headers[header] : undefined;
    return typeof v === 'string' ? v : undefined;
  };
  return async (app) => {
    const page = async (req: FastifyRequest, reply: FastifyReply) => reply.type('text/html; charset=utf-8').send(fixed ?? uiHtml(prefixOf(req), step));
    app.get('/', { schema: {} }, page);
    app.get('/graph', { schema: {} }, page);
    for (const path of ['/alerts', '/rules', '/targets', '/stores', '/tsdb-status']) app.get(path, { schema: {} }, page);
  };
}
