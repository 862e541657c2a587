import { openSync, readSync } from 'node:fs';

/**
 * Linux's per-thread scheduler statistics, `/proc/thread-self/schedstat`: three numbers, the thread's
 * time on a CPU, its time waiting on a run queue for one (run_delay), both in ns, and its timeslices.
 * Opened once per thread that asks (module state is per thread in Node, so `thread-self` is the
 * asking thread) and read again with a positional read, which costs ~2.5 µs.
 */
let schedstat: number | undefined;
const text = Buffer.alloc(128);

/** The calling thread's time so far waiting for a CPU, in ms; undefined where the kernel does not say (not Linux, no schedstats). */
export function threadRunDelayMs(): number | undefined {
  if (schedstat === undefined) {
    try {
      schedstat = openSync('/proc/thread-self/schedstat', 'r');
    } catch {
      schedstat = -1;
    }
  }
  if (schedstat < 0) return undefined;
  let n: number;
  try {
    n = readSync(schedstat, text, 0, text.length, 0);
  } catch {
    return undefined;
  }
  // The second field's digits.
  let i = text.indexOf(0x20);
  if (i < 0 || i >= n) return undefined;
  let ns = 0;
  for (i++; i < n; i++) {
    const d = (text[i] as number) - 0x30;
    if (d < 0 || d > 9) break;
    ns = ns * 10 + d;
  }
  return ns / 1e6;
}
