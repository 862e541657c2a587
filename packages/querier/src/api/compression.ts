import { promisify } from 'node:util';
import { constants, deflate, gzip, type ZlibOptions } from 'node:zlib';
import type { FastifyInstance } from 'fastify';

const gzipAsync = promisify<Buffer | string, ZlibOptions, Buffer>(gzip);
const deflateAsync = promisify<Buffer | string, ZlibOptions, Buffer>(deflate);
/**
 * zlib's fastest level: on a day of one gauge at a 15s step (190 KB of JSON) it compresses 2.7× in
 * 4.3 ms where the default level (Prometheus') gets 2.9× in 10.3 ms.
 */
const LEVEL: ZlibOptions = { level: constants.Z_BEST_SPEED };
const ENCODERS = {
  gzip: (b: Buffer | string) => gzipAsync(b, LEVEL),
  deflate: (b: Buffer | string) => deflateAsync(b, LEVEL),
} as const;

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
 * JSON), off the event loop in zlib's thread pool. Registered inside the API plugin, so it covers
 * exactly the API's routes.
 */
export function compressResponses(app: FastifyInstance): void {
  app.addHook('onSend', async (req, reply, payload) => {
    const encoding = responseEncoding(req.headers['accept-encoding']);
    if (encoding === undefined || (typeof payload !== 'string' && !Buffer.isBuffer(payload))) return payload;
    reply.header('content-encoding', encoding);
    return ENCODERS[encoding](payload);
  });
}
