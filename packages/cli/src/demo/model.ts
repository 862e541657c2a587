/**
 * A deterministic model of the PromLabs demo service (github.com/juliusv/prometheus_demo_service), the
 * target the PromQL compliance queries are written against.
 *
 * Every value is a pure function of (instance, time), so the live exporter and the OpenMetrics
 * backfill of a past range produce the same series: history written by backfill continues seamlessly
 * into what Prometheus scrapes. Counters are closed-form integrals of positive rates, so they only go
 * up; gauges wander smoothly around their base values.
 */

export interface DemoSample {
  /** Family name as in `# TYPE` (counters without `_total`). */
  family: string;
  /** Full sample name (`…_total`, `…_bucket`, `…_sum`, `…_count`). */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export type DemoFamilyType = 'gauge' | 'counter' | 'histogram';

export interface DemoFamily {
  name: string;
  type: DemoFamilyType;
  help: string;
}

export const DEMO_FAMILIES: readonly DemoFamily[] = [
  { name: 'demo_num_cpus', type: 'gauge', help: 'The number of CPUs.' },
  { name: 'demo_cpu_usage_seconds', type: 'counter', help: 'The total amount of CPU time used.' },
  { name: 'demo_memory_usage_bytes', type: 'gauge', help: 'The memory usage in bytes.' },
  { name: 'demo_disk_usage_bytes', type: 'gauge', help: 'The disk usage in bytes.' },
  { name: 'demo_disk_total_bytes', type: 'gauge', help: 'The total disk size in bytes.' },
  { name: 'demo_batch_last_success_timestamp_seconds', type: 'gauge', help: 'The Unix timestamp of the last successful batch job run.' },
  { name: 'demo_batch_last_run_timestamp_seconds', type: 'gauge', help: 'The Unix timestamp of the last batch job run.' },
  { name: 'demo_batch_last_run_duration_seconds', type: 'gauge', help: 'The duration of the last batch job run.' },
  { name: 'demo_batch_last_run_processed_bytes', type: 'gauge', help: 'The number of bytes processed in the last batch job run.' },
  { name: 'demo_intermittent_metric', type: 'gauge', help: 'This metric only exists in even minutes.' },
  { name: 'demo_is_holiday', type: 'gauge', help: 'Whether it is a holiday (1) or not (0).' },
  { name: 'demo_items_shipped', type: 'counter', help: 'The number of items shipped.' },
  { name: 'demo_api_request_duration_seconds', type: 'histogram', help: 'A histogram of the API HTTP request durations in seconds.' },
  { name: 'demo_api_http_requests_in_progress', type: 'gauge', help: 'The current number of API HTTP requests in progress.' },
];

/**
 * 25 exponential buckets from 0.0001 by factor 1.5, as the demo service's classic histogram; multiplied
 * step by step as client_golang's ExponentialBuckets does, so the `le` strings match bit for bit.
 */
export const DEMO_BUCKETS: readonly number[] = (() => {
  const out: number[] = [];
  for (let b = 0.0001; out.length < 25; b *= 1.5) out.push(b);
  return out;
})();

const NUM_CPUS = 4;
const DISK_TOTAL = 160e9;
const DISK_BYTES_PER_SECOND = 0.5e6;
const BATCH_INTERVAL_S = 60;
const BATCH_FAILURE_RATIO = 0.25;
const HOLIDAY_PERIOD_S = 300;

/** Request profile per (path, method): rate in requests/s, median latency in seconds, error ratio. */
const API_ROUTES = [
  { path: '/api/foo', method: 'GET', rate: 8, latency: 0.01, errorRatio: 0.005 },
  { path: '/api/foo', method: 'POST', rate: 3, latency: 0.02, errorRatio: 0.02 },
  { path: '/api/bar', method: 'GET', rate: 5, latency: 0.015, errorRatio: 0.0025 },
  { path: '/api/bar', method: 'POST', rate: 1.5, latency: 0.05, errorRatio: 0.01 },
] as const;

/** A uniform number in [0, 1) from integers, stable across runs (a 32-bit integer hash). */
export function hashUnit(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    h = Math.imul(h ^ (p | 0), 0x01000193);
    h = Math.imul(h ^ ((p / 0x100000000) | 0), 0x01000193);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    h ^= h >>> 12;
  }
  return (h >>> 0) / 0x100000000;
}

/** Smooth noise in [-1, 1]: random knots every `periodS` seconds, cosine-interpolated. */
function smoothNoise(seed: number, tS: number, periodS: number): number {
  const k = Math.floor(tS / periodS);
  const f = tS / periodS - k;
  const a = hashUnit(seed, k) * 2 - 1;
  const b = hashUnit(seed, k + 1) * 2 - 1;
  const w = (1 - Math.cos(Math.PI * f)) / 2;
  return a * (1 - w) + b * w;
}

/**
 * ∫₀ᵗ base·(1 + amp·sin(2πs/period + phase)) ds: a counter whose rate swings by ±amp around base.
 * amp < 1 keeps the rate positive, so the counter only grows.
 */
function wavyCounter(tS: number, base: number, amp: number, periodS: number, phase: number): number {
  const w = (2 * Math.PI) / periodS;
  return base * (tS + (amp / w) * (Math.cos(phase) - Math.cos(w * tS + phase)));
}

/** Standard normal CDF (Abramowitz–Stegun 7.1.26), for the latency distribution of the histogram. */
function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-z * z);
  return 0.5 * (1 + (x < 0 ? -erf : erf));
}

/** The demo service of one instance; the instance name (its `host:port`) seeds how it differs from others. */
export class DemoModel {
  readonly seed: number;

