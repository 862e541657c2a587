// Rules and alerts end to end: two Prometheus 2.42 replicas evaluating the same rule file, each with a
// sidecar serving Thanos' Rules API, and a querier deduplicating them on the replica label. Its
// /api/v1/rules and /api/v1/alerts must hold what Prometheus' own hold, in Thanos' order and
// Prometheus' JSON, with the external labels but the replica label on the rules.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replicaStack, stable, type ReplicaStack } from './replicas.js';

const RULES = `groups:
  - name: example
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
        labels:
          kind: rec
      - alert: AlwaysFiring
        expr: vector(1) > 0
        labels:
          severity: page
        annotations:
          summary: "always {{ $value }}"
      - alert: Pending
        expr: vector(1) > 0
        for: 1h
      - alert: Never
        expr: vector(1) < 0
  - name: second
    rules:
      - record: two
        expr: vector(2)
`;

type Json = Record<string, unknown>;

let stack: ReplicaStack;

async function get(url: string): Promise<{ code: number; body: Json; text: string }> {
  const res = await fetch(url);
  const text = await res.text();
  return { code: res.status, body: JSON.parse(text) as Json, text };
}

const groupsOf = (body: Json) => (body.data as { groups: (Json & { rules: Json[] })[] }).groups;

beforeAll(async () => {
  stack = await replicaStack(
    2,
    (dir) => {
      const rulesFile = join(dir, 'rules.yml');
      writeFileSync(rulesFile, RULES);
      return { scrapeSelf: true, scrapeInterval: '1s', ruleFiles: [rulesFile] };
    },
    // Every rule evaluated once (a rule not evaluated yet has no health).
    async (prom) => groupsOf((await get(`${prom.url}/api/v1/rules`)).body).every((g) => g.rules.every((r) => r.health === 'ok')),
  );
}, 90_000);

afterAll(() => stack?.stop());

/**
 * Prometheus' rules as Thanos' querier answers them: alerting rules first, each kind by name; external
 * labels on, an alerting rule's alerts with the replica label of the replica the querier chose for that
 * rule (`replicaOf` its name: each rule is chosen on its own, the most critical, else the last evaluated).
 */
function asQuerier(groups: (Json & { rules: Json[] })[], replicaOf: (rule: string) => string): Json[] {
  const kind = (r: Json) => (r.type === 'alerting' ? 0 : 1);
  return groups.map((g) => ({
    ...g,
    rules: [...g.rules]
      .sort((a, b) => kind(a) - kind(b) || (a.name as string).localeCompare(b.name as string))
      .map((r) => ({
        ...r,
        labels: { ...(r.labels as Json | undefined), cluster: 'c1' },
        ...(r.type === 'alerting' ? { alerts: (r.alerts as Json[]).map((a) => ({ ...a, labels: { ...(a.labels as Json), cluster: 'c1', replica: replicaOf(r.name as string) } })) } : {}),
      })),
  }));
}

describe('/api/v1/rules and /api/v1/alerts through the sidecars', () => {
  it('answers Prometheus’ rules once, deduplicated, in Prometheus’ JSON', async () => {
    const got = await get(`${stack.url}/api/v1/rules`);
    expect(got.code).toBe(200);
    expect(got.body.warnings).toBeUndefined();
    // Go's JSON escapes: the query `vector(1) > 0` as Prometheus writes it.
    expect(got.text).toContain('"query":"vector(1) \\u003e 0"');
    const groups = groupsOf(got.body);
    const alerting = groups[0]?.rules.find((r) => r.name === 'AlwaysFiring') as Json;
    // Each alerting rule's alerts all come from one replica: the one chosen for that rule.
    const chosen = new Map<string, string>();
    for (const r of groups.flatMap((g) => g.rules)) {
      const replicas = new Set(((r.alerts as Json[] | undefined) ?? []).map((a) => (a.labels as Json).replica as string));
      expect(replicas.size, r.name as string).toBeLessThanOrEqual(1);
      for (const replica of replicas) chosen.set(r.name as string, replica);
    }
    expect(['r0', 'r1']).toContain(chosen.get('AlwaysFiring'));
    const want = asQuerier(groupsOf((await get(`${stack.replicas[0]?.url}/api/v1/rules`)).body), (rule) => chosen.get(rule) ?? 'r0');
    expect(groups.map(stable)).toEqual(want.map(stable));
    // Fields in Prometheus' order.
    expect(Object.keys(alerting)).toEqual(['state', 'name', 'query', 'duration', 'keepFiringFor', 'labels', 'annotations', 'alerts', 'health', 'evaluationTime', 'lastEvaluation', 'type']);
    expect(Object.keys(groups[0] as Json)).toEqual(['name', 'file', 'rules', 'interval', 'limit', 'evaluationTime', 'lastEvaluation']);
  });

  it('filters by type as Prometheus does, and rejects an unknown one with its error', async () => {
    const alerts = groupsOf((await get(`${stack.url}/api/v1/rules?type=alert`)).body);
    expect(alerts.map((g) => g.rules.map((r) => r.name))).toEqual([['AlwaysFiring', 'Never', 'Pending'], []]);
    const records = groupsOf((await get(`${stack.url}/api/v1/rules?type=RECORD`)).body);
    expect(records.map((g) => g.rules.map((r) => r.name))).toEqual([['job:up:sum'], ['two']]);
    const bad = await get(`${stack.url}/api/v1/rules?type=bad`);
    const want = await get(`${stack.replicas[0]?.url}/api/v1/rules?type=bad`);
    expect(bad.code).toBe(want.code);
    expect(bad.body).toEqual(want.body);
  });

  it('lists each firing and pending alert once', async () => {
    const got = (await get(`${stack.url}/api/v1/alerts`)).body.data as { alerts: Json[] };
    const want = ((await get(`${stack.replicas[0]?.url}/api/v1/alerts`)).body.data as { alerts: Json[] }).alerts;
    const names = (alerts: Json[]) => alerts.map((a) => (a.labels as Json).alertname).sort();
    expect(names(got.alerts)).toEqual(names(want));
    expect(names(got.alerts)).toEqual(['AlwaysFiring', 'Pending']);
    const firing = got.alerts.find((a) => (a.labels as Json).alertname === 'AlwaysFiring') as Json;
    expect(firing).toMatchObject({ annotations: { summary: 'always 1' }, state: 'firing', value: '1e+00', labels: { alertname: 'AlwaysFiring', severity: 'page', cluster: 'c1' } });
  });
});
