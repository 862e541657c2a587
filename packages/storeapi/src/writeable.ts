/**
 * Thanos' WriteableStore API (proto/thanos/writeable.proto): the receivers of a hashring forward the
 * series of a remote write to the receivers that own them, and to the receivers that keep their copies.
 *
 *   WriteRequest { repeated prometheus_copy.TimeSeries timeseries = 1; string tenant = 2; int64 replica = 3 }
 *   WriteResponse {}
 *
 * Series travel as their encoded prompb.TimeSeries bytes: a receiver forwards what it was sent as it was
 * sent (exemplars and histograms included) without decoding and encoding it again, and the receiver
 * that stores them decodes them as it decodes a remote write. `replica` is 0 for a write not yet
 * distributed, else the copy it is (1-indexed), which is written and not forwarded again.
 */
import type * as grpc from '@grpc/grpc-js';
import { ProtoReader } from './wire/reader.js';
import { ProtoWriter } from './wire/writer.js';

export interface WriteableRequest {
  /** Each series' prompb.TimeSeries message, without its field tag and length. */
  timeseries: readonly Uint8Array[];
  tenant: string;
  replica: number;
}

export const REMOTE_WRITE_METHOD = '/thanos.WriteableStore/RemoteWrite';

export function encodeWriteableRequest(req: WriteableRequest): Buffer {
  let size = 16 + req.tenant.length * 3;
  for (const ts of req.timeseries) size += ts.length + 6;
  const w = new ProtoWriter(size);
  for (const ts of req.timeseries) w.bytes(1, ts, true);
  return w.string(2, req.tenant).int64(3, req.replica).finish();
}

/** Throws on bytes that are not a WriteRequest. The series are views into `buf`. */
export function decodeWriteableRequest(buf: Uint8Array): WriteableRequest {
  const out = { timeseries: [] as Uint8Array[], tenant: '', replica: 0 };
  const r = new ProtoReader(buf);
  while (!r.done) {
    const t = r.tag();
    if (t === 10) out.timeseries.push(r.bytes());
    else if (t === 18) out.tenant = r.string();
    else if (t === 24) out.replica = r.int64();
    else r.skip(t & 7);
  }
  return out;
}

const EMPTY = Buffer.alloc(0);

export const writeableService = {
  RemoteWrite: {
    path: REMOTE_WRITE_METHOD,
    requestStream: false,
    responseStream: false,
    requestSerialize: encodeWriteableRequest,
    requestDeserialize: decodeWriteableRequest,
    responseSerialize: (_res: Record<string, never>) => EMPTY,
    responseDeserialize: (_buf: Buffer) => ({}) as Record<string, never>,
    originalName: 'RemoteWrite',
  },
} satisfies grpc.ServiceDefinition;
