import type { FastifyError, FastifyPluginAsync } from 'fastify';
import { compressResponses } from '@strata/runtime';
import { corsResponses } from './cors.js';
import type { ApiContext } from './context.js';
import { ApiError } from './errors.js';
import { exemplarsRoutes } from './exemplars.js';
import { labelRoutes } from './labels.js';
import { queryRoutes } from './query.js';
import { sendError } from './respond.js';
import { rulesRoutes } from './rules.js';
import { statusRoutes } from './status.js';
import { targetsRoutes } from './targets.js';

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
    await app.register(queryRoutes(ctx));
    await app.register(labelRoutes(ctx));
    await app.register(rulesRoutes(ctx));
    await app.register(exemplarsRoutes(ctx));
    await app.register(targetsRoutes(ctx));
    await app.register(statusRoutes(ctx));
  };
}
