// The Exemplars API's codec against protobufjs on the shipped exemplars.proto (an implementation
// independent of ours), and the transport.
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { StoreClient } from './client.js';
import { decodeExemplarsRequest, decodeExemplarsResponse, encodeExemplarsRequest, encodeExemplarsResponse, exemplarsRequest, type ExemplarData } from './exemplars.js';
import { PROTO_DIR } from './proto.js';
import { serveStore } from './server.js';

const root = new protobuf.Root();
root.resolvePath = (_origin, target) => (target.startsWith('/') ? target : join(PROTO_DIR, target));
await root.load(join(PROTO_DIR, 'thanos/exemplars.proto'), { keepCase: true });
const T = (name: string) => root.lookupType(name);
const asObject = (type: string, buf: Uint8Array) => T(type).toObject(T(type).decode(buf), { longs: Number, enums: Number, defaults: false });

const data: ExemplarData = {
  seriesLabels: [{ name: '__name__', value: 'http_requests_total' }, { name: 'replica', value: 'r0' }],
  exemplars: [
    { labels: [{ name: 'trace_id', value: 'abc' }], value: 1.5, ts: 1_600_000_000_123 },
    { labels: [], value: -2, ts: -5 },
  ],
};

describe('Exemplars API codec vs protobufjs', () => {
  it('ExemplarsRequest', () => {
    const req = exemplarsRequest({ query: 'rate(x[5m])', start: 1_600_000_000_000, end: 1_600_000_600_000, partialResponseStrategy: 1 });
    expect(asObject('thanos.ExemplarsRequest', encodeExemplarsRequest(req))).toEqual({ query: 'rate(x[5m])', start: 1_600_000_000_000, end: 1_600_000_600_000, partial_response_strategy: 1 });
    expect(decodeExemplarsRequest(T('thanos.ExemplarsRequest').encode({ query: 'up', start: -1, end: 2 }).finish())).toEqual(exemplarsRequest({ query: 'up', start: -1, end: 2 }));
  });

  it('ExemplarsResponse, both ways', () => {
    const ours = encodeExemplarsResponse({ data });
    expect(asObject('thanos.ExemplarsResponse', ours)).toEqual({
      data: {
        seriesLabels: { labels: [{ name: '__name__', value: 'http_requests_total' }, { name: 'replica', value: 'r0' }] },
        exemplars: [{ labels: { labels: [{ name: 'trace_id', value: 'abc' }] }, value: 1.5, ts: 1_600_000_000_123 }, { labels: {}, value: -2, ts: -5 }],
      },
    });
    expect(decodeExemplarsResponse(T('thanos.ExemplarsResponse').encode(T('thanos.ExemplarsResponse').decode(ours)).finish())).toEqual({ data });
    expect(decodeExemplarsResponse(encodeExemplarsResponse({ warning: 'w' }))).toEqual({ warning: 'w' });
  });
});

describe('thanos.Exemplars over gRPC', () => {
  it('serves the series and warnings of a StoreServer with exemplars', async () => {
    const unused = () => Promise.reject(new Error('not called'));
    const served = await serveStore(
      { info: unused, series: () => ({ [Symbol.asyncIterator]: () => ({ next: unused }) }), labelNames: unused, labelValues: unused, exemplars: async (req) => ({ data: req.query === 'none' ? [] : [data], warnings: ['w'] }) },
      { address: '127.0.0.1:0' },
    );
    const client = new StoreClient(served.address);
    try {
      expect(await client.exemplars(exemplarsRequest({ query: 'x' }))).toEqual({ data: [data], warnings: ['w'] });
      expect(await client.exemplars(exemplarsRequest({ query: 'none' }))).toEqual({ data: [], warnings: ['w'] });
    } finally {
      client.close();
      await served.stop();
    }
  });
});
