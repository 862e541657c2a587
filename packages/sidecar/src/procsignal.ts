/**
 * Signals to processes found by their executable name, as Thanos' reloader finds Prometheus for
 * `--reloader.method=signal`: where the sidecar cannot reach Prometheus' /-/reload (no
 * --web.enable-lifecycle) but shares its process namespace (the same host, or a Kubernetes pod with
 * shareProcessNamespace).
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';

/**
 * Sends `signal` to every process whose executable name is `name` (Linux' /proc: the process' comm,
 * or the base name of its first argument, as comm holds only the first 15 bytes of a longer name), but
 * this one; returns their pids. Throws when there is none, or when one cannot be signalled.
 */
export async function signalProcesses(name: string, signal: NodeJS.Signals, procDir = '/proc'): Promise<number[]> {
  let entries: string[];
  try {
    entries = await readdir(procDir);
  } catch (e) {
    throw new Error(`cannot list processes to find ${JSON.stringify(name)} (${procDir}: ${(e as Error).message}); --reloader.method=signal needs Linux' /proc`, { cause: e });
  }
  const pids: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    // The sidecar itself may go by the same name (e.g. both run by node): a SIGHUP would end it.
    if (pid === process.pid || !(await isNamed(join(procDir, entry), name))) continue;
    try {
      process.kill(pid, signal);
    } catch (e) {
      // Gone since it was listed: not there to reload.
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') continue;
      throw new Error(`cannot send ${signal} to process ${pid} (${name}): ${(e as Error).message}`, { cause: e });
    }
    pids.push(pid);
  }
  if (pids.length === 0) throw new Error(`no process named ${JSON.stringify(name)} (--reloader.process-name) to send ${signal} to`);
  return pids;
}

/** Whether the process of `/proc/<pid>` runs as `name`; false when it has gone, or is not ours to read. */
async function isNamed(dir: string, name: string): Promise<boolean> {
  const comm = await readFile(join(dir, 'comm'), 'utf8').catch(() => undefined);
  if (comm === undefined) return false;
  if (comm.replace(/\n$/, '') === name) return true;
  const cmdline = await readFile(join(dir, 'cmdline'), 'utf8').catch(() => '');
  const first = cmdline.split('\0', 1)[0] ?? '';
  return first !== '' && basename(first) === name;
}
