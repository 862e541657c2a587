/**
 * Buffers for reading chunks from the bucket, reused once every series whose chunks a buffer holds has
 * been sent (--chunk-pool-size bounds the bytes queries hold, ChunkBytesLimit; this pool bounds the
 * idle ones). A store gateway's query reads all its chunk bytes before it sends any, in reads of up to a
 * few MB; fresh buffers for them cost the kernel a page fault per 4 KiB as the read fills them, and V8 a
 * garbage collection per so many MB of new external memory. Released buffers are kept up to
 * `maxIdleBytes`; a buffer never released (a failed or abandoned call, chunks made objects for a merge
 * that orders them one by one) is left to the garbage collector.
 */
export class ChunkPool {
  /** Idle buffers, by size ascending. */
  readonly #idle: ArrayBuffer[] = [];
  #idleBytes = 0;
  /** Every buffer this pool made: `put` ignores others (and any buffer it already holds). */
  readonly #own = new WeakSet<ArrayBuffer>();
  /** When a buffer was last asked for (ms since the epoch). */
  #lastGet = 0;

  constructor(readonly maxIdleBytes: number) {}

  /** An uninitialised buffer of `length` bytes: a view of an idle one up to a quarter larger, else a new one. */
  get(length: number): Buffer {
    if (length < MIN_POOLED_BYTES) return Buffer.allocUnsafe(length);
    this.#lastGet = Date.now();
    const idle = this.#idle;
    for (let i = 0; i < idle.length; i++) {
      const b = idle[i] as ArrayBuffer;
      if (b.byteLength < length) continue;
      if (b.byteLength > length + (length >>> 2) + SIZE_STEP) break;
      idle.splice(i, 1);
      this.#idleBytes -= b.byteLength;
      return Buffer.from(b, 0, length);
    }
    // Sizes rounded up, so that reads of similar sizes can take each other's buffers.
    const b = Buffer.allocUnsafeSlow(Math.ceil(length / SIZE_STEP) * SIZE_STEP).buffer as ArrayBuffer;
    this.#own.add(b);
    return Buffer.from(b, 0, length);
  }

  /** Gives back the memory of `buf` (from `get`): nothing may read it any more. */
  put(buf: Uint8Array): void {
    const b = buf.buffer as ArrayBuffer;
    if (!this.#own.has(b) || this.#idleBytes + b.byteLength > this.maxIdleBytes) return;
    const idle = this.#idle;
    let i = 0;
    while (i < idle.length && (idle[i] as ArrayBuffer).byteLength < b.byteLength) i++;
    for (let j = i; j < idle.length && (idle[j] as ArrayBuffer).byteLength === b.byteLength; j++) if (idle[j] === b) return;
    idle.splice(i, 0, b);
    this.#idleBytes += b.byteLength;
  }

  /**
   * Leaves the idle buffers to the garbage collector if none was asked for in `idleMs` (the store's idle
   * sweep, as for blocks' readers): a burst of large queries does not hold its memory for good.
   */
  dropIfUnused(idleMs: number, now = Date.now()): void {
    if (now - this.#lastGet < idleMs) return;
    this.#idle.length = 0;
    this.#idleBytes = 0;
  }

  /** Bytes of idle buffers held. */
  get idleBytes(): number {
    return this.#idleBytes;
  }
}

/** Smaller reads come from Node's own pool (or are too few to matter). */
const MIN_POOLED_BYTES = 64 * 1024;
const SIZE_STEP = 64 * 1024;
