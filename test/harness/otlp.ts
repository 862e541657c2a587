// An OTLP trace receiver on 127.0.0.1 for tests: what an OpenTelemetry collector, Jaeger or Tempo does
// with the spans Strata exports, reduced to keeping them. No collector is installable here (Debian
// packages none), so this stands in for one. Both transports: OTLP/HTTP (protobuf, POST /v1/traces,
// gzip or not) and OTLP/gRPC (TraceService/Export).
import { createServer, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

// The fields of opentelemetry/proto/{collector/trace,trace,common,resource}/v1 that the tests read.
const PROTO = `
syntax = "proto3";
package otlp;
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ExportTraceServiceResponse {}
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
message Resource { repeated KeyValue attributes = 1; }
message ScopeSpans { repeated Span spans = 2; }
message Span {
  bytes trace_id = 1;
  bytes span_id = 2;
  bytes parent_span_id = 4;
  string name = 5;
  int32 kind = 6;
  fixed64 start_time_unix_nano = 7;
  fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9;
  Status status = 15;
}
message Status { string message = 2; int32 code = 3; }
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue {
  oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; }
}
`;
const root = protobuf.parse(PROTO, { keepCase: true }).root;
const Request = root.lookupType('otlp.ExportTraceServiceRequest');
const Response = root.lookupType('otlp.ExportTraceServiceResponse');

export const SPAN_KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3 } as const;

export interface ReceivedSpan {
  /** The resource's service.name: which process sent it. */
  service: string;
  traceId: string;
  spanId: string;
  /** '' for a trace's root. */
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, string | number | boolean>;
  /** 0 unset, 1 ok, 2 error. */
  statusCode: number;
  statusMessage: string;
}

export interface OtlpReceiver {
  /** host:port of OTLP/HTTP (POST /v1/traces). */
  readonly http: string;
  /** host:port of OTLP/gRPC. */
  readonly grpc: string;
  readonly spans: ReceivedSpan[];
  /** Export requests refused by answering 503 while true (an outage of the collector). */
  unavailable: boolean;
  stop(): Promise<void>;
}

interface Decoded {
  resource_spans?: { resource?: { attributes?: DecodedKeyValue[] }; scope_spans?: { spans?: DecodedSpan[] }[] }[];
}
interface DecodedKeyValue {
  key: string;
  value?: { string_value?: string; bool_value?: boolean; int_value?: number | { toNumber(): number }; double_value?: number };
}
interface DecodedSpan {
  trace_id: Uint8Array;
  span_id: Uint8Array;
  parent_span_id?: Uint8Array;
  name: string;
  kind?: number;
  attributes?: DecodedKeyValue[];
  status?: { message?: string; code?: number };
}

function attributes(kvs: DecodedKeyValue[] = []): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of kvs) {
    const v = value?.string_value ?? value?.bool_value ?? value?.double_value ?? value?.int_value;
    if (v !== undefined) out[key] = typeof v === 'object' ? v.toNumber() : v;
  }
  return out;
}

const hex = (b: Uint8Array | undefined) => Buffer.from(b ?? []).toString('hex');

function collect(body: Uint8Array, into: ReceivedSpan[]): void {
  const req = Request.toObject(Request.decode(body), { longs: Number, defaults: false }) as Decoded;
  for (const rs of req.resource_spans ?? []) {
    const service = String(attributes(rs.resource?.attributes)['service.name'] ?? '');
    for (const ss of rs.scope_spans ?? [])
      for (const s of ss.spans ?? []) {
        into.push({
          service,
          traceId: hex(s.trace_id),
          spanId: hex(s.span_id),
          parentSpanId: hex(s.parent_span_id),
          name: s.name,
          kind: s.kind ?? 0,
          attributes: attributes(s.attributes),
          statusCode: s.status?.code ?? 0,
          statusMessage: s.status?.message ?? '',
        });
      }
  }
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const state = { unavailable: false };
  const http: Server = createServer((req, res) => {
    const pieces: Buffer[] = [];
    req.on('data', (b: Buffer) => pieces.push(b));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') return void res.writeHead(404).end();
      if (state.unavailable) return void res.writeHead(503).end();
      try {
        const body = Buffer.concat(pieces);
        collect(req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body, spans);
      } catch (e) {
        return void res.writeHead(400).end((e as Error).message);
      }
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(Response.encode({}).finish());
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const server = new grpc.Server();
  server.addService(
    {
      Export: {
        path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
        requestStream: false,
        responseStream: false,
        requestSerialize: (b: Uint8Array) => Buffer.from(b),
        requestDeserialize: (b: Buffer) => b,
        responseSerialize: () => Buffer.from(Response.encode({}).finish()),
        responseDeserialize: (b: Buffer) => b,
      },
    },
    {
      Export: (call: grpc.ServerUnaryCall<Buffer, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        if (state.unavailable) return callback({ code: grpc.status.UNAVAILABLE, details: 'collector down' });
        collect(call.request, spans);
        callback(null, {});
      },
    },
  );
  const grpcPort = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))));
  const address = http.address();
  return {
    http: `127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`,
    grpc: `127.0.0.1:${grpcPort}`,
    spans,
    get unavailable() {
      return state.unavailable;
    },
    set unavailable(v: boolean) {
      state.unavailable = v;
    },
    async stop() {
      server.forceShutdown();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
