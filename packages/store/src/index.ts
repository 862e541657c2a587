export { start, type Store, type StoreConfig } from './store.js';
export { BucketStore, type BucketStoreOptions } from './bucketstore.js';
export { BucketBlock, LimitExceededError, RequestLimit, type BlockSeries, type RequestLimits } from './block.js';
export { IndexHeader, INDEX_HEADER_FILENAME } from './indexheader.js';
export { IndexCache, CacheItem } from './cache.js';
export { blocksFor } from './resolution.js';
export { QueryStats } from './querystats.js';
export { ChunksCache, InMemoryCache } from './chunkscache.js';
