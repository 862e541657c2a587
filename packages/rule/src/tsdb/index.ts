/** The stateful ruler's local TSDB: head, WAL, blocks and their StoreAPI. */
export { RuleDB, type RuleDBOptions, type RuleDBSample } from './db.js';
