/**
 * `StoreServer` is what every StoreAPI component (sidecar, store gateway, querier) implements;
 * `serveStore` exposes one over gRPC as thanos.Store and thanos.info.Info (and a querier's PromQL as
 * thanos.Query).
 *
 * Transport concerns live here so each implementation stays about data: SeriesBatch framing
 * (response_batch_size), the `limit` cap, back-pressure, turning warnings into Aborted under the ABORT
 * strategy, status codes and per-call metrics.
 */
import * as grpc from '@grpc/grpc-js';
import {
  type Compression,
  GRPC_CODE_NAMES,
  GrpcStatus,
  infoService,
  Method,
  type ServerTLS,
  serverCredentials,
  serverOptions,
  StoreError,
  storeService,
  TENANT_METADATA,
} from './grpc.js';
import { encodedSeriesSize, type SeriesMessages } from './codec.js';
import { SeriesCall, type SeriesFrameOut } from './seriesserver.js';
import { metadataService, type MetricMetadata, type MetricMetadataFrame, type MetricMetadataRequest } from './metadata.js';
import { rulesService, type RuleGroup, type RulesFrame, type RulesRequest } from './rules.js';
import { writeableService, type WriteableRequest } from './writeable.js';
import { exemplarsService, type ExemplarData, type ExemplarsFrame, type ExemplarsRequest } from './exemplars.js';
import { targetsService, type TargetDiscovery, type TargetsFrame, type TargetsRequest } from './targets.js';
import { queryService, type QueryFrame, type QueryRangeRequest, type QueryRequest } from './query.js';
import { inContext, startServerSpan } from './tracing.js';
import {
  type AnyMessage,
  type InfoResponse,
  isAbort,
  type LabelNamesRequest,
  type LabelNamesResponse,
  type LabelValuesRequest,
  type LabelValuesResponse,
  type SeriesRequest,
  type SeriesResponse,
  type StoreSeries,
} from './messages.js';

/**
 * What a StoreServer yields; batching into SeriesBatch frames is done by the transport. `run`: several
 * series in order, as if each were yielded alone, for one step of the iteration instead of one per
 * series (a server holding its whole answer before sending, such as the store gateway).
 */
export type SeriesFrame = { series: StoreSeries } | { run: readonly StoreSeries[] } | { warning: string } | { hints: AnyMessage };

export interface CallContext {
  /** Aborted when the client cancels or the deadline passes. */
  readonly signal: AbortSignal;
  /** Who the call is for, as the caller named them in its `thanos-tenant` metadata (Thanos' query tenancy). */
  readonly tenant?: string | undefined;
}

export interface StoreServer {
  /** Throw (e.g. StoreError Unavailable) while not ready: Thanos' querier then skips this endpoint. */
  info(ctx: CallContext): Promise<InfoResponse>;
  /**
   * Series sorted by label set (after appending external labels and removing `withoutReplicaLabels`).
   * Implementations may ignore `limit` and `responseBatchSize`: the transport applies both.
   */
  series(req: SeriesRequest, ctx: CallContext): AsyncIterable<SeriesFrame>;
  labelNames(req: LabelNamesRequest, ctx: CallContext): Promise<LabelNamesResponse>;
  labelValues(req: LabelValuesRequest, ctx: CallContext): Promise<LabelValuesResponse>;
  /** Served as thanos.Metadata when implemented (and then advertised in Info's metric_metadata). */
  metricMetadata?(req: MetricMetadataRequest, ctx: CallContext): Promise<{ metadata: MetricMetadata; warnings: string[] }>;
  /** Served as thanos.Rules when implemented (and then advertised in Info's rules). */
  rules?(req: RulesRequest, ctx: CallContext): Promise<{ groups: RuleGroup[]; warnings: string[] }>;
  /** Served as thanos.Exemplars when implemented (and then advertised in Info's exemplars). */
  exemplars?(req: ExemplarsRequest, ctx: CallContext): Promise<{ data: ExemplarData[]; warnings: string[] }>;
  /** Served as thanos.Targets when implemented (and then advertised in Info's targets). */
  targets?(req: TargetsRequest, ctx: CallContext): Promise<{ targets: TargetDiscovery; warnings: string[] }>;
}

