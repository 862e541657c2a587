import { Histogram, type Registry } from 'prom-client';

/**
 * Thanos' query telemetry (--query.telemetry.request-duration-seconds-quantiles,
 * --query.telemetry.request-samples-quantiles, --query.telemetry.request-series-seconds-quantiles): the
 * duration of each select's fan-out, by how many samples and series it returned.
 */
export interface SelectTelemetryBuckets {
  durationSeconds: readonly number[];
  samples: readonly number[];
  series: readonly number[];
}

/** Thanos' defaults. */
export const DEFAULT_SELECT_TELEMETRY: SelectTelemetryBuckets = {
  durationSeconds: [0.1, 0.25, 0.75, 1.25, 1.75, 2.5, 3, 5, 10],
  samples: [100, 1000, 10000, 100000, 1000000],
  series: [10, 100, 1000, 10000, 100000],
};

export class SelectTelemetry {
  readonly #duration: Histogram<'samples_le' | 'series_le'>;
  readonly #buckets: SelectTelemetryBuckets;

  constructor(registry: Registry, buckets: SelectTelemetryBuckets = DEFAULT_SELECT_TELEMETRY) {
    this.#buckets = buckets;
    this.#duration = new Histogram({
      name: 'strata_store_api_query_duration_seconds',
      help: 'Duration of the StoreAPI select phase of a query, by the samples and series it returned (as thanos_store_api_query_duration_seconds).',
      labelNames: ['samples_le', 'series_le'],
      buckets: [...buckets.durationSeconds],
      registers: [registry],
    });
  }

  observe(seconds: number, series: number, samples: number): void {
    this.#duration.observe({ samples_le: bucketOf(samples, this.#buckets.samples), series_le: bucketOf(series, this.#buckets.series) }, seconds);
  }
}

/** The first bound above `value`, or the last bound where none is (Thanos' findBucket). */
function bucketOf(value: number, bounds: readonly number[]): string {
  if (bounds.length === 0) return '+Inf';
  let found = bounds[0] as number;
  for (const b of bounds) {
    found = b;
    if (value < b) break;
  }
  return String(found);
}
