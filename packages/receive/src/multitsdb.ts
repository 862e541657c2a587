/**
 * A TSDB per tenant, as Thanos' MultiTSDB (pkg/receive/multitsdb.go):
 *
 *   <tsdb.path>/<tenant>/   the tenant's TSDB (its blocks, wal/, and the shipper's thanos.shipper.json)
 *
 * Each tenant's series are served, and its blocks shipped, with the receiver's external labels, those of
 * the tenant's hashring and the tenant label. The tenants found on disk are opened (their WALs replayed) before the receiver is
 * ready; a new tenant's TSDB is opened on its first write.
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type AppendResult, LocalTSDB, type SeriesSamples, type ShippingOptions, startShipper, TSDBMetrics } from '@strata/localtsdb';
import type { Bucket } from '@strata/objstore';
import type { Logger } from '@strata/runtime';
import { shipperMetrics, type Shipper, type ShipperMetrics } from '@strata/sidecar';
import type { Labels } from '@strata/tsdb';
import { Registry } from 'prom-client';
import { MultiTenantStore } from './store.js';

export interface MultiTSDBOptions {
  /** --tsdb.path */
  dir: string;
  /** --tsdb.block-duration (hidden in Thanos: 2h) */
  blockDurationMs: number;
  /** --tsdb.retention */
  retentionMs: number;
  /** --tsdb.too-far-in-future.time-window (0: off) */
  tooFarInFutureMs?: number;
  /** --tsdb.max-exemplars: per tenant (0: none kept) */
  maxExemplars?: number;
  /** --tsdb.out-of-order.time-window (0: off) */
  outOfOrderTimeWindowMs?: number;
  /** --tsdb.out-of-order.cap-max */
  outOfOrderCapMax?: number;
  /** --label */
  externalLabels: Labels;
  /** --receive.tenant-label-name */
  tenantLabelName: string;
  /** Labels a tenant's TSDB adds to the external labels: its hashring's `external_labels`. */
  tenantExternalLabels?: (tenant: string) => Readonly<Record<string, string>>;
  /** Where the blocks are shipped; none: kept locally. */
  bucket?: Bucket;
  shipper?: Omit<ShippingOptions, 'bucket'>;
  registry: Registry;
  logger: Logger;
}

interface Tenant {
  readonly db: LocalTSDB;
  readonly shipper: Shipper | undefined;
}

export class MultiTSDB {
  /** Every tenant's series over the StoreAPI. */
  readonly store: MultiTenantStore;
  readonly #opts: MultiTSDBOptions;
  readonly #metrics: TSDBMetrics;
  readonly #shipperMetrics: ShipperMetrics;
  readonly #opening = new Map<string, Promise<Tenant>>();
  /** Tenants being let go of (prune): opened again only once that is done. */
  readonly #pruning = new Map<string, Promise<void>>();
  readonly #tenants = new Map<string, Tenant>();
  #closed = false;

