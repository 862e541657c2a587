export { start, type Ruler, type RulerConfig } from './ruler.js';
export { parseRemoteWriteConfig, type RemoteWriteConfig } from './remotewriteconfig.js';
export { alertmanagerConfigFromUrl, parseAlertingConfig, type AlertmanagerConfig } from './alertmanagerconfig.js';
export { parseQueryConfig, type QueryEndpointConfig } from './queryconfig.js';
export type { ResultStorageConfig } from './results.js';
