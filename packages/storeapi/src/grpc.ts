/**
 * gRPC plumbing shared by server and client: service definitions with our codecs as (de)serializers,
 * channel options, credentials and status codes.
 */
import * as tls from 'node:tls';
import { gunzipSync, inflateSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import * as codec from './codec.js';
import { decodeSnappyStream } from './snappystream.js';

grpc.registerMessageDecompressor('snappy', decodeSnappyStream);

/** Decompressors of the message encodings Strata reads, by `grpc-encoding` name. */
export const DECOMPRESS: Readonly<Record<string, (message: Buffer) => Buffer>> = { gzip: gunzipSync, deflate: inflateSync, snappy: (b) => decodeSnappyStream(b) };
/** The encodings a Strata server accepts, as it advertises them (`grpc-accept-encoding`). */
export const ACCEPT_ENCODING = 'identity,deflate,gzip,snappy';

/** The gRPC metadata key a querier names a call's tenant with, as Thanos' components do (tenancy.DefaultTenantHeader, lower-cased). */
export const TENANT_METADATA = 'thanos-tenant';

/** Largest message either side accepts, as Thanos sets it (math.MaxInt32). */
export const MAX_MESSAGE_BYTES = 2 ** 31 - 1;

/** The client's HTTP/2 receive window, per connection and stream (memory held per stream at most). */
const FLOW_CONTROL_WINDOW_BYTES = 8 * 1024 * 1024;

/**
 * Compression of the messages a client sends (grpc-js 1.14 servers never compress responses). grpc-js
 * itself knows gzip and deflate only, from a closed list:
 * - Thanos' `--grpc-compression=snappy` is a compressor registered in grpc-go (snappy stream format).
 *   A querier using it sends `grpc-encoding: snappy` requests. Strata's servers decode them through
 *   `registerMessageDecompressor`, which patches/@grpc__grpc-js@1.14.7.patch adds to grpc-js, and
 *   advertise `snappy` in `grpc-accept-encoding`; answers go out uncompressed, which grpc-go accepts.
 * - Strata's client sends identity by default, which every gRPC server accepts. With `snappy` its
 *   Series calls (its own HTTP/2 client, seriesclient.ts) are sent as Thanos' querier sends them, and
 *   grpc-go servers answer in the request's encoding: Thanos' stores then answer snappy-compressed,
 *   which the client decodes. Its other calls go through grpc-js, which has no snappy: they are small
 *   (Info, label names and values) and go uncompressed.
 */
export type Compression = 'none' | 'gzip' | 'deflate' | 'snappy';

const COMPRESSION_ALGORITHM: Record<Compression, number> = { none: 0, deflate: 1, gzip: 2, snappy: 0 };

export interface ServerTLS {
  /** PEM server certificate chain and key. */
  cert: Buffer;
  key: Buffer;
  /** PEM CA bundle; when set, clients must present a certificate signed by it. */
  clientCA?: Buffer;
  /** Oldest TLS version accepted (Node's default, TLSv1.2, when absent). */
  minVersion?: tls.SecureVersion;
}

/** Thanos' names of TLS versions in its min-version flags and configs ("1.3"), and Prometheus' ("TLS13"). */
const TLS_VERSIONS: Readonly<Record<string, tls.SecureVersion>> = { '1.0': 'TLSv1', '1.1': 'TLSv1.1', '1.2': 'TLSv1.2', '1.3': 'TLSv1.3', TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' };

/** The TLS version a Thanos min-version flag or field names; throws, naming `what`, on another name. */
export function parseTlsVersion(name: string, what: string): tls.SecureVersion {
  const version = TLS_VERSIONS[name];
  if (version === undefined) throw new Error(`${what}: ${name} is not a TLS version (1.0, 1.1, 1.2 or 1.3)`);
  return version;
}

export interface ClientTLS {
  /** PEM CA bundle to verify the server; system roots when absent. */
  ca?: Buffer;
  /** Client certificate and key for mutual TLS. */
  cert?: Buffer;
  key?: Buffer;
  /** Expected server name if it differs from the dialled host. */
  serverName?: string;
  /** Accept any server certificate (Thanos' --grpc-client-tls-skip-verify): encryption without authentication. */
  skipVerify?: boolean;
  /** Oldest TLS version accepted (Node's default, TLSv1.2, when absent). */
  minVersion?: tls.SecureVersion;
}

export function channelOptions(opts: { compression?: Compression | undefined; serverName?: string | undefined }): grpc.ChannelOptions {
  return {
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    // Keepalive as Thanos' client: ping every 10s even when idle, drop the connection after 5s without an answer.
    'grpc.keepalive_time_ms': 10_000,
    'grpc.keepalive_timeout_ms': 5_000,
    'grpc.keepalive_permit_without_calls': 1,
    // An endpoint that was down is retried at least every 5s (the endpoint set's Info interval), not
    // after gRPC's default backoff of up to 2 minutes: a restarted store gateway is queried again
    // within a round or two, as the querier's health checks promise.
    'grpc.max_reconnect_backoff_ms': 5_000,
    'grpc.default_compression_algorithm': COMPRESSION_ALGORITHM[opts.compression ?? 'none'],
    // HTTP/2's default 64 KiB receive window stalls a Series stream every few frames until this process
    // gets round to acknowledging them; a larger window lets the store keep writing while we decode.
    'grpc-node.flow_control_window': FLOW_CONTROL_WINDOW_BYTES,
    'grpc.enable_channelz': 0,
    ...(opts.serverName ? { 'grpc.ssl_target_name_override': opts.serverName } : {}),
  };
}

/** `maxConnectionAgeMs`: a connection is asked to go (GOAWAY) after this long, its calls let finish (Thanos' --grpc-server-max-connection-age). */
export function serverOptions(compression: Compression | undefined, maxConnectionAgeMs?: number): grpc.ServerOptions {
  return {
    ...(maxConnectionAgeMs !== undefined && maxConnectionAgeMs > 0 ? { 'grpc.max_connection_age_ms': maxConnectionAgeMs } : {}),
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
    // Accept client pings as often as every 5s (Thanos' server enforcement policy MinTime).
    'grpc.http2.min_ping_interval_without_data_ms': 5_000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.default_compression_algorithm': COMPRESSION_ALGORITHM[compression ?? 'none'],
    // grpc-js' channelz bookkeeping (a debugging service Strata does not serve) wraps every call's
    // handler: ~4% of a sidecar's CPU on small Series calls.
    'grpc.enable_channelz': 0,
  };
}

export function serverCredentials(cfg: ServerTLS | undefined): grpc.ServerCredentials {
  if (cfg === undefined) return grpc.ServerCredentials.createInsecure();
  const creds = grpc.ServerCredentials.createSsl(cfg.clientCA ?? null, [{ cert_chain: cfg.cert, private_key: cfg.key }], cfg.clientCA !== undefined);
  if (cfg.minVersion === undefined) return creds;
  // createSsl takes no minimum version. Its secure context options go to http2.createSecureServer as
  // they are when the server binds: set through the update grpc-js' own certificate providers use.
  const updatable = creds as unknown as { updateSecureContextOptions(o: tls.SecureContextOptions): void };
  updatable.updateSecureContextOptions({ ...creds._getSecureContextOptions(), minVersion: cfg.minVersion });
  return creds;
}

export function clientCredentials(cfg: ClientTLS | undefined): grpc.ChannelCredentials {
  if (cfg === undefined) return grpc.credentials.createInsecure();
  if ((cfg.cert === undefined) !== (cfg.key === undefined)) throw new Error('client TLS needs both a certificate and a key, or neither');
  const verify = cfg.skipVerify === true ? { rejectUnauthorized: false } : {};
  // createSsl has no minimum version: a context of our own carries it.
  if (cfg.minVersion !== undefined) return grpc.credentials.createFromSecureContext(tls.createSecureContext(clientTlsOptions(cfg)), verify);
  return grpc.credentials.createSsl(cfg.ca ?? null, cfg.key ?? null, cfg.cert ?? null, verify);
}

/** `cfg` as options of Node's TLS (a secure context, tls.connect, http2.connect). */
export function clientTlsOptions(cfg: ClientTLS): tls.ConnectionOptions {
  return {
    ...(cfg.ca !== undefined ? { ca: cfg.ca } : {}),
    ...(cfg.cert !== undefined && cfg.key !== undefined ? { cert: cfg.cert, key: cfg.key } : {}),
    ...(cfg.serverName ? { servername: cfg.serverName } : {}),
    ...(cfg.skipVerify === true ? { rejectUnauthorized: false } : {}),
    ...(cfg.minVersion !== undefined ? { minVersion: cfg.minVersion } : {}),
  };
}

/** Full gRPC method paths. */
export const Method = {
  Series: '/thanos.Store/Series',
  LabelNames: '/thanos.Store/LabelNames',
  LabelValues: '/thanos.Store/LabelValues',
  Info: '/thanos.info.Info/Info',
} as const;

/** A unary method with our codecs as its (de)serializers. */
function unaryMethod<Req, Res>(
  path: string,
  encodeReq: (r: Req) => Buffer,
  decodeReq: (b: Buffer) => Req,
  encodeRes: (r: Res) => Buffer,
  decodeRes: (b: Buffer) => Res,
): grpc.MethodDefinition<Req, Res> {
  return {
    path,
    requestStream: false,
    responseStream: false,
    requestSerialize: encodeReq,
    requestDeserialize: decodeReq,
    responseSerialize: encodeRes,
    responseDeserialize: decodeRes,
    originalName: path.slice(path.lastIndexOf('/') + 1),
  };
}

/** thanos.Store through grpc-js; Series is served by seriesserver.ts and called by seriesclient.ts. */
export const storeService = {
  LabelNames: unaryMethod(
    Method.LabelNames,
    codec.encodeLabelNamesRequest,
    codec.decodeLabelNamesRequest,
    codec.encodeLabelNamesResponse,
    codec.decodeLabelNamesResponse,
  ),
  LabelValues: unaryMethod(
    Method.LabelValues,
    codec.encodeLabelValuesRequest,
    codec.decodeLabelValuesRequest,
    codec.encodeLabelValuesResponse,
    codec.decodeLabelValuesResponse,
  ),
} satisfies grpc.ServiceDefinition;

export const infoService = {
  Info: unaryMethod(Method.Info, codec.encodeInfoRequest, codec.decodeInfoRequest, codec.encodeInfoResponse, codec.decodeInfoResponse),
} satisfies grpc.ServiceDefinition;

export { status as GrpcStatus } from '@grpc/grpc-js';

/** grpc-go's names for status codes, as they appear in the grpc_code metric label. */
export const GRPC_CODE_NAMES: readonly string[] = [
  'OK',
  'Canceled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'ResourceExhausted',
  'FailedPrecondition',
  'Aborted',
  'OutOfRange',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
  'Unauthenticated',
];

/** An error with a gRPC status code; any other error thrown by a StoreServer becomes Unknown. */
export class StoreError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}
