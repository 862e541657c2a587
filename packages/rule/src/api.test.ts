import { AlertState, ZERO_TIME, type RuleGroup } from '@strata/storeapi';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { ruleApi } from './api.js';

const T = { seconds: 1_700_000_000, nanos: 5_000_000 };
const GROUP: RuleGroup = {
  name: 'g',
  file: '/rules/a.yml',
  interval: 30,
  limit: 0,
  evaluationDurationSeconds: 0.002,
  lastEvaluation: T,
  rules: [
    { recording: { name: 'job:up:sum', query: 'sum by (job) (up)', labels: [{ name: 'ruler', value: 'r' }], health: 'ok', lastError: '', evaluationDurationSeconds: 0.001, lastEvaluation: T } },
    {
      alert: {
        name: 'Down',
        query: 'up == 0',
        state: AlertState.FIRING,
        durationSeconds: 300,
        keepFiringForSeconds: 0,
        labels: [{ name: 'ruler', value: 'r' }],
        annotations: [{ name: 'summary', value: '{{ $labels.instance }} down' }],
        alerts: [{ labels: [{ name: 'alertname', value: 'Down' }, { name: 'instance', value: 'x<y' }], annotations: [{ name: 'summary', value: 'x<y down' }], state: AlertState.FIRING, activeAt: T, value: '0e+00' }],
        health: 'ok',
        lastError: '',
        evaluationDurationSeconds: 0.001,
        lastEvaluation: ZERO_TIME,
      },
    },
  ],
};

async function app(reload: () => Promise<void> = async () => {}) {
  const a = Fastify();
  await a.register(ruleApi({ ruleGroups: () => [GROUP], reload }));
  return a;
}

describe('the ruler HTTP API', () => {
  it('answers /api/v1/rules in Prometheus’ JSON, filtered by type', async () => {
    const a = await app();
    const all = await a.inject({ url: '/api/v1/rules' });
    expect(all.statusCode).toBe(200);
    // Go's JSON escapes and field order.
    expect(all.body).toContain('"instance":"x\\u003cy"');
    expect(all.body).toContain('"lastEvaluation":"0001-01-01T00:00:00Z","type":"alerting"');
    expect(Object.keys(all.json().data.groups[0])).toEqual(['name', 'file', 'rules', 'interval', 'limit', 'evaluationTime', 'lastEvaluation']);
    const alerts = (await a.inject({ url: '/api/v1/rules?type=ALERT' })).json();
    expect(alerts.data.groups[0].rules.map((r: { name: string }) => r.name)).toEqual(['Down']);
    const records = (await a.inject({ url: '/api/v1/rules?type=record' })).json();
    expect(records.data.groups[0].rules.map((r: { name: string }) => r.name)).toEqual(['job:up:sum']);
    const bad = await a.inject({ url: '/api/v1/rules?type=x' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual({ status: 'error', errorType: 'bad_data', error: 'invalid parameter "type": not supported value "x"' });
  });

  it('answers /api/v1/alerts with every active alert', async () => {
    const res = (await (await app()).inject({ url: '/api/v1/alerts' })).json();
    expect(res.data.alerts).toEqual([{ labels: { alertname: 'Down', instance: 'x<y' }, annotations: { summary: 'x<y down' }, state: 'firing', activeAt: '2023-11-14T22:13:20.005Z', value: '0e+00' }]);
  });

  it('reloads on POST /-/reload, answering 500 with the error when the files are wrong', async () => {
    expect((await (await app()).inject({ method: 'POST', url: '/-/reload' })).statusCode).toBe(200);
    const failed = await (await app(async () => Promise.reject(new Error('a.yml: 3:5: bad')))).inject({ method: 'POST', url: '/-/reload' });
    expect(failed.statusCode).toBe(500);
    expect(failed.body).toBe('failed to reload config: a.yml: 3:5: bad');
  });
});
