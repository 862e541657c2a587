/**
 * Thanos' Query API (proto/thanos/query.proto, after pkg/api/query/querypb): PromQL evaluated by a
 * querier for another component over gRPC. A Thanos ruler reaches a querier through it
 * (--grpc-query-endpoint), and a Thanos querier in distributed mode reaches its remote engines.
 *
 * An answer streams a warnings message (the evaluation's warnings joined by ", "), then one message per
 * series (a scalar: one sample without labels), then the query's stats. Thanos' newer peers may ask for
 * series in batches (response_batch_size, a field this proto leaves out); every client also reads them
 * one per message, as here.
 */
import type * as grpc from '@grpc/grpc-js';
import { readMatcher, readShardInfo, writeMatchers, writeShardInfo } from './codec.js';
import type { LabelMatcher, ShardInfo } from './messages.js';
import { readTimeSeries, writeTimeSeries, type PromTimeSeries } from './prompb.js';
import { ProtoReader } from './wire/reader.js';
import { ProtoWriter } from './wire/writer.js';

/** Which PromQL engine the caller asks for: `default` is the querier's own choice (--query.promql-engine). */
export const EngineType = { default: 0, prometheus: 1, thanos: 2 } as const;
export type EngineType = (typeof EngineType)[keyof typeof EngineType];

/** What an instant and a range query share. Times in whole seconds, as Thanos sends them. */
export interface QueryOptions {
  query: string;
  timeoutSeconds: number;
  /** The coarsest downsampling resolution the stores may answer with (0: the querier's default). */
  maxResolutionSeconds: number;
  /** Replica labels to deduplicate by; none: the querier's --query.replica-label. */
  replicaLabels: string[];
  /** Thanos' storeMatch[]: only the stores one of these selectors matches. */
  storeMatchers: LabelMatcher[][];
  enableDedup: boolean;
  enablePartialResponse: boolean;
  shardInfo?: ShardInfo;
  /** 0: the querier's own (--query.lookback-delta, widened for downsampled data). */
  lookbackDeltaSeconds: number;
  engine: EngineType;
}

export interface QueryRequest extends QueryOptions {
  /** 0: now. */
  timeSeconds: number;
}

export interface QueryRangeRequest extends QueryOptions {
  startTimeSeconds: number;
  endTimeSeconds: number;
  intervalSeconds: number;
}

export interface QueryApiStats {
  samplesTotal: number;
  peakSamples: number;
}

/** A QueryResponse or QueryRangeResponse (the same message). */
export type QueryFrame = { warnings: string } | { timeseries: PromTimeSeries } | { stats: QueryApiStats };

function queryOptions(fields: Partial<QueryOptions>): QueryOptions {
  return {
    query: '',
    timeoutSeconds: 0,
    maxResolutionSeconds: 0,
    replicaLabels: [],
    storeMatchers: [],
    enableDedup: false,
    enablePartialResponse: false,
    lookbackDeltaSeconds: 0,
    engine: EngineType.default,
    ...fields,
  };
}

export function queryRequest(fields: Partial<QueryRequest> = {}): QueryRequest {
  return { timeSeconds: 0, ...queryOptions(fields), ...fields };
}

export function queryRangeRequest(fields: Partial<QueryRangeRequest> = {}): QueryRangeRequest {
  return { startTimeSeconds: 0, endTimeSeconds: 0, intervalSeconds: 0, ...queryOptions(fields), ...fields };
}

/** Field numbers of QueryOptions' fields in QueryRequest and QueryRangeRequest. */
interface OptionFields {
  timeout: number;
  maxResolution: number;
  replicaLabels: number;
  storeMatchers: number;
  dedup: number;
  partialResponse: number;
  shardInfo: number;
  lookbackDelta: number;
  engine: number;
}

const INSTANT_FIELDS: OptionFields = { timeout: 3, maxResolution: 4, replicaLabels: 5, storeMatchers: 6, dedup: 7, partialResponse: 8, shardInfo: 11, lookbackDelta: 12, engine: 13 };
const RANGE_FIELDS: OptionFields = { timeout: 5, maxResolution: 6, replicaLabels: 7, storeMatchers: 8, dedup: 9, partialResponse: 10, shardInfo: 13, lookbackDelta: 14, engine: 15 };

function writeOptions(w: ProtoWriter, f: OptionFields, o: QueryOptions): void {
  w.int64(f.timeout, o.timeoutSeconds).int64(f.maxResolution, o.maxResolutionSeconds);
  for (const l of o.replicaLabels) w.string(f.replicaLabels, l, true);
  for (const set of o.storeMatchers) {
    w.fork(f.storeMatchers);
    writeMatchers(w, 1, set);
    w.ldelim();
  }
  w.bool(f.dedup, o.enableDedup).bool(f.partialResponse, o.enablePartialResponse);
  if (o.shardInfo !== undefined) writeShardInfo(w, f.shardInfo, o.shardInfo);
  w.int64(f.lookbackDelta, o.lookbackDeltaSeconds).uint32(f.engine, o.engine);
}

