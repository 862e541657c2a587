/**
 * Prometheus' remote read (POST /api/v1/read) over everything the querier reads: every replica
 * deduplicated and all of history, raw samples, so that a Prometheus can `remote_read` from Strata (to
 * evaluate rules or dashboards over the long term) as it reads from another Prometheus. Thanos' querier
 * has no remote read; Strata answers it as Prometheus' read handler does:
 * - the response type is the first of the client's it supports, SAMPLES when it names none;
 * - SAMPLES: one snappy-compressed ReadResponse, a query past --storage.remote.read-sample-limit failing
 *   the request with 400 (`exceeded sample limit (N)`);
 * - STREAMED_XOR_CHUNKS: a frame per series (split past --storage.remote.read-max-bytes-in-frame), each
 *   sent as it is ready; a series' samples are deduplicated, so its chunks are encoded again (120
 *   samples each, as Prometheus cuts them);
 * - errors as text, with Go's http.Error (400 for a request it cannot read, 500 for one it cannot answer);
 * - at most --storage.remote.read-concurrent-limit requests at once (0: no limit); more wait, counted with
 *   them in prometheus_api_remote_read_queries.
 * The request URL may carry the query API's dedup, partial_response, replicaLabels[], storeMatch[] and
 * max_source_resolution (a remote_read URL's query string); without them, the querier's defaults and raw data.
 */
import { Readable } from 'node:stream';
import type { SelectHints } from '@strata/promql';
import { chunkedReadFrame, decodeReadRequest, negotiateResponseType, ResponseType, SAMPLES_CONTENT_TYPE, SamplesResponseWriter, STREAMED_CONTENT_TYPE, type ReadQuery } from '@strata/storeapi';
import { ChunkSeriesSamples, encodeSeriesChunks, SAMPLES_PER_CHUNK, TimeBoundIterator, ValueType, type ChunkMeta, type SampleIterator, type Series } from '@strata/tsdb';
import { clientGone } from '@strata/runtime';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { toMatcher } from '../proxy/proxy.js';
import { StoreQueryable } from '../queryable.js';
import { engineFor, readOptions, type ApiContext } from './context.js';
import type { RemoteReadGate } from './metrics.js';
import { Params } from './params.js';
import { sendTextError } from './respond.js';

export interface RemoteReadLimits {
  /** --storage.remote.read-sample-limit: samples one query of a SAMPLES request may return (0: no limit). */
  readonly sampleLimit: number;
  /** --storage.remote.read-concurrent-limit: requests answered at once (0: no limit). */
  readonly concurrentLimit: number;
  /** --storage.remote.read-max-bytes-in-frame: chunk bytes a frame holds before a series goes on in the next. */
  readonly maxBytesInFrame: number;
}

/** Prometheus' defaults. */
export const DEFAULT_REMOTE_READ_LIMITS: RemoteReadLimits = { sampleLimit: 50_000_000, concurrentLimit: 10, maxBytesInFrame: 1_048_576 };

/** Remote reads' limits, and the gate that holds them to the concurrent one. */
export interface RemoteReadContext {
  readonly limits: RemoteReadLimits;
  readonly gate: RemoteReadGate;
}

/** A failure answered with a status of its own (Prometheus' remote.HTTPError). */
class ReadError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export function remoteReadRoutes(ctx: ApiContext, { limits, gate }: RemoteReadContext): FastifyPluginAsync {
  return async (app) => {
    // The body is a snappy block, whatever its content type says.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    app.post('/api/v1/read', { schema: {} }, (req, reply) => gate.run(() => read(ctx, limits, req, reply)));
  };
}

