/**
 * `pnpm bench tsdb`: the TSDB library's benchmarks in one run, as issue 2 asks: XOR chunk encode and
 * decode throughput on Prometheus' three chunk shapes (bench/xor.bench.ts), then `strata tools tsdb
 * dump` against `promtool tsdb dump` on the same block (bench/dump.bench.ts), each with its defaults
 * (run `pnpm bench xor` or `pnpm bench dump` to pass options).
 */
import { main as xor } from './xor.bench.js';
import { main as dump } from './dump.bench.js';

export async function main(): Promise<void> {
  await xor([]);
  await dump([]);
}
