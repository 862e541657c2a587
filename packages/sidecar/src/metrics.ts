/** The sidecar's Prometheus metrics (names after Thanos', with the strata_ prefix where Thanos uses thanos_). */
import { grpcServerMetrics, type GrpcServerObserver } from '@strata/runtime';
import { Counter, Gauge, type Registry } from 'prom-client';

/** What the shipper counts (Thanos' shipper metrics); the ruler's shipper has them too. */
export interface ShipperMetrics {
  readonly uploads: Counter;
  readonly uploadFailures: Counter;
  readonly dirSyncs: Counter;
  readonly dirSyncFailures: Counter;
  readonly corruptedBlocks: Counter;
  readonly lastSuccessfulUpload: Gauge;
}

export function shipperMetrics(registry: Registry): ShipperMetrics {
  const registers = [registry];
  return {
    uploads: new Counter({ name: 'strata_shipper_uploads_total', help: 'Total number of uploaded blocks.', registers }),
    uploadFailures: new Counter({ name: 'strata_shipper_upload_failures_total', help: 'Total number of block upload failures.', registers }),
    dirSyncs: new Counter({ name: 'strata_shipper_dir_syncs_total', help: 'Total number of dir syncs.', registers }),
    dirSyncFailures: new Counter({ name: 'strata_shipper_dir_sync_failures_total', help: 'Total number of failed dir syncs.', registers }),
    corruptedBlocks: new Counter({ name: 'strata_shipper_corrupted_blocks_total', help: 'Total number of blocks whose meta.json could not be read.', registers }),
    lastSuccessfulUpload: new Gauge({ name: 'strata_shipper_last_successful_upload_time', help: 'Unix time in seconds of the last successful block upload.', registers }),
  };
}

export class SidecarMetrics {
  readonly prometheusUp: Gauge;
  readonly shipper: ShipperMetrics;
  /** Series calls by where their persisted data came from (see PrometheusStore). */
  readonly seriesSources: Counter<'source'>;
  /** Series calls refused by --store.limits.request-series or --store.limits.request-samples. */
  readonly selectsDropped: Counter<'reason'>;
  readonly grpc: GrpcServerObserver;

  constructor(registry: Registry) {
    const registers = [registry];
    this.prometheusUp = new Gauge({ name: 'strata_sidecar_prometheus_up', help: 'Boolean indicator whether the sidecar can reach its Prometheus peer.', registers });
    this.shipper = shipperMetrics(registry);

    this.seriesSources = new Counter({
      name: 'strata_sidecar_series_calls_total',
      help: 'Series calls by where their data came from: blocks (Prometheus\' blocks read from disk, the head by remote read), remote_read (no block in the range), tombstones (blocks in the range, read by remote read instead), block_failed or too_large (a read of the blocks failed, or would have held too many chunk bytes: the rest of the call read by remote read).',
      labelNames: ['source'],
      registers,
    });
    for (const source of ['blocks', 'remote_read', 'tombstones', 'block_failed', 'too_large']) this.seriesSources.inc({ source }, 0);
    this.selectsDropped = new Counter({
      name: 'strata_store_selects_dropped_total',
      help: 'Series calls refused by a limit (--store.limits.request-series, --store.limits.request-samples), by the limit.',
      labelNames: ['reason'],
      registers,
    });
    // Exposed at 0 from the start, so that rates and alerts over them work before the first refusal.
    for (const reason of ['series', 'samples']) this.selectsDropped.inc({ reason }, 0);

    this.grpc = grpcServerMetrics(registry);
  }
}
