/**
 * The store gateway's chunk bytes through WebAssembly (chunkWasm, @strata/storeapi): each read of chunks
 * is staged in the module's memory to be parsed, CRC-checked and hashed there (`stage`, `hashStaged`),
 * and frames' Series.chunks fields are written there from a staged stretch of the read ahead of them
 * (`writeChunkFields`), many chunks per call.
 *
 * Why staged copies: a query's reads land from the bucket long before they are looked at (many are in
 * flight), and its frames are written after all of them, out of the CPU's caches. One streaming copy
 * brings a stretch in, where every pass over it then finds it (record headers, CRCs, hashes, the copy
 * into a frame); chunk by chunk from the read buffer, each pass waits on memory chunk after chunk.
 * Calls for many chunks at once spare the JS wrapper, view and BigInts a call per chunk costs.
 *
 * Memory layout: the frames' stage, their chunk table and their output, then the staged read and its
 * table of ranges to hash. Everything is in little-endian order, as WebAssembly reads it.
 */
import { chunkWasm, delimitedFieldSize } from '@strata/storeapi';

const wasm = chunkWasm();
const memory = wasm.memory;
let bytes = new Uint8Array(memory.buffer);
let view = new DataView(memory.buffer);

/** Memory of at least `size` bytes (it only grows: the next read of a query needs as much). */
function reserve(size: number): void {
  if (memory.buffer.byteLength >= size) return;
  memory.grow(Math.ceil((size - memory.buffer.byteLength) / 65536));
  bytes = new Uint8Array(memory.buffer);
  view = new DataView(memory.buffer);
}

/** Chunks per writeChunks call, and the bytes of each one's description. */
const MAX_ROWS = 256;
const ROW_BYTES = 40;
/** The frames' stage (from address 0) and output; grown for a chunk or chunk field larger than they hold. */
let stageCap = 1024 * 1024;
let outCap = 64 * 1024;
let descAt = 0;
let outAt = 0;
/** Where a read is staged. */
let readAt = 0;

function layout(): void {
  descAt = stageCap;
  outAt = descAt + MAX_ROWS * ROW_BYTES;
  readAt = outAt + outCap;
  reserve(readAt);
  restartStage();
}

/** A stretch of a read staged for frames: bytes [start, end) of `from` at address `at`. */
interface Stretch {
  from: Uint8Array;
  start: number;
  end: number;
  at: number;
  /** How much of `from` the next stretch of it copies (see MIN_STAGE_BYTES). */
  window: number;
}

/**
 * Stretches of reads are staged one after another from address 0 (`stageUsed` bytes so far), the last
 * one of each read remembered (up to MAX_STRETCHES reads): the chunks of the series written next are
 * mostly right after them, in the same reads, when a series' chunks come from several blocks or replicas
 * in turn. The stage starts over once it is full and the rows written from it are written.
 */
let stageUsed = 0;
const stretches: Stretch[] = [];
const MAX_STRETCHES = 32;
/** The stretch the last chunk was in. */
let current: Stretch | undefined;
/**
 * How much of a read a stretch copies: doubled (up to MAX_STAGE_BYTES) each time the frames need more
 * of a read further on (a block's series one after another); a read new to the stage starts with this
 * much, where a whole stage's copy per chunk had made this the store gateway's costliest step.
 * Small enough that the reads of a query's blocks and replicas, in turn, share the stage for a while
 * before it starts over (dropping what their stretches hold beyond the chunks written).
 */
const MIN_STAGE_BYTES = 1024;
const MAX_STAGE_BYTES = 32 * 1024;

/**
 * The stretch holding bytes [s, e) of `src`, staged now if none does; undefined when the stage has no
 * room left for it (the caller writes its rows and calls `restartStage`).
 */
