import { AlertState } from '@strata/storeapi';
import { Labels } from '@strata/tsdb';
import { describe, expect, it } from 'vitest';
import { ALERT_FOR_STATE_METRIC_NAME, AlertingRule, type AlertingRuleDef, type TemplateExpander } from './alerting.js';
import type { InstantSample, QueryFunc } from './query.js';

const S = 1_000_000_000n;
const MIN = 60n * S;

/** A query answering what `answers` holds for the evaluation time (ms), nothing otherwise. */
function queryOf(answers: Map<number, InstantSample[]>): QueryFunc {
  return async (_expr, timeMs) => answers.get(timeMs) ?? [];
}

const sample = (labels: Record<string, string>, value: number): InstantSample => ({ labels: Labels.from(labels), value });
const expandNothing: TemplateExpander = async (text) => text;

function rule(over: Partial<AlertingRuleDef> = {}, expand = expandNothing, opts?: { restored: boolean }): AlertingRule {
  return new AlertingRule({ name: 'HighLoad', query: 'load > 1', forNs: 2n * MIN, keepFiringForNs: 0n, labels: [{ name: 'severity', value: 'page' }], annotations: [], ...over }, expand, opts);
}

const opts = { partialResponse: false, limit: 0, queryOffsetNs: 0n };
const at = (m: number) => BigInt(m) * MIN;
const ms = (m: number) => m * 60_000;

