// The Series client over node:http2 (seriesclient.ts) against servers that answer in ways Strata's
// grpc-js server never does: compressed messages, messages split at every byte, trailers-only
// errors, HTTP errors, resets; and deadlines, cancellation and unreachable endpoints. Its ordinary
// use against serveStore is covered by server.test.ts (acceptance suite, batches, TLS, compression).
import http2 from 'node:http2';
import { createServer, type AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeSeriesRequest, encodeSeriesResponse } from './codec.js';
import { GrpcStatus, type Compression } from './grpc.js';
import { seriesRequest, type SeriesRequest, type SeriesResponse } from './messages.js';
import { SeriesCallError, SeriesConnection } from './seriesclient.js';
import { decodeSnappyStream, encodeSnappyStream } from './snappystream.js';

const request = seriesRequest({ minTime: 0, maxTime: 1000, matchers: [{ type: 0, name: 'job', value: 'api' }] });
const frame = (i: number): SeriesResponse => ({ warning: `frame ${i}` });

/** A message as gRPC frames it. */
function message(bytes: Uint8Array, compressed = false): Buffer {
  const out = Buffer.alloc(5 + bytes.length);
  out[0] = compressed ? 1 : 0;
  out.writeUInt32BE(bytes.length, 1);
  out.set(bytes, 5);
  return out;
}

type Handler = (stream: http2.ServerHttp2Stream, req: SeriesRequest, headers: http2.IncomingHttpHeaders) => void;
const servers: http2.Http2Server[] = [];
const connections: SeriesConnection[] = [];

