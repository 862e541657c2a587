import { GrpcStatus, StoreError } from './grpc.js';

/**
 * Thanos' --store.limits.request-series and --store.limits.request-samples: what one of the querier's
 * Series fan-outs may bring back, or one of the sidecar's Series calls may send (0: no limit).
 */
export interface SeriesLimits {
  series: number;
  samples: number;
}

/**
 * A fan-out or call past a limit: it fails with ResourceExhausted, partial response or not (a request
 * cut short by a limit is not a store's failure to leave out).
 */
export class SeriesLimitError extends StoreError {
  constructor(
    readonly what: 'series' | 'samples',
    limit: number,
  ) {
    super(GrpcStatus.RESOURCE_EXHAUSTED, `exceeded the ${what} limit of ${limit} (--store.limits.request-${what}): narrow the query's matchers or time range, or raise the limit`);
    this.name = 'SeriesLimitError';
  }
}

/** Throws once `series` or `samples` is past its limit. */
export function checkSeriesLimits(limits: SeriesLimits | undefined, series: number, samples: number): void {
  if (limits === undefined) return;
  if (limits.series > 0 && series > limits.series) throw new SeriesLimitError('series', limits.series);
  if (limits.samples > 0 && samples > limits.samples) throw new SeriesLimitError('samples', limits.samples);
}
