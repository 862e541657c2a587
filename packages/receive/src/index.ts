export { start, type ReceiveConfig, type Receiver } from './receiver.js';
