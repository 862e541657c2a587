import { Engine, exprString } from '@strata/promql';
import { describe, expect, it } from 'vitest';
import { distribute, type Partitioning } from './plan.js';

const engine = new Engine();
const byCluster: Partitioning = { labels: new Set(['cluster']), known: true };
const unknown: Partitioning = { labels: new Set(), known: false };

/** The central query (leaf selectors written as `R0`, `R1`, …) and the leaf queries; undefined when nothing is pushed down. */
function plan(query: string, p: Partitioning = byCluster): { central: string; remote: readonly string[] } | undefined {
  const planned = distribute(engine.parse(query), p, 3);
  if (planned === undefined) return undefined;
  return { central: exprString(planned.expr, 3).replace(/\{__strata_remote__="(\d+)"\}/g, 'R$1'), remote: planned.remote.map((r) => r.query) };
}

describe('distributed query plans', () => {
  it("keeps each leaf query's selectors, by which the leaves asked are chosen", () => {
    const planned = distribute(engine.parse('sum by (job) (a{cluster="eu"}) / on (job) sum by (job) (b)'), byCluster, 3);
    expect(planned?.remote.map((r) => r.selectors.map((ms) => ms.map((m) => m.toString())))).toEqual([[['cluster="eu"', '__name__="a"']], [['__name__="b"']]]);
  });

  it('pushes down selectors and functions of one series whole', () => {
    expect(plan('up')).toEqual({ central: 'R0', remote: ['up'] });
    expect(plan('rate(http_requests_total{job="a"}[5m]) * 2')).toEqual({ central: 'R0', remote: ['rate(http_requests_total{job="a"}[5m]) * 2'] });
    expect(plan('max_over_time(rate(x[1m])[10m:1m])')).toEqual({ central: 'R0', remote: ['max_over_time(rate(x[1m])[10m:1m])'] });
    expect(plan('label_replace(up, "dst", "$1", "job", "(.*)")')?.remote).toEqual(['label_replace(up, "dst", "$1", "job", "(.*)")']);
  });

  it('pushes down aggregations that keep partitions apart whole, and splits the others that can be', () => {
    expect(plan('sum by (cluster, job) (rate(x[5m]))')).toEqual({ central: 'R0', remote: ['sum by (cluster, job) (rate(x[5m]))'] });
    expect(plan('sum without (job) (x)')).toEqual({ central: 'R0', remote: ['sum without (job) (x)'] });
    expect(plan('sum by (job) (rate(x[5m]))')).toEqual({ central: 'sum by (job) (R0)', remote: ['sum by (cluster, job) (rate(x[5m]))'] });
    expect(plan('count(x)')).toEqual({ central: 'sum(R0)', remote: ['count by (cluster) (x)'] });
    expect(plan('sum without (cluster, job) (x)')).toEqual({ central: 'sum without (cluster, job) (R0)', remote: ['sum without (job) (x)'] });
    expect(plan('topk(3, x)')).toEqual({ central: 'topk(3, R0)', remote: ['topk by (cluster) (3, x)'] });
    expect(plan('histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))')).toEqual({
      central: 'histogram_quantile(0.9, sum by (le) (R0))',
      remote: ['sum by (cluster, le) (rate(h_bucket[5m]))'],
    });
    // Not associative over partitions: the operand is pushed down.
    expect(plan('avg by (job) (x)')).toEqual({ central: 'avg by (job) (R0)', remote: ['x'] });
    expect(plan('quantile(0.5, rate(x[5m]))')).toEqual({ central: 'quantile(0.5, R0)', remote: ['rate(x[5m])'] });
  });

  it('pushes down binary operations whose matches stay in one partition', () => {
    expect(plan('a / b')).toEqual({ central: 'R0', remote: ['a / b'] });
    expect(plan('a / on (cluster, job) b')).toEqual({ central: 'R0', remote: ['a / on (cluster, job) b'] });
    expect(plan('a / on (job) b')).toEqual({ central: 'R0 / on (job) R1', remote: ['a', 'b'] });
    expect(plan('a / ignoring (cluster) b')).toEqual({ central: 'R0 / ignoring (cluster) R1', remote: ['a', 'b'] });
    expect(plan('sum(a) / sum(b)')).toEqual({ central: 'sum(R0) / sum(R1)', remote: ['sum by (cluster) (a)', 'sum by (cluster) (b)'] });
  });

  it('keeps what needs every partition at once here, and its arguments as written where their syntax matters', () => {
    expect(plan('absent(up{job="a"})')).toBeUndefined();
    expect(plan('absent_over_time(up[5m])')).toBeUndefined();
    expect(plan('vector(1)')).toBeUndefined();
    expect(plan('time() + 1')).toBeUndefined();
    expect(plan('sort_desc(rate(x[5m]))')).toEqual({ central: 'sort_desc(R0)', remote: ['rate(x[5m])'] });
    expect(plan('scalar(sum(x)) * y')).toEqual({ central: 'scalar(sum(R0)) * R1', remote: ['sum by (cluster) (x)', 'y'] });
    expect(plan('sum(x) or vector(0)')).toEqual({ central: 'sum(R0) or vector(0)', remote: ['sum by (cluster) (x)'] });
    // A subquery over all partitions is evaluated here, from raw data.
    expect(plan('max_over_time(sum(x)[10m:1m])')).toBeUndefined();
    // Renaming into a partition label could meet another partition's series: done here.
    expect(plan('label_replace(up, "cluster", "x", "", "")')).toEqual({ central: 'label_replace(R0, "cluster", "x", "", "")', remote: ['up'] });
    expect(plan('sum(label_replace(up, "cluster", "x", "", ""))')).toEqual({ central: 'sum(label_replace(R0, "cluster", "x", "", ""))', remote: ['up'] });
  });

  it('without partition labels to tell leaves apart, pushes down only what is of one series', () => {
    expect(plan('sum by (job) (rate(x[5m]))', unknown)).toEqual({ central: 'sum by (job) (R0)', remote: ['rate(x[5m])'] });
    expect(plan('a / b', unknown)).toEqual({ central: 'R0 / R1', remote: ['a', 'b'] });
    // One leaf (or replicas of one): everything.
    expect(plan('sum by (job) (rate(x[5m]))', { labels: new Set(), known: true })).toEqual({ central: 'R0', remote: ['sum by (job) (rate(x[5m]))'] });
  });
});