  private constructor(opts: MultiTSDBOptions) {
    this.#opts = opts;
    this.#metrics = new TenantTSDBMetrics(opts.registry, ['tenant']);
    this.#shipperMetrics = shipperMetrics(opts.registry);
    this.store = new MultiTenantStore(() => [...this.#tenants.values()].map((t) => t.db), { exemplars: (opts.maxExemplars ?? 0) > 0 });
  }

  /** Opens the tenants' TSDBs found in `dir`, replaying their WALs. */
  static async open(opts: MultiTSDBOptions): Promise<MultiTSDB> {
    const m = new MultiTSDB(opts);
    let names: string[] = [];
    try {
      names = (await readdir(opts.dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    try {
      for (const name of names) await m.#tenant(name);
    } catch (e) {
      await m.close();
      throw e;
    }
    return m;
  }

  /** Appends to the tenant's TSDB, opening it first if new. */
  async append(tenant: string, series: readonly SeriesSamples[]): Promise<AppendResult> {
    const t = this.#tenants.get(tenant) ?? (await this.#tenant(tenant));
    return t.db.appendSeries(series);
  }

  /**
   * Lets go of the tenants that have had no sample newer than the retention, as Thanos' receiver
   * decommissions them: the head cut into blocks, the blocks shipped (with a bucket), the TSDB closed and
   * its directory removed. A later write opens the tenant afresh.
   */
  async prune(nowMs = Date.now()): Promise<void> {
    const { retentionMs, logger } = this.#opts;
    if (!(retentionMs > 0)) return;
    for (const [name, t] of [...this.#tenants]) {
      if (t.db.latestTime >= nowMs - retentionMs) continue;
      this.#tenants.delete(name);
      this.#opening.delete(name);
      const done = this.#letGo(name, t);
      this.#pruning.set(name, done);
      try {
        await done;
        logger.info('pruned tenant: no samples within the retention', { tenant: name });
      } catch (err) {
        // Kept as it is (its TSDB open): its blocks are shipped and it is let go of at a later prune.
        this.#tenants.set(name, t);
        logger.error('pruning a tenant failed; it is kept and tried again later', { tenant: name, err: err as Error });
      } finally {
        this.#pruning.delete(name);
      }
    }
  }

  async #letGo(name: string, t: Tenant): Promise<void> {
    await t.db.flush();
    const shipped = await t.shipper?.sync();
    if (shipped?.error !== undefined) throw new Error(`shipping its blocks: ${shipped.error.message}`);
    await t.shipper?.stop();
    await t.db.close();
    await rm(join(this.#opts.dir, name), { recursive: true, force: true });
  }

  /** Cuts every tenant's whole head into blocks (a receiver's hashring changed). */
  async flush(): Promise<void> {
    for (const [tenant, t] of this.#tenants) {
      try {
        await t.db.flush();
      } catch (err) {
        this.#opts.logger.error('flushing the head into blocks failed', { tenant, err: err as Error });
      }
    }
  }

  /** Cuts each tenant's head into blocks where due and applies the retention (Prometheus' periodic compaction). */
  async compact(): Promise<void> {
    for (const [tenant, t] of this.#tenants) {
      try {
        await t.db.compact();
      } catch (err) {
        this.#opts.logger.error('compacting the head into a block failed', { tenant, err: err as Error });
      }
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#opening.values(), ...this.#pruning.values()]);
    for (const t of this.#tenants.values()) {
      await t.shipper?.stop();
      await t.db.close();
    }
    this.#tenants.clear();
  }

  #tenant(name: string): Promise<Tenant> {
    let p = this.#opening.get(name);
    if (p === undefined) {
      const pruning = this.#pruning.get(name);
      p = pruning !== undefined ? pruning.catch(() => undefined).then(() => this.#open(name)) : this.#open(name);
      this.#opening.set(name, p);
      // A failed open is tried again by the next write.
      p.catch(() => this.#opening.delete(name));
    }
    return p;
  }

  async #open(name: string): Promise<Tenant> {
    if (this.#closed) throw new Error('receiver TSDBs are closed');
    const o = this.#opts;
    const dir = join(o.dir, name);
    let labels = o.externalLabels;
    for (const [k, v] of Object.entries(o.tenantExternalLabels?.(name) ?? {})) labels = labels.with(k, v);
    labels = labels.with(o.tenantLabelName, name);
    const logger = o.logger.with({ tenant: name });
    const db = await LocalTSDB.open({
      dir,
      blockDurationMs: o.blockDurationMs,
      retentionMs: o.retentionMs,
      ...(o.tooFarInFutureMs !== undefined ? { tooFarInFutureMs: o.tooFarInFutureMs } : {}),
      ...(o.maxExemplars !== undefined ? { maxExemplars: o.maxExemplars } : {}),
      ...(o.outOfOrderTimeWindowMs !== undefined ? { outOfOrderTimeWindowMs: o.outOfOrderTimeWindowMs } : {}),
      ...(o.outOfOrderCapMax !== undefined ? { outOfOrderCapMax: o.outOfOrderCapMax } : {}),
      externalLabels: labels,
      source: 'receive',
      componentType: 'receive',
      // The block reader's metrics would clash between tenants on one registry: kept apart, unexported.
      registry: new Registry(),
      metrics: { of: this.#metrics, labels: { tenant: name } },
      logger,
    });
    const shipper = o.bucket !== undefined ? startShipper(dir, labels, 'receive', { ...o.shipper, bucket: o.bucket }, this.#shipperMetrics, logger) : undefined;
    const t = { db, shipper };
    this.#tenants.set(name, t);
    return t;
  }
}

/**
 * Prometheus' TSDB metrics by tenant, each tenant's counters at 0 from its TSDB's opening, as Thanos'
 * (each tenant's TSDB registers its unlabelled counters under its tenant label): they show before they count.
 */
class TenantTSDBMetrics extends TSDBMetrics {
  override of(...args: Parameters<TSDBMetrics['of']>): ReturnType<TSDBMetrics['of']> {
    const m = super.of(...args);
    for (const c of [m.samplesAppended, m.outOfOrderSamples, m.outOfBoundSamples, m.tooOldSamples, m.compactions, m.compactionsFailed, m.walCorruptions]) c.inc(0);
    return m;
  }
}
