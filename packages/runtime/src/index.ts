export * from './logger.js';
export * from './prober.js';
export * from './http.js';
export * from './grpc-metrics.js';
export * from './net.js';
export * from './webauth.js';
export * from './compression.js';
export * from './slowlog.js';
