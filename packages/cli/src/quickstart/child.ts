import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';

/** A process the quick start (or a test) runs beside it. */
export interface ChildProcess {
  /** SIGTERM, then SIGKILL after 10 s; settles once it has exited. */
  stop(): Promise<void>;
}

const running = new Set<{ kill(signal: NodeJS.Signals): boolean }>();
process.once('exit', () => {
  // Never leave a child behind, whatever ends this process.
  for (const c of running) c.kill('SIGKILL');
});

/**
 * Runs `command` with its output in `logFile`, ready once `readyUrl` answers 200 (within 60 s);
 * `cannotRun` says what to do when the command cannot be started at all.
 */
export async function startChild(what: string, command: string, args: readonly string[], opts: { logFile: string; readyUrl: string; cannotRun: string }): Promise<ChildProcess> {
  const log = createWriteStream(opts.logFile);
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => running.delete(child));
  const spawnFailed = new Promise<never>((_, reject) => child.once('error', (e) => reject(new Error(`cannot run ${what} (${e.message}): ${opts.cannotRun}`))));
  await Promise.race([waitReady(what, opts.readyUrl, () => child.exitCode, opts.logFile), spawnFailed]);
  return {
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function waitReady(what: string, url: string, exitCode: () => number | null, logFile: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const code = exitCode();
    if (code !== null) throw new Error(`${what} exited with ${code} before it was ready; see ${logFile}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} at ${url} not ready after 60s; see ${logFile}`);
}
