import { read, readSync } from 'node:fs';

/** Reads longer than this always go to the thread pool: inline, they would hold the event loop for a long copy. */
const INLINE_MAX_BYTES = 1024 * 1024;
/** An inline read that took longer than this waited for the disk, not memory (a 1 MiB copy from the page cache takes ~0.15 ms). */
const SLOW_READ_MS = 2;
/** How long reads go to the thread pool after a slow one. */
const POOL_MS = 10_000;

/**
 * Positional reads of local files: inline while they come from memory (the page cache), in libuv's
 * thread pool while they come from the disk. A trip to the pool wakes a pool thread and then the event
 * loop: measured on a 2-core VM, a 4 KiB read costs 30 µs of CPU that way and 4 µs inline, and on a busy
 * machine the event loop gives its core to the thread it woke and waits for one again. A sidecar's
 * Series call reads the local block's chunks in one read and lost more than that to the trip.
 * Prometheus reads its blocks through mmap, where a page-cache hit is a memory read too. An inline read
 * holds the event loop for as long as the disk takes, so after one that was slow the reads go to the
 * pool for a while.
 */
export class FileReads {
  /** Until when (performance.now()) reads go to the pool. */
  #poolUntil = 0;
  readonly #slowReadMs: number;

  /** `slowReadMs`: an inline read that takes longer sends the next reads to the pool (default 2 ms). */
  constructor(slowReadMs = SLOW_READ_MS) {
    this.#slowReadMs = slowReadMs;
  }

  /** Reads `target.length` bytes at `position` into `target`; returns how many (fewer where the file ends). */
  async read(fd: number, target: Uint8Array, position: number): Promise<number> {
    if (target.length > INLINE_MAX_BYTES || performance.now() < this.#poolUntil) return readPooled(fd, target, position);
    const start = performance.now();
    let n = 0;
    while (n < target.length) {
      const bytesRead = readSync(fd, target, n, target.length - n, position + n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    const end = performance.now();
    if (end - start > this.#slowReadMs) this.#poolUntil = end + POOL_MS;
    return n;
  }
}

async function readPooled(fd: number, target: Uint8Array, position: number): Promise<number> {
  let n = 0;
  while (n < target.length) {
    const bytesRead = await new Promise<number>((res, rej) => read(fd, target, n, target.length - n, position + n, (err, b) => (err ? rej(err) : res(b))));
    if (bytesRead === 0) break;
    n += bytesRead;
  }
  return n;
}
