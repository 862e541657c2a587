/**
 * Thanos' Metadata API (proto/thanos/metadata.proto, after pkg/metadata/metadatapb): the metric metadata
 * (type, help, unit per metric name) a Prometheus collected from its targets, served by sidecars and
 * merged by queriers into `/api/v1/metadata`.
 */
import type * as grpc from '@grpc/grpc-js';
import { PartialResponseStrategy } from './messages.js';
import { ProtoReader } from './wire/reader.js';
import { ProtoWriter } from './wire/writer.js';

export interface MetricMetadataRequest {
  /** Only this metric's metadata; '' for every metric's. */
  metric: string;
  /** At most this many metrics; negative: no limit, 0: none (as Prometheus' `limit`). */
  limit: number;
  partialResponseStrategy: PartialResponseStrategy;
}

/** One metadata entry of a metric, as Prometheus' /api/v1/metadata lists it. */
export interface Meta {
  type: string;
  help: string;
  unit: string;
}

/** Metric name → its distinct metadata entries. */
export type MetricMetadata = Map<string, Meta[]>;

/** A MetricMetadataResponse: the `result` oneof. */
export type MetricMetadataFrame = { metadata: MetricMetadata } | { warning: string };

export function metricMetadataRequest(r: Partial<MetricMetadataRequest> = {}): MetricMetadataRequest {
  return { metric: '', limit: -1, partialResponseStrategy: PartialResponseStrategy.WARN, ...r };
}

export const METRIC_METADATA_METHOD = '/thanos.Metadata/MetricMetadata';

export function encodeMetricMetadataRequest(req: MetricMetadataRequest): Buffer {
  return new ProtoWriter().string(1, req.metric).int64(2, req.limit).uint32(3, req.partialResponseStrategy).finish();
}

export function decodeMetricMetadataRequest(buf: Uint8Array): MetricMetadataRequest {
  const req = metricMetadataRequest({ limit: 0 });
  const r = new ProtoReader(buf);
  while (!r.done) {
    const t = r.tag();
    if (t === 10) req.metric = r.string();
    // int32: a negative limit comes sign-extended to 64 bits.
    else if (t === 16) req.limit = r.int64();
    else if (t === 24) req.partialResponseStrategy = r.uint32() as PartialResponseStrategy;
    else r.skip(t & 7);
  }
  return req;
}

export function encodeMetricMetadataResponse(frame: MetricMetadataFrame): Buffer {
  const w = new ProtoWriter();
  if ('warning' in frame) return w.string(2, frame.warning, true).finish();
  w.fork(1);
  for (const [name, metas] of frame.metadata) {
    // map<string, MetricMetadataEntry>: entries {key 1, value 2}.
    w.fork(1).string(1, name, true).fork(2);
    for (const m of metas) w.fork(2).string(1, m.type).string(2, m.help).string(3, m.unit).ldelim();
    w.ldelim().ldelim();
  }
  return w.ldelim().finish();
}

export function decodeMetricMetadataResponse(buf: Uint8Array): MetricMetadataFrame {
  const r = new ProtoReader(buf);
  let frame: MetricMetadataFrame | undefined;
  while (!r.done) {
    const t = r.tag();
    if (t === 10) frame = { metadata: readMetricMetadata(r.sub()) };
    else if (t === 18) frame = { warning: r.string() };
    else r.skip(t & 7);
  }
  // An empty oneof decodes as empty metadata, which is what it means.
  return frame ?? { metadata: new Map() };
}

function readMetricMetadata(r: ProtoReader): MetricMetadata {
  const out: MetricMetadata = new Map();
  while (!r.done) {
    const t = r.tag();
    if (t !== 10) {
      r.skip(t & 7);
      continue;
    }
    const entry = r.sub();
    let name = '';
    const metas: Meta[] = [];
    while (!entry.done) {
      const et = entry.tag();
      if (et === 10) name = entry.string();
      else if (et === 18) {
        const value = entry.sub();
        while (!value.done) {
          const vt = value.tag();
          if (vt === 18) metas.push(readMeta(value.sub()));
          else value.skip(vt & 7);
        }
      } else entry.skip(et & 7);
    }
    out.set(name, metas);
  }
  return out;
}

function readMeta(r: ProtoReader): Meta {
  const m: Meta = { type: '', help: '', unit: '' };
  while (!r.done) {
    const t = r.tag();
    if (t === 10) m.type = r.string();
    else if (t === 18) m.help = r.string();
    else if (t === 26) m.unit = r.string();
    else r.skip(t & 7);
  }
  return m;
}

/**
 * Adds `from` into `into` as Thanos' querier merges its endpoints' answers: a metric not seen yet is
 * added while fewer than `limit` metrics are held (negative: no limit; 0: nothing is ever added), and
 * a known metric gains the entries it does not have yet.
 */
export function mergeMetricMetadata(into: MetricMetadata, from: MetricMetadata, limit: number): void {
  if (limit === 0) return;
  for (const [name, metas] of from) {
    const held = into.get(name);
    if (held === undefined) {
      if (limit < 0 || into.size < limit) into.set(name, [...metas]);
      continue;
    }
    for (const m of metas) if (!held.some((h) => h.type === m.type && h.help === m.help && h.unit === m.unit)) held.push(m);
  }
}

export const metadataService = {
  MetricMetadata: {
    path: METRIC_METADATA_METHOD,
    requestStream: false,
    responseStream: true,
    requestSerialize: encodeMetricMetadataRequest,
    requestDeserialize: decodeMetricMetadataRequest,
    responseSerialize: encodeMetricMetadataResponse,
    responseDeserialize: decodeMetricMetadataResponse,
    originalName: 'MetricMetadata',
  },
} satisfies grpc.ServiceDefinition;
