/**
 * StoreAPI and InfoAPI messages as TypeScript types, field for field with proto/thanos/*.proto.
 * int64 fields are numbers (exact within ±2^53 ms; Go's MinInt64/MaxInt64 are MIN_INT64/MAX_INT64);
 * uint64 chunk hashes are bigints.
 */
import type { Label } from '@strata/tsdb';
import { MAX_INT64, MIN_INT64, type ProtoWriter } from './wire/writer.js';

export { MAX_INT64, MIN_INT64 } from './wire/writer.js';

/**
 * An int64 time as Go writes it: Go's MinInt64 and MaxInt64 (a store with no bounds) exactly, which a
 * float64 cannot hold (String and JSON.stringify write -9223372036854776000, which a Go client refuses
 * to decode into an int64).
 */
export function formatInt64(ms: number): string {
  if (ms <= MIN_INT64) return '-9223372036854775808';
  if (ms >= MAX_INT64) return '9223372036854775807';
  return String(ms);
}

/** thanos.Chunk.Encoding: one less than the TSDB / remote-read encoding numbers. */
export const ChunkEncoding = { XOR: 0, Histogram: 1, FloatHistogram: 2 } as const;
export type ChunkEncoding = (typeof ChunkEncoding)[keyof typeof ChunkEncoding];

export const MatcherType = { EQ: 0, NEQ: 1, RE: 2, NRE: 3 } as const;
export type MatcherType = (typeof MatcherType)[keyof typeof MatcherType];

export const PartialResponseStrategy = { WARN: 0, ABORT: 1 } as const;
export type PartialResponseStrategy = (typeof PartialResponseStrategy)[keyof typeof PartialResponseStrategy];

export const Aggr = { RAW: 0, COUNT: 1, SUM: 2, MIN: 3, MAX: 4, COUNTER: 5 } as const;
export type Aggr = (typeof Aggr)[keyof typeof Aggr];

export interface StoreChunk {
  type: ChunkEncoding;
  data: Uint8Array;
  /**
   * xxhash64 of `data`; 0n means not computed. In decoded chunks an accessor that reads it from the
   * frame when first asked for (not an own property: a spread copy or toEqual does not see it).
   */
  hash: bigint;
}

export interface AggrChunk {
  minTime: number;
  maxTime: number;
  raw?: StoreChunk;
  count?: StoreChunk;
  sum?: StoreChunk;
  min?: StoreChunk;
  max?: StoreChunk;
  counter?: StoreChunk;
}

export interface StoreSeries {
  /** Sorted by name. */
  labels: readonly Label[];
  chunks: readonly AggrChunk[];
  /**
   * More chunks that the store encodes itself (e.g. straight from another wire format), written after
   * `chunks`: lets a store pass chunks through without an object per chunk. Decoders never set it.
   */
  extraChunks?: EncodedChunks;
  /**
   * `labels` as the store encodes them itself (e.g. copied from a block's symbol table instead of
   * encoding strings), written in their place: the same bytes. Decoders never set it.
   */
  encodedLabels?: EncodedLabels;
}

/** Labels that write themselves as the repeated `Series.labels` fields (tag, length, Label each). */
export interface EncodedLabels {
  /** Bytes `write` adds. */
  readonly size: number;
  write(w: ProtoWriter): void;
}

/** Chunks that write themselves as repeated `Series.chunks` fields (tag, length, AggrChunk each). */
export interface EncodedChunks {
  /** Bytes `write` adds. */
  readonly size: number;
  write(w: ProtoWriter): void;
  /**
   * Called by the server once the series has been encoded into a message (its chunks copied there):
   * the memory behind the chunks may be reused. Not called for series a failed call never encoded.
   */
  release?(): void;
}

export interface LabelMatcher {
  type: MatcherType;
  name: string;
  value: string;
}

/** google.protobuf.Any */
export interface AnyMessage {
  typeUrl: string;
  value: Uint8Array;
}

export interface QueryHints {
  stepMillis: number;
  func?: { name: string };
  grouping?: { by: boolean; labels: string[] };
  range?: { millis: number };
  projectionLabels: string[];
  projectionInclude: boolean;
  seriesHashLabelName: string;
}

