import { mkdir } from 'node:fs/promises';
import { blocksPlugin, BlocksView, Relabeler, TimeBound } from '@strata/block';
import { bucketFromConfigFile, InstrumentedBucket, type Bucket } from '@strata/objstore';
import { parseCachingBucketConfig } from './cachingbucketconfig.js';
import { collectProcessMetrics, createLogger, grpcServerMetrics, grpcServing, httpServing, Prober, remoteCacheClient, startHttpServer, type HttpServer, type Logger, type RemoteCacheClient, type RemoteCacheConfig, type ServingConfig } from '@strata/runtime';
import { MAX_INT64, MIN_INT64, serveStore, type ServerTLS, type ServingStore } from '@strata/storeapi';
import { Gauge, Registry } from 'prom-client';
import { LOCAL_CHUNK_READS } from './block.js';
import { BucketStore } from './bucketstore.js';
import { CacheItem, IndexCache, RemoteIndexCache, type IndexItemCache } from './cache.js';
import { DEFAULT_INDEX_CACHE_BYTES, parseIndexCacheConfig, type IndexCacheConfig } from './indexcacheconfig.js';
import { ChunkBytesLimit } from './chunkbytes.js';
import { ChunkPool } from './chunkpool.js';
import { ChunksCache } from './chunkscache.js';
import { storeMetrics } from './metrics.js';
import { AccountingBucket } from './querystats.js';
import { BlockSyncer } from './sync.js';

/** `strata store`'s configuration; flag names after Thanos' in comments. Durations in ms. */
export interface StoreConfig extends ServingConfig {
  /** The bucket itself, or --objstore.config-file. */
  bucket?: Bucket;
  objstoreConfigFile?: string;
  /** --data-dir: index-headers and cached metas. */
  dataDir: string;
  /** --grpc-address */
  grpcAddress: string;
  /** --grpc-server-tls-cert, --grpc-server-tls-key, --grpc-server-tls-client-ca */
  grpcTls?: ServerTLS;
  /** --http-address */
  httpAddress: string;
  /** Serve the block viewer (`/loaded`, `/blocks`, `/api/v1/blocks`) with /metrics and the probes (default; Thanos' --web.disable turns it off). */
  blockViewer?: boolean;
  /** --web.route-prefix: its routes' prefix. */
  routePrefix?: string;
  /** --bucket-web-label: the external label the block viewer titles groups of blocks with. */
  blockViewerLabel?: string;
  /** --sync-block-duration (default 15m) */
  syncIntervalMs?: number;
  /** --block-sync-concurrency (default 20) */
  blockSyncConcurrency?: number;
  /** --block-meta-fetch-concurrency (default 32) */
  metaFetchConcurrency?: number;
  /** --min-time / --max-time: only blocks and data within them are served. */
  minTime?: TimeBound;
  maxTime?: TimeBound;
  /** --selector.relabel-config(-file), as YAML */
  relabelConfig?: string;
  /** --index-cache-size in bytes (default 250 MiB) */
  indexCacheBytes?: number;
  /** --index-cache.config (YAML, Thanos' format), e.g. `type: IN-MEMORY`, `config: {max_size: 1GB}`, `enabled_items: [Postings]`; replaces indexCacheBytes. */
  indexCacheConfig?: string;
  /** --store.limits.request-samples (0 = none) */
  seriesSampleLimit?: number;
  /** --store.limits.request-series: series a Series call may touch, summed over its blocks (0 = none) */
  seriesLimit?: number;
  /** --store.grpc.downloaded-bytes-limit: bytes one Series or label call may read from the bucket (0 = none) */
  downloadedBytesLimit?: number;
  /** --store.grpc.series-max-concurrency (default 20) */
  seriesMaxConcurrency?: number;
  /** --consistency-delay (default 0) */
  consistencyDelayMs?: number;
  /** --ignore-deletion-marks-delay (default 24h) */
  ignoreDeletionMarksDelayMs?: number;
  /** Readers of a block unused this long are closed (Thanos' lazy reader idle timeout, default 5m). */
  idleTimeoutMs?: number;
  /**
   * --store.caching-bucket.config (YAML, Thanos' format), e.g. `type: IN-MEMORY`, `config: {max_size: 1GiB}`:
   * chunk reads are cached in memory. Without it, every chunk is read from the bucket.
   */
  cachingBucketConfig?: string;
  /** Concurrent object-store range reads across all queries (default 32). */
  bucketReadConcurrency?: number;
  /** Chunks at most this many bytes apart are read with one request (default: each block's average chunk size; from local files LOCAL_CHUNK_READS). */
  chunkGapBytes?: number;
  /**
   * --chunk-pool-size: the chunk bytes Series calls may hold at once (default 2 GiB, as Thanos; 0: no
   * bound); a call that would hold more fails with ResourceExhausted. Without a caching bucket (whose
   * cached chunks keep the bytes they were read into), read buffers given back are kept for reuse up to
   * an eighth of it (256 MiB when unbounded).
   */
  chunkPoolBytes?: number;
  logger?: Logger;
}

