import { Labels } from '@strata/tsdb';
import { describe, expect, it } from 'vitest';
import type { Matcher } from '@strata/tsdb';
import type { Queryable, SelectHints } from '../storage.js';
import { MemoryStorage } from '../storage/memory.js';
import { Engine } from './engine.js';
import { explain, type PlanNode } from './explain.js';

/** Names only, indented by depth: the tree's shape in one string. */
function shape(n: PlanNode, depth = 0): string {
  return [`${'  '.repeat(depth)}${n.name}`, ...n.children.map((c) => shape(c, depth + 1))].join('\n');
}

function storage(): MemoryStorage {
  const st = new MemoryStorage();
  // Two jobs of three instances, a sample every 15s for 10 minutes.
  for (const job of ['api', 'db']) {
    for (let i = 0; i < 3; i++) {
      const labels = Labels.from({ __name__: 'requests_total', job, instance: `i${i}` });
      for (let t = 0; t <= 600_000; t += 15_000) st.append(labels, t, t / 1000 + i);
    }
  }
  return st;
}

describe('explain', () => {
  const engine = new Engine();

  it('names each operator as Thanos does, parentheses left out', () => {
    const expr = engine.parse('sum by (job) (rate(requests_total{job="api"}[5m])) / on (job) group_left (x) (-max(requests_total offset 1m)) > bool 2');
    expect(shape(explain(expr, { steps: 1, compat: 3 }))).toBe(
      [
        '[binary] > bool',
        '  [binary] / on (job) group_left (x)',
        '    [aggregate] sum by (job)',
        '      [functionCall] rate',
        '        [matrixSelector] requests_total{job="api"}[5m]',
        '    [unary] -',
        '      [aggregate] max',
        '        [vectorSelector] requests_total offset 1m',
        '  [numberLiteral] 2',
      ].join('\n'),
    );
  });

  it('shows subqueries, aggregation parameters and step-invariant subtrees of range queries', () => {
    const expr = engine.parse('topk(2, max_over_time(requests_total[5m:1m])) + sum(requests_total @ 300)');
    expect(shape(explain(expr, { steps: 10, compat: 3 }))).toBe(
      [
        '[binary] +',
        '  [aggregate] topk',
        '    [numberLiteral] 2',
        '    [functionCall] max_over_time',
        '      [subquery] [5m:1m]',
        '        [vectorSelector] requests_total',
        '  [stepInvariant]',
        '    [aggregate] sum',
        '      [vectorSelector] requests_total @ 300.000',
      ].join('\n'),
    );
    // An instant query evaluates everything once anyway.
    expect(shape(explain(expr, { steps: 1, compat: 3 }))).not.toContain('[stepInvariant]');
  });

  it('lets the caller describe selectors of its own', () => {
    const expr = engine.parse('sum(remote{part="0"})');
    const tree = explain(expr, { steps: 1, compat: 3, describe: (vs) => (vs.name === 'remote' ? { name: '[remoteExec] x', children: [{ name: 'leaf', children: [] }] } : undefined) });
    expect(shape(tree)).toBe(['[aggregate] sum', '  [remoteExec] x', '    leaf'].join('\n'));
  });
});