function stretchFor(src: Uint8Array, s: number, e: number): Stretch | undefined {
  const last = current;
  if (last !== undefined && last.from === src && s >= last.start && e <= last.end) return last;
  let st: Stretch | undefined;
  for (let k = stretches.length - 1; k >= 0; k--) {
    if ((stretches[k] as Stretch).from === src) {
      st = stretches[k] as Stretch;
      break;
    }
  }
  if (st !== undefined && s >= st.start && e <= st.end) return (current = st);
  const window = st !== undefined && s >= st.start ? Math.min(MAX_STAGE_BYTES, 2 * st.window) : MIN_STAGE_BYTES;
  const stop = Math.min(src.length, s + Math.max(e - s, window), s + stageCap - stageUsed);
  if (stop < e) return undefined;
  bytes.set(new Uint8Array(src.buffer, src.byteOffset + s, stop - s), stageUsed);
  if (st === undefined) {
    st = { from: src, start: s, end: stop, at: stageUsed, window };
    stretches.push(st);
    if (stretches.length > MAX_STRETCHES) stretches.shift();
  } else {
    st.start = s;
    st.end = stop;
    st.at = stageUsed;
    st.window = window;
  }
  stageUsed += stop - s;
  return (current = st);
}

/** Empties the stage (the rows written from it have been). */
function restartStage(): void {
  stageUsed = 0;
  stretches.length = 0;
  current = undefined;
}
layout();

/** Where the ranges of the staged read to hash are described: after it, 8-byte aligned. */
let hashDescAt = 0;

/**
 * Copies `data` into the module's memory and returns the copy, for `hashStaged` to hash ranges of and
 * the caller to parse and check meanwhile; room is kept for `ranges` ranges. The copy is valid until
 * the next `stage`: stage, parse, check and hash without awaiting.
 */
export function stage(data: Uint8Array, ranges: number): Uint8Array {
  hashDescAt = (readAt + data.length + 7) & ~7;
  reserve(hashDescAt + 8 * ranges);
  bytes.set(data, readAt);
  return bytes.subarray(readAt, readAt + data.length);
}

/** Ranges of staged bytes and the columns their hashes go to: range k is [start[k], end[k]). */
export interface HashedRanges {
  readonly start: Uint32Array;
  readonly end: Uint32Array;
  readonly hashLo: Uint32Array;
  readonly hashHi: Uint32Array;
}

/** Ranges of reads, range k of the read `buffer[k]`. */
export interface StagedRanges extends HashedRanges {
  readonly buffer: Uint32Array;
}

/**
 * Sets `hashLo[k]` and `hashHi[k]` to the halves of the xxhash64 (seed 0) of range k of the read last
 * staged (at most as many as staged for), for each k of `ks` whose `buffer[k]` is `staged`.
 */
export function hashStaged(r: StagedRanges, ks: ArrayLike<number>, staged: number): void {
  hashRanges(r, ks, ks.length, r.buffer, staged);
}

/**
 * Hashes ranges 0‥count-1 of the read last staged, as hashStaged does, room for their descriptions
 * made: the memory may grow, so a view of the staged read taken before is not to be read after.
 */
export function hashStagedRecords(r: HashedRanges, count: number): void {
  reserve(hashDescAt + 8 * count);
  hashRanges(r, null, count, null, 0);
}

/** Ranges `ks[i]` (or `i`, with no `ks`) for i < n, those of the staged read if `buffer` says which. */
function hashRanges(r: HashedRanges, ks: ArrayLike<number> | null, n: number, buffer: Uint32Array | null, staged: number): void {
  let at = hashDescAt;
  for (let i = 0; i < n; i++) {
    const k = ks === null ? i : (ks[i] as number);
    if (buffer !== null && buffer[k] !== staged) continue;
    view.setUint32(at, readAt + (r.start[k] as number), true);
    view.setUint32(at + 4, readAt + (r.end[k] as number), true);
    at += 8;
  }
  wasm.hashMany(hashDescAt, (at - hashDescAt) / 8);
  at = hashDescAt;
  for (let i = 0; i < n; i++) {
    const k = ks === null ? i : (ks[i] as number);
    if (buffer !== null && buffer[k] !== staged) continue;
    r.hashLo[k] = view.getUint32(at, true);
    r.hashHi[k] = view.getUint32(at + 4, true);
    at += 8;
  }
}

