/**
 * Deterministic synthetic series for comparing the engine with Prometheus and for benchmarks: counters
 * with resets, gauges and classic histogram buckets, written as OpenMetrics (for promtool's backfill)
 * or appended to a MemoryStorage.
 */
import { Labels } from '@strata/tsdb';
import type { MemoryStorage } from '../storage/memory.js';

export interface SyntheticOptions {
  /** Counter and gauge series each (histograms add `histograms × buckets` more). */
  readonly series: number;
  readonly histograms: number;
  /** First and last sample time (ms) and the interval (ms); every series is sampled at the same times. */
  readonly start: number;
  readonly end: number;
  readonly interval: number;
}

export interface SyntheticSeries {
  readonly labels: Labels;
  /** Value of sample i (at start + i·interval). */
  value(i: number): number;
}

const BUCKETS = ['0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf'];

export function syntheticSeries(opts: SyntheticOptions): SyntheticSeries[] {
  const out: SyntheticSeries[] = [];
  for (let s = 0; s < opts.series; s++) {
    const base = { job: `job${s % 10}`, instance: `host${s}:9100` };
    // Counters grow by a series-specific rate and reset every 997 samples.
    out.push({ labels: Labels.from({ __name__: 'demo_requests_total', ...base }), value: (i) => (i % 997) * ((s % 7) + 1) });
    out.push({ labels: Labels.from({ __name__: 'demo_gauge', ...base }), value: (i) => Math.round(Math.sin((i + s) / 20) * 100_000) / 1000 });
  }
  for (let h = 0; h < opts.histograms; h++) {
    BUCKETS.forEach((le, b) => {
      out.push({
        labels: Labels.from({ __name__: 'demo_latency_seconds_bucket', job: `job${h % 10}`, instance: `host${h}:9100`, le }),
        // Cumulative counts: bucket b holds the observations of buckets 0..b.
        value: (i) => i * (b + 1) + (h % 3) * b,
      });
    });
  }
  return out;
}

function sampleCount(opts: SyntheticOptions): number {
  return Math.floor((opts.end - opts.start) / opts.interval) + 1;
}

/** OpenMetrics text (timestamps in seconds), ending with `# EOF`, as promtool's backfill reads it. */
export function* openMetricsLines(series: readonly SyntheticSeries[], opts: SyntheticOptions): Generator<string> {
  const n = sampleCount(opts);
  for (const s of series) {
    const name = s.labels.get('__name__');
    const labels = [...s.labels].filter((l) => l.name !== '__name__').map((l) => `${l.name}="${l.value}"`).join(',');
    for (let i = 0; i < n; i++) yield `${name}{${labels}} ${s.value(i)} ${(opts.start + i * opts.interval) / 1000}\n`;
  }
  yield '# EOF\n';
}

export function appendTo(storage: MemoryStorage, series: readonly SyntheticSeries[], opts: SyntheticOptions): void {
  const n = sampleCount(opts);
  for (const s of series) for (let i = 0; i < n; i++) storage.append(s.labels, opts.start + i * opts.interval, s.value(i));
}
