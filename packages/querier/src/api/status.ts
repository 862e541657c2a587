import type { FastifyPluginAsync } from 'fastify';
import type { ApiContext } from './context.js';
import { sendData } from './respond.js';

export const STRATA_VERSION = '0.1.0';

/**
 * Status and the APIs Strata has nothing for (rules, alerts, metadata, exemplars): valid empty answers,
 * so Grafana and other Prometheus clients work unchanged. `/api/v1/stores` lists the endpoints as
 * Thanos does, grouped by component type.
 */
export function statusRoutes(ctx: ApiContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/api/v1/status/buildinfo', { schema: {} }, async (_req, reply) =>
      sendData(reply, { version: STRATA_VERSION, revision: '', branch: '', buildUser: '', buildDate: '', goVersion: '', features: {} }),
    );
    app.get('/api/v1/status/flags', { schema: {} }, async (_req, reply) => sendData(reply, ctx.flags));
    app.get('/api/v1/metadata', { schema: {} }, async (_req, reply) => sendData(reply, {}));
    app.get('/api/v1/rules', { schema: {} }, async (_req, reply) => sendData(reply, { groups: [] }));
    app.get('/api/v1/alerts', { schema: {} }, async (_req, reply) => sendData(reply, { alerts: [] }));
    for (const method of ['GET', 'POST'] as const) {
      app.route({ method, url: '/api/v1/query_exemplars', schema: {}, handler: async (_req, reply) => sendData(reply, []) });
    }
    app.get('/api/v1/stores', { schema: {} }, async (_req, reply) => {
      const byType: Record<string, unknown[]> = {};
      for (const s of ctx.endpoints.status()) {
        const type = s.info?.componentType ?? 'unknown';
        (byType[type] ??= []).push({
          name: s.address,
          lastCheck: new Date(s.lastCheck).toISOString(),
          lastError: s.lastError,
          labelSets: (s.info?.labelSets ?? []).map((ls) => Object.fromEntries(ls.map((l) => [l.name, l.value]))),
          minTime: s.info?.store?.minTime ?? null,
          maxTime: s.info?.store?.maxTime ?? null,
        });
      }
      return sendData(reply, byType);
    });
  };
}
