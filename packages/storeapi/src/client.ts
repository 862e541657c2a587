/**
 * A client for any StoreAPI server (Strata's or Thanos'): Info, Series as an async iterable of frames,
 * LabelNames and LabelValues, the Metadata, Rules, Exemplars, Targets, Query and WriteableStore APIs.
 */
import * as grpc from '@grpc/grpc-js';
import { channelOptions, type ClientTLS, clientCredentials, type Compression, infoService, storeService, TENANT_METADATA } from './grpc.js';
import { mergeMetricMetadata, metadataService, type MetricMetadata, type MetricMetadataRequest } from './metadata.js';
import { rulesService, type RuleGroup, type RulesRequest } from './rules.js';
import { exemplarsService, type ExemplarData, type ExemplarsRequest } from './exemplars.js';
import { queryService, type QueryApiStats, type QueryFrame, type QueryRangeRequest, type QueryRequest } from './query.js';
import type { PromTimeSeries } from './prompb.js';
import { targetsService, type TargetDiscovery, type TargetsRequest } from './targets.js';
import { SeriesConnection } from './seriesclient.js';
import { writeableService, type WriteableRequest } from './writeable.js';
import { startClientSpan } from './tracing.js';
import type {
  InfoResponse,
  LabelNamesRequest,
  LabelNamesResponse,
  LabelValuesRequest,
  LabelValuesResponse,
  SeriesRequest,
  SeriesResponse,
} from './messages.js';

export interface StoreClientOptions {
  tls?: ClientTLS;
  compression?: Compression;
}

export interface CallOptions {
  /** Cancels the call. */
  signal?: AbortSignal;
  /** Deadline relative to now. */
  timeoutMs?: number;
  /** Who the call is for: sent as its `thanos-tenant` metadata, as Thanos' querier sends it. */
  tenant?: string;
}

function deadline(opts: CallOptions): grpc.CallOptions {
  return opts.timeoutMs !== undefined ? { deadline: Date.now() + opts.timeoutMs } : {};
}

/**
 * Cancels `call` when the signal aborts, until `settled` ends: a querier hands one request's signal to
 * many calls, and a listener left behind by each would pile up on it for the request's lifetime.
 */
function cancelOnAbort(opts: CallOptions, call: grpc.Call, settled: Promise<unknown>): void {
  const signal = opts.signal;
  if (signal === undefined) return;
  const onAbort = () => call.cancel();
  signal.addEventListener('abort', onAbort, { once: true });
  const remove = () => signal.removeEventListener('abort', onAbort);
  settled.then(remove, remove);
}

/** What a querier asks of a StoreAPI endpoint: one server (a StoreClient), or a group of replicas behind one name. */
export type StoreApi = Pick<StoreClient, 'info' | 'series' | 'labelNames' | 'labelValues' | 'metricMetadata' | 'rules' | 'exemplars' | 'targets' | 'query' | 'queryRange' | 'close'>;

/** A Query API answer: the series in the order sent (a scalar: one series without labels), the warnings, the stats. */
export interface QueryAnswer {
  series: PromTimeSeries[];
  warnings: string[];
  stats: QueryApiStats | undefined;
}

function queryAnswer(frames: readonly QueryFrame[]): QueryAnswer {
  const out: QueryAnswer = { series: [], warnings: [], stats: undefined };
  for (const f of frames) {
    if ('timeseries' in f) out.series.push(f.timeseries);
    else if ('stats' in f) out.stats = f.stats;
    // An empty message (no result, no stats) decodes as an empty warning: none.
    else if (f.warnings !== '') out.warnings.push(f.warnings);
  }
  return out;
}

export class StoreClient {
  readonly address: string;
  readonly #client: grpc.Client;
  /** Series calls go over a connection of their own, without grpc-js (seriesclient.ts). */
  readonly #series: SeriesConnection;

  constructor(address: string, opts: StoreClientOptions = {}) {
    this.address = address;
    this.#client = new grpc.Client(address, clientCredentials(opts.tls), channelOptions({ compression: opts.compression, serverName: opts.tls?.serverName }));
    this.#series = new SeriesConnection(address, opts);
  }

