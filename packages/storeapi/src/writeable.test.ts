// The WriteableStore codec against protobufjs on the shipped writeable.proto (an implementation
// independent of ours), and a forwarded write over gRPC with the status a receiver answers.
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { StoreClient } from './client.js';
import { GrpcStatus, StoreError } from './grpc.js';
import { PROTO_DIR } from './proto.js';
import { serveStore } from './server.js';
import { decodeWriteableRequest, encodeWriteableRequest, type WriteableRequest } from './writeable.js';

const root = new protobuf.Root();
root.resolvePath = (_origin, target) => (target.startsWith('/') ? target : join(PROTO_DIR, target));
await root.load(join(PROTO_DIR, 'thanos/writeable.proto'), { keepCase: true });
const WriteRequest = root.lookupType('thanos.WriteRequest');
const TimeSeries = root.lookupType('prometheus_copy.TimeSeries');

const series = (name: string, t: number, v: number) => ({ labels: [{ name: '__name__', value: name }, { name: 'job', value: 'node' }], samples: [{ value: v, timestamp: t }] });
const encoded = (s: ReturnType<typeof series>) => TimeSeries.encode(s).finish();

describe('WriteRequest codec vs protobufjs', () => {
  it('ours decodes as theirs, series kept as their bytes', () => {
    const req: WriteableRequest = { timeseries: [encoded(series('up', 1000, 1)), encoded(series('load', 2000, 0.5))], tenant: 'team-a', replica: 2 };
    const theirs = WriteRequest.toObject(WriteRequest.decode(encodeWriteableRequest(req)), { longs: Number, defaults: false });
    expect(theirs).toEqual({ timeseries: [series('up', 1000, 1), series('load', 2000, 0.5)], tenant: 'team-a', replica: 2 });
  });

  it('theirs decodes as ours; absent fields are zero', () => {
    const bytes = WriteRequest.encode({ timeseries: [series('up', 1000, 1)], tenant: 't', replica: 3 }).finish();
    const ours = decodeWriteableRequest(bytes);
    expect(ours.tenant).toBe('t');
    expect(ours.replica).toBe(3);
    expect(ours.timeseries.map((b) => TimeSeries.toObject(TimeSeries.decode(b), { longs: Number }))).toEqual([series('up', 1000, 1)]);
    expect(decodeWriteableRequest(new Uint8Array())).toEqual({ timeseries: [], tenant: '', replica: 0 });
  });
});

describe('thanos.WriteableStore over gRPC', () => {
  it('delivers the request, and the server’s StoreError as the call’s status', async () => {
    const unused = () => Promise.reject(new Error('not called'));
    const got: WriteableRequest[] = [];
    const served = await serveStore(
      { info: unused, series: () => ({ [Symbol.asyncIterator]: () => ({ next: unused }) }), labelNames: unused, labelValues: unused },
      {
        address: '127.0.0.1:0',
        writeable: async (req) => {
          if (req.tenant === 'conflicting') throw new StoreError(GrpcStatus.ALREADY_EXISTS, 'add 1 samples: out of order sample');
          got.push({ ...req, timeseries: req.timeseries.map((b) => Uint8Array.from(b)) });
        },
      },
    );
    const client = new StoreClient(served.address);
    try {
      const req = { timeseries: [encoded(series('up', 1000, 1))], tenant: 'team-a', replica: 1 };
      await client.remoteWrite(req);
      expect(got).toEqual([{ ...req, timeseries: [Uint8Array.from(req.timeseries[0] as Uint8Array)] }]);
      await expect(client.remoteWrite({ ...req, tenant: 'conflicting' })).rejects.toMatchObject({ code: GrpcStatus.ALREADY_EXISTS, details: 'add 1 samples: out of order sample' });
    } finally {
      client.close();
      await served.stop();
    }
  });

  it('a server that is not a receiver answers Unimplemented', async () => {
    const unused = () => Promise.reject(new Error('not called'));
    const served = await serveStore({ info: unused, series: () => ({ [Symbol.asyncIterator]: () => ({ next: unused }) }), labelNames: unused, labelValues: unused }, { address: '127.0.0.1:0' });
    const client = new StoreClient(served.address);
    try {
      await expect(client.remoteWrite({ timeseries: [], tenant: '', replica: 0 })).rejects.toMatchObject({ code: GrpcStatus.UNIMPLEMENTED });
    } finally {
      client.close();
      await served.stop();
    }
  });
});
