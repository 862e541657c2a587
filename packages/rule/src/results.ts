/**
 * Where the ruler's results go, as Thanos' ruler has it: over remote write when given a configuration
 * (its stateless mode), else into a TSDB of its own in `--data-dir` (its default), whose finished blocks
 * the sidecar's shipper uploads to the bucket and whose series the StoreAPI serves.
 */
import { LocalTSDB, startShipper, type ShippingOptions } from '@strata/localtsdb';
import type { Bucket } from '@strata/objstore';
import type { Logger } from '@strata/runtime';
import { shipperMetrics } from '@strata/sidecar';
import type { StoreServer } from '@strata/storeapi';
import type { Labels } from '@strata/tsdb';
import type { Registry } from 'prom-client';
import type { RuleSample } from './recording.js';
import { RemoteWriteStorage } from './remotewrite.js';
import type { RemoteWriteConfig } from './remotewriteconfig.js';

export type ResultStorageConfig =
  | { readonly remoteWrite: readonly RemoteWriteConfig[] }
  | {
      readonly tsdb: {
        readonly dir: string;
        readonly blockDurationMs: number;
        readonly retentionMs: number;
        /** How often the head is checked for a block to cut (Prometheus: every minute). */
        readonly compactionIntervalMs?: number;
      };
      /** Where finished blocks are uploaded; none: kept locally only. */
      readonly bucket?: Bucket;
      readonly shipper?: Omit<ShippingOptions, 'bucket'>;
    };

export interface ResultStorage {
  write(samples: readonly RuleSample[], timeMs: number): void;
  /** The stored results over the StoreAPI (the local TSDB's); none when they are remote-written. */
  readonly store?: StoreServer;
  close(): Promise<void>;
}

export async function openResultStorage(cfg: ResultStorageConfig, opts: { externalLabels: Labels; registry: Registry; logger: Logger }): Promise<ResultStorage> {
  if ('remoteWrite' in cfg) {
    const rw = new RemoteWriteStorage(cfg.remoteWrite, { registry: opts.registry, logger: opts.logger, externalLabels: opts.externalLabels });
    return {
      write: (samples, timeMs) => rw.append(samples.map((s) => ({ labels: s.labels.toArray(), samples: [s.histogram !== undefined ? { t: timeMs, v: 0, h: s.histogram } : { t: timeMs, v: s.value }] }))),
      close: () => rw.close(),
    };
  }
  const { logger } = opts;
  const db = await LocalTSDB.open({ dir: cfg.tsdb.dir, blockDurationMs: cfg.tsdb.blockDurationMs, retentionMs: cfg.tsdb.retentionMs, externalLabels: opts.externalLabels, registry: opts.registry, logger });
  const shipper = cfg.bucket !== undefined ? startShipper(cfg.tsdb.dir, opts.externalLabels, 'ruler', { ...cfg.shipper, bucket: cfg.bucket }, shipperMetrics(opts.registry), logger) : undefined;
  if (shipper === undefined) logger.info('no supported bucket was configured, uploads will be disabled');
  const compaction = setInterval(() => void db.compact().catch((err: unknown) => logger.error('compacting the head into a block failed', { err: err as Error })), cfg.tsdb.compactionIntervalMs ?? 60_000);
  compaction.unref();
  return {
    write: (samples, timeMs) => db.append(samples, timeMs),
    store: db.store,
    async close() {
      clearInterval(compaction);
      await shipper?.stop();
      await db.close();
    },
  };
}
