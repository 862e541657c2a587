/**
 * The same data in Prometheus 2.42 (backfilled with promtool) and in a MemoryStorage; range queries must
 * give the same answers in the engine's 2.x mode.
 */
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { tempDir } from '@strata/testing/process';
import { promtool, startPrometheus, type PrometheusHandle } from '@strata/testing/prometheus';
import { Labels } from '@strata/tsdb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../engine/engine.js';
import { almostEqual } from '../float.js';
import { MemoryStorage } from '../storage/memory.js';
import { appendTo, openMetricsLines, syntheticSeries, type SyntheticOptions } from './synthetic.js';

// Samples 7 ms off whole seconds, so no sample sits exactly on a range boundary of the 30s-aligned steps.
const opts: SyntheticOptions = { series: 20, histograms: 4, start: 1_700_000_000_007, end: 1_700_000_000_007 + 6 * 3600_000, interval: 15_000 };
const queries = [
  'demo_gauge',
  'rate(demo_requests_total[5m])',
  'increase(demo_requests_total[3m])',
  'irate(demo_requests_total[1m])',
  'delta(demo_gauge[10m])',
  'deriv(demo_gauge[10m])',
  'predict_linear(demo_gauge[10m], 600)',
  'sum by (job) (rate(demo_requests_total[5m]))',
  'avg without (instance) (demo_gauge)',
  'topk(3, demo_gauge)',
  'quantile(0.9, demo_gauge)',
  'stddev by (job) (demo_gauge)',
  'count_values("v", round(demo_gauge / 50))',
  'histogram_quantile(0.9, sum by (le) (rate(demo_latency_seconds_bucket[5m])))',
  'histogram_quantile(0.5, rate(demo_latency_seconds_bucket[10m]))',
  'demo_requests_total - demo_requests_total offset 1h',
  'demo_gauge > on(job, instance) group_left demo_requests_total / 1000',
  'demo_gauge and demo_gauge > 20 or demo_gauge < -90',
  'max_over_time(demo_gauge[1h:1m])',
  'avg_over_time(demo_gauge[7m]) * 2 ^ 2',
  'quantile_over_time(0.3, demo_gauge[20m])',
  'holt_winters(demo_gauge[10m], 0.3, 0.6)',
  'changes(demo_gauge[10m]) + resets(demo_requests_total[2h])',
  'label_replace(demo_gauge, "host", "$1", "instance", "(.*):.*")',
  'absent(nonexistent{job="x"})',
  'time() - timestamp(demo_gauge)',
  'scalar(sum(demo_gauge)) * vector(1)',
  'clamp(demo_gauge, -10, 10) + abs(demo_gauge) - ceil(demo_gauge)',
  'sum(rate(demo_requests_total[5m] @ end()))',
  'bottomk(2, demo_gauge) or count_values without (instance) ("v", demo_gauge > 99)',
  'label_join(demo_gauge, "both", "/", "job", "instance")',
  'absent_over_time(demo_gauge{job="none"}[5m])',
  'minute(timestamp(demo_gauge)) + day_of_month(demo_gauge * 86400)',
  'hour() + day_of_week() + month(vector(86400 * 40)) + days_in_month() + year()',
  'sgn(demo_gauge) * sqrt(abs(demo_gauge)) + ln(demo_requests_total + 1) + exp(demo_gauge / 1000)',
  'stdvar_over_time(demo_gauge[15m]) - min_over_time(demo_gauge[15m]) / max_over_time(demo_gauge[15m])',
  'sum_over_time(demo_gauge[5m]) / count_over_time(demo_gauge[5m]) - last_over_time(demo_gauge[5m])',
  'rate(demo_requests_total[5m:30s])',
  'demo_gauge offset -5m unless demo_gauge > 0',
  'group by (job) (demo_gauge) * on(job) group_right count by (job) (demo_requests_total)',
  'round(demo_gauge, 0.25) + clamp_min(demo_gauge, 0) - clamp_max(demo_gauge, 0)',
  'idelta(demo_gauge[1m]) + present_over_time(demo_gauge[1m])',
  'demo_gauge == bool on(job, instance) demo_gauge',
];

// Invalid queries whose error text (position and wording) must equal Prometheus'.
const invalidQueries = [
  'foo(bar)', '{a="b"', 'sum(', 'a +', 'a b', '1 +* 2', 'rate(x[5m]', 'x[5m:1m', 'foo @ bar', 'x offset',
  '"unterminated', '(', 'x[5]', 'x[0s]', '-"a"', 'topk(2)', 'absent()', 'label_replace(x, "a")', '1 and x',
  'x[5m] + 1', 'sum(x[5m])', 'rate(x)', 'x{__name__="y"}', '{}', 'x offset 5m offset 1m', 'x @ 1 @ 2',
  'x{a="\\q"}', 'time() > 1', 'a + bool b', 'round(x, 1, 2)', 'sum(x) by (y) + on(a) group_left(a) z',
];

