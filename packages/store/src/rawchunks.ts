import { int64FieldSize, MAX_INT64, MIN_INT64, putVarint32, storeChunk, type AggrChunk, type EncodedChunks, type ProtoWriter } from '@strata/storeapi';
import { Encoding } from '@strata/tsdb';
import type { ReadChunks } from './chunkreader.js';
import { xorSamples } from './aggrchunk.js';
import { carve } from './columns.js';
import { copyBytes } from './extlabels.js';

/** Bytes of a varint of a non-negative integer below 2^32. */
function varint32Size(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

/** Bytes of a varint of the 64-bit value `hi · 2^32 + lo`. */
function varint64Size(lo: number, hi: number): number {
  if (hi === 0) return varint32Size(lo);
  const bits = 64 - Math.clz32(hi);
  return Math.ceil(bits / 7);
}

/** Chunk.hash, field 3, varint. */
const HASH_TAG = (3 << 3) | 0;

/**
 * The raw (not downsampled) XOR chunks of one read batch of a block, column by column: one object per
 * batch instead of an AggrChunk, a StoreChunk and a bigint per chunk. Each series of the batch owns a
 * `RawChunkRun` over its rows, which Series frames write straight from these columns and the bytes read
 * (AggrChunk { min_time, max_time, raw: Chunk { data, hash } }, byte for byte what the codec writes for
 * the equivalent objects). Row `i` is chunk `i` of `bytes`.
 */
export class RawChunkColumns {
  /** Bytes of each row's Chunk message, and of its AggrChunk message. */
  readonly chunkSize: Uint32Array;
  readonly aggrSize: Uint32Array;

  /** Series holding rows of these columns (or views of their chunks) not yet released. */
  #holders: number;

  /**
   * Over the chunks `bytes` (hashed as they were read, as Thanos' store gateway hashes every chunk) and
   * their time ranges (row `i` of `minTime` and `maxTime`: the read batch's own columns, not copies). `series`: how
   * many series hold rows of these columns or views of their chunks; the read buffers go back to their
   * pool once as many runs have been released (`releaseRun`).
   */
  constructor(
    readonly bytes: ReadChunks,
    readonly minTime: Float64Array,
    readonly maxTime: Float64Array,
    series: number,
  ) {
    this.#holders = series;
    const n = bytes.length;
    // Views of one carved buffer: a typed array of its own costs a backing store each, paid per read of every block.
    const { buffer, at } = carve(n * 8);
    this.chunkSize = new Uint32Array(buffer, at, n);
    this.aggrSize = new Uint32Array(buffer, at + n * 4, n);
  }

  /** Fills row `i` (an XOR chunk) with its message sizes. Returns its sample count. */
  set(i: number): number {
    const { buffers, buffer, start, end, head } = this.bytes;
    const length = (end[i] as number) - (start[i] as number);
    // The count as read with the chunk (ReadChunks.head); xorSamples only to fail a chunk too short to hold one.
    const samples = length >= 2 ? (head[i] as number) : xorSamples(buffers[buffer[i] as number] as Uint8Array, start[i] as number, end[i] as number);
    const lo = this.bytes.hashLo[i] as number;
    const hi = this.bytes.hashHi[i] as number;
    // Chunk { type = 1 (XOR is 0, omitted); data = 2; hash = 3 (omitted when 0) }.
    const chunk = 1 + varint32Size(length) + length + (lo === 0 && hi === 0 ? 0 : 1 + varint64Size(lo, hi));
    this.chunkSize[i] = chunk;
    this.aggrSize[i] = int64FieldSize(this.minTime[i] as number) + int64FieldSize(this.maxTime[i] as number) + 1 + varint32Size(chunk) + chunk;
    return samples;
  }

  /** One series' run has been sent: the last one gives the read buffers back. */
  releaseRun(): void {
    if (--this.#holders === 0) this.bytes.release();
  }

  /** Row `i` as a StoreAPI object, for the rare merges that must order chunks one by one. */
  toAggrChunk(i: number): AggrChunk {
    return { minTime: this.minTime[i] as number, maxTime: this.maxTime[i] as number, raw: storeChunk(Encoding.XOR, this.bytes.data(i)) };
  }
}

/** Bytes of rows [from, to) of `c` as `Series.chunks` fields. */
function rowsSize(c: RawChunkColumns, from: number, to: number): number {
  let size = 0;
  for (let i = from; i < to; i++) {
    const n = c.aggrSize[i] as number;
    size += 1 + varint32Size(n) + n;
  }
  return size;
}

/** Chunk bytes (data only) of rows [from, to) of `c`. */
function rowsDataBytes(c: RawChunkColumns, from: number, to: number): number {
  const { start, end } = c.bytes;
  let n = 0;
  for (let i = from; i < to; i++) n += (end[i] as number) - (start[i] as number);
  return n;
}

/** A series' raw chunks: rows [from, to) of a batch's columns, in time order. */
export class RawChunkRun implements EncodedChunks {
  readonly size: number;
  #released = false;

  constructor(
    readonly columns: RawChunkColumns,
    readonly from: number,
    readonly to: number,
  ) {
    this.size = rowsSize(columns, from, to);
  }

  get count(): number {
    return this.to - this.from;
  }

  get minTime(): number {
    return this.columns.minTime[this.from] as number;
  }

  get maxTime(): number {
    return this.columns.maxTime[this.to - 1] as number;
  }

  /** Chunk bytes (data only), for the fetched-size metrics. */
  get dataBytes(): number {
    return rowsDataBytes(this.columns, this.from, this.to);
  }

  /**
   * The series has been sent. Only a series' own run (not a piece of one, nor one whose chunks were
   * made objects) may be released, once: the columns count one release per series.
   */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.columns.releaseRun();
  }

  toAggrChunks(): AggrChunk[] {
    const out: AggrChunk[] = [];
    for (let i = this.from; i < this.to; i++) out.push(this.columns.toAggrChunk(i));
    return out;
  }

  /** Writes each chunk as a `Series.chunks` field (2), straight into the writer's buffer: the run's size is known, so one `room()` covers it. */
  write(w: ProtoWriter): void {
    const b = w.room(this.size);
    w.advance(writeRows(b, w.pos, this.columns, this.from, this.to));
  }
}

/** Writes rows [from, to) of `c` as `Series.chunks` fields at `b[p]` (room made); returns the position after them. */
function writeRows(b: Buffer, p: number, c: RawChunkColumns, from: number, to: number): number {
  const { buffers, buffer, start, end, hashLo, hashHi } = c.bytes;
  for (let i = from; i < to; i++) {
    const dataStart = start[i] as number;
    const dataEnd = end[i] as number;
    b[p++] = SERIES_CHUNKS_TAG;
    p = putVarint32(b, p, c.aggrSize[i] as number);
    p = putInt64Field(b, p, AGGR_MIN_TIME_TAG, c.minTime[i] as number);
    p = putInt64Field(b, p, AGGR_MAX_TIME_TAG, c.maxTime[i] as number);
    b[p++] = AGGR_RAW_TAG;
    p = putVarint32(b, p, c.chunkSize[i] as number);
    if (dataEnd > dataStart) {
      b[p++] = CHUNK_DATA_TAG;
      p = putVarint32(b, p, dataEnd - dataStart);
      const src = buffers[buffer[i] as number] as Uint8Array;
      if (dataEnd - dataStart < SHORT_CHUNK_BYTES) p = copyBytes(c.bytes.view(buffer[i] as number), src, dataStart, dataEnd, viewOf(b), b, p);
      else {
        if (src !== stagedFrom || dataStart < stagedStart || dataEnd > stagedEnd) stageFrom(src, dataStart, dataEnd);
        const from = src === stagedFrom ? STAGE : src;
        const at = src === stagedFrom ? dataStart - stagedStart : dataStart;
        b.set(new Uint8Array(from.buffer, from.byteOffset + at, dataEnd - dataStart), p);
        p += dataEnd - dataStart;
      }
    }
    const lo = hashLo[i] as number;
    const hi = hashHi[i] as number;
    if (lo === 0 && hi === 0) continue;
    b[p++] = HASH_TAG;
    p = putVarint64(b, p, lo, hi);
  }
  return p;
}

/**
 * Chunks are copied into frames from a copy of the read buffer's bytes ahead of them, made in one
 * piece: the frames of a query are written long after its reads, out of the CPU's caches, and copying
 * chunk by chunk from there waits on memory chunk after chunk, where one long copy streams (measured:
 * half the time per series). Frames take a read's series in order, so the next chunks are mostly staged.
 */
const STAGE_BYTES = 128 * 1024;
const STAGE = new Uint8Array(STAGE_BYTES);
/** The read buffer staged (live while series read from it are written), and the range of it in STAGE. */
let stagedFrom: Uint8Array | undefined;
let stagedStart = 0;
let stagedEnd = 0;

/** Stages `src` from `start` on, if the chunk ending at `end` fits; else leaves it unstaged. */
function stageFrom(src: Uint8Array, start: number, end: number): void {
  const stop = Math.min(src.length, start + STAGE_BYTES);
  if (end > stop) {
    stagedFrom = undefined;
    return;
  }
  STAGE.set(new Uint8Array(src.buffer, src.byteOffset + start, stop - start));
  stagedFrom = src;
  stagedStart = start;
  stagedEnd = stop;
}

/**
 * Chunks shorter than this are copied a word at a time (copyBytes): a native copy costs a view of the
 * source and a call, more than a short chunk's words (a counter's chunk of 120 samples takes a few tens
 * of bytes). Measured: equal at about 128 bytes, the word loop 2-5x faster at 16-64.
 */
const SHORT_CHUNK_BYTES = 128;

/** The DataView of the frame buffer written last (a frame's series are all written into one). */
let outBuffer: Uint8Array | undefined;
let outView: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));

