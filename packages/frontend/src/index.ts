export { start, DEFAULT_LABELS_OPTIONS, DEFAULT_RANGE_OPTIONS, DEFAULT_SPLIT_OPTIONS, type Frontend, type FrontendConfig } from './frontend.js';
export { parseResponseCacheConfig, DEFAULT_RESPONSE_CACHE_BYTES, type ResponseCacheConfig } from './cacheconfig.js';
export type { RangeOptions } from './range.js';
export type { SplitOptions } from './split.js';
export type { CacheCompression } from './cache.js';
export type { LabelsOptions } from './labels.js';
export { parseDownstreamTransport, DEFAULT_DOWNSTREAM_TRANSPORT, type DownstreamTransport } from './tripperconfig.js';
