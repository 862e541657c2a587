// The Rules API's codec against protobufjs on the shipped rules.proto (an implementation independent of
// ours), Go's time.Time JSON both ways, and the transport.
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { StoreClient } from './client.js';
import { PROTO_DIR } from './proto.js';
import { AlertState, decodeRulesRequest, decodeRulesResponse, encodeRulesRequest, encodeRulesResponse, rulesRequest, RulesType, type RuleGroup } from './rules.js';
import { formatGoTime, parseGoTime, ZERO_TIME } from './timestamp.js';
import { serveStore } from './server.js';

const root = new protobuf.Root();
root.resolvePath = (_origin, target) => (target.startsWith('google/') || target.startsWith('/') ? target : join(PROTO_DIR, target));
await root.load(join(PROTO_DIR, 'thanos/rules.proto'), { keepCase: true });
const T = (name: string) => root.lookupType(name);
const asObject = (type: string, buf: Uint8Array) => T(type).toObject(T(type).decode(buf), { longs: Number, enums: Number, defaults: false });

const evaluated = parseGoTime('2026-12-03T10:33:57.100795455Z');
const group: RuleGroup = {
  name: 'example',
  file: '/etc/prometheus/rules.yml',
  interval: 15,
  evaluationDurationSeconds: 0.001663673,
  lastEvaluation: evaluated,
  limit: 0,
  rules: [
    { recording: { name: 'job:up:sum', query: 'sum by (job) (up)', labels: [{ name: 'kind', value: 'rec' }], health: 'ok', lastError: '', evaluationDurationSeconds: 0.000506246, lastEvaluation: evaluated } },
    {
      alert: {
        state: AlertState.FIRING,
        name: 'AlwaysFiring',
        query: 'vector(1) > 0',
        durationSeconds: 60,
        keepFiringForSeconds: 0,
        labels: [{ name: 'severity', value: 'page' }],
        annotations: [{ name: 'summary', value: 'always {{ $value }}' }],
        alerts: [{ labels: [{ name: 'alertname', value: 'AlwaysFiring' }], annotations: [{ name: 'summary', value: 'always 1' }], state: AlertState.FIRING, activeAt: evaluated, value: '1e+00' }],
        health: 'ok',
        lastError: '',
        evaluationDurationSeconds: 0.000814025,
        lastEvaluation: ZERO_TIME,
      },
    },
  ],
};

describe('Rules API codec vs protobufjs', () => {
  it('RulesRequest', () => {
    const req = rulesRequest({ type: RulesType.ALERT, partialResponseStrategy: 1, ruleName: ['a', ''], file: ['f'] });
    expect(asObject('thanos.RulesRequest', encodeRulesRequest(req))).toEqual({ type: 1, partial_response_strategy: 1, rule_name: ['a', ''], file: ['f'] });
    expect(decodeRulesRequest(T('thanos.RulesRequest').encode({ type: 2, matcher_string: ['{a="b"}'], rule_group: ['g'] }).finish())).toEqual(
      rulesRequest({ type: RulesType.RECORD, matcherString: ['{a="b"}'], ruleGroup: ['g'] }),
    );
  });

  it('RulesResponse with a group of both kinds of rules, both ways', () => {
    const ours = encodeRulesResponse({ group });
    const theirs = asObject('thanos.RulesResponse', ours) as { group: { rules: { alert?: { alerts: { active_at: unknown }[]; last_evaluation: unknown } }[]; last_evaluation: unknown } };
    expect(theirs.group).toMatchObject({ name: 'example', file: '/etc/prometheus/rules.yml', interval: 15, evaluation_duration_seconds: 0.001663673 });
    expect(theirs.group.last_evaluation).toEqual({ seconds: evaluated.seconds, nanos: evaluated.nanos });
    expect(theirs.group.rules[1]?.alert?.last_evaluation).toEqual({ seconds: ZERO_TIME.seconds });
    expect(theirs.group.rules[1]?.alert?.alerts[0]?.active_at).toEqual({ seconds: evaluated.seconds, nanos: evaluated.nanos });
    // protobufjs' own bytes of the same message decode to the group.
    const reencoded = T('thanos.RulesResponse').encode(T('thanos.RulesResponse').decode(ours)).finish();
    expect(decodeRulesResponse(reencoded)).toEqual({ group });
    expect(decodeRulesResponse(ours)).toEqual({ group });
    expect(decodeRulesResponse(encodeRulesResponse({ warning: 'w' }))).toEqual({ warning: 'w' });
  });
});

describe("Go's time.Time in JSON", () => {
  it('parses and formats RFC 3339 with nanoseconds, offsets and the zero time', () => {
    expect(formatGoTime(evaluated)).toBe('2026-12-03T10:33:57.100795455Z');
    expect(formatGoTime(parseGoTime('2026-12-03T11:33:57.1+01:00'))).toBe('2026-12-03T10:33:57.1Z');
    expect(parseGoTime('0001-01-01T00:00:00Z')).toEqual(ZERO_TIME);
    expect(formatGoTime(ZERO_TIME)).toBe('0001-01-01T00:00:00Z');
    expect(formatGoTime({ seconds: 0, nanos: 120_000_000 })).toBe('1970-01-01T00:00:00.12Z');
    expect(() => parseGoTime('yesterday')).toThrow(/RFC 3339/);
  });
});

describe('thanos.Rules over gRPC', () => {
  it('serves the groups and warnings of a StoreServer with rules', async () => {
    const unused = () => Promise.reject(new Error('not called'));
    const served = await serveStore(
      { info: unused, series: () => ({ [Symbol.asyncIterator]: () => ({ next: unused }) }), labelNames: unused, labelValues: unused, rules: async () => ({ groups: [group, { ...group, name: 'second', rules: [] }], warnings: ['partial'] }) },
      { address: '127.0.0.1:0' },
    );
    const client = new StoreClient(served.address);
    try {
      expect(await client.rules(rulesRequest())).toEqual({ groups: [group, { ...group, name: 'second', rules: [] }], warnings: ['partial'] });
    } finally {
      client.close();
      await served.stop();
    }
  });
});