function viewOf(b: Uint8Array): DataView<ArrayBufferLike> {
  if (b !== outBuffer) {
    outBuffer = b;
    outView = new DataView(b.buffer, b.byteOffset, b.length);
  }
  return outView;
}

/** Series.chunks (2), AggrChunk.min_time (1), max_time (2) and raw (3), Chunk.data (2): tags as written. */
const SERIES_CHUNKS_TAG = (2 << 3) | 2;
const AGGR_MIN_TIME_TAG = (1 << 3) | 0;
const AGGR_MAX_TIME_TAG = (2 << 3) | 0;
const AGGR_RAW_TAG = (3 << 3) | 2;
const CHUNK_DATA_TAG = (2 << 3) | 2;
const TWO_32 = 0x100000000;

/** Writes the varint of `hi · 2^32 + lo` at `b[p]`; returns the position after it. */
function putVarint64(b: Uint8Array, p: number, lo: number, hi: number): number {
  while (hi > 0 || lo > 0x7f) {
    b[p++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  b[p++] = lo;
  return p;
}

/**
 * Writes an int64 field as ProtoWriter.int64 does (omitted when 0, clamped to the int64 range,
 * negatives as 10-byte two's complement varints); returns the position after it.
 */
function putInt64Field(b: Uint8Array, p: number, tag: number, v: number): number {
  if (v === 0) return p;
  b[p++] = tag;
  if (v >= MAX_INT64) return putVarint64(b, p, 0xffffffff, 0x7fffffff);
  if (v <= MIN_INT64) return putVarint64(b, p, 0, 0x80000000);
  // Both halves are exact: v is an integer below 2^63 in magnitude, and dividing by 2^32 only moves the exponent.
  const hi = Math.floor(v / TWO_32);
  return putVarint64(b, p, v - hi * TWO_32, hi >>> 0);
}

/**
 * One series' chunks from several blocks (one after another, or replicas' interleaved), in time order:
 * piece `k` is rows [from[k], to[k]) of columns[k]. Pieces, not a RawChunkRun each: interleaved
 * replicas make a piece of nearly every chunk.
 */
export class RawChunkRuns implements EncodedChunks {
  readonly size: number;

  constructor(
    readonly columns: readonly RawChunkColumns[],
    readonly from: readonly number[],
    readonly to: readonly number[],
  ) {
    let size = 0;
    for (let k = 0; k < columns.length; k++) size += rowsSize(columns[k] as RawChunkColumns, from[k] as number, to[k] as number);
    this.size = size;
  }

  /** The runs one after another. */
  static of(runs: readonly RawChunkRun[]): RawChunkRuns {
    return new RawChunkRuns(
      runs.map((r) => r.columns),
      runs.map((r) => r.from),
      runs.map((r) => r.to),
    );
  }

  get count(): number {
    let n = 0;
    for (let k = 0; k < this.columns.length; k++) n += (this.to[k] as number) - (this.from[k] as number);
    return n;
  }

  get dataBytes(): number {
    let n = 0;
    for (let k = 0; k < this.columns.length; k++) n += rowsDataBytes(this.columns[k] as RawChunkColumns, this.from[k] as number, this.to[k] as number);
    return n;
  }

  write(w: ProtoWriter): void {
    const b = w.room(this.size);
    let p = w.pos;
    for (let k = 0; k < this.columns.length; k++) p = writeRows(b, p, this.columns[k] as RawChunkColumns, this.from[k] as number, this.to[k] as number);
    w.advance(p);
  }
}
