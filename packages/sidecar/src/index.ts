/**
 * @strata/sidecar: runs next to one Prometheus; serves its data over the StoreAPI (remote read) and ships
 * its finished blocks to object storage. Entry point: `start(config)`.
 */
export { start, type Sidecar, type SidecarConfig } from './sidecar.js';
export { PrometheusStore, withoutExternalMatchers, type PrometheusState, type PrometheusStoreOptions } from './store.js';
export { PrometheusClient, PrometheusError, selector, type RemoteReadResponse } from './promclient.js';
export { Shipper, readShipperState, writeShipperState, SHIPPER_META_FILENAME, type ShipperState, type SyncResult } from './shipper.js';
export { readFrames } from './remoteread.js';
export { LocalBlocks, type LocalBlocksOptions } from './localblocks.js';
export { finishedBlocks } from './tsdbdir.js';
export { SidecarMetrics, shipperMetrics, type ShipperMetrics } from './metrics.js';
export { Reloader, substituteEnv, type ReloaderOptions, type ReloadMethod } from './reloader.js';
export { authorization, parsePrometheusHttpClientConfig, type PrometheusHttpClientConfig } from './httpclient.js';