/** Thanos' Query API: PromQL evaluated for a ruler or a distributed-mode querier (query.ts). */
export interface QueryApiServer {
  query(req: QueryRequest, ctx: CallContext): Promise<QueryFrame[]>;
  queryRange(req: QueryRangeRequest, ctx: CallContext): Promise<QueryFrame[]>;
}

/** Receives per-call events, for grpc_server_* metrics and request logs. */
export interface GrpcServerObserver {
  /** `call.peer` is the client's `host:port`. */
  started(service: string, method: string, call: { peer: string }): void;
  /** `details` is the status message ('' when OK). */
  handled(service: string, method: string, code: string, seconds: number, call: { peer: string }, details: string): void;
}

export interface ServeOptions {
  /** host:port; port 0 picks a free port. */
  address: string;
  tls?: ServerTLS;
  compression?: Compression;
  observer?: GrpcServerObserver;
  /** How long stop() waits for running calls by default (Thanos' --grpc-grace-period; default 5s). */
  gracePeriodMs?: number;
  /** Connections are asked to go after this long, so that clients spread over new replicas (Thanos' --grpc-server-max-connection-age; default: never). */
  maxConnectionAgeMs?: number;
  /** Served as thanos.Query beside the StoreAPI when given (and then advertised in Info's query). */
  queryApi?: QueryApiServer;
  /** Served as thanos.WriteableStore when given: a receiver's writes forwarded by the others of its hashring. */
  writeable?: (req: WriteableRequest, ctx: CallContext) => Promise<void>;
}

export interface ServingStore {
  /** host:port actually bound. */
  readonly address: string;
  readonly port: number;
  /** Stops accepting calls, waits up to `graceMs` for running ones, then cancels them. */
  stop(graceMs?: number): Promise<void>;
}

interface ServiceError {
  code: grpc.status;
  details: string;
}

/** `err` as a gRPC status; `signal` (or a SeriesCall) says whether and why the call was aborted. */
function toServiceError(err: unknown, signal: Pick<AbortSignal, 'aborted' | 'reason'>): ServiceError {
  if (err instanceof StoreError) return { code: err.code, details: err.message };
  if (signal.aborted) return signal.reason instanceof StoreError ? { code: signal.reason.code, details: signal.reason.message } : { code: GrpcStatus.CANCELLED, details: 'call cancelled by the client' };
  return { code: GrpcStatus.UNKNOWN, details: err instanceof Error ? err.message : String(err) };
}

function callContext(call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>): {
  ctx: CallContext;
  done: () => void;
} {
  const ac = new AbortController();
  const onCancel = () => ac.abort(new Error('call cancelled by the client'));
  call.once('cancelled', onCancel);
  const tenant = call.metadata.get(TENANT_METADATA)[0];
  return { ctx: { signal: ac.signal, ...(tenant !== undefined ? { tenant: String(tenant) } : {}) }, done: () => call.off('cancelled', onCancel) };
}

/**
 * A SeriesBatch is also cut once it holds this many encoded bytes (clients take batches of any size up
 * to response_batch_size). Larger gRPC messages cost both ends more than they save: a grpc-js client
 * allocates and copies each one whole, and the client decodes nothing until all of it has arrived.
 */
const MAX_BATCH_BYTES = 256 * 1024;

/** Frames cut while a write is in flight are held up to this many bytes; then the producer waits for it. */
const MAX_PENDING_BYTES = 256 * 1024;

/**
 * Cuts series into frames (SeriesBatch frames of response_batch_size series, or one series each without
 * batching) and writes them. A frame goes out at once while nothing is being written; the frames cut
 * meanwhile are written together once the transport is free, each still a gRPC message of its own (as
 * grpc-go's transport coalesces messages): a write per frame costs both ends a wake-up, and this one a
 * syscall. Waits for 'drain' when the HTTP/2 stream's buffer is full.
 */
