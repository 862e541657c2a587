/**
 * Thanos' Exemplars API (proto/thanos/exemplars.proto, after pkg/exemplars/exemplarspb): the exemplars
 * of the series a PromQL query selects, served by sidecars (external labels added) and merged by
 * queriers into `/api/v1/query_exemplars`.
 */
import type * as grpc from '@grpc/grpc-js';
import type { Label } from '@strata/tsdb';
import { PartialResponseStrategy } from './messages.js';
import { readLabelSet, writeLabelSet } from './wire/labelset.js';
import { ProtoReader } from './wire/reader.js';
import { ProtoWriter } from './wire/writer.js';

export interface ExemplarsRequest {
  query: string;
  /** Milliseconds since the epoch. */
  start: number;
  end: number;
  partialResponseStrategy: PartialResponseStrategy;
}

export interface Exemplar {
  labels: Label[];
  value: number;
  /** Milliseconds since the epoch. */
  ts: number;
}

/** One series' exemplars. */
export interface ExemplarData {
  seriesLabels: Label[];
  exemplars: Exemplar[];
}

/** An ExemplarsResponse: the `result` oneof. */
export type ExemplarsFrame = { data: ExemplarData } | { warning: string };

export function exemplarsRequest(r: Partial<ExemplarsRequest> = {}): ExemplarsRequest {
  return { query: '', start: 0, end: 0, partialResponseStrategy: PartialResponseStrategy.WARN, ...r };
}

export function encodeExemplarsRequest(req: ExemplarsRequest): Buffer {
  return new ProtoWriter().string(1, req.query).int64(2, req.start).int64(3, req.end).uint32(4, req.partialResponseStrategy).finish();
}

export function decodeExemplarsRequest(buf: Uint8Array): ExemplarsRequest {
  const req = exemplarsRequest();
  const r = new ProtoReader(buf);
  while (!r.done) {
    const t = r.tag();
    if (t === 10) req.query = r.string();
    else if (t === 16) req.start = r.int64();
    else if (t === 24) req.end = r.int64();
    else if (t === 32) req.partialResponseStrategy = r.uint32() as PartialResponseStrategy;
    else r.skip(t & 7);
  }
  return req;
}


export function encodeExemplarsResponse(frame: ExemplarsFrame): Buffer {
  const w = new ProtoWriter();
  if ('warning' in frame) return w.string(2, frame.warning, true).finish();
  w.fork(1);
  writeLabelSet(w, 1, frame.data.seriesLabels);
  for (const e of frame.data.exemplars) {
    w.fork(2);
    writeLabelSet(w, 1, e.labels);
    w.double(2, e.value).int64(3, e.ts).ldelim();
  }
  return w.ldelim().finish();
}


function readExemplar(r: ProtoReader): Exemplar {
  const e: Exemplar = { labels: [], value: 0, ts: 0 };
  while (!r.done) {
    const t = r.tag();
    if (t === 10) e.labels = readLabelSet(r.sub());
    else if (t === 17) e.value = r.double();
    else if (t === 24) e.ts = r.int64();
    else r.skip(t & 7);
  }
  return e;
}

export function decodeExemplarsResponse(buf: Uint8Array): ExemplarsFrame {
  const r = new ProtoReader(buf);
  let frame: ExemplarsFrame | undefined;
  while (!r.done) {
    const t = r.tag();
    if (t === 10) {
      const data: ExemplarData = { seriesLabels: [], exemplars: [] };
      const d = r.sub();
      while (!d.done) {
        const dt = d.tag();
        if (dt === 10) data.seriesLabels = readLabelSet(d.sub());
        else if (dt === 18) data.exemplars.push(readExemplar(d.sub()));
        else d.skip(dt & 7);
      }
      frame = { data };
    } else if (t === 18) frame = { warning: r.string() };
    else r.skip(t & 7);
  }
  if (frame === undefined) throw new Error('exemplars: a response with neither data nor a warning');
  return frame;
}

export const exemplarsService = {
  Exemplars: {
    path: '/thanos.Exemplars/Exemplars',
    requestStream: false,
    responseStream: true,
    requestSerialize: encodeExemplarsRequest,
    requestDeserialize: decodeExemplarsRequest,
    responseSerialize: encodeExemplarsResponse,
    responseDeserialize: decodeExemplarsResponse,
    originalName: 'Exemplars',
  },
} satisfies grpc.ServiceDefinition;
