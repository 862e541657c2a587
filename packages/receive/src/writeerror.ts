/**
 * Why a write failed, in Thanos' receive handler's terms (pkg/receive/handler.go): what the client is
 * answered (HTTP for a remote write, a gRPC status for a write another receiver forwarded) follows from
 * it, and a router reads a peer's gRPC status back into it.
 */
import { GrpcStatus } from '@strata/storeapi';

export type WriteFailure =
  /** Samples or series the TSDB refuses whatever is tried again: out of order, duplicate, bad labels. */
  | 'conflict'
  /** The receiver is starting (its WALs are being replayed). */
  | 'not-ready'
  /** Too few receivers took the write: worth sending again. */
  | 'unavailable'
  /** A forwarded write names a copy beyond the replication factor. */
  | 'bad-replica'
  /** A series names a tenant that is not valid (--receive.split-tenant-label-name). */
  | 'invalid'
  | 'internal';

export class WriteError extends Error {
  constructor(
    readonly failure: WriteFailure,
    message: string,
  ) {
    super(message);
    this.name = 'WriteError';
  }
}

export const HTTP_STATUS: Readonly<Record<WriteFailure, number>> = { conflict: 409, 'not-ready': 503, unavailable: 503, 'bad-replica': 400, invalid: 400, internal: 500 };

export const GRPC_STATUS: Readonly<Record<WriteFailure, GrpcStatus>> = {
  conflict: GrpcStatus.ALREADY_EXISTS,
  'not-ready': GrpcStatus.UNAVAILABLE,
  unavailable: GrpcStatus.UNAVAILABLE,
  'bad-replica': GrpcStatus.INVALID_ARGUMENT,
  invalid: GrpcStatus.INVALID_ARGUMENT,
  internal: GrpcStatus.INTERNAL,
};

/** A peer's answer to a forwarded write, as Thanos' isConflict/isUnavailable read a gRPC status. */
export function failureOfStatus(code: GrpcStatus | undefined): WriteFailure {
  if (code === GrpcStatus.ALREADY_EXISTS) return 'conflict';
  if (code === GrpcStatus.UNAVAILABLE) return 'unavailable';
  return 'internal';
}
