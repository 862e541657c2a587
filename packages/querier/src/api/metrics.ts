import type { QueryResult } from '@strata/promql';
import pLimit, { type LimitFunction } from 'p-limit';
import { Counter, Gauge, Histogram, Summary, type Registry } from 'prom-client';

/**
 * The admission gate of PromQL queries (--query.max-concurrent), with Thanos' gate metrics: how many
 * queries run, the most that may, and how long each waited for its turn.
 */
export class QueryGate {
  readonly #limit: LimitFunction;
  readonly #inFlight: Gauge;
  readonly #wait: Histogram;

  constructor(maxConcurrent: number, registry: Registry) {
    this.#limit = pLimit(maxConcurrent);
    const registers = [registry];
    this.#inFlight = new Gauge({ name: 'strata_query_concurrent_gate_queries_in_flight', help: 'Number of queries that are currently in flight.', registers });
    new Gauge({ name: 'strata_query_concurrent_gate_queries_max', help: 'Maximum number of concurrent queries.', registers }).set(maxConcurrent);
    this.#wait = new Histogram({
      name: 'strata_query_concurrent_gate_duration_seconds',
      help: 'How many seconds it took for queries to wait at the gate.',
      buckets: [0.01, 0.1, 0.3, 0.6, 1, 3, 6, 9, 20, 30, 60, 90, 120, 240, 360, 720],
      registers,
    });
  }

  /** Runs `fn` once a slot is free, telling it how long it waited (seconds). */
  run<T>(fn: (queuedSeconds: number) => Promise<T>): Promise<T> {
    const arrived = performance.now();
    return this.#limit(async () => {
      const queued = (performance.now() - arrived) / 1000;
      this.#wait.observe(queued);
      this.#inFlight.inc();
      try {
        return await fn(queued);
      } finally {
        this.#inFlight.dec();
      }
    });
  }
}

/**
 * The gate of remote read requests (Prometheus' --storage.remote.read-concurrent-limit; 0: none) with
 * Prometheus' gauge of them, waiting or running (prometheus_api_remote_read_queries).
 */
export class RemoteReadGate {
  readonly #limit: LimitFunction | undefined;
  readonly #queries: Gauge;

  constructor(concurrentLimit: number, registry: Registry) {
    this.#limit = concurrentLimit > 0 ? pLimit(concurrentLimit) : undefined;
    this.#queries = new Gauge({ name: 'prometheus_api_remote_read_queries', help: 'The current number of remote read queries being executed or waiting.', registers: [registry] });
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    this.#queries.inc();
    try {
      return await (this.#limit === undefined ? fn() : this.#limit(fn));
    } finally {
      this.#queries.dec();
    }
  }
}

/**
 * Prometheus' engine metrics for the querier's PromQL queries, under Prometheus' names (its dashboards
 * and alerts use them): queries running, their timings by slice, and the samples they loaded.
 */
export class EngineMetrics {
  readonly #queries: Gauge;
  readonly #duration: Summary;
  readonly #samples: Counter;

  constructor(registry: Registry, maxConcurrent: number) {
    const registers = [registry];
    this.#queries = new Gauge({ name: 'prometheus_engine_queries', help: 'The current number of queries being executed or waiting.', registers });
    new Gauge({ name: 'prometheus_engine_queries_concurrent_max', help: 'The max number of concurrent queries.', registers }).set(maxConcurrent);
    this.#duration = new Summary({
      name: 'prometheus_engine_query_duration_seconds',
      help: 'Query timings',
      labelNames: ['slice'],
      percentiles: [0.5, 0.9, 0.99],
      maxAgeSeconds: 600,
      ageBuckets: 5,
      registers,
    });
    this.#samples = new Counter({ name: 'prometheus_engine_query_samples_total', help: 'The total number of samples loaded by all queries.', registers });
  }

  /** Runs a query, counting it while it runs and observing its timings once it answered. */
  async track(queuedSeconds: number, run: () => Promise<QueryResult>): Promise<QueryResult> {
    this.#queries.inc();
    const started = performance.now();
    try {
      const res = await run();
      const total = (performance.now() - started) / 1000;
      const preparation = res.stats.preparationMs / 1000;
      this.#duration.observe({ slice: 'queue_time' }, queuedSeconds);
      this.#duration.observe({ slice: 'prepare_time' }, preparation);
      this.#duration.observe({ slice: 'inner_eval' }, total - preparation);
      this.#samples.inc(res.stats.samplesRead);
      return res;
    } finally {
      this.#queries.dec();
    }
  }
}
