import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startProcess, waitForHttp, type Managed } from '../test/harness/process.js';
import { diffMatrices, type MatrixSeries } from '../test/querier/compliance.js';
import { median } from './stats.js';

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

export interface QueryTarget {
  readonly name: string;
  /** Its HTTP base URL. */
  readonly base: string;
}

/** Checks every target's answer to every range query against the first target's (the reference); throws at the first difference. */
export async function checkRangeAnswers(targets: readonly QueryTarget[], queries: readonly string[], start: number, end: number, step: number, dropLabels: string[] = []): Promise<void> {
  for (const q of queries) {
    const answers = await Promise.all(targets.map(async (t) => (JSON.parse((await timedRangeQuery(t.base, q, start, end, step)).body) as { data: { result: MatrixSeries[] } }).data.result));
    if ((answers[0] ?? []).length === 0) throw new Error(`${q}: ${targets[0]?.name} answers no series`);
    for (const [i, a] of answers.entries()) {
      const diff = diffMatrices(answers[0] ?? [], a ?? [], { dropLabels });
      if (diff !== null) throw new Error(`${q}: ${targets[i]?.name}: ${diff}`);
    }
  }
}

/**
 * `warmUp` untimed and `rounds` timed rounds, each sending every query to every target in turn (the order
 * rotating); the timed latencies (ms) by target and query.
 */
export async function timeRangeRounds(targets: readonly QueryTarget[], queries: readonly string[], start: number, end: number, step: number, warmUp: number, rounds: number): Promise<number[][][]> {
  const latencies = targets.map(() => queries.map((): number[] => []));
  for (let r = 0; r < warmUp + rounds; r++) {
    for (const [qi, q] of queries.entries()) {
      for (let k = 0; k < targets.length; k++) {
        const ti = (k + r + qi) % targets.length;
        const { ms } = await timedRangeQuery((targets[ti] as QueryTarget).base, q, start, end, step);
        if (r >= warmUp) latencies[ti]?.[qi]?.push(ms);
      }
    }
  }
  return latencies;
}

/** Prints each target's p50 latency with its ratio to the targets `ratios` names (by column title), then each query's medians. */
export function reportLatencies(targets: readonly QueryTarget[], queries: readonly string[], latencies: number[][][], ratios: Readonly<Record<string, number>>): void {
  const p50 = (ti: number) => median(latencies[ti]?.flat() ?? []);
  const width = Math.max(...targets.map((t) => t.name.length)) + 2;
  process.stdout.write(`${'target'.padEnd(width)}${'p50 ms'.padStart(9)}${Object.keys(ratios).map((title) => title.padStart(8)).join('')}\n`);
  for (const [ti, target] of targets.entries()) {
    process.stdout.write(`${target.name.padEnd(width)}${p50(ti).toFixed(1).padStart(9)}${Object.values(ratios).map((ri) => (p50(ti) / p50(ri)).toFixed(2).padStart(8)).join('')}\n`);
  }
  process.stdout.write(`per query, median ms (${targets.map((t) => t.name).join(' / ')}):\n`);
  for (const [qi, q] of queries.entries()) process.stdout.write(`${targets.map((_, ti) => median(latencies[ti]?.[qi] ?? []).toFixed(1).padStart(8)).join(' ')}  ${q}\n`);
}
