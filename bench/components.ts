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

/** A range query at `base` over [start, end] (ms) at `step`, timed from request to whole answer; throws unless answered 200. */
export async function timedRangeQuery(base: string, query: string, start: number, end: number, step: number): Promise<{ ms: number; body: string }> {
  const params = new URLSearchParams({ query, start: String(start / 1000), end: String(end / 1000), step: String(step / 1000) });
  const t = performance.now();
  const res = await fetch(`${base}/api/v1/query_range?${params}`);
  const body = await res.text();
  if (res.status !== 200) throw new Error(`${base}: ${query}: ${res.status} ${body.slice(0, 200)}`);
  return { ms: performance.now() - t, body };
}
