/**
 * Thanos' Targets API (proto/thanos/targets.proto, after pkg/targets/targetspb): the scrape targets a
 * Prometheus discovered, served by sidecars (external labels added) and merged by queriers into
 * `/api/v1/targets`. Thanos' messages have no scrape interval and timeout, which Prometheus' answer has.
 */
import type * as grpc from '@grpc/grpc-js';
import type { Label } from '@strata/tsdb';
import { PartialResponseStrategy } from './messages.js';
import { readTimestamp, writeTimestamp, ZERO_TIME, type Timestamp } from './timestamp.js';
import { readLabelSet, writeLabelSet } from './wire/labelset.js';
import { ProtoReader } from './wire/reader.js';
import { ProtoWriter } from './wire/writer.js';

export const TargetsState = { ANY: 0, ACTIVE: 1, DROPPED: 2 } as const;
export type TargetsState = (typeof TargetsState)[keyof typeof TargetsState];

export const TargetHealth = { DOWN: 0, UP: 1, UNKNOWN: 2 } as const;
export type TargetHealth = (typeof TargetHealth)[keyof typeof TargetHealth];

export interface TargetsRequest {
  state: TargetsState;
  partialResponseStrategy: PartialResponseStrategy;
}

export interface ActiveTarget {
  discoveredLabels: Label[];
  labels: Label[];
  scrapePool: string;
  scrapeUrl: string;
  globalUrl: string;
  lastError: string;
  lastScrape: Timestamp;
  lastScrapeDuration: number;
  health: TargetHealth;
}

export interface DroppedTarget {
  discoveredLabels: Label[];
}

export interface TargetDiscovery {
  activeTargets: ActiveTarget[];
  droppedTargets: DroppedTarget[];
}

/** A TargetsResponse: the `result` oneof. */
export type TargetsFrame = { targets: TargetDiscovery } | { warning: string };

export function targetsRequest(r: Partial<TargetsRequest> = {}): TargetsRequest {
  return { state: TargetsState.ANY, partialResponseStrategy: PartialResponseStrategy.WARN, ...r };
}

export function encodeTargetsRequest(req: TargetsRequest): Buffer {
  return new ProtoWriter().uint32(1, req.state).uint32(2, req.partialResponseStrategy).finish();
}

export function decodeTargetsRequest(buf: Uint8Array): TargetsRequest {
  const req = targetsRequest();
  const r = new ProtoReader(buf);
  while (!r.done) {
    const t = r.tag();
    if (t === 8) req.state = r.uint32() as TargetsState;
    else if (t === 16) req.partialResponseStrategy = r.uint32() as PartialResponseStrategy;
    else r.skip(t & 7);
  }
  return req;
}

export function encodeTargetsResponse(frame: TargetsFrame): Buffer {
  const w = new ProtoWriter();
  if ('warning' in frame) return w.string(2, frame.warning, true).finish();
  w.fork(1);
  for (const t of frame.targets.activeTargets) {
    w.fork(1);
    writeLabelSet(w, 1, t.discoveredLabels);
    writeLabelSet(w, 2, t.labels);
    w.string(3, t.scrapePool).string(4, t.scrapeUrl).string(5, t.globalUrl).string(6, t.lastError);
    writeTimestamp(w, 7, t.lastScrape);
    w.double(8, t.lastScrapeDuration).uint32(9, t.health).ldelim();
  }
  for (const t of frame.targets.droppedTargets) {
    w.fork(2);
    writeLabelSet(w, 1, t.discoveredLabels);
    w.ldelim();
  }
  return w.ldelim().finish();
}

function readActive(r: ProtoReader): ActiveTarget {
  const t: ActiveTarget = { discoveredLabels: [], labels: [], scrapePool: '', scrapeUrl: '', globalUrl: '', lastError: '', lastScrape: ZERO_TIME, lastScrapeDuration: 0, health: TargetHealth.DOWN };
  while (!r.done) {
    const tag = r.tag();
    if (tag === 10) t.discoveredLabels = readLabelSet(r.sub());
    else if (tag === 18) t.labels = readLabelSet(r.sub());
    else if (tag === 26) t.scrapePool = r.string();
    else if (tag === 34) t.scrapeUrl = r.string();
    else if (tag === 42) t.globalUrl = r.string();
    else if (tag === 50) t.lastError = r.string();
    else if (tag === 58) t.lastScrape = readTimestamp(r.sub());
    else if (tag === 65) t.lastScrapeDuration = r.double();
    else if (tag === 72) t.health = r.uint32() as TargetHealth;
    else r.skip(tag & 7);
  }
  return t;
}

export function decodeTargetsResponse(buf: Uint8Array): TargetsFrame {
  const r = new ProtoReader(buf);
  let frame: TargetsFrame | undefined;
  while (!r.done) {
    const t = r.tag();
    if (t === 10) {
      const targets: TargetDiscovery = { activeTargets: [], droppedTargets: [] };
      const d = r.sub();
      while (!d.done) {
        const dt = d.tag();
        if (dt === 10) targets.activeTargets.push(readActive(d.sub()));
        else if (dt === 18) {
          const dropped = d.sub();
          let discoveredLabels: Label[] = [];
          while (!dropped.done) {
            const tt = dropped.tag();
            if (tt === 10) discoveredLabels = readLabelSet(dropped.sub());
            else dropped.skip(tt & 7);
          }
          targets.droppedTargets.push({ discoveredLabels });
        } else d.skip(dt & 7);
      }
      frame = { targets };
    } else if (t === 18) frame = { warning: r.string() };
    else r.skip(t & 7);
  }
  if (frame === undefined) throw new Error('targets: a response with neither targets nor a warning');
  return frame;
}

export const targetsService = {
  Targets: {
    path: '/thanos.Targets/Targets',
    requestStream: false,
    responseStream: true,
    requestSerialize: encodeTargetsRequest,
    requestDeserialize: decodeTargetsRequest,
    responseSerialize: encodeTargetsResponse,
    responseDeserialize: decodeTargetsResponse,
    originalName: 'Targets',
  },
} satisfies grpc.ServiceDefinition;