/** Reads field `field` (wire type `wire`) into `o` if it is one of QueryOptions'; false if it is not. */
function readOption(r: ProtoReader, f: OptionFields, field: number, o: QueryOptions): boolean {
  switch (field) {
    case f.timeout:
      o.timeoutSeconds = r.int64();
      return true;
    case f.maxResolution:
      o.maxResolutionSeconds = r.int64();
      return true;
    case f.replicaLabels:
      o.replicaLabels.push(r.string());
      return true;
    case f.storeMatchers: {
      const set: LabelMatcher[] = [];
      const sub = r.sub();
      while (!sub.done) {
        const t = sub.tag();
        if (t === 10) set.push(readMatcher(sub.sub()));
        else sub.skip(t & 7);
      }
      o.storeMatchers.push(set);
      return true;
    }
    case f.dedup:
      o.enableDedup = r.bool();
      return true;
    case f.partialResponse:
      o.enablePartialResponse = r.bool();
      return true;
    case f.shardInfo:
      o.shardInfo = readShardInfo(r.sub());
      return true;
    case f.lookbackDelta:
      o.lookbackDeltaSeconds = r.int64();
      return true;
    case f.engine:
      o.engine = r.uint32() as EngineType;
      return true;
  }
  return false;
}

export function encodeQueryRequest(req: QueryRequest): Buffer {
  const w = new ProtoWriter().string(1, req.query).int64(2, req.timeSeconds);
  writeOptions(w, INSTANT_FIELDS, req);
  return w.finish();
}

export function decodeQueryRequest(buf: Uint8Array): QueryRequest {
  const req = queryRequest();
  const r = new ProtoReader(buf);
  while (!r.done) {
    const t = r.tag();
    const field = t >>> 3;
    if (field === 1) req.query = r.string();
    else if (field === 2) req.timeSeconds = r.int64();
    else if (!readOption(r, INSTANT_FIELDS, field, req)) r.skip(t & 7);
  }
  return req;
}

export function encodeQueryRangeRequest(req: QueryRangeRequest): Buffer {
  const w = new ProtoWriter().string(1, req.query).int64(2, req.startTimeSeconds).int64(3, req.endTimeSeconds).int64(4, req.intervalSeconds);
  writeOptions(w, RANGE_FIELDS, req);
  return w.finish();
}

export function decodeQueryRangeRequest(buf: Uint8Array): QueryRangeRequest {
  const req = queryRangeRequest();
  const r = new ProtoReader(buf);
  while (!r.done) {
    const t = r.tag();
    const field = t >>> 3;
    if (field === 1) req.query = r.string();
    else if (field === 2) req.startTimeSeconds = r.int64();
    else if (field === 3) req.endTimeSeconds = r.int64();
    else if (field === 4) req.intervalSeconds = r.int64();
    else if (!readOption(r, RANGE_FIELDS, field, req)) r.skip(t & 7);
  }
  return req;
}

export function encodeQueryFrame(frame: QueryFrame): Buffer {
  const w = new ProtoWriter();
  if ('warnings' in frame) w.string(1, frame.warnings, true);
  else if ('timeseries' in frame) writeTimeSeries(w, 2, frame.timeseries);
  else w.fork(3).int64(1, frame.stats.samplesTotal).int64(2, frame.stats.peakSamples).ldelim();
  return w.finish();
}

export function decodeQueryFrame(buf: Uint8Array): QueryFrame {
  const r = new ProtoReader(buf);
  let frame: QueryFrame | undefined;
  while (!r.done) {
    const t = r.tag();
    if (t === 10) frame = { warnings: r.string() };
    else if (t === 18) frame = { timeseries: readTimeSeries(r.sub()) };
    else if (t === 26) {
      const stats: QueryApiStats = { samplesTotal: 0, peakSamples: 0 };
      const sub = r.sub();
      while (!sub.done) {
        const u = sub.tag();
        if (u === 8) stats.samplesTotal = sub.int64();
        else if (u === 16) stats.peakSamples = sub.int64();
        else sub.skip(u & 7);
      }
      // Stats ride beside a result in Thanos' message; alone, they are the frame.
      frame ??= { stats };
    } else r.skip(t & 7);
  }
  return frame ?? { warnings: '' };
}

function streamingMethod<Req>(name: string, encode: (r: Req) => Buffer, decode: (b: Uint8Array) => Req): grpc.MethodDefinition<Req, QueryFrame> {
  return {
    path: `/thanos.Query/${name}`,
    requestStream: false,
    responseStream: true,
    requestSerialize: encode,
    requestDeserialize: decode,
    responseSerialize: encodeQueryFrame,
    responseDeserialize: decodeQueryFrame,
    originalName: name,
  };
}

export const queryService = {
  Query: streamingMethod('Query', encodeQueryRequest, decodeQueryRequest),
  QueryRange: streamingMethod('QueryRange', encodeQueryRangeRequest, decodeQueryRangeRequest),
} satisfies grpc.ServiceDefinition;