async function serve(handler: Handler, opts: { compression?: Compression } = {}): Promise<SeriesConnection> {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    // Resets and cancellations surface as stream errors here; the client's side is what is tested.
    stream.on('error', () => {});
    const parts: Buffer[] = [];
    stream.on('data', (d: Buffer) => parts.push(d));
    stream.on('end', () => {
      const body = Buffer.concat(parts);
      // A compressed request (flag 1) is a snappy stream here: the only compression these tests send.
      const bytes = body[0] === 1 ? decodeSnappyStream(body.subarray(5)) : body.subarray(5);
      handler(stream, decodeSeriesRequest(bytes), headers);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  const c = new SeriesConnection(`127.0.0.1:${(server.address() as AddressInfo).port}`, opts);
  connections.push(c);
  return c;
}

async function drain(c: SeriesConnection, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<SeriesResponse[]> {
  const out: SeriesResponse[] = [];
  for await (const f of c.series(request, opts)) out.push(f);
  return out;
}

afterEach(async () => {
  for (const c of connections.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

describe('SeriesConnection', () => {
  it('reads messages split at every byte, several per chunk, and gzip-compressed ones', async () => {
    let seen: SeriesRequest | undefined;
    const c = await serve((stream, req) => {
      seen = req;
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-encoding': 'gzip' }, { waitForTrailers: true });
      const body = Buffer.concat([message(encodeSeriesResponse(frame(0))), message(gzipSync(encodeSeriesResponse(frame(1))), true), message(encodeSeriesResponse(frame(2)))]);
      // The first message one byte at a time, the rest in one write.
      for (let i = 0; i < 12; i++) stream.write(body.subarray(i, i + 1));
      stream.end(body.subarray(12));
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    });
    expect(await drain(c)).toEqual([frame(0), frame(1), frame(2)]);
    expect(seen?.matchers).toEqual(request.matchers);
  });

  it('reads snappy-compressed answers, as a grpc-go server sends them to a client that compressed its request with snappy', async () => {
    let encoding: string | undefined;
    const c = await serve((stream, _req, headers) => {
      encoding = String(headers['grpc-encoding']);
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-encoding': 'snappy' }, { waitForTrailers: true });
      stream.end(Buffer.concat([message(encodeSnappyStream(encodeSeriesResponse(frame(0))), true), message(encodeSeriesResponse(frame(1)))]));
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    }, { compression: 'snappy' });
    expect(await drain(c)).toEqual([frame(0), frame(1)]);
    expect(encoding).toBe('snappy');
  });

  it('reads batches split anywhere across chunks as the messages they are', async () => {
    const series = (i: number) => ({
      labels: [{ name: 'instance', value: `host${i}` }],
      chunks: [{ minTime: i, maxTime: i + 1, raw: { type: 0 as const, data: new Uint8Array(100 + i).fill(i), hash: BigInt(i) + 2n ** 63n } }],
    });
    const frames: SeriesResponse[] = [{ batch: [0, 1, 2, 3].map(series) }, { batch: [4, 5].map(series) }, { batch: [6].map(series) }];
    const c = await serve((stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-encoding': 'gzip' }, { waitForTrailers: true });
      const body = Buffer.concat([message(encodeSeriesResponse(frames[0]!)), message(gzipSync(encodeSeriesResponse(frames[1]!)), true), message(encodeSeriesResponse(frames[2]!))]);
      // Pieces of 1 to 60 bytes: boundaries inside headers, tags, lengths, labels and chunk data.
      for (let at = 0, n = 1; at < body.length; at += n, n = (n * 7) % 61) stream.write(body.subarray(at, at + n));
      stream.end();
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    });
    const got = await drain(c);
    const view = (f: SeriesResponse) => ('batch' in f ? f.batch.map((s) => [s.labels, s.chunks.map((k) => [k.minTime, k.maxTime, [...k.raw!.data], k.raw!.hash])]) : f);
    expect(got.map(view)).toEqual(frames.map(view));
  });

  it('reports grpc-status from trailers, from headers only (trailers-only), and HTTP errors as gRPC does', async () => {
    const failing = await serve((stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.write(message(encodeSeriesResponse(frame(0))));
      stream.end();
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': String(GrpcStatus.RESOURCE_EXHAUSTED), 'grpc-message': 'limit%20of%2010%20series' }));
    });
    await expect(drain(failing)).rejects.toMatchObject({ code: GrpcStatus.RESOURCE_EXHAUSTED, details: 'limit of 10 series', message: '8 RESOURCE_EXHAUSTED: limit of 10 series' });
    const trailersOnly = await serve((stream) => stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '3', 'grpc-message': 'bad matcher' }, { endStream: true }));
    await expect(drain(trailersOnly)).rejects.toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT, details: 'bad matcher' });
    const notFound = await serve((stream) => stream.respond({ ':status': 404 }, { endStream: true }));
    await expect(drain(notFound)).rejects.toMatchObject({ code: GrpcStatus.UNIMPLEMENTED });
    const truncated = await serve((stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.end(message(encodeSeriesResponse(frame(0))).subarray(0, 8));
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    });
    await expect(drain(truncated)).rejects.toMatchObject({ code: GrpcStatus.INTERNAL });
    const reset = await serve((stream) => stream.close(http2.constants.NGHTTP2_REFUSED_STREAM));
    await expect(drain(reset)).rejects.toMatchObject({ code: GrpcStatus.UNAVAILABLE });
  });

  it('ends a call at its deadline (sent as grpc-timeout) and on abort, closing the stream', async () => {
    const timeouts: unknown[] = [];
    const closed: Promise<void>[] = [];
    const c = await serve((stream, _req, headers) => {
      timeouts.push(headers['grpc-timeout']);
      closed.push(new Promise((resolve) => stream.once('close', resolve)));
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      stream.write(message(encodeSeriesResponse(frame(0))));
    });
    const deadline = drain(c, { timeoutMs: 200 });
    await expect(deadline).rejects.toBeInstanceOf(SeriesCallError);
    await expect(deadline).rejects.toMatchObject({ code: GrpcStatus.DEADLINE_EXCEEDED });
    const abort = new AbortController();
    const cancelled = drain(c, { signal: abort.signal });
    setTimeout(() => abort.abort(), 50);
    await expect(cancelled).rejects.toMatchObject({ code: GrpcStatus.CANCELLED });
    await Promise.all(closed);
    expect(timeouts).toEqual(['200m', undefined]);
  });

  it('fails with Unavailable where nothing listens, and connects again once something does', async () => {
    // A port that was free a moment ago.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const address = `127.0.0.1:${port}`;
    const c = new SeriesConnection(address);
    connections.push(c);
    await expect(drain(c)).rejects.toMatchObject({ code: GrpcStatus.UNAVAILABLE });
    const server = http2.createServer();
    server.on('stream', (stream) => {
      stream.on('data', () => {});
      stream.on('end', () => stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '0' }, { endStream: true }));
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    servers.push(server);
    expect(await drain(c)).toEqual([]);
  });
});
