import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '@strata/runtime';

/**
 * The queries being evaluated, kept in a file so that those a crash cut short (an out-of-memory kill, most
 * often caused by one of them) are known at the next start: Prometheus' active query tracker, which
 * Thanos' --query.active-query-path turns on. The file is a JSON array of fixed slots, one per query
 * allowed at once (--query.max-concurrent): `[` then, per slot, an entry
 * `{"query":"…","timestamp_sec":…}` padded with NUL bytes and ending in `,` (or only NULs when the slot
 * is free), then `]`; so a slot is rewritten in place with one write, and a file cut anywhere still
 * reads. The writes go to the page cache only (no fsync): they outlive the process, not the machine,
 * as Prometheus' mmapped file does.
 */
export class ActiveQueryTracker {
  readonly #fd: number;
  readonly #free: number[];
  static readonly FILE = 'queries.active';

  /**
   * Logs the queries a previous process left in `dir/file`, then starts the file again with
   * `maxConcurrent` free slots.
   */
  constructor(dir: string, maxConcurrent: number, logger: Logger, file = ActiveQueryTracker.FILE) {
    mkdirSync(dir, { recursive: true });
    const path = join(dir, file);
    if (existsSync(path)) {
      const left = unfinished(readFileSync(path));
      if (left.length > 0) logger.info("These queries didn't finish in the querier's last run:", { queries: JSON.stringify(left) });
    }
    this.#fd = openSync(path, 'w+');
    const empty = Buffer.alloc(2 + maxConcurrent * ENTRY_BYTES);
    empty[0] = 0x5b; // [
    empty[empty.length - 1] = 0x5d; // ]
    writeSync(this.#fd, empty, 0, empty.length, 0);
    this.#free = Array.from({ length: maxConcurrent }, (_, i) => maxConcurrent - 1 - i);
  }

  /** Runs `fn` with `query` in a slot of the file. Without a free slot (never under the gate) it runs untracked. */
  async track<T>(query: string, fn: () => Promise<T>): Promise<T> {
    const slot = this.#free.pop();
    if (slot === undefined) return fn();
    writeSync(this.#fd, entry(query), 0, ENTRY_BYTES, offset(slot));
    try {
      return await fn();
    } finally {
      writeSync(this.#fd, FREE, 0, ENTRY_BYTES, offset(slot));
      this.#free.push(slot);
    }
  }

  close(): void {
    closeSync(this.#fd);
  }
}

/** Bytes of a slot, as Prometheus' (a longer query is cut to fit). */
const ENTRY_BYTES = 1000;
const FREE = Buffer.alloc(ENTRY_BYTES);
const offset = (slot: number) => 1 + slot * ENTRY_BYTES;

/** A slot's bytes for `query` started now: its JSON, NUL padding, and the `,` that ends every entry. */
function entry(query: string): Buffer {
  const timestamp_sec = Math.floor(Date.now() / 1000);
  const json = (n: number) => Buffer.from(JSON.stringify({ query: query.slice(0, n), timestamp_sec }));
  // The longest start of the query whose JSON (escapes included) leaves room for the `,`.
  let fits = json(query.length);
  if (fits.length > ENTRY_BYTES - 1) {
    let [lo, hi] = [0, query.length];
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (json(mid).length <= ENTRY_BYTES - 1) lo = mid;
      else hi = mid - 1;
    }
    fits = json(lo);
  }
  const out = Buffer.alloc(ENTRY_BYTES);
  fits.copy(out);
  out[ENTRY_BYTES - 1] = 0x2c; // ,
  return out;
}

/** The entries of a tracker file, whatever state the process that wrote it was left in. */
export function unfinished(file: Buffer): { query: string; timestamp_sec: number }[] {
  const out: { query: string; timestamp_sec: number }[] = [];
  for (let at = 1; at < file.length - 1; at += ENTRY_BYTES) {
    const slot = file.subarray(at, Math.min(at + ENTRY_BYTES, file.length));
    const end = slot.indexOf(0);
    const text = slot.toString('utf8', 0, end < 0 ? slot.length : end).replace(/,$/, '');
    if (text === '') continue;
    try {
      const e = JSON.parse(text) as { query?: unknown; timestamp_sec?: unknown };
      if (typeof e.query === 'string' && typeof e.timestamp_sec === 'number') out.push({ query: e.query, timestamp_sec: e.timestamp_sec });
    } catch {
      // A slot being written when the process died: nothing to report.
    }
  }
  return out;
}
