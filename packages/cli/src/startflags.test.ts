// `strata query` runs in a Node process of its own, started with the querier's start flags: it serves,
// signals reach it through the process that started it, and it stops when that process is gone.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startProcess, tempDir, TSX_CHILD_ENV, waitForHttp, withDescendants, type Managed } from '@strata/testing/process';
import { afterEach, describe, expect, it } from 'vitest';
import { startFlags } from './startflags.js';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

function cmdline(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
}

/** The processes under `pid` that run the CLI (tsx also starts an esbuild service under each). */
function cliProcesses(pid: number | undefined): number[] {
  return withDescendants(pid).filter((p) => cmdline(p).includes(MAIN));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(what: string, cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('strata query started with its start flags', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function startQuery(nodeArgs: string[] = []): Promise<{ proc: Managed; url: string }> {
    const dir = await tempDir('strata-startflags-test-');
    cleanups.push(dir.cleanup);
    const http = await freePort();
    const args = [...nodeArgs, '--import', 'tsx', MAIN, 'query', `--http-address=127.0.0.1:${http}`, `--grpc-address=127.0.0.1:${await freePort()}`];
    const proc = startProcess(process.execPath, args, { logFile: join(dir.path, 'query.log'), env: { ...process.env, ...TSX_CHILD_ENV } });
    cleanups.push(() => proc.stop('SIGKILL'));
    const url = `http://127.0.0.1:${http}`;
    await waitForHttp(`${url}/-/ready`, { proc, timeoutMs: 60_000 });
    return { proc, url };
  }

  it('serves from a child started with them, which a SIGTERM to the launcher shuts down cleanly', async () => {
    const { proc, url } = await startQuery();
    const launcher = proc.child.pid as number;
    const [, child, ...more] = cliProcesses(launcher);
    expect(child).toBeDefined();
    expect(more).toEqual([]);
    expect(cmdline(child as number)).toEqual(expect.arrayContaining([...startFlags('query')]));
    expect(cmdline(launcher)).not.toEqual(expect.arrayContaining([...startFlags('query')]));
    expect((await fetch(`${url}/-/healthy`)).status).toBe(200);

    const exit = new Promise<number | null>((resolve) => proc.child.once('exit', (code) => resolve(code)));
    process.kill(launcher, 'SIGTERM');
    expect(await exit).toBe(0);
    expect(alive(child as number)).toBe(false);
    expect(readFileSync(proc.logFile, 'utf8')).toMatch(/msg="shutting down" signal=SIGTERM/);
  });

  it('stops when the launcher is killed outright', async () => {
    const { proc } = await startQuery();
    const [, child] = cliProcesses(proc.child.pid);
    await proc.stop('SIGKILL');
    await until('the querier has stopped', () => !alive(child as number));
  });

  it('runs in the process started when Node was given them already', async () => {
    const { proc } = await startQuery([...startFlags('query')]);
    expect(cliProcesses(proc.child.pid)).toEqual([proc.child.pid]);
  });
});
