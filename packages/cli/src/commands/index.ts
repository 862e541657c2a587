import { Option, type Command } from 'commander';
import { register as registerDemoTools } from './tools-demo.js';
import { register as registerBucketTools } from './tools-bucket.js';
import { register as registerTsdbTools } from './tools-tsdb.js';
import { register as registerSidecar } from './sidecar.js';
import { register as registerQuery } from './query.js';
import { register as registerQueryFrontend } from './query-frontend.js';
import { register as registerCompact } from './compact.js';
import { register as registerStore } from './store.js';
import { register as registerRule } from './rule.js';
import { register as registerReceive } from './receive.js';
import { register as registerQuickstart } from './quickstart.js';

/**
 * Every subcommand lives in its own file and exports `register(program)`. Add one line here per
 * command group.
 */
export function registerCommands(program: Command): void {
  registerSidecar(program);
  registerQuery(program);
  registerQueryFrontend(program);
  registerCompact(program);
  registerStore(program);
  registerRule(program);
  registerReceive(program);
  registerQuickstart(program);
  const tools = program.command('tools').description('Tools for TSDB blocks and object storage buckets');
  registerDemoTools(tools);
  registerBucketTools(tools);
  registerTsdbTools(tools);
  addNegations(program);
}

/**
 * Thanos' flag parser (kingpin) takes `--no-<flag>` for every boolean flag, and deployments written
 * for it may give one (`--no-web.disable-cors`): each boolean flag without a negation of its own gets
 * one, unlisted, setting it false.
 */
function addNegations(cmd: Command): void {
  const longs = new Set(cmd.options.map((o) => o.long));
  for (const o of [...cmd.options]) {
    if (!o.isBoolean() || o.negate || o.long === undefined || o.long === '--help' || o.long === '--version') continue;
    const negation = `--no-${o.long.slice(2)}`;
    if (!longs.has(negation)) cmd.addOption(new Option(negation).hideHelp());
  }
  for (const sub of cmd.commands) addNegations(sub);
}
