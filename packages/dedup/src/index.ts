export * from './adjustable.js';
export * from './penalty.js';
export * from './overlap.js';
export * from './series.js';
export * from './chunks.js';
export * from './plan.js';
