import { int64FieldSize, storeChunk, type AggrChunk, type EncodedChunks, type ProtoWriter } from '@strata/storeapi';
import { Encoding } from '@strata/tsdb';
import type { ReadChunks } from './chunkreader.js';
import { xorSamples } from './aggrchunk.js';
import { carveWritten } from './columns.js';
import { writeChunkFields, writeChunkPieces } from './wasmchunks.js';

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

/**
 * The raw (not downsampled) XOR chunks of one read batch of a block, column by column: one object per
 * batch instead of an AggrChunk, a StoreChunk and a bigint per chunk. Each series of the batch owns a
 * `RawChunkRun` over its rows, which Series frames write from these columns and the bytes read (writeChunkFields:
 * AggrChunk { min_time, max_time, raw: Chunk { data, hash } }, byte for byte what the codec writes for
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
    const { buffer, at } = carveWritten(n * 8);
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
    w.advance(writeChunkFields(b, w.pos, this.columns, this.from, this.to));
  }
}

/**
 * One series' chunks from several blocks (one after another, or replicas' interleaved), in time order:
 * piece `k` is rows [from[k], to[k]) of columns[k]. Pieces, not a RawChunkRun each: interleaved
 * replicas make a piece of nearly every chunk. `runs` are the series' own runs the pieces come from,
 * released with it: without that, the read buffers of every series merged from several blocks (a
 * sidecar's every series, a day of 2h blocks) went to the garbage collector instead of back to the pool.
 */
export class RawChunkRuns implements EncodedChunks {
  readonly size: number;

  constructor(
    readonly columns: readonly RawChunkColumns[],
    readonly from: ArrayLike<number>,
    readonly to: ArrayLike<number>,
    private readonly runs: readonly RawChunkRun[],
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
      runs,
    );
  }

  /** The series has been sent: its runs are released. */
  release(): void {
    for (const r of this.runs) r.release();
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
    w.advance(writeChunkPieces(b, w.pos, this.columns, this.from, this.to));
  }
}