export interface ShardInfo {
  shardIndex: number;
  totalShards: number;
  by: boolean;
  labels: string[];
}

export interface SeriesRequest {
  minTime: number;
  maxTime: number;
  matchers: LabelMatcher[];
  maxResolutionWindow: number;
  aggregates: Aggr[];
  partialResponseDisabled: boolean;
  partialResponseStrategy: PartialResponseStrategy;
  skipChunks: boolean;
  hints?: AnyMessage;
  step: number;
  range: number;
  queryHints?: QueryHints;
  shardInfo?: ShardInfo;
  withoutReplicaLabels: string[];
  limit: number;
  responseBatchSize: number;
}

/** One frame of the Series stream (the `result` oneof). */
export type SeriesResponse =
  | { series: StoreSeries }
  | { warning: string }
  | { hints: AnyMessage }
  | { batch: StoreSeries[] };

export interface LabelNamesRequest {
  partialResponseDisabled: boolean;
  partialResponseStrategy: PartialResponseStrategy;
  start: number;
  end: number;
  hints?: AnyMessage;
  matchers: LabelMatcher[];
  withoutReplicaLabels: string[];
  limit: number;
}

/** LabelNamesRequest's fields, with the label asked for (field 1; the others renumbered on the wire). */
export interface LabelValuesRequest extends LabelNamesRequest {
  label: string;
}

export interface LabelNamesResponse {
  names: string[];
  warnings: string[];
  hints?: AnyMessage;
}

export interface LabelValuesResponse {
  values: string[];
  warnings: string[];
  hints?: AnyMessage;
}

export interface TSDBInfo {
  labels: Label[];
  minTime: number;
  maxTime: number;
}

export interface StoreInfo {
  minTime: number;
  maxTime: number;
  supportsSharding: boolean;
  supportsWithoutReplicaLabels: boolean;
  tsdbInfos: TSDBInfo[];
  supportsProjections: boolean;
}

/** Component types as Thanos names them (pkg/component). */
export type ComponentType = 'sidecar' | 'store' | 'query' | 'rule' | 'receive' | 'debug' | (string & {});

export interface InfoResponse {
  labelSets: Label[][];
  componentType: ComponentType;
  /** Present iff the StoreAPI is served. */
  store?: StoreInfo;
  /** Presence flags for the other APIs (empty messages on the wire). */
  rules?: boolean;
  metricMetadata?: boolean;
  targets?: boolean;
  exemplars?: { minTime: number; maxTime: number };
  query?: boolean;
  status?: boolean;
}

/** A SeriesRequest with every field at its proto3 default, overridden by `fields`. */
export function seriesRequest(fields: Partial<SeriesRequest> = {}): SeriesRequest {
  return {
    minTime: 0,
    maxTime: 0,
    matchers: [],
    maxResolutionWindow: 0,
    aggregates: [],
    partialResponseDisabled: false,
    partialResponseStrategy: PartialResponseStrategy.WARN,
    skipChunks: false,
    step: 0,
    range: 0,
    withoutReplicaLabels: [],
    limit: 0,
    responseBatchSize: 0,
    ...fields,
  };
}

export function labelNamesRequest(fields: Partial<LabelNamesRequest> = {}): LabelNamesRequest {
  return {
    partialResponseDisabled: false,
    partialResponseStrategy: PartialResponseStrategy.WARN,
    start: 0,
    end: 0,
    matchers: [],
    withoutReplicaLabels: [],
    limit: 0,
    ...fields,
  };
}

export function labelValuesRequest(fields: Partial<LabelValuesRequest> & { label: string }): LabelValuesRequest {
  return { ...labelNamesRequest(), ...fields };
}

/** Whether a request asked for ABORT (the deprecated boolean or the strategy enum). */
export function isAbort(req: { partialResponseDisabled: boolean; partialResponseStrategy: PartialResponseStrategy }): boolean {
  return req.partialResponseDisabled || req.partialResponseStrategy === PartialResponseStrategy.ABORT;
}
