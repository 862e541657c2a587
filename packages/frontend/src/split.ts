import type { RemoteCacheConfig } from '@strata/runtime';

/**
 * How one kind of request (range queries, or label and series requests) is split, sent on and cached:
 * Thanos' --query-range.* and --labels.* flags of the same names.
 */
export interface SplitOptions {
  /** Split at multiples of this (ms; 0: sent on whole, and not cached). */
  splitInterval: number;
  /** Downstream requests in flight for one request. */
  maxQueryParallelism: number;
  /** Attempts per downstream request when it fails or is answered 5xx. */
  maxRetries: number;
  /** Bytes of answers cached in memory; undefined: no results cache (unless `remote`). */
  cacheBytes?: number;
  /** Answers cached in memcached or redis instead, kept there `expirationMs`. */
  remote?: { cache: RemoteCacheConfig; expirationMs: number };
  /** Answers for times more recent than this (ms before now) are not cached: they may still change. */
  maxCacheFreshness: number;
  /** The `partial_response` asked for when a request does not say (Thanos' --query-range.partial-response). */
  partialResponse: boolean;
}

/** A range query's evaluation times: start, start + step, … up to end (all in ms). */
export interface StepRange {
  readonly start: number;
  readonly end: number;
  readonly step: number;
}

/**
 * The range cut at every multiple of `interval` since the Unix epoch (midnights UTC for 24h), as
 * Thanos' query frontend splits: each piece keeps the query's step grid, so the pieces' answers put
 * together are the whole query's. A piece ends at the last step before a boundary, the next starts at
 * the step after it. The range whole when `interval` ≤ 0, or when a step spans an interval (each
 * piece would be one step).
 */
export function splitByInterval(r: StepRange, interval: number): StepRange[] {
  if (interval <= 0 || r.step >= interval) return [r];
  const out: StepRange[] = [];
  for (let start = r.start; start <= r.end; ) {
    const boundary = (Math.floor(start / interval) + 1) * interval;
    const end = Math.min(start + Math.floor((boundary - 1 - start) / r.step) * r.step, r.end);
    out.push({ start, end, step: r.step });
    start = end + r.step;
  }
  return out;
}

/** Start and end moved back onto multiples of the step (Thanos' --query-range.align-range-with-step), as Grafana asks. */
export function alignToStep(r: StepRange): StepRange {
  return { start: Math.floor(r.start / r.step) * r.step, end: Math.floor(r.end / r.step) * r.step, step: r.step };
}
