/** A local TSDB (head, WAL, blocks and their StoreAPI): the stateful ruler's, and each tenant's of the receiver. */
export { LocalTSDB, type AppendResult, type LocalTSDBOptions, type RuleDBSample, type SeriesSamples, type TimedSample } from './db.js';
export { TSDBMetrics } from './metrics.js';
export { type Exemplar, ExemplarStorage } from './exemplars.js';
export { startShipper, type ShippingOptions } from './shipping.js';
