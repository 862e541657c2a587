/**
 * Thanos' Rules API (proto/thanos/rules.proto, after pkg/rules/rulespb): the rule groups a Prometheus
 * evaluates, recording and alerting rules with their health and alerts, served by sidecars (external
 * labels added) and merged by queriers into `/api/v1/rules` and `/api/v1/alerts`.
 */
import type * as grpc from '@grpc/grpc-js';
import type { Label } from '@strata/tsdb';
import { PartialResponseStrategy } from './messages.js';
import { readTimestamp, writeTimestamp, ZERO_TIME, type Timestamp } from './timestamp.js';
import { readLabelSet, writeLabelSet } from './wire/labelset.js';
import { ProtoReader } from './wire/reader.js';
import { ProtoWriter } from './wire/writer.js';

export const RulesType = { ALL: 0, ALERT: 1, RECORD: 2 } as const;
export type RulesType = (typeof RulesType)[keyof typeof RulesType];

/** Ordered as Prometheus' AlertState: a higher value is more critical. */
export const AlertState = { INACTIVE: 0, PENDING: 1, FIRING: 2 } as const;
export type AlertState = (typeof AlertState)[keyof typeof AlertState];

export interface RulesRequest {
  type: RulesType;
  partialResponseStrategy: PartialResponseStrategy;
  matcherString: string[];
  ruleName: string[];
  ruleGroup: string[];
  file: string[];
}

export interface RecordingRule {
  name: string;
  query: string;
  labels: Label[];
  health: string;
  lastError: string;
  evaluationDurationSeconds: number;
  lastEvaluation: Timestamp;
}

export interface AlertInstance {
  labels: Label[];
  annotations: Label[];
  state: AlertState;
  activeAt?: Timestamp;
  value: string;
}

export interface AlertingRule {
  state: AlertState;
  name: string;
  query: string;
  durationSeconds: number;
  keepFiringForSeconds: number;
  labels: Label[];
  annotations: Label[];
  alerts: AlertInstance[];
  health: string;
  lastError: string;
  evaluationDurationSeconds: number;
  lastEvaluation: Timestamp;
}

export type Rule = { recording: RecordingRule } | { alert: AlertingRule };

export interface RuleGroup {
  name: string;
  file: string;
  rules: Rule[];
  interval: number;
  evaluationDurationSeconds: number;
  lastEvaluation: Timestamp;
  limit: number;
}

/** A RulesResponse: the `result` oneof. */
export type RulesFrame = { group: RuleGroup } | { warning: string };

export function rulesRequest(r: Partial<RulesRequest> = {}): RulesRequest {
  return { type: RulesType.ALL, partialResponseStrategy: PartialResponseStrategy.WARN, matcherString: [], ruleName: [], ruleGroup: [], file: [], ...r };
}

export const RULES_METHOD = '/thanos.Rules/Rules';

export function encodeRulesRequest(req: RulesRequest): Buffer {
  const w = new ProtoWriter().uint32(1, req.type).uint32(2, req.partialResponseStrategy);
  for (const [field, list] of [[3, req.matcherString], [4, req.ruleName], [5, req.ruleGroup], [6, req.file]] as const) for (const s of list) w.string(field, s, true);
  return w.finish();
}

export function decodeRulesRequest(buf: Uint8Array): RulesRequest {
  const req = rulesRequest();
  const r = new ProtoReader(buf);
  while (!r.done) {
    const t = r.tag();
    if (t === 8) req.type = r.uint32() as RulesType;
    else if (t === 16) req.partialResponseStrategy = r.uint32() as PartialResponseStrategy;
    else if (t === 26) req.matcherString.push(r.string());
    else if (t === 34) req.ruleName.push(r.string());
    else if (t === 42) req.ruleGroup.push(r.string());
    else if (t === 50) req.file.push(r.string());
    else r.skip(t & 7);
  }
  return req;
}

// ---------------------------------------------------------------- encoding

function writeRule(w: ProtoWriter, rule: Rule): void {
  w.fork(3);
  if ('recording' in rule) {
    const r = rule.recording;
    w.fork(1).string(1, r.name).string(2, r.query);
    writeLabelSet(w, 3, r.labels);
    w.string(4, r.health).string(5, r.lastError).double(6, r.evaluationDurationSeconds);
    writeTimestamp(w, 7, r.lastEvaluation);
  } else {
    const a = rule.alert;
    w.fork(2).uint32(1, a.state).string(2, a.name).string(3, a.query).double(4, a.durationSeconds);
    writeLabelSet(w, 5, a.labels);
    writeLabelSet(w, 6, a.annotations);
    for (const i of a.alerts) {
      w.fork(7);
      writeLabelSet(w, 1, i.labels);
      writeLabelSet(w, 2, i.annotations);
      w.uint32(3, i.state);
      writeTimestamp(w, 4, i.activeAt);
      w.string(5, i.value).ldelim();
    }
    w.string(8, a.health).string(9, a.lastError).double(10, a.evaluationDurationSeconds);
    writeTimestamp(w, 11, a.lastEvaluation);
    w.double(12, a.keepFiringForSeconds);
  }
  w.ldelim().ldelim();
}

