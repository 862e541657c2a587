import { once } from 'node:events';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { constants, createDeflate, createGzip, type ZlibOptions } from 'node:zlib';
import type { FastifyInstance } from 'fastify';

/**
 * zlib's fastest level: on a day of one gauge at a 15s step (190 KB of JSON) it compresses 2.7× in
 * 4.3 ms where the default level (Prometheus') gets 2.9× in 10.3 ms. Output in chunks as large as the
 * pieces written, so that a piece takes one trip to zlib's thread pool.
 */
const OPTIONS: ZlibOptions = { level: constants.Z_BEST_SPEED, chunkSize: 64 * 1024 };
const ENCODERS = { gzip: () => createGzip(OPTIONS), deflate: () => createDeflate(OPTIONS) } as const;
export type ResponseEncoding = keyof typeof ENCODERS;

/**
 * The encoding Prometheus' API answers in (util/httputil's compression handler): the first of `gzip`
 * and `deflate` (zlib) listed in Accept-Encoding, as exact tokens; none otherwise.
 */
export function responseEncoding(acceptEncoding: string | undefined): ResponseEncoding | undefined {
  for (const token of (acceptEncoding ?? '').split(',')) {
    const t = token.trim();
    if (t === 'gzip' || t === 'deflate') return t;
  }
  return undefined;
}

/**
 * A body written in pieces, compressed off the event loop in zlib's thread pool: each piece is handed
 * to zlib before the next one is written, and this thread yields in between so that zlib's finished
 * work comes back and its next piece starts. Writing a large answer and compressing it overlap on two
 * cores instead of taking turns.
 */
export async function compressPieces(pieces: Iterable<string | Buffer>, encoding: ResponseEncoding): Promise<Buffer> {
  const zlib = ENCODERS[encoding]();
  const out: Buffer[] = [];
  zlib.on('data', (b: Buffer) => out.push(b));
  const ended = once(zlib, 'end');
  // A zlib error rejects `ended` while pieces are still being written: handled when awaited below, not
  // an unhandled rejection in the meantime.
  ended.catch(() => {});
  for (const piece of pieces) {
    zlib.write(piece);
    await nextTurn();
  }
  zlib.end();
  await ended;
  return Buffer.concat(out);
}

/**
 * Compresses the API's answers as Prometheus does (a dashboard's range query is often megabytes of
 * JSON). Registered inside the API plugin, so it covers exactly the API's routes; an answer a route
 * compressed itself (sendSuccessPieces) already carries its Content-Encoding.
 */
export function compressResponses(app: FastifyInstance): void {
  app.addHook('onSend', async (req, reply, payload) => {
    const encoding = responseEncoding(req.headers['accept-encoding']);
    if (encoding === undefined || reply.hasHeader('content-encoding') || (typeof payload !== 'string' && !Buffer.isBuffer(payload))) return payload;
    reply.header('content-encoding', encoding);
    return compressPieces([payload], encoding);
  });
}
