export { start, type ReceiveConfig, type Receiver } from './receiver.js';
export { type Hashring, type HashringAlgorithm, type HashringConfig, HashringConfigError, type HashringEndpoint, newHashring, parseHashringsConfig } from './hashring.js';