describe('analyze', () => {
  const engine = new Engine();

  it('counts what each node read and held, its children included, and times the operators', async () => {
    const st = storage();
    const query = 'sum by (job) (rate(requests_total[5m])) * 2';
    const expr = engine.parse(query);
    const res = await engine.rangeQuery(st, expr, 300_000, 600_000, 60_000, { analyze: true });
    const plain = await engine.rangeQuery(st, query, 300_000, 600_000, 60_000);
    expect(res.value).toEqual(plain.value);
    expect(plain.telemetry).toBeUndefined();
    const tree = explain(expr, { steps: 6, compat: 3, telemetry: res.telemetry as NonNullable<typeof res.telemetry> });
    const [sum, two] = tree.children as [PlanNode, PlanNode];
    const rate = sum.children[0] as PlanNode;
    const window = rate.children[0] as PlanNode;
    // Six series, 6 steps, a 5m window of 20 samples each (the window is left-open).
    expect(window.telemetry).toMatchObject({ samples: 6 * 6 * 20, peakSamples: 0 });
    expect(rate.telemetry?.samples).toBe(720);
    expect(tree.telemetry?.samples).toBe(res.stats.samplesRead);
    // rate holds a window of each series in turn, then its 6 series × 6 steps; the sum 2 × 6.
    expect(rate.telemetry?.peakSamples).toBe(36);
    expect(sum.telemetry?.peakSamples).toBe(36 + 12);
    expect(tree.telemetry?.peakSamples).toBe(res.stats.peakSamples);
    expect(two.telemetry).toMatchObject({ samples: 0, peakSamples: 6 });
    for (const n of [tree, sum, rate, two]) expect(n.telemetry?.timeMs).toBeGreaterThanOrEqual(0);
    // Inclusive times: a parent took at least as long as its children together.
    expect(tree.telemetry?.timeMs).toBeGreaterThanOrEqual((sum.telemetry?.timeMs ?? 0) + (two.telemetry?.timeMs ?? 0));
    expect(sum.telemetry?.timeMs).toBeGreaterThanOrEqual(rate.telemetry?.timeMs ?? 0);
  });

  it('sums a subquery expression over its evaluations and times a step-invariant subtree once', async () => {
    const st = storage();
    const query = 'max_over_time(sum(requests_total)[2m:1m]) + sum(requests_total @ 300)';
    const expr = engine.parse(query);
    const res = await engine.rangeQuery(st, expr, 300_000, 600_000, 60_000, { analyze: true });
    const tree = explain(expr, { steps: 6, compat: 3, telemetry: res.telemetry as NonNullable<typeof res.telemetry> });
    const [over, invariant] = tree.children as [PlanNode, PlanNode];
    const inner = (over.children[0] as PlanNode).children[0] as PlanNode;
    expect(inner.name).toBe('[aggregate] sum');
    // The subquery's steps 240s … 600s (its 2m windows are left-open): a sample of each of 6 series at each of 7.
    expect(inner.telemetry?.samples).toBe(6 * 7);
    expect(invariant.name).toBe('[stepInvariant]');
    // Read at one step only.
    expect(invariant.telemetry?.samples).toBe(6);
    expect(tree.telemetry?.samples).toBe(res.stats.samplesRead);
  });

  it('times each selector with its selection, and each operator with the longest selection beneath it', async () => {
    const st = storage();
    // Selecting `requests_total{job="db"}` takes 30 ms, the rest no time.
    const slow: Queryable = {
      querier: async (mint, maxt) => {
        const q = st.querier(mint, maxt);
        return {
          select: async (hints: SelectHints, matchers: readonly Matcher[]) => {
            if (matchers.some((m) => m.value === 'db')) await new Promise((r) => setTimeout(r, 30));
            return q.select(hints, matchers);
          },
          close: () => {},
        };
      },
    };
    const expr = engine.parse('sum(rate(requests_total{job="db"}[5m])) + sum(requests_total{job="api"})');
    const res = await engine.instantQuery(slow, expr, 600_000, { analyze: true });
    const tree = explain(expr, { steps: 1, compat: 3, telemetry: res.telemetry as NonNullable<typeof res.telemetry> });
    const [db, api] = tree.children as [PlanNode, PlanNode];
    const window = ((db.children[0] as PlanNode).children[0] as PlanNode).telemetry;
    const selector = (api.children[0] as PlanNode).telemetry;
    // Both selections ran at once: the slow one took its 30 ms (timers may fire a little early), the other less.
    expect(window?.fetchMs).toBeGreaterThanOrEqual(25);
    expect(selector?.fetchMs).toBeLessThan(window?.fetchMs as number);
    expect(window?.timeMs).toBe(window?.fetchMs);
    for (const n of [db, api, tree]) expect(n.telemetry?.timeMs).toBeGreaterThanOrEqual(n.telemetry?.fetchMs as number);
    expect(db.telemetry?.fetchMs).toBe(window?.fetchMs);
    expect(tree.telemetry?.fetchMs).toBe(window?.fetchMs);
    expect(tree.telemetry?.timeMs).toBeGreaterThanOrEqual(db.telemetry?.timeMs as number);
  });
});
