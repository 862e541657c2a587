import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilesystemBucket } from '@strata/objstore';
import type { Logger } from '@strata/runtime';
import { MAX_INT64, MIN_INT64, type CallContext, type SeriesFrame, type SeriesRequest } from '@strata/storeapi';
import { AccountingBucket, BucketBlock, BucketStore, ChunkBytesLimit, ChunkPool, IndexCache, LOCAL_CHUNK_READS, storeMetrics, type BlockOptions, type StoreMetrics } from '@strata/store';
import { TimeBound } from '@strata/block';
import { type BlockMeta, fromOutOfOrder, type Labels, TOMBSTONES_FILENAME } from '@strata/tsdb';
import type { Registry } from 'prom-client';
import { finishedBlocks } from './tsdbdir.js';

export interface LocalBlocksOptions {
  /** Prometheus' data directory (--tsdb.path). */
  dir: string;
  registry: Registry;
  logger: Logger;
  /** The chunk bytes the calls served from blocks may hold at once, read and not yet sent (default 256 MiB); the rest of a call that would take more is read through remote read. */
  chunkBytes?: number;
}

/** Bytes of a tombstones file that deletes nothing: magic, version and the CRC of no entries. */
const EMPTY_TOMBSTONES_BYTES = 9;
/**
 * The chunk bytes the Series calls served from blocks may hold at once, read and not yet sent (as the
 * store gateway's --chunk-pool-size): where a call's next read would take more, the rest of the call is
 * read through remote read.
 */
const CHUNK_BYTES = 256 * 1024 ** 2;
/** Index cache for the blocks' postings and series (the store gateway's default is 250 MiB; a sidecar serves few blocks). */
const INDEX_CACHE_BYTES = 64 * 1024 ** 2;
/** Chunk read buffers kept for the next calls once their series are sent (fresh ones cost page faults and garbage collections). */
const IDLE_CHUNK_BUFFER_BYTES = 64 * 1024 ** 2;
/** Blocks' readers, and the kept buffers, not used for this long are let go (as the store gateway's idle sweep). */
const IDLE_MS = 5 * 60_000;

/**
 * The blocks Prometheus has written to disk, served from its data directory as the store gateway serves
 * blocks from a bucket (index-headers built from the local index, range reads of the files), so that
 * queries of persisted data cost Prometheus nothing: only its head is read through remote read. Blocks
 * are immutable once Prometheus has renamed them into place; what Prometheus does to them afterwards is
 * handled thus:
 * - a block compacted into another (max block duration above the min) is left out once the compacted
 *   one is there (`compaction.parents`); a block deleted (retention, compaction) fails the reads of a
 *   call, which is then answered by remote read alone (`PrometheusStore`);
 * - a block with tombstones (the delete_series admin API) is read through remote read, which applies
 *   them: `readable` says whether a range is free of them, checked on disk at every call;
 * - a block that fails to load, and everything after its start, is left to remote read.
 * `sync()` follows the directory (the sidecar's heartbeat) and closes what has been idle; until the first
 * sync, everything is remote read.
 */
export class LocalBlocks {
  readonly #opts: LocalBlocksOptions;
  readonly #headerDir: string;
  readonly #blockOptions: BlockOptions;
  readonly #cache: IndexCache;
  readonly #pool = new ChunkPool(IDLE_CHUNK_BUFFER_BYTES);
  readonly #store: BucketStore;
  readonly #metrics: StoreMetrics;
  /** External labels of the blocks loaded (Prometheus' as of the sync that loaded them). */
  #labels: Labels | undefined;
  /** Where the in-order blocks end (exclusive): after it, remote read (or a TSDB's head). */
  #end = MIN_INT64;
  /** Where the last block ends (exclusive), out-of-order ones included. */
  #maxTime = MIN_INT64;
  /** The ranges of the blocks of out-of-order samples served. */
  #outOfOrder: readonly BlockMeta[] = [];
  #syncing: Promise<void> | undefined;

