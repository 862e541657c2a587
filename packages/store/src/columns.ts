/**
 * Memory for the typed-array columns of a query's per-block bookkeeping (series rows, chunk batches,
 * read chunks, chunk columns). A query of a few series reads many blocks, and a typed array or
 * ArrayBuffer of its own costs a backing store each (allocated, zeroed, tracked until a GC sweeps
 * it: about a microsecond, several per block), where a view of a shared buffer costs a fraction of
 * that. Columns up to MAX_CARVED_BYTES are carved one after another from 64 KiB slabs, never reused
 * (so they start zeroed, as fresh arrays do); a slab is freed once no column carved from it is
 * referenced. Larger columns (large queries' batches) get a buffer of their own, left unzeroed where
 * the caller writes every byte before reading it (carveWritten).
 */
const SLAB_BYTES = 64 * 1024;
/** At most an eighth of a slab: a few long-lived columns cannot pin much more than they hold. */
const MAX_CARVED_BYTES = SLAB_BYTES / 8;

let slab = new ArrayBuffer(SLAB_BYTES);
let used = 0;

/** `bytes` bytes at `at` in `buffer`, 8-byte aligned (for Float64Array views). */
export interface Carved {
  buffer: ArrayBuffer;
  at: number;
}

/** `bytes` zeroed bytes. */
export function carve(bytes: number): Carved {
  return carveFrom(bytes, (size) => new ArrayBuffer(size));
}

/**
 * `bytes` bytes that the caller writes before it reads them: a large column is then left as the
 * allocator gives it (2–5 µs for 116 KiB, where zeroing takes the ArrayBuffer 8–16 µs).
 */
export function carveWritten(bytes: number): Carved {
  return carveFrom(bytes, (size) => Buffer.allocUnsafeSlow(size).buffer);
}

function carveFrom(bytes: number, large: (size: number) => ArrayBuffer): Carved {
  const size = (bytes + 7) & ~7;
  if (size > MAX_CARVED_BYTES) return { buffer: large(size), at: 0 };
  if (used + size > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    used = 0;
  }
  const at = used;
  used += size;
  return { buffer: slab, at };
}
