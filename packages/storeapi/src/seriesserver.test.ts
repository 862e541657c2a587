// SeriesCall's own rules; the calls it serves are tested end to end in server.test.ts.
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { GrpcStatus, Method, StoreError } from './grpc.js';
import { percentEncoded, SeriesCall } from './seriesserver.js';

describe('SeriesCall', () => {
  it('percent-encodes status messages as gRPC does: bytes outside printable ASCII, and %', () => {
    expect(percentEncoded('Deadline exceeded')).toBe('Deadline exceeded');
    expect(percentEncoded('50% of "blocks"\nfailed: é')).toBe('50%25 of "blocks"%0Afailed: %C3%A9');
    expect(decodeURIComponent(percentEncoded('50% of "blocks"\nfailed: é'))).toBe('50% of "blocks"\nfailed: é');
  });

  it('a signal first asked for after the client cancelled is already aborted, saying why', async () => {
    const server = http2.createServer();
    const calls: SeriesCall[] = [];
    const closed = new Promise<void>((resolve) =>
      server.on('stream', (stream, headers) => {
        calls.push(new SeriesCall(stream, headers));
        stream.once('close', () => resolve());
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      const stream = session.request({ ':method': 'POST', ':path': Method.Series, 'content-type': 'application/grpc' });
      stream.on('error', () => {});
      await new Promise((resolve) => stream.once('ready', resolve));
      await expect.poll(() => calls.length).toBe(1);
      stream.close(http2.constants.NGHTTP2_CANCEL);
      await closed;
      const call = calls[0]!;
      expect(call.aborted).toBe(true);
      expect(call.reason).toMatchObject({ code: GrpcStatus.CANCELLED });
      expect(call.signal.aborted).toBe(true);
      expect(call.signal.reason).toBeInstanceOf(StoreError);
    } finally {
      session.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
