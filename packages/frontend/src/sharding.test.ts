import { Engine, MemoryStorage, type QueryResult } from '@strata/promql';
import { ShardMatcher } from '@strata/storeapi';
import { Labels } from '@strata/tsdb';
import { describe, expect, it } from 'vitest';
import { shardingOf } from './sharding.js';

describe('shardingOf', () => {
  it('shards by the labels every aggregation and vector matching keeps', () => {
    const by = (...labels: string[]) => ({ by: true, labels });
    // Thanos' analyzer's cases (pkg/querysharding/analyzer_test.go).
    expect(shardingOf('sum by (pod) (http_requests_total)')).toEqual(by('pod'));
    expect(shardingOf('max by (pod) (sum by (pod, cluster) (http_requests_total))')).toEqual(by('pod'));
    expect(shardingOf('http_requests_total{code="400"} / on (pod) http_requests_total')).toEqual(by('pod'));
    expect(shardingOf('sum by (cluster, pod) (http_requests_total{code="400"}) / on (pod) sum by (cluster, pod) (http_requests_total)')).toEqual(by('pod'));
    expect(shardingOf('sum by (container) ((a + on (cluster, pod, container) b) / on (pod, container) c)')).toEqual(by('container'));
    expect(shardingOf('histogram_quantile(0.95, sum(rate(metric[1m])) by (le, cluster))')).toEqual(by('cluster'));
    expect(shardingOf('increase(sum(http_requests_total) by (pod, cluster) [1h:1m])')).toEqual(by('cluster', 'pod'));
    expect(shardingOf('sum(rate(x[3h] offset 1m)) by (cluster_id, mode) / ignoring(mode) group_left sum(rate(x[3h] offset 1m)) by (cluster_id)')).toEqual(by('cluster_id'));
    // A label the query writes is no key.
    expect(shardingOf('sum by (job, dst) (label_replace(x, "dst", "$1", "src", "(.*)"))')).toEqual(by('job'));
    expect(shardingOf('sum by (job, v) (count_values by (job) ("v", x))')).toEqual(by('job'));
    expect(shardingOf('sum by (__name__, job) (x)')).toEqual(by('job'));
    // Thanos never shards by `le`; only bucket functions need its series together.
    expect(shardingOf('sum by (le) (rate(b[5m]))')).toEqual(by('le'));
    // Thanos' x-functions, which a querier may offer.
    expect(shardingOf('sum by (pod) (xrate(http_requests_total[5m]))')).toEqual(by('pod'));
  });

  it('shards by every label but those ruled out where no step keeps any', () => {
    const without = (...labels: string[]) => ({ by: false, labels: ['__name__', ...labels].sort() });
    expect(shardingOf('sum without (pod) (http_requests_total)')).toEqual(without('pod'));
    expect(shardingOf('max without (pod) (sum without (pod, cluster) (x))')).toEqual(without('cluster', 'pod'));
    expect(shardingOf('(a + ignoring (pod) b) / ignoring (cluster, pod) c')).toEqual(without('cluster', 'pod'));
    expect(shardingOf('histogram_quantile(0.95, sum(rate(metric[1m])) without (cluster))')).toEqual(without('cluster', 'le'));
    // Thanos leaves these whole.
    expect(shardingOf('rate(x[5m])')).toEqual(without());
    expect(shardingOf('a / b')).toEqual(without());
    expect(shardingOf('label_replace(x, "dst", "$1", "src", "(.*)") * 2')).toEqual(without('dst'));
    expect(shardingOf('sum without (instance) (rate(x[5m])) > 1')).toEqual(without('instance'));
  });

  it('leaves whole what shards cannot answer in parts', () => {
    for (const q of [
      'sum(http_requests_total)',
      'count(sum by (pod) (x))',
      'count(sum without (pod) (x))',
      'topk(3, x)',
      'sum by (pod) (x{code="400"}) / sum by (cluster) (x)',
      'x{code="400"} / on () x',
      'sum by (job) (sum by (instance) (x))',
      'histogram_quantile(0.9, sum by (le) (rate(b[5m])))',
      'sum by (dst) (label_replace(x, "dst", "$1", "src", "(.*)"))',
      'x or vector(1)',
      'hour()',
      'x > on () group_left minute()',
      'absent(x)',
      'absent_over_time(x[5m])',
      'x * scalar(y)',
      'time()',
      '1 + 1',
      'not a query (',
    ]) {
      expect(shardingOf(q), q).toBeUndefined();
    }
  });
});

