import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startProcess, waitForHttp, type Managed } from '../test/harness/process.js';

/** The built CLI: benchmarks run every component as its own process, as users run them. */
export const CLI = fileURLToPath(new URL('../packages/cli/dist/main.js', import.meta.url));

/** Starts `strata <args…>` on free ports (HTTP, and gRPC when `grpc`), logging to `<dir>/<name>.log`; resolves once it is ready. */
export async function startComponent(dir: string, name: string, args: string[], grpc: boolean): Promise<{ proc: Managed; http: string; grpc: string }> {
  const http = `127.0.0.1:${await freePort()}`;
  const grpcAddress = `127.0.0.1:${await freePort()}`;
  const proc = startProcess('node', [CLI, ...args, `--http-address=${http}`, ...(grpc ? [`--grpc-address=${grpcAddress}`] : [])], { logFile: join(dir, `${name}.log`) });
  await waitForHttp(`http://${http}/-/ready`, { proc, timeoutMs: 120_000 });
  return { proc, http, grpc: grpcAddress };
}
