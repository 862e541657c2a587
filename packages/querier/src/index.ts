export { start, type QuerierConfig, type Querier } from './querier.js';
export { CONN_METRIC_LABELS, EndpointSet, endpointMatches, type ConnMetricLabel, type Endpoint, type EndpointStatus } from './endpoints/endpointset.js';
export { ProxyStore } from './proxy/proxy.js';
export { StoreQueryable, aggregatesFor, type ReadOptions } from './queryable.js';
export { DEFAULT_TENANCY, type TenancyConfig } from './tenancy.js';
export { DEFAULT_SELECT_TELEMETRY, type SelectTelemetryBuckets } from './proxy/telemetry.js';
export { queryDataPieces } from './api/respond.js';
