import type { FastifyInstance } from 'fastify';

/** What Prometheus' API answers a browser with, whatever the origin (util/httputil's SetCORS). */
const CORS_HEADERS = {
  'access-control-allow-headers': 'Accept, Authorization, Content-Type, Origin',
  'access-control-allow-methods': 'GET, POST, OPTIONS',
  'access-control-expose-headers': 'Date',
  vary: 'Origin',
} as const;

/**
 * Cross-origin requests to the API as Prometheus answers them (`--web.cors.origin`, a regex anchored at
 * both ends, default `.*`): a request with an Origin gets the CORS headers, and Access-Control-Allow-Origin
 * `*` (for the default) or its own origin when the regex accepts it; OPTIONS, a browser's preflight, is
 * 204 on every API path. `origin` undefined (Thanos' --web.disable-cors) sets no headers.
 */
export function corsResponses(app: FastifyInstance, origin: RegExp | undefined): void {
  const any = origin?.source === '^(?:.*)$';
  app.addHook('onRequest', async (req, reply) => {
    const from = req.headers.origin;
    if (origin === undefined || from === undefined) return;
    reply.headers(CORS_HEADERS);
    if (any) reply.header('access-control-allow-origin', '*');
    else if (origin.test(from)) reply.header('access-control-allow-origin', from);
  });
  app.options('/api/v1/*', { schema: {} }, async (_req, reply) => reply.code(204).send());
}

/** `--web.cors.origin` as Prometheus compiles it: anchored at both ends. */
export function corsOrigin(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`);
}