describe('a sharded query', () => {
  // Series of two counters and a classic histogram over jobs, instances and modes, some labels on some series only.
  const data: { labels: Labels; samples: [number, number][] }[] = [];
  for (const job of ['api', 'db', 'web']) {
    for (const instance of ['a', 'b', 'c', 'd']) {
      const series = [
        ...['user', 'system', 'idle'].map((mode) => ({ __name__: 'cpu_seconds_total', job, instance, mode })),
        { __name__: 'requests_total', job, instance, ...(instance === 'a' ? { zone: 'eu' } : {}) },
        { __name__: 'errors_total', job, instance },
        ...['0.1', '0.5', '1', '+Inf'].map((le) => ({ __name__: 'latency_bucket', job, instance, le })),
      ];
      for (const record of series) {
        const seed = data.length + 1;
        const le = 'le' in record ? record.le : undefined;
        const scale = le === undefined ? 1 : le === '+Inf' ? 4 : Number(le);
        const samples: [number, number][] = [];
        for (let t = 0, v = 0; t <= 3_600_000; t += 15_000) {
          v += (seed % 7) + (t % 60_000 === 0 ? 1 : 0);
          samples.push([t, v * scale]);
        }
        data.push({ labels: Labels.from(record), samples });
      }
    }
  }
  /** A storage holding the series `keep` keeps. */
  const storageOf = (keep: (labels: Labels) => boolean) => {
    const st = new MemoryStorage();
    for (const { labels, samples } of data) if (keep(labels)) for (const [t, v] of samples) st.append(labels, t, v);
    return st;
  };
  const storage = storageOf(() => true);
  const engine = new Engine({ lookbackDelta: 300_000, timeout: 60_000 });
  const text = (r: QueryResult) => (r.value.type === 'matrix' ? r.value.series.map((s) => `${s.labels.toString()} ${JSON.stringify(s.floats)}`) : []);

  const sharded = async (q: string, by: boolean, labels: string[]) => {
    const parts: string[] = [];
    for (let shardIndex = 0; shardIndex < 3; shardIndex++) {
      const matcher = ShardMatcher.of({ shardIndex, totalShards: 3, by, labels }) as ShardMatcher;
      parts.push(...text(await engine.rangeQuery(storageOf((l) => matcher.matches(l)), q, 600_000, 3_600_000, 60_000)));
    }
    return parts.sort();
  };

  it('answers, over 3 shards put together, exactly what it answers whole', async () => {
    const queries = [
      'sum by (job) (rate(cpu_seconds_total[5m]))',
      'sum without (instance) (rate(cpu_seconds_total[5m]))',
      'rate(requests_total[5m])',
      'errors_total / requests_total',
      'rate(errors_total[5m]) / on (job, instance) group_left (zone) rate(requests_total[5m])',
      'histogram_quantile(0.9, sum by (job, le) (rate(latency_bucket[5m])))',
      'histogram_quantile(0.5, rate(latency_bucket[5m]))',
      'topk by (job) (1, rate(cpu_seconds_total[5m]))',
      'count_values by (job) ("mode_count", count by (job, instance) (cpu_seconds_total))',
      'sum by (job) (label_replace(requests_total, "host", "$1", "instance", "(.*)"))',
      'max_over_time(sum by (job) (rate(requests_total[1m]))[10m:1m])',
      'sum without (mode) ({__name__=~"cpu_seconds_total|requests_total"})',
      'requests_total > on (job, instance) errors_total or on (job, instance) errors_total',
      'quantile by (instance) (0.5, rate(cpu_seconds_total[5m]))',
    ];
    for (const q of queries) {
      const key = shardingOf(q);
      expect(key, q).toBeDefined();
      const whole = text(await engine.rangeQuery(storage, q, 600_000, 3_600_000, 60_000));
      expect(whole.length, q).toBeGreaterThan(0);
      expect(await sharded(q, key!.by, [...key!.labels]), q).toEqual([...whole].sort());
    }
  });

  it('answers otherwise when sharded by labels its steps do not hold equal (what the check above would catch)', async () => {
    const q = 'sum by (job) (rate(cpu_seconds_total[5m]))';
    const whole = text(await engine.rangeQuery(storage, q, 600_000, 3_600_000, 60_000)).sort();
    expect(await sharded(q, true, ['instance'])).not.toEqual(whole);
    expect(await sharded('sum without (mode) ({__name__=~"cpu_seconds_total|requests_total"})', false, ['mode'])).not.toEqual(
      text(await engine.rangeQuery(storage, 'sum without (mode) ({__name__=~"cpu_seconds_total|requests_total"})', 600_000, 3_600_000, 60_000)).sort(),
    );
  });
});
