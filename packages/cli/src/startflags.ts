import { spawn } from 'node:child_process';
import { constants } from 'node:os';

/**
 * V8 flags a command needs from the moment Node starts. The young generation's size is fixed when the
 * heap is set up (`v8.setFlagsFromString` cannot change it later, unlike the growth factor that
 * growHeapBetweenFullCollections sets), so `strata query` relaunches Node with it.
 *
 * The querier's young generation: a query holds every series it fetched, decoded, until it has been
 * evaluated (tens of MB for a dashboard panel over a day), and V8's default 16 MB semi-spaces copied that
 * data from one to the other at every scavenge before promoting it, a collection every few MB allocated.
 * With 64 MB, a query's data mostly dies young. Measured (`pnpm bench query`, six alternating pairs, the
 * first three with the flag given to Node directly, the last three relaunched as here): the querier's CPU
 * per query with two replicas 33–40 → 29–33 ms (lower in all six), with one 27–33 → 26–28; p50 with two
 * replicas 1.03–1.11 → 0.96–1.09× Prometheus. Costs peak resident memory: 60–70 MiB more young
 * generation, and the launcher's ~45 MiB.
 */
const START_FLAGS: Readonly<Record<string, readonly string[]>> = {
  query: ['--max-semi-space-size=64'],
};

/** The flags `command` is started with (none for most). */
export function startFlags(command: string): readonly string[] {
  return START_FLAGS[command] ?? [];
}

/** In the environment of a relaunched process, so that it never relaunches again. */
const RELAUNCHED = 'STRATA_RELAUNCHED';
const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** `--max_semi_space_size=64` → `--max-semi-space-size` (V8 reads `_` and `-` alike). */
function flagName(flag: string): string {
  return (flag.split('=')[0] as string).replace(/_/g, '-');
}

/**
 * Runs the command of `argv` in a new Node process with the start flags it lacks (neither on Node's
 * command line nor in NODE_OPTIONS, which win), this process only passing signals on and exiting as
 * that one does; returns false, doing nothing, where the command needs none. The new process gets its
 * own process group, so that a terminal's Ctrl-C reaches it once, through this one.
 */
export function relaunchWithStartFlags(argv: readonly string[]): boolean {
  const wanted = startFlags(argv[2] ?? '');
  if (wanted.length === 0 || process.env[RELAUNCHED] !== undefined) return false;
  const given = [...process.execArgv, ...(process.env['NODE_OPTIONS'] ?? '').split(/\s+/)].map(flagName);
  const missing = wanted.filter((f) => !given.includes(flagName(f)));
  if (missing.length === 0) return false;
  const child = spawn(process.execPath, [...process.execArgv, ...missing, ...argv.slice(1)], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, [RELAUNCHED]: '1' },
    detached: true,
  });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  for (const s of FORWARDED_SIGNALS) process.on(s, forward);
  child.on('error', (err) => {
    process.stderr.write(`strata: cannot start ${process.execPath}: ${err.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    for (const s of FORWARDED_SIGNALS) process.off(s, forward);
    // Ended by a signal: end by the same one, so that whoever started this process sees how it ended;
    // as a container's PID 1, which the kernel spares signals it has no handler for, with the shell's code.
    if (signal !== null) {
      process.kill(process.pid, signal);
      process.exit(128 + (constants.signals[signal] ?? 0));
    }
    process.exit(code ?? 1);
  });
  return true;
}

/**
 * In a relaunched process: stop as on SIGTERM once the process that started it is gone (its IPC channel
 * closes however it ended, SIGKILL included), rather than run on without anyone to stop it.
 */
export function stopWithLauncher(): void {
  if (process.env[RELAUNCHED] === undefined) return;
  // Not passed on to processes this one starts: they have their own commands and flags.
  delete process.env[RELAUNCHED];
  if (process.channel === undefined) return;
  process.channel.unref();
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}
