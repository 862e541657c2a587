import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ConsistencyDelayFilter, IgnoreDeletionMarkFilter, LabelShardedFilter, MetaFetcher, TimePartitionFilter, type BlocksViews, type Relabeler, type TimeBound } from '@strata/block';
import { settleLimit, type Bucket } from '@strata/objstore';
import type { Logger } from '@strata/runtime';
import { Labels, type BlockMeta } from '@strata/tsdb';
import { BucketBlock, type BlockOptions } from './block.js';
import type { BucketStore } from './bucketstore.js';
import type { IndexItemCache } from './cache.js';
import { MetaCacheBucket } from './metacache.js';
import type { StoreMetrics } from './metrics.js';

export interface SyncOptions {
  dataDir: string;
  minTime: TimeBound;
  maxTime: TimeBound;
  relabeler: Relabeler;
  consistencyDelayMs: number;
  ignoreDeletionMarksDelayMs: number;
  /** --block-sync-concurrency */
  concurrency: number;
  /** --block-meta-fetch-concurrency: meta.json reads at once (default 32). */
  metaFetchConcurrency?: number;
  blockOptions: BlockOptions;
  cache: IndexItemCache;
  metrics: StoreMetrics;
  logger: Logger;
  /** The block viewer's views, refreshed by every sync: the blocks the store should serve, and those it loaded. */
  views?: Required<BlocksViews>;
}

/**
 * Keeps the store's blocks in step with the bucket (Thanos' BucketStore.SyncBlocks): reads the metas
 * through the shared fetcher and filters, loads new blocks (index-header from disk or built from
 * range reads), and drops blocks that are gone or filtered out, with their local files.
 */
export class BlockSyncer {
  readonly #fetcher: MetaFetcher;
  readonly #opts: SyncOptions;
  readonly #store: BucketStore;
  /** Label sets by their string form, so blocks with the same external labels share one object. */
  readonly #labelSets = new Map<string, Labels>();

  constructor(bucket: Bucket, store: BucketStore, opts: SyncOptions) {
    this.#opts = opts;
    this.#store = store;
    this.#fetcher = new MetaFetcher(new MetaCacheBucket(bucket, join(opts.dataDir, 'meta-syncer')), {
      filters: [
        new TimePartitionFilter(opts.minTime, opts.maxTime),
        new LabelShardedFilter(opts.relabeler),
        new ConsistencyDelayFilter(opts.consistencyDelayMs),
        new IgnoreDeletionMarkFilter(opts.ignoreDeletionMarksDelayMs),
      ],
      ...(opts.metaFetchConcurrency !== undefined ? { concurrency: opts.metaFetchConcurrency } : {}),
    });
  }

  async sync(): Promise<void> {
    const m = this.#opts.metrics;
    const end = m.syncDuration.startTimer();
    m.syncs.inc();
    try {
      const { metas, failed } = await this.#fetcher.fetch();
      for (const [id, err] of failed) this.#opts.logger.warn('cannot read block meta.json; block not loaded', { block: id, err });
      const loaded = new Set(this.#store.blocks().map((b) => b.id));
      const fresh = [...metas.values()].filter((meta) => !loaded.has(meta.ulid));
      const results = await settleLimit(fresh, this.#opts.concurrency, (meta) => this.#load(meta));
      results.forEach((r, i) => {
        if (r.status === 'fulfilled') return;
        m.blockLoadFailures.inc();
        this.#opts.logger.error('loading block failed', { block: fresh[i]!.ulid, err: r.reason as Error });
      });
      for (const id of loaded) if (!metas.has(id)) await this.#drop(id);
      m.blocksLoaded.set(this.#store.blocks().length);
      const served = new Set(this.#store.blocks().map((b) => b.id));
      this.#opts.views?.global.set(metas.values());
      this.#opts.views?.loaded.set([...metas.values()].filter((meta) => served.has(meta.ulid)));
    } catch (e) {
      m.syncFailures.inc();
      this.#opts.views?.global.fail(e as Error);
      this.#opts.views?.loaded.fail(e as Error);
      throw e;
    } finally {
      end();
    }
  }

  async #load(meta: BlockMeta): Promise<void> {
    const ext = Labels.from(meta.thanos?.labels ?? {});
    const key = ext.toString();
    const labels = this.#labelSets.get(key) ?? ext;
    this.#labelSets.set(key, labels);
    const { block, builtHeader } = await BucketBlock.load(meta, labels, this.#opts.dataDir, this.#opts.blockOptions);
    if (builtHeader) this.#opts.metrics.indexHeadersBuilt.inc();
    this.#opts.metrics.blockLoads.inc();
    this.#store.addBlock(block);
  }

  async #drop(id: string): Promise<void> {
    const b = this.#store.removeBlock(id);
    await b?.close();
    this.#opts.cache.dropBlock(id);
    this.#opts.blockOptions.chunksCache?.dropBlock(id);
    await rm(join(this.#opts.dataDir, id), { recursive: true, force: true });
    await rm(join(this.#opts.dataDir, 'meta-syncer', id), { recursive: true, force: true });
    this.#opts.metrics.blockDrops.inc();
    this.#opts.logger.info('dropped block', { block: id });
  }
}
