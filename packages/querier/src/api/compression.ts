import { promisify } from 'node:util';
import { deflate, gzip } from 'node:zlib';
import type { FastifyInstance } from 'fastify';

const ENCODERS = { gzip: promisify(gzip), deflate: promisify(deflate) } as const;

/**
 * The encoding Prometheus' API answers in (util/httputil's compression handler): the first of `gzip`
 * and `deflate` (zlib) listed in Accept-Encoding, as exact tokens; none otherwise.
 */
export function responseEncoding(acceptEncoding: string | undefined): keyof typeof ENCODERS | undefined {
  for (const token of (acceptEncoding ?? '').split(',')) {
    const t = token.trim();
    if (t === 'gzip' || t === 'deflate') return t;
  }
  return undefined;
}

/**
 * Compresses the API's answers as Prometheus does (a dashboard's range query is often megabytes of
 * JSON, a tenth of it compressed), at zlib's default level, off the event loop in zlib's thread pool.
 * Registered inside the API plugin, so it covers exactly the API's routes.
 */
export function compressResponses(app: FastifyInstance): void {
  app.addHook('onSend', async (req, reply, payload) => {
    const encoding = responseEncoding(req.headers['accept-encoding']);
    if (encoding === undefined || (typeof payload !== 'string' && !Buffer.isBuffer(payload))) return payload;
    reply.header('content-encoding', encoding);
    return ENCODERS[encoding](payload);
  });
}