describe('AlertingRule', () => {
  it('goes pending, then firing after `for`, then resolved, and is forgotten 15 minutes later', async () => {
    const r = rule();
    const answers = new Map<number, InstantSample[]>();
    for (const m of [0, 1, 2, 3]) answers.set(ms(m), [sample({ __name__: 'load', instance: 'a' }, 2)]);
    const query = queryOf(answers);

    const first = await r.eval(at(0), query, opts);
    expect(r.activeAlerts().map((a) => a.state)).toEqual([AlertState.PENDING]);
    expect(first.map((s) => s.labels.toRecord())).toEqual([
      { __name__: 'ALERTS', alertname: 'HighLoad', alertstate: 'pending', instance: 'a', severity: 'page' },
      { __name__: 'ALERTS_FOR_STATE', alertname: 'HighLoad', instance: 'a', severity: 'page' },
    ]);
    expect(first[1]?.value).toBe(0);

    await r.eval(at(1), query, opts);
    expect(r.state()).toBe(AlertState.PENDING);
    expect(r.alertsToSend(at(1), MIN, MIN)).toEqual([]);

    const firing = await r.eval(at(2), query, opts);
    expect(r.state()).toBe(AlertState.FIRING);
    expect(firing[0]?.labels.get('alertstate')).toBe('firing');
    // Sent at once, then not again within the resend delay.
    const sent = r.alertsToSend(at(2), MIN, MIN);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.startsAtNs).toBe(at(2));
    expect(sent[0]?.endsAtNs).toBe(at(2) + 4n * MIN);
    await r.eval(at(3), query, opts);
    expect(r.alertsToSend(at(3), MIN, MIN)).toEqual([]);

    // Gone: resolved, no samples, and Alertmanager told once with the end time.
    expect(await r.eval(at(4), query, opts)).toEqual([]);
    expect(r.activeAlerts()).toEqual([]);
    const resolved = r.alertsToSend(at(4), MIN, MIN);
    expect(resolved.map((a) => a.endsAtNs)).toEqual([at(4)]);
    expect(r.alertsToSend(at(5), MIN, MIN)).toEqual([]);
    // Resent while retained (the resend delay passed), dropped after 15 minutes.
    await r.eval(at(6), query, opts);
    expect(r.alertsToSend(at(6), MIN, MIN)).toHaveLength(1);
    await r.eval(at(20), query, opts);
    expect(r.alertsToSend(at(20), MIN, MIN)).toEqual([]);
  });

  it('forgets a pending alert that goes away, and starts it again from scratch', async () => {
    const r = rule();
    const answers = new Map([
      [ms(0), [sample({ instance: 'a' }, 2)]],
      [ms(2), [sample({ instance: 'a' }, 3)]],
    ]);
    await r.eval(at(0), queryOf(answers), opts);
    await r.eval(at(1), queryOf(answers), opts);
    expect(r.activeAlerts()).toEqual([]);
    const again = await r.eval(at(2), queryOf(answers), opts);
    expect(r.activeAlerts()[0]?.activeAtNs).toBe(at(2));
    expect(again.find((s) => s.labels.get('__name__') === ALERT_FOR_STATE_METRIC_NAME)?.value).toBe(120);
  });

  it('keeps firing for keep_firing_for after the condition is gone', async () => {
    const r = rule({ forNs: 0n, keepFiringForNs: 2n * MIN });
    const answers = new Map([[ms(0), [sample({ instance: 'a' }, 2)]]]);
    await r.eval(at(0), queryOf(answers), opts);
    expect(r.state()).toBe(AlertState.FIRING);
    // Kept firing for 2 minutes from the first evaluation without it.
    for (const m of [1, 2]) {
      await r.eval(at(m), queryOf(answers), opts);
      expect(r.state()).toBe(AlertState.FIRING);
    }
    await r.eval(at(3), queryOf(answers), opts);
    expect(r.state()).toBe(AlertState.INACTIVE);
  });

  it('updates the value and annotations of an alert already active, keeping when it started', async () => {
    const expand: TemplateExpander = async (text, { value }) => text.replace('$value', String(value));
    const r = rule({ annotations: [{ name: 'summary', value: 'load is $value' }] }, expand);
    const answers = new Map([
      [ms(0), [sample({ instance: 'a' }, 2)]],
      [ms(1), [sample({ instance: 'a' }, 5)]],
    ]);
    await r.eval(at(0), queryOf(answers), opts);
    await r.eval(at(1), queryOf(answers), opts);
    const [a] = r.activeAlerts();
    expect(a?.value).toBe(5);
    expect(a?.annotations).toEqual([{ name: 'summary', value: 'load is 5' }]);
    expect(a?.activeAtNs).toBe(at(0));
  });

  it('sets templated labels (an empty one removes the label) and refuses duplicate alerts', async () => {
    const expand: TemplateExpander = async (text, { labels }) => (text === '{{ $labels.instance }}' ? labels.get('instance') : text);
    const r = rule({ labels: [{ name: 'host', value: '{{ $labels.instance }}' }, { name: 'job', value: '' }] }, expand);
    const out = await r.eval(at(0), queryOf(new Map([[0, [sample({ __name__: 'load', instance: 'a', job: 'node' }, 2)]]])), opts);
    expect(out[0]?.labels.toRecord()).toEqual({ __name__: 'ALERTS', alertname: 'HighLoad', alertstate: 'pending', host: 'a', instance: 'a' });

    const dup = rule({ labels: [{ name: 'instance', value: 'x' }] });
    const two = queryOf(new Map([[0, [sample({ instance: 'a' }, 1), sample({ instance: 'b' }, 1)]]]));
    await expect(dup.eval(at(0), two, opts)).rejects.toThrow('vector contains metrics with the same labelset after applying alert labels');
  });

  it('fails over its limit and drops its alerts', async () => {
    const r = rule();
    const two = queryOf(new Map([[0, [sample({ instance: 'a' }, 1), sample({ instance: 'b' }, 1)]]]));
    await expect(r.eval(at(0), two, { ...opts, limit: 1 })).rejects.toThrow('exceeded limit of 1 with 2 alerts');
    expect(r.activeAlerts()).toEqual([]);
  });

  describe('restoring the `for` state after a start', () => {
    const answers = new Map([[0, [sample({ instance: 'a' }, 2)]]]);
    const restore = (last: { timeMs: number; value: number } | undefined, forGracePeriodNs = 10n * MIN) => ({
      outageToleranceNs: 60n * MIN,
      forGracePeriodNs,
      lookup: async () => (last === undefined ? undefined : { labels: Labels.EMPTY, ...last }),
    });

    it('writes no ALERTS series until restored, then moves activeAt on by the time the ruler was down', async () => {
      const r = rule({ forNs: 60n * MIN }, expandNothing, { restored: false });
      expect(await r.eval(at(0), queryOf(answers), opts)).toEqual([]);
      // Pending for 20 minutes when the ruler went down 5 minutes before this start (minute 0).
      await r.restoreForState(at(0), restore({ timeMs: ms(-5), value: -25 * 60 }));
      expect(r.activeAlerts()[0]?.activeAtNs).toBe(at(-20));
      expect(await r.eval(at(0), queryOf(answers), opts)).toHaveLength(2);
    });

    it('lets an alert that was about to fire wait the grace period', async () => {
      const r = rule({ forNs: 60n * MIN }, expandNothing, { restored: false });
      await r.eval(at(0), queryOf(answers), opts);
      // 58 of 60 minutes pending: it fires 10 minutes from now, not in 2.
      await r.restoreForState(at(0), restore({ timeMs: ms(-1), value: -59 * 60 }));
      expect(r.activeAlerts()[0]?.activeAtNs).toBe(at(10) - at(60));
    });

    it('leaves alerts with a `for` below the grace period, and alerts without a series, as they are', async () => {
      const short = rule({ forNs: 5n * MIN }, expandNothing, { restored: false });
      await short.eval(at(0), queryOf(answers), opts);
      await short.restoreForState(at(0), restore({ timeMs: ms(-1), value: -4 * 60 }));
      expect(short.activeAlerts()[0]?.activeAtNs).toBe(at(0));
      const unseen = rule({ forNs: 60n * MIN }, expandNothing, { restored: false });
      await unseen.eval(at(0), queryOf(answers), opts);
      await unseen.restoreForState(at(0), restore(undefined));
      expect(unseen.activeAlerts()[0]?.activeAtNs).toBe(at(0));
    });
  });

  it('reads its data a query offset before the evaluation, its alerts active from the evaluation time', async () => {
    const r = rule({ forNs: 0n });
    const asked: number[] = [];
    const query: QueryFunc = async (_expr, timeMs) => {
      asked.push(timeMs);
      return [sample({ instance: 'a' }, 2)];
    };
    const out = await r.eval(at(10), query, { ...opts, queryOffsetNs: MIN });
    expect(asked).toEqual([ms(9)]);
    expect(r.activeAlerts()[0]?.activeAtNs).toBe(at(10));
    expect(out.find((s) => s.labels.get('__name__') === ALERT_FOR_STATE_METRIC_NAME)?.value).toBe(600);
  });
});
