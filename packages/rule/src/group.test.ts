import { nopLogger } from '@strata/runtime';
import { isStaleNaN, Labels } from '@strata/tsdb';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { AlertingRule } from './alerting.js';
import { Group, type GroupOptions } from './group.js';
import { RuleMetrics } from './metrics.js';
import type { InstantSample, QueryFunc } from './query.js';
import { RecordingRule } from './recording.js';
import type { RuleSample } from './recording.js';

const MIN = 60_000_000_000n;

function group(rules: GroupOptions['rules'], query: QueryFunc, over: Partial<GroupOptions> = {}) {
  const written: { samples: readonly RuleSample[]; timeMs: number }[] = [];
  const sent: string[] = [];
  const g = new Group({
    name: 'g',
    file: '/etc/rules/a.yaml',
    intervalNs: MIN,
    limit: 0,
    partialResponse: false,
    queryOffsetNs: 0n,
    rules,
    query,
    write: (samples, timeMs) => written.push({ samples, timeMs }),
    send: (alerts, expr) => sent.push(...alerts.map((a) => `${a.labels.get('alertname')} ${expr}`)),
    resendDelayNs: MIN,
    externalLabels: Labels.from({ ruler: 'r0' }),
    metrics: new RuleMetrics(new Registry()),
    logger: nopLogger,
    ...over,
  });
  return { g, written, sent };
}

const sample = (labels: Record<string, string>, value: number): InstantSample => ({ labels: Labels.from(labels), value });

describe('Group', () => {
  it('evaluates at the same offset within every interval, at or before the time given', () => {
    const { g } = group([], async () => []);
    const t0 = 1_700_000_000_123_456_789n;
    const e = g.evalTimestamp(t0);
    expect(e <= t0 && e > t0 - MIN).toBe(true);
    expect(g.evalTimestamp(t0 + 7n * MIN)).toBe(e + 7n * MIN);
    expect(g.evalTimestamp(e)).toBe(e);
    // Another group spreads elsewhere within the interval.
    const other = group([], async () => [], { name: 'h' }).g;
    expect(other.evalTimestamp(t0)).not.toBe(e);
  });

  it('writes recorded samples at the evaluation time and marks series it no longer gives stale', async () => {
    const answers: InstantSample[][] = [[sample({ job: 'a' }, 1), sample({ job: 'b' }, 2)], [sample({ job: 'a' }, 3)]];
    const rule = new RecordingRule({ name: 'job:up:sum', query: 'sum by (job) (up)', labels: [] });
    const { g, written } = group([rule], async () => answers.shift() ?? []);
    await g.eval(10n * MIN);
    await g.eval(11n * MIN);
    expect(written.map((w) => [w.timeMs, w.samples.map((s) => `${s.labels.get('job')}=${isStaleNaN(s.value) ? 'stale' : s.value}`)])).toEqual([
      [600_000, ['a=1', 'b=2']],
      [660_000, ['a=3', 'b=stale']],
    ]);
  });

  it('records a failed rule as unhealthy with its error, keeps evaluating the others and sends firing alerts', async () => {
    const failing = new RecordingRule({ name: 'bad', query: 'bad', labels: [] });
    const alert = new AlertingRule({ name: 'Down', query: 'up == 0', forNs: 0n, keepFiringForNs: 0n, labels: [], annotations: [] }, async (t) => t);
    const query: QueryFunc = async (expr) => {
      if (expr === 'bad') throw new Error('bad_data: parse error');
      return [sample({ instance: 'x' }, 0)];
    };
    const { g, sent } = group([failing, alert], query);
    await g.eval(5n * MIN);
    const [bad, down] = g.toRuleGroup().rules;
    expect(bad).toMatchObject({ recording: { name: 'bad', health: 'err', lastError: 'bad_data: parse error', labels: [{ name: 'ruler', value: 'r0' }] } });
    expect(down).toMatchObject({ alert: { name: 'Down', health: 'ok', state: 2, alerts: [{ labels: [{ name: 'alertname', value: 'Down' }, { name: 'instance', value: 'x' }, { name: 'ruler', value: 'r0' }], value: '0e+00' }] } });
    expect(sent).toEqual(['Down up == 0']);
  });

  it('takes over the alerts and series of the group it replaces on a reload', async () => {
    const make = () => new AlertingRule({ name: 'Down', query: 'up == 0', forNs: 10n * MIN, keepFiringForNs: 0n, labels: [], annotations: [] }, async (t) => t);
    const query: QueryFunc = async () => [sample({ instance: 'x' }, 0)];
    const before = group([make()], query).g;
    await before.eval(5n * MIN);
    const { g: after, written } = group([make()], async () => []);
    after.copyState(before);
    await after.eval(6n * MIN);
    // The alert pending since minute 5 went away; its series are marked stale.
    expect(written[0]?.samples.map((s) => [s.labels.get('__name__'), isStaleNaN(s.value)])).toEqual([
      ['ALERTS', true],
      ['ALERTS_FOR_STATE', true],
    ]);
  });

  it('writes its rules\' samples a query offset before the evaluation time', async () => {
    const rule = new RecordingRule({ name: 'r', query: 'vector(1)', labels: [] });
    const asked: number[] = [];
    const { g, written } = group([rule], async (_e, timeMs) => (asked.push(timeMs), [sample({}, 1)]), { queryOffsetNs: 30_000_000_000n });
    await g.eval(10n * MIN);
    expect(asked).toEqual([570_000]);
    expect(written.map((w) => w.timeMs)).toEqual([570_000]);
  });
});