interface PromMatrix {
  metric: Record<string, string>;
  values: [number, string][];
}

describe('engine in 2.x mode against Prometheus 2.42 on the same data', () => {
  let prom: PrometheusHandle;
  let cleanup: () => Promise<void>;
  const storage = new MemoryStorage();
  const engine = new Engine({ compat: 2 });

  beforeAll(async () => {
    const dir = await tempDir('strata-promql-compare-');
    cleanup = dir.cleanup;
    const series = syntheticSeries(opts);
    appendTo(storage, series, opts);
    const om = join(dir.path, 'data.om');
    await finished(Readable.from(openMetricsLines(series, opts)).pipe(createWriteStream(om)));
    const dataDir = join(dir.path, 'data');
    await promtool(['tsdb', 'create-blocks-from', 'openmetrics', '--max-block-duration=24h', om, dataDir]);
    prom = await startPrometheus({ dir: dir.path, dataDir, blockDuration: '2h' });
  });

  afterAll(async () => {
    await prom?.stop();
    await cleanup?.();
  });

  it.each(invalidQueries)('rejects %s as Prometheus does', async (query) => {
    const res = await fetch(`${prom.url}/api/v1/query?${new URLSearchParams({ query, time: '0' })}`);
    const body = (await res.json()) as { status: string; error?: string };
    expect(body.status).toBe('error');
    const theirs = (body.error ?? '').replace(/^invalid parameter "query": /, '');
    let ours = '';
    try {
      engine.parse(query);
    } catch (e) {
      ours = (e as Error).message;
    }
    expect(ours).toBe(theirs);
  });

  it.each([...queries.filter((q) => !q.includes('@ end()')), 'sort_desc(demo_gauge)', 'sort(rate(demo_requests_total[5m]))', 'topk(5, demo_gauge)'])(
    'instant %s',
    async (query) => {
      const time = opts.end - 7 - 120_000;
      const want = await prom.api<{ resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] | [number, string] }>(
        'query', { query, time: String(time / 1000) },
      );
      const got = await engine.instantQuery(storage, query, time);
      if (want.resultType === 'scalar') {
        expect(got.value.type).toBe('scalar');
        return;
      }
      if (got.value.type !== 'vector') throw new Error(`got ${got.value.type}`);
      const theirs = want.result as { metric: Record<string, string>; value: [number, string] }[];
      const ordered = /^(sort|topk)/.test(query);
      const key = (l: Labels): string => l.toString();
      const ours = got.value.samples.map((s) => `${key(s.labels)} ${s.f}`);
      const expected = theirs.map((r) => `${key(Labels.from(r.metric))} ${Number(r.value[1] === '+Inf' ? Infinity : r.value[1] === '-Inf' ? -Infinity : r.value[1])}`);
      // Order matters for sort/topk, except among equal values (Prometheus leaves ties unordered).
      if (ordered) expect(got.value.samples.map((x) => x.f)).toEqual(theirs.map((r) => Number(r.value[1])));
      expect([...ours].sort()).toEqual([...expected].sort());
    },
  );

  it.each(queries)('%s', async (query) => {
    const start = opts.start - 7 + 3600_000;
    const end = opts.end - 7;
    const step = 30_000;
    const want = await prom.api<{ resultType: string; result: PromMatrix[] }>('query_range', {
      query, start: String(start / 1000), end: String(end / 1000), step: String(step / 1000),
    });
    const got = await engine.rangeQuery(storage, query, start, end, step);
    if (got.value.type !== 'matrix') throw new Error(`got ${got.value.type}`);
    const ours = new Map(got.value.series.map((s) => [s.labels.key(), s]));
    expect(got.value.series.length, 'series count').toBe(want.result.length);
    expect(want.result.length, 'a comparison over no series proves nothing').toBeGreaterThan(0);
    for (const w of want.result) {
      const labels = Labels.from(w.metric);
      const s = ours.get(labels.key());
      expect(s, `series ${labels.toString()}`).toBeDefined();
      const points = s?.floats ?? [];
      expect(points.map((p) => p.t), labels.toString()).toEqual(w.values.map(([t]) => Math.round(t * 1000)));
      w.values.forEach(([, v], i) => {
        const ours = (points[i] as { f: number }).f;
        const theirs = Number(v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : v);
        // Go's and V8's exp/log may differ in the last bit, which sums with cancellation amplify.
        if (!almostEqual(ours, theirs, 1e-12)) expect(ours, `${labels.toString()} at ${w.values[i]?.[0]}`).toBe(theirs);
      });
    }
  });
});
