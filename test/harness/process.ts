import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { freePort } from '@strata/runtime';

export { freePort };

/**
 * Free TCP ports on 127.0.0.1, none given twice: for addresses picked before their servers bind them,
 * where the OS may report a port it reported free a moment ago to the next asker too.
 */
export function distinctPorts(): () => Promise<number> {
  const given = new Set<number>();
  return async () => {
    for (;;) {
      const p = await freePort();
      if (!given.has(p)) {
        given.add(p);
        return p;
      }
    }
  };
}

/**
 * Environment for a child process that runs TypeScript sources with `tsx`: @strata/* resolves to the
 * packages' sources, as in the tests themselves.
 */
export const TSX_CHILD_ENV: NodeJS.ProcessEnv = { TSX_TSCONFIG_PATH: fileURLToPath(new URL('./tsconfig.child.json', import.meta.url)) };

/** The `strata` command's source, run with tsx as the tests run it. */
export const CLI_SOURCE = fileURLToPath(new URL('../../packages/cli/src/main.ts', import.meta.url));

/**
 * Starts `strata <args…>` (a long-running component) from source on free HTTP and gRPC ports, logging
 * to `<dir>/<name>.log`; resolves once its /-/ready answers.
 */
export async function startCliComponent(dir: string, name: string, args: string[]): Promise<{ proc: Managed; http: string; grpc: string }> {
  const [grpc, http] = [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`];
  const proc = startProcess(process.execPath, ['--import', 'tsx', CLI_SOURCE, ...args, `--grpc-address=${grpc}`, `--http-address=${http}`], {
    logFile: join(dir, `${name}.log`),
    env: { ...process.env, ...TSX_CHILD_ENV },
  });
  await waitForHttp(`http://${http}/-/ready`, { proc, timeoutMs: 60_000 });
  return { proc, http: `http://${http}`, grpc };
}

/** A fresh temporary directory, removed by the returned cleanup. */
export async function tempDir(prefix = 'strata-test-'): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

export interface Managed {
  readonly child: ChildProcess;
  readonly logFile: string;
  /** Sends SIGTERM (or the given signal) and waits for the exit; SIGKILL after a grace period. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts a process with stdout/stderr going to `logFile`, and makes sure it cannot outlive the test
 * process: every child started here is killed on exit.
 */
export function startProcess(cmd: string, args: string[], opts: { logFile: string; cwd?: string; env?: NodeJS.ProcessEnv }): Managed {
  const log = createWriteStream(opts.logFile);
  const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  live.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', () => live.delete(child));
  return {
    child,
    logFile: opts.logFile,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/** Polls `url` until it answers 2xx, the process dies, or the timeout passes. */
export async function waitForHttp(url: string, opts: { timeoutMs?: number; proc?: Managed } = {}): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let last = '';
  while (Date.now() < deadline) {
    const child = opts.proc?.child;
    if (child !== undefined && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`process exited with ${child.exitCode ?? child.signalCode} before ${url} was up; see ${opts.proc!.logFile}`);
    }
    try {
      const res = await fetch(url);
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${url}: ${last}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * CPU time (ms) the threads of a process have used, from /proc/PID/task/TID/schedstat (nanoseconds;
 * /proc/PID/stat counts clock ticks of 10 ms, as coarse as one request's CPU); undefined where /proc is
 * unreadable. A thread that has exited no longer counts: measure across spans the threads outlive.
 */
export function processCpuMs(pid: number | undefined): number | undefined {
  return processSchedMs(pid)?.cpuMs;
}

/**
 * What the threads of a process have spent (ms), from schedstat as processCpuMs: `cpuMs` running, and
 * `waitMs` runnable but waiting for a CPU (on a run queue), what a machine with more work than cores
 * adds to every request's latency.
 */
export function processSchedMs(pid: number | undefined): { cpuMs: number; waitMs: number } | undefined {
  if (pid === undefined) return undefined;
  let cpu = 0;
  let wait = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const [run, queued] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ');
        cpu += Number(run);
        wait += Number(queued);
      } catch {
        // the thread has just exited
      }
    }
  } catch {
    return undefined;
  }
  return { cpuMs: cpu / 1e6, waitMs: wait / 1e6 };
}

/** A process' peak resident memory so far (MiB; VmHWM of /proc/PID/status); undefined where /proc is unreadable. */
export function processPeakRssMiB(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const kib = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kib === undefined ? undefined : Number(kib) / 1024;
  } catch {
    return undefined;
  }
}

/**
 * A process and every process under it (`strata query` runs in a child it starts with other Node flags),
 * for what they cost together; just `pid` without /proc.
 */
export function withDescendants(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  const children = new Map<number, number[]>();
  try {
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        // The parent pid is the second field after the command, which is in parentheses and may hold spaces.
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        let siblings = children.get(ppid);
        if (siblings === undefined) children.set(ppid, (siblings = []));
        siblings.push(Number(d));
      } catch {
        // the process has just exited
      }
    }
  } catch {
    return [pid];
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i] as number) ?? []));
  return out;
}

/** The pid of the process started with the argument `arg` (a Prometheus' --storage.tsdb.path=…, whose handle has no pid); undefined without /proc. */
export function pidWithArgument(arg: string): number | undefined {
  try {
    for (const d of readdirSync('/proc')) {
      if (/^\d+$/.test(d) && readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').includes(arg)) return Number(d);
    }
  } catch {
    // no /proc
  }
  return undefined;
}

/** Waits until something takes connections on 127.0.0.1:`port` (10 s at most), failing early if `proc` (named `name`) exits. */
export async function waitForPort(port: number, proc: Managed, name: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await accepts(port))) {
    if (proc.child.exitCode !== null) throw new Error(`${name} exited with ${proc.child.exitCode}; see ${proc.logFile}`);
    if (Date.now() > deadline) throw new Error(`${name} did not listen on 127.0.0.1:${port}; see ${proc.logFile}`);
    await sleep(50);
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * A TCP server on 127.0.0.1 that resets every connection: an address where a service is down. Held by the
 * test, unlike a port merely found free, which another test's server may bind meanwhile.
 */
export async function startRefusingServer(): Promise<{ address: string; stop(): Promise<void> }> {
  return listenOnLoopback(createServer((s) => s.resetAndDestroy()));
}

/** A TCP server on 127.0.0.1 that takes connections, reads what comes and never answers: a hung cache or service. */
export async function startSilentServer(): Promise<{ address: string; stop(): Promise<void> }> {
  return listenOnLoopback(createServer((s) => s.resume()));
}

async function listenOnLoopback(server: Server): Promise<{ address: string; stop(): Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as { port: number }).port}`,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
