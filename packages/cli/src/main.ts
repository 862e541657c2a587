#!/usr/bin/env node
import { relaunchWithStartFlags, stopWithLauncher } from './startflags.js';

/**
 * The `strata` command. Subcommands mirror Thanos': `strata sidecar|store|query|compact|tools …`, with
 * Thanos' flag names (`--objstore.config-file`, `--http-address`, …) wherever Thanos has one. A command
 * that needs Node started with other flags runs in a process of its own (startflags.ts), before this one
 * loads any of the commands.
 */
if (!relaunchWithStartFlags(process.argv)) {
  stopWithLauncher();
  const { Command } = await import('commander');
  const { registerCommands } = await import('./commands/index.js');
  const { versionText, leaveWorkers } = await import('@strata/runtime');
  const program = new Command('strata')
    .description('Long-term storage and high availability for Prometheus')
    .version(versionText(), '--version', 'print the version and exit')
    .showHelpAfterError()
    .configureHelp({ sortSubcommands: true });
  registerCommands(program);

  program.parseAsync(process.argv).catch((err: unknown) => {
    process.stderr.write(`strata: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
    // A worker process (--query.workers) would otherwise stay up for its channel to the primary.
    leaveWorkers();
  });
}