  /** The call's metadata (its tenant, and its trace context when it is made for a traced request), and a callback that ends its span. */
  #traced(path: string, opts: CallOptions): { metadata: grpc.Metadata; done: (err: grpc.ServiceError | null) => void } {
    const metadata = new grpc.Metadata();
    if (opts.tenant !== undefined) metadata.set(TENANT_METADATA, opts.tenant);
    const carrier: Record<string, string> = {};
    const [service = '', method = ''] = path.slice(1).split('/');
    const span = startClientSpan(service, method, this.address, carrier);
    for (const [k, v] of Object.entries(carrier)) metadata.set(k, v);
    return { metadata, done: (err) => span?.end(err === null ? grpc.status.OK : err.code, err?.details ?? '') };
  }

  #unary<Req, Res>(def: grpc.MethodDefinition<Req, Res>, req: Req, opts: CallOptions): Promise<Res> {
    let call: grpc.ClientUnaryCall | undefined;
    const traced = this.#traced(def.path, opts);
    const answer = new Promise<Res>((resolve, reject) => {
      call = this.#client.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, req, traced.metadata, deadline(opts), (err: grpc.ServiceError | null, res?: Res) => {
        traced.done(err);
        if (err) reject(err);
        else resolve(res as Res);
      });
    });
    cancelOnAbort(opts, call as grpc.ClientUnaryCall, answer);
    return answer;
  }

  info(opts: CallOptions = {}): Promise<InfoResponse> {
    return this.#unary(infoService.Info, {} as Record<string, never>, opts);
  }

  labelNames(req: LabelNamesRequest, opts: CallOptions = {}): Promise<LabelNamesResponse> {
    return this.#unary(storeService.LabelNames, req, opts);
  }

  labelValues(req: LabelValuesRequest, opts: CallOptions = {}): Promise<LabelValuesResponse> {
    return this.#unary(storeService.LabelValues, req, opts);
  }

  /** The metric metadata of a thanos.Metadata server: its frames merged (at most `req.limit` metrics), and its warnings. */
  async metricMetadata(req: MetricMetadataRequest, opts: CallOptions = {}): Promise<{ metadata: MetricMetadata; warnings: string[] }> {
    const { frames, warnings } = await this.#answer(metadataService.MetricMetadata, req, opts);
    const metadata: MetricMetadata = new Map();
    for (const f of frames) mergeMetricMetadata(metadata, f.metadata, req.limit);
    return { metadata, warnings };
  }

  /** The rule groups of a thanos.Rules server, as it sent them, and its warnings. */
  async rules(req: RulesRequest, opts: CallOptions = {}): Promise<{ groups: RuleGroup[]; warnings: string[] }> {
    const { frames, warnings } = await this.#answer(rulesService.Rules, req, opts);
    return { groups: frames.map((f) => f.group), warnings };
  }

  /** The exemplars of a thanos.Exemplars server, a series' at a time as it sent them, and its warnings. */
  async exemplars(req: ExemplarsRequest, opts: CallOptions = {}): Promise<{ data: ExemplarData[]; warnings: string[] }> {
    const { frames, warnings } = await this.#answer(exemplarsService.Exemplars, req, opts);
    return { data: frames.map((f) => f.data), warnings };
  }

  /** The targets of a thanos.Targets server, its frames' lists joined, and its warnings. */
  async targets(req: TargetsRequest, opts: CallOptions = {}): Promise<{ targets: TargetDiscovery; warnings: string[] }> {
    const { frames, warnings } = await this.#answer(targetsService.Targets, req, opts);
    return { targets: { activeTargets: frames.flatMap((f) => f.targets.activeTargets), droppedTargets: frames.flatMap((f) => f.targets.droppedTargets) }, warnings };
  }

  /** An instant query's answer from a thanos.Query server (a querier): its series, warnings and stats. */
  async query(req: QueryRequest, opts: CallOptions = {}): Promise<QueryAnswer> {
    return queryAnswer(await this.#frames(queryService.Query, req, opts));
  }

  /** A range query's answer from a thanos.Query server. */
  async queryRange(req: QueryRangeRequest, opts: CallOptions = {}): Promise<QueryAnswer> {
    return queryAnswer(await this.#frames(queryService.QueryRange, req, opts));
  }

  /** Writes series into a thanos.WriteableStore server (a receiver); rejects with its gRPC status. */
  async remoteWrite(req: WriteableRequest, opts: CallOptions = {}): Promise<void> {
    await this.#unary(writeableService.RemoteWrite, req, opts);
  }

  /** Every frame of a server-streaming call (a small answer, taken whole), its warning frames apart. */
  async #answer<Req, Frame extends object>(def: grpc.MethodDefinition<Req, Frame | { warning: string }>, req: Req, opts: CallOptions): Promise<{ frames: Frame[]; warnings: string[] }> {
    const frames: Frame[] = [];
    const warnings: string[] = [];
    for (const f of await this.#frames(def, req, opts)) {
      if ('warning' in f) warnings.push(f.warning);
      else frames.push(f);
    }
    return { frames, warnings };
  }

  /** Every frame of a server-streaming call, taken whole. */
  #frames<Req, Frame>(def: grpc.MethodDefinition<Req, Frame>, req: Req, opts: CallOptions): Promise<Frame[]> {
    const frames: Frame[] = [];
    const traced = this.#traced(def.path, opts);
    const call = this.#client.makeServerStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, req, traced.metadata, deadline(opts));
    const answer = new Promise<Frame[]>((resolve, reject) => {
      call.on('data', (f: Frame) => frames.push(f));
      call.on('error', (err: grpc.ServiceError) => {
        traced.done(err);
        reject(err);
      });
      call.on('end', () => {
        traced.done(null);
        resolve(frames);
      });
    });
    cancelOnAbort(opts, call, answer);
    return answer;
  }

  /** The raw Series frames; an error status surfaces as a thrown SeriesCallError (code, details). Breaking out cancels the call. */
  series(req: SeriesRequest, opts: CallOptions = {}): AsyncGenerator<SeriesResponse> {
    return this.#series.series(req, opts);
  }

  close(): void {
    this.#series.close();
    this.#client.close();
  }
}
