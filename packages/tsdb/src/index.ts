export * from './labels/labels.js';
export * from './labels/matcher.js';
export * from './labels/regexp.js';
export * from './chunkenc/chunk.js';
export * from './series.js';
export * from './block/meta.js';
export * from './block/ulid.js';