/** Chunks as RawChunkColumns hold them: row i's data is `bytes.buffers[bytes.buffer[i]][bytes.start[i], bytes.end[i])`. */
export interface ChunkRows {
  readonly bytes: StagedRanges & { readonly buffers: readonly Uint8Array[] };
  readonly minTime: Float64Array;
  readonly maxTime: Float64Array;
  /** Bytes of each row's AggrChunk and Chunk messages. */
  readonly aggrSize: Uint32Array;
  readonly chunkSize: Uint32Array;
}

/**
 * Rows described in the chunk table for the next `writeChunks` call, and the output bytes they take:
 * kept across the pieces of one series (addRows), so that interleaved replicas, whose pieces are
 * mostly one chunk each, still write up to MAX_ROWS chunks a call rather than one.
 */
let rows = 0;
let rowsOut = 0;

/** Writes rows [from, to) of `c` as `Series.chunks` fields at `b[p]` (room made); returns the position after them. */
export function writeChunkFields(b: Uint8Array, p: number, c: ChunkRows, from: number, to: number): number {
  forgetRows();
  return finishRows(b, addRows(b, p, c, from, to));
}

/** writeChunkFields of rows [from[k], to[k]) of `columns[k]` for each k in turn. */
export function writeChunkPieces(b: Uint8Array, p: number, columns: readonly ChunkRows[], from: ArrayLike<number>, to: ArrayLike<number>): number {
  forgetRows();
  for (let k = 0; k < columns.length; k++) p = addRows(b, p, columns[k] as ChunkRows, from[k] as number, to[k] as number);
  return finishRows(b, p);
}

/** Drops rows an earlier write described but never wrote (it threw midway), lest they land in this one's frame. */
function forgetRows(): void {
  rows = 0;
  rowsOut = 0;
}

/** Describes rows [from, to) of `c` for writing, writing those described before whenever the table or output is full. */
function addRows(b: Uint8Array, p: number, c: ChunkRows, from: number, to: number): number {
  const { buffers, buffer, start, end, hashLo, hashHi } = c.bytes;
  for (let i = from; i < to; i++) {
    const src = buffers[buffer[i] as number] as Uint8Array;
    const s = start[i] as number;
    const e = end[i] as number;
    const aggr = c.aggrSize[i] as number;
    const field = delimitedFieldSize(aggr);
    if (rows === MAX_ROWS || rowsOut + field > outCap || field > outCap || e - s > stageCap) {
      p = finishRows(b, p);
      if (field > outCap || e - s > stageCap) {
        outCap = Math.max(outCap, field);
        stageCap = Math.max(stageCap, e - s);
        layout();
      }
    }
    let st = stretchFor(src, s, e);
    if (st === undefined) {
      p = finishRows(b, p);
      restartStage();
      st = stretchFor(src, s, e) as Stretch;
    }
    const d = descAt + ROW_BYTES * rows++;
    view.setFloat64(d, c.minTime[i] as number, true);
    view.setFloat64(d + 8, c.maxTime[i] as number, true);
    view.setUint32(d + 16, hashLo[i] as number, true);
    view.setUint32(d + 20, hashHi[i] as number, true);
    view.setUint32(d + 24, st.at + s - st.start, true);
    view.setUint32(d + 28, e - s, true);
    view.setUint32(d + 32, aggr, true);
    view.setUint32(d + 36, c.chunkSize[i] as number, true);
    rowsOut += field;
  }
  return p;
}

/** Writes the rows described so far at `b[p]`; returns the position after them. */
function finishRows(b: Uint8Array, p: number): number {
  if (rows === 0) return p;
  const n = rows;
  forgetRows();
  return flush(b, p, n);
}

function flush(b: Uint8Array, p: number, n: number): number {
  const end = wasm.writeChunks(descAt, n, outAt);
  b.set(new Uint8Array(memory.buffer, outAt, end - outAt), p);
  return p + end - outAt;
}