/** Thanos' --chunk-pool-size default. */
export const DEFAULT_CHUNK_POOL_BYTES = 2 * 1024 ** 3;
/** Read buffers kept for reuse with --chunk-pool-size=0 (no bound). */
const UNBOUNDED_IDLE_POOL_BYTES = 256 * 1024 ** 2;

export interface Store {
  readonly grpcAddress: string;
  readonly httpAddress: string;
  readonly registry: Registry;
  readonly bucketStore: BucketStore;
  /** Syncs with the bucket now (the periodic sync does the same). */
  sync(): Promise<void>;
  /** Closes the readers of blocks idle for `idleMs`, and drops the chunk pool's buffers if no query read chunks for as long (the periodic sweep does this with the configured timeout). */
  closeIdle(idleMs?: number): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Starts the store gateway: serves /metrics and probes at once, syncs the bucket (ready only after the
 * first sync succeeds), then serves the StoreAPI and re-syncs every --sync-block-duration.
 */
export async function start(cfg: StoreConfig): Promise<Store> {
  const logger = (cfg.logger ?? createLogger()).with({ component: 'store' });
  const registry = new Registry();
  collectProcessMetrics(registry);
  const prober = new Prober('store', registry);
  const metrics = storeMetrics(registry);
  await mkdir(cfg.dataDir, { recursive: true });
  const rawBucket = cfg.bucket ?? (cfg.objstoreConfigFile !== undefined ? await bucketFromConfigFile(cfg.objstoreConfigFile) : undefined);
  if (rawBucket === undefined) throw new Error('store: no bucket: give --objstore.config-file');
  const bucket = new InstrumentedBucket(rawBucket, registry);
  // --index-cache.config, else --index-cache-size with no further limits.
  const indexCache: IndexCacheConfig =
    cfg.indexCacheConfig !== undefined
      ? parseIndexCacheConfig(cfg.indexCacheConfig, '--index-cache.config')
      : { type: 'IN-MEMORY', maxBytes: cfg.indexCacheBytes ?? DEFAULT_INDEX_CACHE_BYTES, maxItemBytes: cfg.indexCacheBytes ?? DEFAULT_INDEX_CACHE_BYTES, enabledItems: Object.values(CacheItem) };
  const remotes: RemoteCacheClient[] = [];
  const remoteClient = async (remote: RemoteCacheConfig, name: string) => {
    const c = remoteCacheClient(remote, { name, registry, logger });
    await c.start();
    remotes.push(c);
    return c;
  };
  const cache: IndexItemCache =
    indexCache.type === 'REMOTE'
      ? new RemoteIndexCache(await remoteClient(indexCache.cache, 'index-cache'), indexCache.ttlMs, registry, indexCache.enabledItems)
      : new IndexCache(indexCache.maxBytes, registry, indexCache);
  const cachingBucket = cfg.cachingBucketConfig !== undefined ? parseCachingBucketConfig(cfg.cachingBucketConfig, '--store.caching-bucket.config') : undefined;
  const chunksCache =
    cachingBucket !== undefined ? new ChunksCache(cachingBucket, registry, cachingBucket.remote !== undefined ? await remoteClient(cachingBucket.remote, 'caching-bucket') : undefined) : undefined;
  const chunkBytes = new ChunkBytesLimit(cfg.chunkPoolBytes ?? DEFAULT_CHUNK_POOL_BYTES);
  new Gauge({
    name: 'strata_bucket_store_chunk_bytes_held',
    help: 'Chunk bytes the Series calls in flight hold (bounded by --chunk-pool-size).',
    registers: [registry],
    collect() {
      this.set(chunkBytes.held);
    },
  });
  const chunkPool = chunksCache === undefined ? new ChunkPool(chunkBytes.max > 0 ? chunkBytes.max / 8 : UNBOUNDED_IDLE_POOL_BYTES) : undefined;
  const minTime = cfg.minTime ?? TimeBound.at(MIN_INT64);
  const maxTime = cfg.maxTime ?? TimeBound.at(MAX_INT64);
  const store = new BucketStore({
    minTime,
    maxTime,
    sampleLimit: cfg.seriesSampleLimit ?? 0,
    seriesLimit: cfg.seriesLimit ?? 0,
    downloadedBytesLimit: cfg.downloadedBytesLimit ?? 0,
    seriesMaxConcurrency: cfg.seriesMaxConcurrency ?? 20,
    blockConcurrency: 16,
    chunkBytes,
    metrics,
  });
  const views = { global: new BlocksView(cfg.blockViewerLabel), loaded: new BlocksView(cfg.blockViewerLabel) };
  const syncer = new BlockSyncer(bucket, store, {
    dataDir: cfg.dataDir,
    minTime,
    maxTime,
    relabeler: cfg.relabelConfig !== undefined ? Relabeler.fromYaml(cfg.relabelConfig, '--selector.relabel-config') : new Relabeler([]),
    consistencyDelayMs: cfg.consistencyDelayMs ?? 0,
    ignoreDeletionMarksDelayMs: cfg.ignoreDeletionMarksDelayMs ?? 24 * 3_600_000,
    concurrency: cfg.blockSyncConcurrency ?? 20,
    ...(cfg.metaFetchConcurrency !== undefined ? { metaFetchConcurrency: cfg.metaFetchConcurrency } : {}),
    blockOptions: {
      bucket: new AccountingBucket(bucket, cfg.bucketReadConcurrency ?? 32),
      cache,
      ...(chunksCache !== undefined ? { chunksCache } : {}),
      ...(chunkPool !== undefined ? { chunkPool } : {}),
      ...(bucket.local === true ? LOCAL_CHUNK_READS : {}),
      ...(cfg.chunkGapBytes !== undefined ? { chunkGapBytes: cfg.chunkGapBytes } : {}),
    },
    cache,
    metrics,
    logger,
    views,
  });

  const http: HttpServer = await startHttpServer({
    address: cfg.httpAddress,
    registry,
    prober,
    logger,
    plugins: cfg.blockViewer === false ? [] : [blocksPlugin(views)],
    ...(cfg.routePrefix !== undefined ? { routePrefix: cfg.routePrefix } : {}),
    ...httpServing(cfg),
  });
  prober.healthy();
  let grpc: ServingStore | undefined;
  try {
    const started = performance.now();
    await syncer.sync();
    logger.info('initial bucket sync done', { blocks: store.blocks().length, seconds: ((performance.now() - started) / 1000).toFixed(3) });
    store.setReady();
    grpc = await serveStore(store, { address: cfg.grpcAddress, ...grpcServing(cfg, grpcServerMetrics(registry), logger), ...(cfg.grpcTls !== undefined ? { tls: cfg.grpcTls } : {}) });
  } catch (e) {
    await http.close();
    await closeBlocks(store);
    throw e;
  }
  prober.ready();
  logger.info('serving StoreAPI', { address: grpc.address });

  const idleTimeout = cfg.idleTimeoutMs ?? 5 * 60_000;
  const closeIdle = async (idleMs = idleTimeout) => {
    let closed = 0;
    for (const b of store.blocks()) if (await b.closeIfIdle(idleMs)) closed++;
    chunkPool?.dropIfUnused(idleMs);
    return closed;
  };
  let syncing: Promise<void> | undefined;
  const sync = () =>
    (syncing ??= syncer
      .sync()
      .catch((e: unknown) => logger.error('bucket sync failed', { err: e as Error }))
      .finally(() => {
        syncing = undefined;
      }));
  const syncTimer = setInterval(() => void sync(), cfg.syncIntervalMs ?? 15 * 60_000);
  const idleTimer = setInterval(() => void closeIdle(), Math.max(1000, Math.min(idleTimeout, 60_000)));
  syncTimer.unref();
  idleTimer.unref();

  const serving = grpc;
  return {
    grpcAddress: serving.address,
    httpAddress: http.address,
    registry,
    bucketStore: store,
    sync: () => syncer.sync(),
    closeIdle,
    async stop() {
      prober.notReady('stopping');
      clearInterval(syncTimer);
      clearInterval(idleTimer);
      await syncing;
      await serving.stop();
      await http.close();
      await closeBlocks(store);
      for (const c of remotes) c.stop();
      // A bucket passed in belongs to the caller.
      if (cfg.bucket === undefined) await rawBucket.close();
    },
  };
}

async function closeBlocks(store: BucketStore): Promise<void> {
  await Promise.all(store.blocks().map((b) => b.close()));
}
