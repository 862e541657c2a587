import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { compressResponses, corsResponses } from '@strata/runtime';
import type { ApiContext } from './context.js';
import { ApiError } from './errors.js';
import { exemplarsRoutes } from './exemplars.js';
import { labelRoutes } from './labels.js';
import { queryRoutes } from './query.js';
import { explainRoutes } from './explain.js';
import { federateRoutes } from './federate.js';
import { remoteReadRoutes } from './remoteread.js';
import { sendError } from './respond.js';
import { rulesRoutes } from './rules.js';
import { statusRoutes } from './status.js';
import { targetsRoutes } from './targets.js';

/** Methods Prometheus' router answers 405 Method Not Allowed on an API path that does not take them. */
const OTHER_METHODS = ['DELETE', 'GET', 'HEAD', 'PATCH', 'POST', 'PUT'] as const;

/** The Prometheus-compatible HTTP API: form bodies parsed, answers compressed and CORS headers set as Prometheus does, then each route group. */
export function apiPlugin(ctx: ApiContext): FastifyPluginAsync {
  return async (app) => {
    // Prometheus reads form bodies only: any other body is read and ignored, whatever its type says.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
      done(null, new URLSearchParams(body as string));
    });
    app.addContentTypeParser('*', (_req, payload, done) => {
      payload.on('error', done).on('end', () => done(null, undefined)).resume();
    });
    // A request a route's schema refuses is bad data, answered in Prometheus' error envelope.
    app.setErrorHandler((err: FastifyError, _req, reply) => {
      if (err.validation === undefined) throw err;
      return sendError(reply, new ApiError('bad_data', err.message));
    });
    compressResponses(app);
    corsResponses(app, ctx.corsOrigin);
    // As Prometheus' router: a method an API path (or /federate) does not take is 405, HEAD too (fastify
    // answers it for every GET route unless told otherwise).
    const taken = new Map<string, Set<string>>();
    app.addHook('onRoute', (route) => {
      if (!(route.url.startsWith('/api/v1/') || route.url === '/federate') || route.url.endsWith('*')) return;
      if (route.method === 'HEAD') route.handler = methodNotAllowed;
      const methods = taken.get(route.url) ?? new Set<string>();
      for (const m of [route.method].flat()) methods.add(m);
      taken.set(route.url, methods);
    });
    await app.register(queryRoutes(ctx));
    await app.register(explainRoutes(ctx));
    await app.register(federateRoutes(ctx));
    await app.register(remoteReadRoutes(ctx, ctx.remoteRead));
    await app.register(labelRoutes(ctx));
    await app.register(rulesRoutes(ctx));
    await app.register(exemplarsRoutes(ctx));
    await app.register(targetsRoutes(ctx));
    await app.register(statusRoutes(ctx));
    for (const [url, methods] of [...taken]) {
      const others = OTHER_METHODS.filter((m) => !methods.has(m));
      if (others.length > 0) app.route({ method: others, url, handler: methodNotAllowed });
    }
  };
}

function methodNotAllowed(_req: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply.code(405).type('text/plain; charset=utf-8').send('Method Not Allowed\n');
}