  private constructor(opts: LocalBlocksOptions, headerDir: string) {
    this.#opts = opts;
    this.#headerDir = headerDir;
    this.#cache = new IndexCache(INDEX_CACHE_BYTES, opts.registry);
    this.#blockOptions = { bucket: new AccountingBucket(new FilesystemBucket(opts.dir), 32), cache: this.#cache, chunkPool: this.#pool, ...LOCAL_CHUNK_READS };
    this.#metrics = storeMetrics(opts.registry);
    this.#store = new BucketStore({
      minTime: TimeBound.at(MIN_INT64),
      maxTime: TimeBound.at(MAX_INT64),
      sampleLimit: 0,
      seriesLimit: 0,
      seriesMaxConcurrency: 20,
      blockConcurrency: 4,
      chunkBytes: new ChunkBytesLimit(opts.chunkBytes ?? CHUNK_BYTES),
      streamSeries: true,
      metrics: this.#metrics,
    });
  }

  /** Index-headers are kept in a directory of their own under the system's temporary directory, removed by `close`. */
  static async open(opts: LocalBlocksOptions): Promise<LocalBlocks> {
    return new LocalBlocks(opts, await mkdtemp(join(tmpdir(), 'strata-sidecar-headers-')));
  }

  /**
   * The end (exclusive, ms) of the in-order data served from blocks; MIN_INT64 when none is. Blocks of
   * out-of-order samples (Prometheus' `from-out-of-order`) may end later, as their window does: the head
   * still holds in-order samples of that window.
   */
  get end(): number {
    return this.#end;
  }

  /** The end (exclusive, ms) of the last block, out-of-order ones included; MIN_INT64 without blocks. */
  get maxTime(): number {
    return this.#maxTime;
  }

  /** Whether a block of out-of-order samples overlaps [mint, maxt]. */
  outOfOrderIn(mint: number, maxt: number): boolean {
    return this.#outOfOrder.some((b) => b.maxTime > mint && b.minTime <= maxt);
  }

  /** Loads the blocks Prometheus has finished since the last sync and drops those it has deleted or replaced; `labels`: Prometheus' external labels now. */
  sync(labels: Labels): Promise<void> {
    return (this.#syncing ??= this.#sync(labels).finally(() => (this.#syncing = undefined)));
  }

  async #sync(labels: Labels): Promise<void> {
    const log = this.#opts.logger;
    if (this.#labels !== undefined && !labels.equals(this.#labels)) {
      // New external labels: every block is loaded again under them.
      this.#end = this.#maxTime = MIN_INT64;
      await this.#release(this.#store.blocks().map((b) => this.#store.removeBlock(b.id) as BucketBlock));
    }
    this.#labels = labels;
    const metas = await finishedBlocks(this.#opts.dir, (block, err) => log.warn('cannot read block meta.json; its data is read through remote read', { block, err }));
    const present = new Set(metas.map((m) => m.ulid));
    // A compacted block replaces its parents, which Prometheus deletes next.
    const replaced = new Set<string>();
    for (const m of metas) for (const p of m.compaction.parents ?? []) if (present.has(p.ulid)) replaced.add(p.ulid);
    // Prometheus deletes a compaction's empty output (marked deletable) without serving it.
    const wanted = metas.filter((m) => !replaced.has(m.ulid) && m.compaction.deletable !== true);
    const loaded = new Set(this.#store.blocks().map((b) => b.id));
    const added: BucketBlock[] = [];
    let end = MIN_INT64;
    let maxTime = MIN_INT64;
    let failedAt = Infinity;
    for (const m of wanted) {
      if (!fromOutOfOrder(m)) end = Math.max(end, m.maxTime);
      maxTime = Math.max(maxTime, m.maxTime);
      if (loaded.has(m.ulid)) continue;
      const block = await this.#load(m, labels);
      if (block !== undefined) added.push(block);
      else failedAt = Math.min(failedAt, m.minTime);
    }
    // Nothing awaits from here until the end is set: a query sees the blocks before this sync or after
    // it, never a compacted block next to its parents, nor a range without either.
    for (const b of added) this.#store.addBlock(b);
    const keep = new Set(wanted.map((m) => m.ulid));
    const dropped = this.#store.blocks().filter((b) => !keep.has(b.id));
    for (const b of dropped) this.#store.removeBlock(b.id);
    this.#end = Math.min(end, failedAt);
    this.#maxTime = maxTime;
    this.#outOfOrder = wanted.filter(fromOutOfOrder);
    this.#metrics.blocksLoaded.set(this.#store.blocks().length);
    await this.#release(dropped);
    for (const b of this.#store.blocks()) await b.closeIfIdle(IDLE_MS);
    this.#pool.dropIfUnused(IDLE_MS);
  }

  async #load(meta: BlockMeta, labels: Labels): Promise<BucketBlock | undefined> {
    try {
      const { block } = await BucketBlock.load(meta, labels, this.#headerDir, this.#blockOptions);
      this.#metrics.blockLoads.inc();
      return block;
    } catch (e) {
      this.#metrics.blockLoadFailures.inc();
      this.#opts.logger.warn('cannot load block; its data and everything after its start is read through remote read', { block: meta.ulid, err: e as Error });
      return undefined;
    }
  }

  /** Closes blocks no longer served, and forgets their cached index entries and index-headers. */
  async #release(blocks: readonly BucketBlock[]): Promise<void> {
    for (const b of blocks) {
      await b.close();
      this.#metrics.blockDrops.inc();
      this.#cache.dropBlock(b.id);
      await rm(join(this.#headerDir, b.id), { recursive: true, force: true });
    }
  }

  /**
   * Whether the blocks holding [mint, maxt] may be served as they are: none has tombstones now. The
   * files are stat'ed synchronously: a stat of a local file costs ~2 µs, where the thread-pool round
   * trip of an asynchronous one cost the sidecar's main thread ~40 µs per block and call (7% of a
   * dashboard query's Series call).
   */
  readable(mint: number, maxt: number): boolean {
    for (const b of this.#store.blocks()) {
      if (b.maxTime <= mint || b.minTime > maxt) continue;
      const size = statSync(join(this.#opts.dir, b.id, TOMBSTONES_FILENAME), { throwIfNoEntry: false })?.size ?? 0;
      if (size > EMPTY_TOMBSTONES_BYTES) return false;
    }
    return true;
  }

  /**
   * The blocks' series for `req`, sent as their chunks are read (each read checked against its CRCs, a
   * few reads ahead of what is sent); their chunk bytes count against the bound until they are sent, or
   * until `release()`.
   */
  series(req: SeriesRequest, ctx?: Pick<CallContext, 'tenant'>): { frames: AsyncIterable<SeriesFrame>; release: () => void } {
    const held = this.#store.chunkBytes();
    return { frames: this.#store.seriesHeld(req, held, ctx), release: () => held?.end() };
  }

  async close(): Promise<void> {
    await this.#syncing?.catch(() => undefined);
    for (const b of this.#store.blocks()) await b.close();
    await this.#blockOptions.bucket.close();
    await rm(this.#headerDir, { recursive: true, force: true });
  }
}