class FrameSink {
  readonly #call: SeriesCall;
  readonly #batchSize: number;
  /** Series cut into frames and not yet written, then those of the frame being filled; each one's encoded size. */
  #series: StoreSeries[] = [];
  #sizes: number[] = [];
  /** Where each frame cut ends in #series. */
  #ends: number[] = [];
  #batchBytes = 0;
  #pendingBytes = 0;
  /** Frames handed to the stream and not yet written to the socket. */
  #inFlight = 0;
  /** Resolves the producer waiting for the write in flight (pending frames at their limit). */
  #wake: (() => void) | undefined;
  /** The call is ending (its status follows): nothing more is written. */
  #closed = false;

  constructor(call: SeriesCall, batchSize: number) {
    this.#call = call;
    this.#batchSize = Math.max(1, batchSize);
  }

  /** Undefined when there is nothing to wait for (most series): no promise and no await per series. */
  series(s: StoreSeries): Promise<void> | undefined {
    const size = encodedSeriesSize(s);
    this.#series.push(s);
    this.#sizes.push(size);
    this.#batchBytes += size;
    if (this.#batchBytes < MAX_BATCH_BYTES && this.#open() < this.#batchSize) return undefined;
    this.#cut();
    if (this.#inFlight === 0) return this.#writePending();
    return this.#pendingBytes >= MAX_PENDING_BYTES ? this.#whenWritten() : undefined;
  }

  async other(frame: SeriesResponse): Promise<void> {
    await this.flush();
    await this.#write(frame);
  }

  /** After the last flush, or on an error: series still waiting are dropped (the call fails anyway). */
  close(): void {
    this.#closed = true;
  }

  /** Writes every series held (the stream queues it behind a write in flight). */
  flush(): Promise<void> | undefined {
    if (this.#closed) return undefined;
    if (this.#open() > 0) this.#cut();
    return this.#ends.length > 0 ? this.#writePending() : undefined;
  }

  /** Series of the frame being filled. */
  #open(): number {
    return this.#series.length - (this.#ends.length > 0 ? (this.#ends[this.#ends.length - 1] as number) : 0);
  }

  #cut(): void {
    this.#ends.push(this.#series.length);
    this.#pendingBytes += this.#batchBytes;
    this.#batchBytes = 0;
  }

  /** Writes the frames cut so far, in one buffer; the frame being filled stays. */
  #writePending(): Promise<void> | undefined {
    const ends = this.#ends;
    const n = ends[ends.length - 1] as number;
    const frame: SeriesMessages = { messages: this.#series, sizes: this.#sizes, ends, batched: this.#batchSize > 1 };
    this.#series = this.#series.splice(n);
    this.#sizes = this.#sizes.splice(n);
    this.#ends = [];
    this.#pendingBytes = 0;
    return this.#write(frame);
  }

  #whenWritten(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onClose = () => reject(new Error('stream closed while writing'));
      this.#call.once('close', onClose);
      this.#wake = () => {
        this.#call.off('close', onClose);
        resolve();
      };
    });
  }

  /** Undefined when the stream took the frame without asking to wait for 'drain'. */
  #write(frame: SeriesFrameOut): Promise<void> | undefined {
    this.#inFlight++;
    const onWritten = (err: Error | null | undefined) => {
      if (--this.#inFlight > 0 || err != null) return;
      // The transport is free: the frames cut meanwhile go out now, in one write (whose 'drain', if it
      // needs one, the next series waits for), and a producer waiting for room goes on.
      if (this.#ends.length > 0 && !this.#closed) this.#writePending()?.catch(() => {});
      const wake = this.#wake;
      this.#wake = undefined;
      wake?.();
    };
    if (this.#call.write(frame, onWritten)) return undefined;
    return new Promise<void>((resolve, reject) => {
      const onDrain = () => {
        this.#call.off('close', onClose);
        resolve();
      };
      const onClose = () => {
        this.#call.off('drain', onDrain);
        reject(new Error('stream closed while writing'));
      };
      this.#call.once('drain', onDrain);
      this.#call.once('close', onClose);
    });
  }
}

async function streamSeries(impl: StoreServer, call: SeriesCall): Promise<void> {
  const req = await call.request();
  const abort = isAbort(req);
  const limit = req.limit > 0 ? req.limit : Infinity;
  const sink = new FrameSink(call, req.responseBatchSize);
  let sent = 0;
  try {
    frames: for await (const frame of impl.series(req, call)) {
      const one = 'series' in frame;
      if (one || 'run' in frame) {
        const n = one ? 1 : frame.run.length;
        for (let i = 0; i < n; i++) {
          if (sent >= limit) break frames;
          const written = sink.series(one ? frame.series : (frame.run[i] as StoreSeries));
          if (written !== undefined) await written;
          sent++;
        }
      } else if ('warning' in frame) {
        // Under ABORT a partial result is an error, as Thanos' proxy turns store warnings into Aborted.
        if (abort) throw new StoreError(GrpcStatus.ABORTED, frame.warning);
        await sink.other(frame);
      } else {
        await sink.other(frame);
      }
    }
    await sink.flush();
  } finally {
    sink.close();
  }
}

function limited(values: string[], limit: number): string[] {
  return limit > 0 && values.length > limit ? values.slice(0, limit) : values;
}

/** Serves `impl` as thanos.Store and thanos.info.Info (and thanos.Metadata, Rules, Exemplars and Targets, if it has them; Query and WriteableStore if given) until `stop()`. */
export async function serveStore(impl: StoreServer, opts: ServeOptions): Promise<ServingStore> {
  const server = new grpc.Server(serverOptions(opts.compression, opts.maxConnectionAgeMs));
  const observer = opts.observer;

  function unary<Req, Res>(service: string, name: string, fn: (req: Req, ctx: CallContext) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
      const started = performance.now();
      const info = { peer: call.getPeer() };
      observer?.started(service, name, info);
      const traced = startServerSpan(service, name, info.peer, call.metadata.getMap());
      const { ctx, done } = callContext(call as grpc.ServerUnaryCall<unknown, unknown>);
      inContext(traced.ctx, () => fn(call.request, ctx)).then(
        (res) => {
          done();
          observer?.handled(service, name, 'OK', (performance.now() - started) / 1000, info, '');
          traced.span.end(GrpcStatus.OK, '');
          callback(null, res);
        },
        (err: unknown) => {
          done();
          const e = toServiceError(err, ctx.signal);
          observer?.handled(service, name, GRPC_CODE_NAMES[e.code] ?? 'Unknown', (performance.now() - started) / 1000, info, e.details);
          traced.span.end(e.code, e.details);
          callback(e);
        },
      );
    };
  }

  server.serveStreams(Method.Series, (stream, headers) => {
    const started = performance.now();
    const socket = stream.session?.socket;
    const info = { peer: `${socket?.remoteAddress ?? ''}:${socket?.remotePort ?? ''}` };
    observer?.started('thanos.Store', 'Series', info);
    const traced = startServerSpan('thanos.Store', 'Series', info.peer, headers);
    const call = new SeriesCall(stream, headers);
    inContext(traced.ctx, () => streamSeries(impl, call)).then(
      () => {
        observer?.handled('thanos.Store', 'Series', 'OK', (performance.now() - started) / 1000, info, '');
        traced.span.end(GrpcStatus.OK, '');
        call.finish(GrpcStatus.OK, 'OK');
      },
      (err: unknown) => {
        const e = toServiceError(err, call);
        observer?.handled('thanos.Store', 'Series', GRPC_CODE_NAMES[e.code] ?? 'Unknown', (performance.now() - started) / 1000, info, e.details);
        traced.span.end(e.code, e.details);
        call.finish(e.code, e.details);
      },
    );
  });

  server.addService(storeService, {
    LabelNames: unary('thanos.Store', 'LabelNames', async (req: LabelNamesRequest, ctx) => {
      const res = await impl.labelNames(req, ctx);
      return { ...res, names: limited(res.names, req.limit) };
    }),
    LabelValues: unary('thanos.Store', 'LabelValues', async (req: LabelValuesRequest, ctx) => {
      const res = await impl.labelValues(req, ctx);
      return { ...res, values: limited(res.values, req.limit) };
    }),
  });
  /** A server-streaming method whose answer is made at once and sent as the frames `fn` gives. */
  function frames<Req, Frame>(service: string, name: string, fn: (req: Req, ctx: CallContext) => Promise<Frame[]>): grpc.handleServerStreamingCall<Req, Frame> {
    return (call) => {
      const started = performance.now();
      const info = { peer: call.getPeer() };
      observer?.started(service, name, info);
      const traced = startServerSpan(service, name, info.peer, call.metadata.getMap());
      const { ctx, done } = callContext(call as grpc.ServerWritableStream<unknown, unknown>);
      inContext(traced.ctx, () => fn(call.request, ctx)).then(
        (out) => {
          done();
          for (const f of out) call.write(f);
          observer?.handled(service, name, 'OK', (performance.now() - started) / 1000, info, '');
          traced.span.end(GrpcStatus.OK, '');
          call.end();
        },
        (err: unknown) => {
          done();
          const e = toServiceError(err, ctx.signal);
          observer?.handled(service, name, GRPC_CODE_NAMES[e.code] ?? 'Unknown', (performance.now() - started) / 1000, info, e.details);
          traced.span.end(e.code, e.details);
          call.emit('error', e);
        },
      );
    };
  }

  const metricMetadata = impl.metricMetadata?.bind(impl);
  if (metricMetadata !== undefined) {
    server.addService(metadataService, {
      MetricMetadata: frames('thanos.Metadata', 'MetricMetadata', async (req: MetricMetadataRequest, ctx): Promise<MetricMetadataFrame[]> => {
        const { metadata, warnings } = await metricMetadata(req, ctx);
        return [...warnings.map((warning) => ({ warning })), { metadata }];
      }),
    });
  }
  const rules = impl.rules?.bind(impl);
  if (rules !== undefined) {
    server.addService(rulesService, {
      Rules: frames('thanos.Rules', 'Rules', async (req: RulesRequest, ctx): Promise<RulesFrame[]> => {
        const { groups, warnings } = await rules(req, ctx);
        return [...warnings.map((warning) => ({ warning })), ...groups.map((group) => ({ group }))];
      }),
    });
  }
  const exemplars = impl.exemplars?.bind(impl);
  if (exemplars !== undefined) {
    server.addService(exemplarsService, {
      Exemplars: frames('thanos.Exemplars', 'Exemplars', async (req: ExemplarsRequest, ctx): Promise<ExemplarsFrame[]> => {
        const { data, warnings } = await exemplars(req, ctx);
        return [...warnings.map((warning) => ({ warning })), ...data.map((d) => ({ data: d }))];
      }),
    });
  }
  const targets = impl.targets?.bind(impl);
  if (targets !== undefined) {
    server.addService(targetsService, {
      Targets: frames('thanos.Targets', 'Targets', async (req: TargetsRequest, ctx): Promise<TargetsFrame[]> => {
        const res = await targets(req, ctx);
        return [...res.warnings.map((warning) => ({ warning })), { targets: res.targets }];
      }),
    });
  }
  const queryApi = opts.queryApi;
  if (queryApi !== undefined) {
    server.addService(queryService, {
      Query: frames('thanos.Query', 'Query', (req: QueryRequest, ctx) => queryApi.query(req, ctx)),
      QueryRange: frames('thanos.Query', 'QueryRange', (req: QueryRangeRequest, ctx) => queryApi.queryRange(req, ctx)),
    });
  }
  const writeable = opts.writeable;
  if (writeable !== undefined) {
    server.addService(writeableService, {
      RemoteWrite: unary('thanos.WriteableStore', 'RemoteWrite', async (req: WriteableRequest, ctx) => {
        await writeable(req, ctx);
        return {} as Record<string, never>;
      }),
    });
  }
  server.addService(infoService, {
    Info: unary('thanos.info.Info', 'Info', async (_req: Record<string, never>, ctx) => {
      const info = await impl.info(ctx);
      return queryApi !== undefined ? { ...info, query: true } : info;
    }),
  });

  // `:port` means every interface, as in Go (the Prometheus operator starts Thanos' sidecar with
  // --grpc-address=:10901); grpc-js resolves an empty host to nothing.
  const address = opts.address.startsWith(':') ? `0.0.0.0${opts.address}` : opts.address;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, serverCredentials(opts.tls), (err, p) => (err ? reject(new Error(`gRPC listen on ${opts.address}: ${err.message}`)) : resolve(p)));
  });
  const host = address.slice(0, address.lastIndexOf(':'));
  return {
    address: `${host}:${port}`,
    port,
    async stop(graceMs = opts.gracePeriodMs ?? 5_000) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}
