/**
 * @strata/storeapi: Thanos' StoreAPI (thanos.Store), InfoAPI (thanos.info.Info), Metadata, Rules, Exemplars and Targets APIs over gRPC, wire-compatible
 * with Thanos. The .proto files ship in proto/ (see PROTO_DIR); the hot paths use the hand-written codec.
 */
export * from './messages.js';
export * from './codec.js';
export * from './convert.js';
export * from './hash.js';
export * from './shard.js';
export { chunkWasm, type ChunkWasm } from './chunkwasm.js';
export * from './server.js';
export * from './client.js';
export * from './metadata.js';
export * from './rules.js';
export * from './exemplars.js';
export * from './targets.js';
export * from './query.js';
export * from './writeable.js';
export * from './prompb.js';
export { formatGoTime, parseGoTime, ZERO_TIME, type Timestamp } from './timestamp.js';
export { SeriesCallError } from './seriesclient.js';
export * from './proto.js';
export * from './acceptance.js';
export { ProtoReader, WireType } from './wire/reader.js';
export { delimitedFieldSize, int64FieldSize, ProtoWriter, putVarint32 } from './wire/writer.js';
export {
  type ClientTLS,
  type Compression,
  GRPC_CODE_NAMES,
  GrpcStatus,
  MAX_MESSAGE_BYTES,
  Method,
  parseTlsVersion,
  TENANT_METADATA,
  type ServerTLS,
  StoreError,
} from './grpc.js';
export * from './hints.js';
export * from './limits.js';
export * from './remoteread.js';
