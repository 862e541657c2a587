import type { FastifyPluginAsync } from 'fastify';
import { UI_HTML } from './page.js';

/** Serves the web UI at `/` (and `/graph`, where Prometheus users look for it). */
export const uiPlugin: FastifyPluginAsync = async (app) => {
  const page = async (_req: unknown, reply: import('fastify').FastifyReply) => reply.type('text/html; charset=utf-8').send(UI_HTML);
  app.get('/', { schema: {} }, page);
  app.get('/graph', { schema: {} }, page);
  app.get('/stores', { schema: {} }, page);
};
