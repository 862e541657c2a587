import { join } from 'node:path';
import { freePort, startProcess, tempDir, waitForPort, type Managed } from './process.js';

export interface RunningMemcached {
  /** `127.0.0.1:port`. */
  readonly address: string;
  readonly proc: Managed;
  stop(): Promise<void>;
}

/**
 * Starts Debian's memcached on 127.0.0.1 at a port the OS picked (TCP only, 64 MB), and waits until it
 * takes connections. `maxItemBytes`: its -I item size limit (memcached's default 1 MiB); `args`: more of its flags.
 */
export async function startMemcached(opts: { maxItemBytes?: number; args?: string[] } = {}): Promise<RunningMemcached> {
  const port = await freePort();
  const dir = await tempDir('strata-memcached-');
  const args = ['-l', '127.0.0.1', '-p', String(port), '-U', '0', '-m', '64', ...(opts.maxItemBytes !== undefined ? ['-I', String(opts.maxItemBytes)] : []), ...(opts.args ?? [])];
  // As root (the CI machine's user) memcached wants to be told to stay root.
  if (process.getuid?.() === 0) args.push('-u', 'root');
  const proc = startProcess('memcached', args, { logFile: join(dir.path, 'memcached.log') });
  const address = `127.0.0.1:${port}`;
  await waitForPort(port, proc, 'memcached');
  return {
    address,
    proc,
    async stop() {
      await proc.stop();
      await dir.cleanup();
    },
  };
}
