#!/usr/bin/env node
import { Command } from 'commander';
import { registerCommands } from './commands/index.js';

/**
 * The `strata` command. Subcommands mirror Thanos': `strata sidecar|store|query|compact|tools …`, with
 * Thanos' flag names (`--objstore.config-file`, `--http-address`, …) wherever Thanos has one.
 */
const program = new Command('strata')
  .description('Long-term storage and high availability for Prometheus')
  .showHelpAfterError()
  .configureHelp({ sortSubcommands: true });
registerCommands(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`strata: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