export function encodeRulesResponse(frame: RulesFrame): Buffer {
  const w = new ProtoWriter();
  if ('warning' in frame) return w.string(2, frame.warning, true).finish();
  const g = frame.group;
  w.fork(1).string(1, g.name).string(2, g.file);
  for (const r of g.rules) writeRule(w, r);
  w.double(4, g.interval).double(5, g.evaluationDurationSeconds);
  writeTimestamp(w, 6, g.lastEvaluation);
  w.int64(9, g.limit);
  return w.ldelim().finish();
}

// ---------------------------------------------------------------- decoding

function readRecording(r: ProtoReader): RecordingRule {
  const rule: RecordingRule = { name: '', query: '', labels: [], health: '', lastError: '', evaluationDurationSeconds: 0, lastEvaluation: ZERO_TIME };
  while (!r.done) {
    const t = r.tag();
    if (t === 10) rule.name = r.string();
    else if (t === 18) rule.query = r.string();
    else if (t === 26) rule.labels = readLabelSet(r.sub());
    else if (t === 34) rule.health = r.string();
    else if (t === 42) rule.lastError = r.string();
    else if (t === 49) rule.evaluationDurationSeconds = r.double();
    else if (t === 58) rule.lastEvaluation = readTimestamp(r.sub());
    else r.skip(t & 7);
  }
  return rule;
}

function readAlertInstance(r: ProtoReader): AlertInstance {
  const a: AlertInstance = { labels: [], annotations: [], state: AlertState.INACTIVE, value: '' };
  while (!r.done) {
    const t = r.tag();
    if (t === 10) a.labels = readLabelSet(r.sub());
    else if (t === 18) a.annotations = readLabelSet(r.sub());
    else if (t === 24) a.state = r.uint32() as AlertState;
    else if (t === 34) a.activeAt = readTimestamp(r.sub());
    else if (t === 42) a.value = r.string();
    else r.skip(t & 7);
  }
  return a;
}

function readAlert(r: ProtoReader): AlertingRule {
  const a: AlertingRule = {
    state: AlertState.INACTIVE, name: '', query: '', durationSeconds: 0, keepFiringForSeconds: 0, labels: [], annotations: [], alerts: [], health: '', lastError: '',
    evaluationDurationSeconds: 0, lastEvaluation: ZERO_TIME,
  };
  while (!r.done) {
    const t = r.tag();
    if (t === 8) a.state = r.uint32() as AlertState;
    else if (t === 18) a.name = r.string();
    else if (t === 26) a.query = r.string();
    else if (t === 33) a.durationSeconds = r.double();
    else if (t === 42) a.labels = readLabelSet(r.sub());
    else if (t === 50) a.annotations = readLabelSet(r.sub());
    else if (t === 58) a.alerts.push(readAlertInstance(r.sub()));
    else if (t === 66) a.health = r.string();
    else if (t === 74) a.lastError = r.string();
    else if (t === 81) a.evaluationDurationSeconds = r.double();
    else if (t === 90) a.lastEvaluation = readTimestamp(r.sub());
    else if (t === 97) a.keepFiringForSeconds = r.double();
    else r.skip(t & 7);
  }
  return a;
}

function readRule(r: ProtoReader): Rule | undefined {
  let rule: Rule | undefined;
  while (!r.done) {
    const t = r.tag();
    if (t === 10) rule = { recording: readRecording(r.sub()) };
    else if (t === 18) rule = { alert: readAlert(r.sub()) };
    else r.skip(t & 7);
  }
  return rule;
}

function readGroup(r: ProtoReader): RuleGroup {
  const g: RuleGroup = { name: '', file: '', rules: [], interval: 0, evaluationDurationSeconds: 0, lastEvaluation: ZERO_TIME, limit: 0 };
  while (!r.done) {
    const t = r.tag();
    if (t === 10) g.name = r.string();
    else if (t === 18) g.file = r.string();
    else if (t === 26) {
      const rule = readRule(r.sub());
      if (rule !== undefined) g.rules.push(rule);
    } else if (t === 33) g.interval = r.double();
    else if (t === 41) g.evaluationDurationSeconds = r.double();
    else if (t === 50) g.lastEvaluation = readTimestamp(r.sub());
    else if (t === 72) g.limit = r.int64();
    else r.skip(t & 7);
  }
  return g;
}

export function decodeRulesResponse(buf: Uint8Array): RulesFrame {
  const r = new ProtoReader(buf);
  let frame: RulesFrame | undefined;
  while (!r.done) {
    const t = r.tag();
    if (t === 10) frame = { group: readGroup(r.sub()) };
    else if (t === 18) frame = { warning: r.string() };
    else r.skip(t & 7);
  }
  if (frame === undefined) throw new Error('rules: a response with neither a group nor a warning');
  return frame;
}

export const rulesService = {
  Rules: {
    path: RULES_METHOD,
    requestStream: false,
    responseStream: true,
    requestSerialize: encodeRulesRequest,
    requestDeserialize: decodeRulesRequest,
    responseSerialize: encodeRulesResponse,
    responseDeserialize: decodeRulesResponse,
    originalName: 'Rules',
  },
} satisfies grpc.ServiceDefinition;