async function read(ctx: ApiContext, limits: RemoteReadLimits, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const signal = clientGone(reply);
  let queries: ReadQuery[];
  let type: ResponseType;
  let queryable: StoreQueryable;
  try {
    const request = decodeReadRequest(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
    queries = request.queries;
    type = negotiateResponseType(request.acceptedResponseTypes);
    const p = Params.from(req.query, undefined);
    queryable = new StoreQueryable(ctx.proxy, { ...readOptions(ctx, req, p, engineFor(ctx, p)), autoDownsampling: p.get('max_source_resolution') === 'auto' });
  } catch (e) {
    return sendTextError(reply, (e as Error).message, 400);
  }
  try {
    if (type === ResponseType.SAMPLES) {
      const out = new SamplesResponseWriter();
      for (const q of queries) writeSamples(out, await select(ctx, queryable, q, signal), q, limits.sampleLimit);
      return reply.type(SAMPLES_CONTENT_TYPE).header('content-encoding', 'snappy').send(out.finish());
    }
    // Streamed: the status goes out with the first frame, so that a failure after it can only end the
    // stream (as in Prometheus); the first query's is still answered with an error status.
    const first = queries.length > 0 ? await select(ctx, queryable, queries[0] as ReadQuery, signal) : [];
    const frames = async function* (): AsyncGenerator<Buffer> {
      for (const [i, q] of queries.entries()) {
        for (const s of i === 0 ? first : await select(ctx, queryable, q, signal)) yield* seriesFrames(s, q, i, limits.maxBytesInFrame);
      }
    };
    return reply.type(STREAMED_CONTENT_TYPE).send(Readable.from(frames()));
  } catch (e) {
    return sendTextError(reply, (e as Error).message, e instanceof ReadError ? e.status : 500);
  }
}

/** The series of one query, deduplicated, with the warnings partial response allows logged (as Prometheus logs them). */
async function select(ctx: ApiContext, queryable: StoreQueryable, q: ReadQuery, signal: AbortSignal): Promise<readonly Series[]> {
  const h = q.hints;
  // The data bounds are the query's; its hints say what the reader will do with it.
  const hints: SelectHints = { start: q.startMs, end: q.endMs, step: h?.stepMs ?? 0, func: h?.func ?? '', range: h?.rangeMs ?? 0, grouping: h?.grouping ?? [], by: h?.by ?? false };
  const set = await queryable.querier().select(hints, q.matchers.map(toMatcher), signal);
  for (const w of set.warnings ?? []) ctx.logger.warn('warnings on remote read query', { err: w });
  return set.series;
}

/** A query's series as raw samples within its time range (Prometheus' ToQueryResult); series without any left out. */
function writeSamples(out: SamplesResponseWriter, series: readonly Series[], q: ReadQuery, sampleLimit: number): void {
  let n = 0;
  out.beginQuery();
  for (const s of series) {
    const it = new TimeBoundIterator(s.iterator(), q.startMs, q.endMs);
    let vt = it.next();
    const any = vt !== ValueType.None;
    if (any) out.beginSeries(s.labels);
    for (; vt !== ValueType.None; vt = it.next()) {
      if (sampleLimit > 0 && ++n > sampleLimit) throw new ReadError(`exceeded sample limit (${sampleLimit})`, 400);
      if (vt === ValueType.Float) out.float(it.atT(), it.atFloat());
      else out.histogram(it.atT(), it.atFloatHistogram());
    }
    const err = it.err();
    if (err !== null) throw err;
    if (any) out.endSeries();
  }
  out.endQuery();
}

/**
 * A series' frames (Prometheus' StreamChunkedReadResponses): its chunks, a frame ending once its labels
 * and chunks reach `maxBytes` (past it by one chunk at most).
 */
function* seriesFrames(s: Series, q: ReadQuery, queryIndex: number, maxBytes: number): Generator<Buffer> {
  const labels = s.labels.toArray();
  const labelBytes = labels.reduce((n, l) => n + l.name.length + l.value.length + 4, 0);
  const chunks = readChunks(s, q.startMs, q.endMs);
  let frame = [];
  let left = maxBytes - labelBytes;
  for (const [k, c] of chunks.entries()) {
    const data = c.chunk.bytes;
    frame.push({ minTime: c.minTime, maxTime: c.maxTime, type: c.chunk.encoding, data });
    left -= data.length + 24;
    if (left > 0 && k < chunks.length - 1) continue;
    yield chunkedReadFrame(labels, frame, queryIndex);
    frame = [];
    left = maxBytes - labelBytes;
  }
}

/**
 * A series' chunks within the query's time range. A series read as the stores sent it (one replica,
 * blocks that do not overlap) keeps the chunks that lie within the range as they are, as Prometheus
 * sends its stored chunks; the rest (a range's edges, replicas merged) are encoded again from their
 * samples within the range.
 */
function readChunks(s: Series, mint: number, maxt: number): ChunkMeta[] {
  const encoded = (it: SampleIterator) => encodeSeriesChunks(new TimeBoundIterator(it, mint, maxt), SAMPLES_PER_CHUNK);
  if (!(s instanceof ChunkSeriesSamples)) return encoded(s.iterator());
  return s.chunks.flatMap((c) => (c.minTime >= mint && c.maxTime <= maxt ? [c] : encoded(c.chunk.iterator())));
}
