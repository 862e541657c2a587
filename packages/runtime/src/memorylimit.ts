/**
 * Thanos' `--enable-auto-gomemlimit` sets the Go runtime's soft memory limit to a ratio of the
 * container's memory limit (cgroup), or of the machine's memory without one. Node's heap limit is fixed
 * when the process starts (`--max-old-space-size`), so the nearest Strata can do is tell, at start,
 * whether its heap may grow past that share of the memory, and which limit to start with instead.
 */
import { readFile } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import type { Logger } from './logger.js';

/** cgroup v1 writes "no limit" as a page-rounded 2^63−1; anything this large is none. */
const UNLIMITED_V1 = 2 ** 62;

/** The memory limit of this process' cgroup (v2, else v1) under `root`, or undefined when it has none. */
export async function cgroupMemoryLimit(root = '/sys/fs/cgroup'): Promise<number | undefined> {
  const read = (path: string) => readFile(join(root, path), 'utf8').then((s) => s.trim(), () => undefined);
  const v2 = await read('memory.max');
  if (v2 !== undefined) return v2 === 'max' ? undefined : Number(v2);
  const v1 = await read('memory/memory.limit_in_bytes');
  return v1 === undefined || Number(v1) >= UNLIMITED_V1 ? undefined : Number(v1);
}

export interface MemoryLimitCheck {
  /** --auto-gomemlimit.ratio: the share of the memory the process should stay within. */
  ratio: number;
  logger: Logger;
  /** Where cgroups are mounted (tests). */
  cgroupRoot?: string;
  /** V8's heap limit in bytes (tests; this process' otherwise). */
  heapLimitBytes?: number;
}

/**
 * Logs the memory the process should stay within (`ratio` of the cgroup's limit, else of the machine's
 * memory) and warns when V8's heap limit is above it; returns that memory, in bytes.
 */
export async function checkHeapAgainstMemoryLimit(c: MemoryLimitCheck): Promise<number> {
  if (!(c.ratio > 0 && c.ratio <= 1)) throw new Error(`--auto-gomemlimit.ratio must be in (0, 1], not ${c.ratio}`);
  const cgroup = await cgroupMemoryLimit(c.cgroupRoot);
  const memory = cgroup ?? totalmem();
  const within = Math.floor(memory * c.ratio);
  const heap = c.heapLimitBytes ?? getHeapStatistics().heap_size_limit;
  const mib = (n: number) => Math.round(n / 2 ** 20);
  const fields = { source: cgroup !== undefined ? 'cgroup' : 'system', memory_mib: mib(memory), ratio: c.ratio, limit_mib: mib(within), heap_limit_mib: mib(heap) };
  if (heap > within) {
    // The heap is most of a Node process' memory, not all of it: leave the rest a tenth.
    c.logger.warn(`the JavaScript heap may grow past ${mib(within)} MiB; start the process with NODE_OPTIONS=--max-old-space-size=${mib(within * 0.9)} to stay within it`, fields);
  } else {
    c.logger.info('memory limit', fields);
  }
  return within;
}
