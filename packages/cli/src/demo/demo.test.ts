import { describe, expect, it } from 'vitest';
import { startDemoExporter } from './exporter.js';
import { textExposition, writeOpenMetrics } from './exposition.js';
import { DEMO_BUCKETS, DemoModel } from './model.js';

const T0 = Date.UTC(2026, 10, 1);
const key = (s: { name: string; labels: Record<string, string> }) => `${s.name}${JSON.stringify(s.labels)}`;

describe('demo model', () => {
  const model = new DemoModel('127.0.0.1:10000');

  it('has the families the compliance queries use, with their label sets', () => {
    const names = new Set(model.samples(T0).map((s) => s.name));
    for (const n of ['demo_num_cpus', 'demo_cpu_usage_seconds_total', 'demo_memory_usage_bytes', 'demo_disk_usage_bytes', 'demo_disk_total_bytes',
      'demo_batch_last_success_timestamp_seconds', 'demo_intermittent_metric', 'demo_api_request_duration_seconds_bucket',
      'demo_api_request_duration_seconds_sum', 'demo_api_request_duration_seconds_count', 'demo_api_http_requests_in_progress',
      'demo_is_holiday', 'demo_items_shipped_total']) expect(names, n).toContain(n);
    const cpuModes = model.samples(T0, 'demo_cpu_usage_seconds').map((s) => s.labels.mode);
    expect(cpuModes).toEqual(['user', 'system', 'idle']);
    expect(DEMO_BUCKETS).toHaveLength(25);
  });

  it('keeps counters monotonic and cumulative buckets ordered', () => {
    let prev = new Map<string, number>();
    for (let t = T0; t < T0 + 3 * 3600_000; t += 15_000) {
      const cur = new Map<string, number>();
      const samples = model.samples(t);
      for (const s of samples) {
        if (s.name.endsWith('_total') || s.name.endsWith('_bucket') || s.name.endsWith('_count') || s.name.endsWith('_sum')) {
          const before = prev.get(key(s));
          if (before !== undefined) expect(s.value, key(s)).toBeGreaterThanOrEqual(before);
          cur.set(key(s), s.value);
        }
      }
      const buckets = samples.filter((s) => s.name.endsWith('_bucket') && s.labels.method === 'GET' && s.labels.path === '/api/foo' && s.labels.status === '200');
      for (let i = 1; i < buckets.length; i++) expect((buckets[i] as { value: number }).value).toBeGreaterThanOrEqual((buckets[i - 1] as { value: number }).value);
      prev = cur;
    }
  });

  it('exposes the intermittent metric only in even minutes', () => {
    const has = (t: number) => model.samples(t).some((s) => s.name === 'demo_intermittent_metric');
    expect(has(T0 + 10_000)).toBe(true);
    expect(has(T0 + 70_000)).toBe(false);
  });

  it('differs between instances', () => {
    const other = new DemoModel('127.0.0.1:10001');
    expect(other.samples(T0, 'demo_memory_usage_bytes')).not.toEqual(model.samples(T0, 'demo_memory_usage_bytes'));
  });
});

describe('exposition', () => {
  it('serves the same values the backfill writes for the same instance and time', async () => {
    const exporter = await startDemoExporter('127.0.0.1:0');
    try {
      const body = await (await fetch(`http://${exporter.address}/metrics`)).text();
      expect(body).toMatch(/^# HELP demo_num_cpus /);
      expect(body).toContain('# TYPE demo_cpu_usage_seconds_total counter');
      expect(body).toContain('demo_num_cpus 4\n');
      let om = '';
      const t = T0;
      await writeOpenMetrics([{ model: new DemoModel(exporter.address), labels: { instance: exporter.address, job: 'demo' } }], { startMs: t, endMs: t, stepMs: 1000 }, (c) => {
        om += c;
      });
      const live = textExposition(new DemoModel(exporter.address).samples(t));
      const disk = /demo_disk_usage_bytes (\d+)/.exec(live)?.[1];
      expect(om).toContain(`demo_disk_usage_bytes{instance="${exporter.address}",job="demo"} ${disk} ${t / 1000}\n`);
      expect(om.endsWith('# EOF\n')).toBe(true);
    } finally {
      await exporter.stop();
    }
  });
});