  constructor(readonly instance: string) {
    let h = 0;
    for (let i = 0; i < instance.length; i++) h = Math.imul(h ^ instance.charCodeAt(i), 0x01000193) >>> 0;
    this.seed = h % 100_000;
  }

  /** Every sample the service exposes at time `tMs` (Unix milliseconds), or only those of `family`. */
  samples(tMs: number, family?: string): DemoSample[] {
    const tS = tMs / 1000;
    const s = this.seed;
    const out: DemoSample[] = [];
    const add = (f: string, name: string, labels: Record<string, string>, value: number) => {
      if (family === undefined || family === f) out.push({ family: f, name, labels, value });
    };

    add('demo_num_cpus', 'demo_num_cpus', {}, NUM_CPUS);
    const cpuShare = { user: 0.3, system: 0.2, idle: 0.5 } as const;
    for (const [mode, share] of Object.entries(cpuShare)) {
      add('demo_cpu_usage_seconds', 'demo_cpu_usage_seconds_total', { mode }, round3(wavyCounter(tS, NUM_CPUS * share, 0.3, 600 + 97 * s, s + share * 10)));
    }

    const memory = { used: 2.5e9, cached: 1.2e9, buffers: 0.3e9, free: 4e9 } as const;
    let i = 0;
    for (const [type, base] of Object.entries(memory)) {
      add('demo_memory_usage_bytes', 'demo_memory_usage_bytes', { type }, Math.round(base * (1 + 0.1 * smoothNoise(s * 131 + i++, tS, 30))));
    }

    const wrap = 0.6 * DISK_TOTAL;
    const usage = 0.3 * DISK_TOTAL + ((DISK_BYTES_PER_SECOND * tS + s * 7.3e9) % wrap);
    add('demo_disk_usage_bytes', 'demo_disk_usage_bytes', {}, Math.round(usage));
    add('demo_disk_total_bytes', 'demo_disk_total_bytes', {}, DISK_TOTAL);

    this.#batch(tS, add);

    if (Math.floor(tS / 60) % 2 === 0) add('demo_intermittent_metric', 'demo_intermittent_metric', {}, 1);
    add('demo_is_holiday', 'demo_is_holiday', {}, hashUnit(s, 77, Math.floor(tS / HOLIDAY_PERIOD_S)) < 0.2 ? 1 : 0);
    add('demo_items_shipped', 'demo_items_shipped_total', {}, Math.floor(wavyCounter(tS, 2.5, 0.8, 3600, s)));

    if (family === undefined || family.startsWith('demo_api_')) this.#api(tS, add);
    return out;
  }

  #api(tS: number, add: (family: string, name: string, labels: Record<string, string>, value: number) => void): void {
    const s = this.seed;
    let inProgress = 0;
    for (const r of API_ROUTES) {
      const total = wavyCounter(tS, r.rate, 0.5, 900 + 31 * s, s + r.rate);
      const errors = Math.floor(total * r.errorRatio);
      for (const [status, count] of [['200', Math.floor(total) - errors], ['500', errors]] as const) {
        const labels = { method: r.method, path: r.path, status };
        // Latencies are log-normal around the route's median (errors are slower); cumulative bucket
        // counts are the count times the CDF, so they grow with time and with `le`.
        const median = status === '500' ? r.latency * 3 : r.latency;
        let cumulative = 0;
        for (const le of DEMO_BUCKETS) {
          cumulative = Math.max(cumulative, Math.floor(count * normalCdf(Math.log(le / median) / 0.5)));
          // JavaScript's shortest round-trip form equals Go's 'g' format in this range.
          add('demo_api_request_duration_seconds', 'demo_api_request_duration_seconds_bucket', { ...labels, le: String(le) }, cumulative);
        }
        add('demo_api_request_duration_seconds', 'demo_api_request_duration_seconds_bucket', { ...labels, le: '+Inf' }, count);
        add('demo_api_request_duration_seconds', 'demo_api_request_duration_seconds_sum', labels, round3(count * median * Math.exp(0.125)));
        add('demo_api_request_duration_seconds', 'demo_api_request_duration_seconds_count', labels, count);
      }
      inProgress += r.rate * r.latency;
    }
    add('demo_api_http_requests_in_progress', 'demo_api_http_requests_in_progress', {}, Math.max(0, Math.round(inProgress * (1 + smoothNoise(s + 999, tS, 7)))));
  }

  /** A batch job runs every minute for ~10s and fails a quarter of the time. */
  #batch(tS: number, add: (family: string, name: string, labels: Record<string, string>, value: number) => void): void {
    const run = Math.floor(tS / BATCH_INTERVAL_S);
    const duration = (k: number) => 8 + 4 * hashUnit(this.seed, 5, k);
    // The run in progress (started but not finished) is not reported yet.
    const last = tS - run * BATCH_INTERVAL_S >= duration(run) ? run : run - 1;
    const failed = (k: number) => hashUnit(this.seed, 9, k) < BATCH_FAILURE_RATIO;
    let success = last;
    while (failed(success) && success > last - 100) success--;
    const end = (k: number) => k * BATCH_INTERVAL_S + duration(k);
    add('demo_batch_last_success_timestamp_seconds', 'demo_batch_last_success_timestamp_seconds', {}, round3(end(success)));
    add('demo_batch_last_run_timestamp_seconds', 'demo_batch_last_run_timestamp_seconds', {}, round3(end(last)));
    add('demo_batch_last_run_duration_seconds', 'demo_batch_last_run_duration_seconds', {}, round3(duration(last)));
    add('demo_batch_last_run_processed_bytes', 'demo_batch_last_run_processed_bytes', {}, Math.round(1e6 * (50 + 50 * hashUnit(this.seed, 11, last))));
  }
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}
