/**
 * Shipping a local TSDB's finished blocks to the bucket, as Thanos' ruler and receiver do: the
 * sidecar's shipper over the TSDB's directory, every 30 seconds by default.
 */
import type { Bucket } from '@strata/objstore';
import type { Logger } from '@strata/runtime';
import { Shipper, type ShipperMetrics } from '@strata/sidecar';
import type { Labels, ThanosSource } from '@strata/tsdb';

export interface ShippingOptions {
  readonly bucket: Bucket;
  readonly hashFiles?: boolean;
  readonly allowOutOfOrderUploads?: boolean;
  readonly uploadConcurrency?: number;
  /** How often new blocks are looked for (Thanos' ruler and receiver: every 30 seconds). */
  readonly syncIntervalMs?: number;
}

/** Starts shipping the blocks of the TSDB in `dir`, labelled `labels`, with `source` in their meta.json. */
export function startShipper(dir: string, labels: Labels, source: ThanosSource, opts: ShippingOptions, metrics: ShipperMetrics, logger: Logger): Shipper {
  const shipper = new Shipper({
    bucket: opts.bucket,
    dir,
    labels: () => labels,
    uploadCompacted: false,
    source,
    allowOutOfOrderUploads: opts.allowOutOfOrderUploads === true,
    hashFiles: opts.hashFiles === true,
    ...(opts.uploadConcurrency !== undefined ? { uploadConcurrency: opts.uploadConcurrency } : {}),
    metrics,
    logger: logger.with({ subsystem: 'shipper' }),
  });
  shipper.start(opts.syncIntervalMs ?? 30_000);
  return shipper;
}
