/**
 * The ruler's remote-write client against a real Prometheus 2.42 (Debian's) started with its remote-write
 * receiver: what is written is read back through Prometheus' query API, samples exactly (NaN, ±Inf and -0
 * from the API's string forms; toEqual tells -0 from 0) and labels with the external labels the client adds.
 */
import { startPrometheus, type PrometheusHandle } from '@strata/testing/prometheus';
import { tempDir } from '@strata/testing/process';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RemoteWriteStorage, type RemoteWriteSeries } from '../../packages/rule/src/remotewrite.js';
import { parseRemoteWriteConfig } from '../../packages/rule/src/remotewriteconfig.js';

let dir: { path: string; cleanup: () => Promise<void> };
let prom: PrometheusHandle;

beforeAll(async () => {
  dir = await tempDir('strata-rule-rw-');
  prom = await startPrometheus({ dir: dir.path, extraArgs: ['--web.enable-remote-write-receiver'] });
});

afterAll(async () => {
  await prom?.stop();
  await dir?.cleanup();
});

/** A sample value from Prometheus' API string: NaN, +Inf and -Inf in its forms, else the number (-0 included). */
function apiValue(s: string): number {
  const special: Record<string, number> = { NaN: NaN, '+Inf': Infinity, '-Inf': -Infinity };
  if (s in special) return special[s]!;
  const v = Number(s);
  if (!/^-?\d/.test(s) || Number.isNaN(v)) throw new Error(`not a sample value: ${JSON.stringify(s)}`);
  return v;
}

describe('remote write to Prometheus 2.42', () => {
  it('writes every sample, read back exactly with the external labels', async () => {
    // Recent timestamps, in order: Prometheus' head takes them without out-of-order ingestion.
    const base = Math.floor(Date.now() / 60_000) * 60_000 - 30 * 60_000;
    const values = [1.5, -2.25, 0, NaN, Infinity, -Infinity, 0.1, 12345.678, 1e-7, 42];
    const written: RemoteWriteSeries[] = [
      { labels: [{ name: '__name__', value: 'rw_test_recorded' }, { name: 'job', value: 'a' }], samples: values.map((v, i) => ({ t: base + i * 15_000, v })) },
      // Its own cluster label is kept; the external one is not added over it.
      { labels: [{ name: '__name__', value: 'rw_test_recorded' }, { name: 'job', value: 'b' }, { name: 'cluster', value: 'other' }], samples: values.map((v, i) => ({ t: base + i * 15_000 + 1, v: -v })) },
      { labels: [{ name: '__name__', value: 'rw_test_dropped' }], samples: [{ t: base, v: 1 }] },
    ];
    const registry = new Registry();
    const config = parseRemoteWriteConfig(`
remote_write:
  - url: ${prom.url}/api/v1/write
    name: prometheus
    write_relabel_configs: [{source_labels: [__name__], regex: rw_test_dropped, action: drop}]
    queue_config: {max_samples_per_send: 4}
`);
    const rw = new RemoteWriteStorage(config, { registry, externalLabels: [{ name: 'cluster', value: 'eu-1' }, { name: 'ruler', value: 'r0' }] });
    // Appended as a ruler appends: each evaluation's samples together.
    for (let i = 0; i < values.length; i++) rw.append(written.map((s) => ({ labels: s.labels, samples: s.samples.slice(i, i + 1) })));
    await rw.close();

    const evalTime = (base + values.length * 15_000) / 1000;
    const matrix = await prom.api<{ resultType: string; result: { metric: Record<string, string>; values: [number, string][] }[] }>('query', { query: '{__name__=~"rw_test_.*"}[1h]', time: String(evalTime) });
    expect(matrix.resultType).toBe('matrix');
    const got = matrix.result.map((s) => ({ metric: s.metric, values: s.values.map(([t, v]) => [Math.round(t * 1000), apiValue(v)]) })).sort((a, b) => (a.metric.job ?? '').localeCompare(b.metric.job ?? ''));
    expect(got).toEqual([
      { metric: { __name__: 'rw_test_recorded', job: 'a', cluster: 'eu-1', ruler: 'r0' }, values: values.map((v, i) => [base + i * 15_000, v]) },
      { metric: { __name__: 'rw_test_recorded', job: 'b', cluster: 'other', ruler: 'r0' }, values: values.map((v, i) => [base + i * 15_000 + 1, -v]) },
    ]);
    const series = await prom.api<Record<string, string>[]>('series', { 'match[]': '{__name__=~"rw_test_.*"}', start: String(base / 1000 - 60), end: String(evalTime) });
    expect(series).toHaveLength(2);

    const metrics = await registry.metrics();
    expect(metrics).toContain(`prometheus_remote_storage_samples_total{remote_name="prometheus",url="${prom.url}/api/v1/write"} ${2 * values.length}`);
    expect(metrics).toContain(`prometheus_remote_storage_samples_dropped_total{remote_name="prometheus",url="${prom.url}/api/v1/write"} 1`);
    expect(metrics).not.toMatch(/prometheus_remote_storage_samples_failed_total\{[^}]*\} [1-9]/);
  });
});
