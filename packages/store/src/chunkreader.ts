import type { CallChunkBytes } from './chunkbytes.js';
import type { ChunkPool } from './chunkpool.js';
import { recalledBytes, type RecalledRead, type VerifiedReads } from './chunkscache.js';
import { carveWritten } from './columns.js';
import { intactRecords } from './records.js';
import { hashStaged, stage } from './wasmchunks.js';
import {
  checkChunkCrc,
  CorruptionError,
  formatRef,
  MAX_CHUNK_LENGTH_FIELD_SIZE,
  MAX_SPAN_GAP,
  recordLength,
  refFileIndex,
  refOffset,
  SEGMENT_HEADER_SIZE,
  spanCrcsMatch,
  type ByteRange,
} from '@strata/tsdb';

/** The largest chunk size a series' own layout may suggest (Thanos' estimate for any chunk). */
const MAX_HINT_BYTES = 16_000;

/** How a block's chunk reads are planned. */
export interface ChunkReadPlan {
  /** Bytes assumed for a chunk before its length field has been read. */
  sizeEstimate: number;
  /** A chunk starting at most this many bytes after the previous one's estimated end shares its read. */
  maxGap: number;
}

/** A block's segment files, as one query reads them. */
export interface SegmentFiles {
  readonly files: readonly ByteRange[];
  readonly sizes: readonly number[];
  /** The pool the files' reads take their buffers from, if any. */
  readonly pool?: ChunkPool;
  /** The bytes the reads' call may hold (--chunk-pool-size): each read takes its length before it is made. */
  readonly held?: CallChunkBytes;
}

/** A chunk as stored: its encoding byte and data, not decoded. */
export interface RawChunk {
  readonly encoding: number;
  readonly data: Uint8Array;
}

/**
 * The chunks of one `readChunks`, each as stored: its encoding byte and data `buffers[buffer[k]][start[k],
 * end[k])`. Columns instead of an object and a view per chunk: a query holds its chunks until it has sent
 * them, and every object held that long costs the garbage collector a copy or two. The columns start
 * unzeroed: whoever fills them (readChunks) writes every field of every row.
 */
export class ReadChunks {
  readonly buffers: Uint8Array[] = [];
  readonly buffer: Uint32Array;
  readonly start: Uint32Array;
  readonly end: Uint32Array;
  readonly encoding: Uint8Array;
  /**
   * Each chunk's first two data bytes, big-endian (an XOR chunk's sample count; 0 if shorter), taken as
   * its record is parsed, while they are in cache: by the time the count is asked for, the read has
   * usually been evicted by the reads and copies after it.
   */
  readonly head: Uint16Array;
  /** Each chunk's xxhash64 (the StoreAPI chunk hash), as two 32-bit halves. */
  readonly hashLo: Uint32Array;
  /** The bytes the reads took (from their call's share of --chunk-pool-size, SegmentFiles.held, if any). */
  heldBytes = 0;
  readonly hashHi: Uint32Array;

  constructor(
    readonly length: number,
    readonly pool?: ChunkPool,
  ) {
    // Views of one carved buffer: a typed array of its own costs a backing store each, paid per read of every block.
    const { buffer, at } = carveWritten(length * (5 * 4 + 2 + 1));
    this.buffer = new Uint32Array(buffer, at, length);
    this.start = new Uint32Array(buffer, at + length * 4, length);
    this.end = new Uint32Array(buffer, at + length * 8, length);
    this.hashLo = new Uint32Array(buffer, at + length * 12, length);
    this.hashHi = new Uint32Array(buffer, at + length * 16, length);
    this.head = new Uint16Array(buffer, at + length * 20, length);
    this.encoding = new Uint8Array(buffer, at + length * 22, length);
  }

  /** Chunk `k`'s data (a view, for the moment it is used: a plain Uint8Array, which costs a fraction of a Buffer's subarray). */
  data(k: number): Uint8Array {
    const b = this.buffers[this.buffer[k] as number] as Uint8Array;
    const start = this.start[k] as number;
    return new Uint8Array(b.buffer, b.byteOffset + start, (this.end[k] as number) - start);
  }

  chunk(k: number): RawChunk {
    return { encoding: this.encoding[k] as number, data: this.data(k) };
  }

  /** Gives the buffers back to the pool they were read into (nothing may read any chunk afterwards). */
  release(): void {
    if (this.pool === undefined) return;
    for (const b of this.buffers) this.pool.put(b);
    this.buffers.length = 0;
  }
}

/**
 * The chunks at `refs`, in the order given (Thanos' loadChunks): refs are sorted, each segment file's
 * chunks are partitioned into range reads (gap merging as planned) and the reads run in parallel. A
 * chunk's length is known only once its record starts arriving, so the last chunk of a read is
 * assumed to be `sizes[i]` bytes (a hint from its series, see `chunkSizeHint`) or `sizeEstimate`,
 * and the rest of its record is read when it is longer (a hint of 0 is none). Every chunk's CRC32C is
 * checked, so a corrupt segment file fails the read instead of serving a damaged chunk.
 */
export async function readChunks(segments: SegmentFiles, refs: ArrayLike<number>, plan: ChunkReadPlan, sizes?: ArrayLike<number | undefined>): Promise<ReadChunks> {
  const sizeOf = (k: number): number => sizes?.[k] || plan.sizeEstimate;
  const n = refs.length;
  const carved = carveWritten(4 * n);
  const order = new Uint32Array(carved.buffer, carved.at, n);
  let sorted = true;
  for (let k = 0; k < n; k++) {
    order[k] = k;
    if (k > 0 && (refs[k] as number) < (refs[k - 1] as number)) sorted = false;
  }
  // A batch of series in index order asks for its chunks in file order already.
  if (!sorted) order.sort((a, b) => (refs[a] as number) - (refs[b] as number));
  // Planned whole before any read starts: a ref outside the files, or the call's bytes running out,
  // fails the call with no read left in flight.
  const parts: number[] = [];
  let bytes = 0;
  for (let i = 0; i < n; ) {
    const first = refs[order[i] as number] as number;
    const file = refFileIndex(first);
    const start = locate(segments, first);
    let end = start + sizeOf(order[i] as number);
    let j = i + 1;
    for (; j < n; j++) {
      const ref = refs[order[j] as number] as number;
      if (refFileIndex(ref) !== file) break;
      const off = locate(segments, ref);
      if (off > end + plan.maxGap) break;
      end = Math.max(end, off + sizeOf(order[j] as number));
    }
    end = Math.min(end, segments.sizes[file] as number);
    parts.push(file, start, end, i, j);
    bytes += end - start;
    i = j;
  }
  segments.held?.take(bytes);
  const out = new ReadChunks(n, segments.pool);
  out.heldBytes = bytes;
  const reads: Promise<void>[] = [];
  for (let p = 0; p < parts.length; p += 5) {
    const group = order.subarray(parts[p + 3] as number, parts[p + 4] as number);
    reads.push(readPart(segments, parts[p] as number, parts[p + 1] as number, parts[p + 2] as number, group, refs, out, plan.sizeEstimate));
  }
  // A query of a few series reads each block in one part: no Promise.all (a promise and closures) for it.
  if (reads.length === 1) await reads[0];
  else await Promise.all(reads);
  return out;
}

async function readPart(segments: SegmentFiles, file: number, start: number, end: number, group: Uint32Array, refs: ArrayLike<number>, out: ReadChunks, estimate: number): Promise<void> {
  const range = segments.files[file] as ByteRange;
  const size = segments.sizes[file] as number;
  // Through the chunk cache, a read is checked whole (every record in it) once, and its records kept
  // while it is made of the same cached pieces, which its chunks are then read from as they are; where
  // one of its records is damaged, only the chunks asked for are checked (and those are what fails).
  const verifiedReads = 'readRecords' in range ? (range as ByteRange & VerifiedReads) : undefined;
  let read = verifiedReads !== undefined ? await verifiedReads.readRecords(start, end - start) : await range.read(start, end - start);
  if (read instanceof Uint8Array && verifiedReads !== undefined) {
    const records = intactRecords(stage(read, 0));
    if (records !== undefined) {
      verifiedReads.remember(start, end - start, read, records);
      read = { pieces: [read], at: 0, records };
    }
  }
  let apart = read instanceof Uint8Array ? undefined : rowsOfRecords(read, start, group, refs, out);
  let data = read instanceof Uint8Array ? read : undefined;
  // Bytes [off, end) of the read.
  const tail = (off: number): Uint8Array => (data !== undefined ? data.subarray(off - start) : recalledBytes(read as RecalledRead, off - start, end - start));
  if (apart === undefined) {
    // Not intact, or a ref that starts no record in it: each chunk parsed and checked alone, to name the damaged one.
    data ??= tail(start);
    apart = parsePart(range, start, data, group, refs, out, out.buffers.push(data) - 1);
  }
  // Only a chunk running past the read needs another read: of the rest of its record when the part
  // already read holds its length field, else of an estimate first.
  for (const k of apart) {
    const off = refOffset(refs[k] as number);
    const head = tail(off);
    let record = head;
    if (recordLength(head) === 0) {
      const length = Math.min(MAX_CHUNK_LENGTH_FIELD_SIZE + estimate, size - off);
      segments.held?.take(length);
      out.heldBytes += length;
      record = await range.read(off, length);
    }
    const need = recordLength(record);
    if (need > record.length && off + need <= size) {
      // The rest, and the whole record again where it is joined.
      segments.held?.take(need);
      out.heldBytes += need;
      record = Buffer.concat([record, await range.read(off + record.length, need - record.length)]);
    }
    const buffer = out.buffers.push(record) - 1;
    parseRecord(range, refs[k] as number, record, 0, true, out, k, buffer);
    checkChunkCrc(record, (out.start[k] as number) - 1, out.end[k] as number, range.name, refs[k] as number);
    stage(record, 1);
    hashStaged(out, [k], buffer);
  }
}

/** No chunk to read apart. */
const NONE: readonly number[] = [];

/**
 * Rows `group` of `out` from the records of a read whose records are all intact, each chunk's data where
 * it is in the read's pieces (a copy of its own for one that spans two). Returns the chunks whose records
 * run past the read, or undefined when a ref starts no record.
 */
function rowsOfRecords(read: RecalledRead, start: number, group: Uint32Array, refs: ArrayLike<number>, out: ReadChunks): readonly number[] | undefined {
  const { pieces, records } = read;
  const first = out.buffers.length;
  for (const p of pieces) out.buffers.push(p);
  const pieceSize = (pieces[0] as Uint8Array).length;
  let apart: number[] | undefined;
  let r = 0;
  for (let g = 0; g < group.length; g++) {
    const k = group[g] as number;
    const at = refOffset(refs[k] as number) - start;
    r = records.seek(at, r);
    if (r < records.count && records.offset(r) === at) {
      const dataStart = read.at + records.dataStart(r);
      const dataEnd = read.at + records.dataEnd(r);
      const p = Math.min(Math.floor(dataStart / pieceSize), pieces.length - 1);
      if (dataEnd <= (p + 1) * pieceSize || p === pieces.length - 1) {
        out.buffer[k] = first + p;
        out.start[k] = dataStart - p * pieceSize;
        out.end[k] = dataEnd - p * pieceSize;
      } else {
        out.buffer[k] = out.buffers.push(recalledBytes(read, dataStart - read.at, dataEnd - read.at)) - 1;
        out.start[k] = 0;
        out.end[k] = dataEnd - dataStart;
      }
      out.encoding[k] = records.encoding(r);
      out.head[k] = records.head(r);
      out.hashLo[k] = records.hashLo(r);
      out.hashHi[k] = records.hashHi(r);
    } else if (at >= records.wholeEnd) {
      out.buffer[k] = APART;
      (apart ??= []).push(k);
    } else return undefined;
  }
  return apart ?? NONE;
}

/**
 * Rows `group` of `out` parsed from `data` (a read from `start`, buffer `part` of `out`), each chunk's
 * CRC checked and its data hashed. Returns the chunks whose records run past the read.
 */
function parsePart(range: ByteRange, start: number, data: Uint8Array, group: Uint32Array, refs: ArrayLike<number>, out: ReadChunks, part: number): readonly number[] {
  // Records are parsed, CRC-checked and hashed from a staged copy of the read (same offsets; see stage),
  // all before the next await, since the copy is shared; the chunks stay views of `data`.
  const staged = stage(data, group.length);
  let apart: number[] | undefined;
  for (let g = 0; g < group.length; g++) {
    const k = group[g] as number;
    if (parseRecord(range, refs[k] as number, staged, refOffset(refs[k] as number) - start, false, out, k, part)) continue;
    // Runs past the read: read apart (and not in this read's span checks or hashes meanwhile).
    out.buffer[k] = APART;
    (apart ??= []).push(k);
  }
  checkPartCrcs(range, staged, group, refs, out, part);
  hashStaged(out, group, part);
  return apart ?? NONE;
}

/** `ReadChunks.buffer` of a chunk whose record is still to be read. */
const APART = 0xffffffff;

/**
 * Checks the CRCs of the chunks parsed in place from one read (`part`), in increasing offset order: a
 * span of records close together at a time with one CRC pass (spanCrcsMatch), each record alone where
 * a span does not match, so that the corrupt one is named.
 */
function checkPartCrcs(range: ByteRange, data: Uint8Array, group: Uint32Array, refs: ArrayLike<number>, out: ReadChunks, part: number): void {
  // Indices into `group` of the current span's records.
  let from = 0;
  let count = 0;
  let lastCrc = -1;
  const encodingAt = (i: number) => (out.start[group[from + i] as number] as number) - 1;
  const crcAt = (i: number) => out.end[group[from + i] as number] as number;
  const flush = () => {
    if (count > 0 && !spanCrcsMatch(data, count, encodingAt, crcAt)) {
      for (let i = 0; i < count; i++) checkChunkCrc(data, encodingAt(i), crcAt(i), range.name, refs[group[from + i] as number] as number);
    }
  };
  for (let g = 0; g < group.length; g++) {
    const k = group[g] as number;
    if (out.buffer[k] !== part) {
      // Read apart (and checked then): the span ends here.
      flush();
      from = g + 1;
      count = 0;
      lastCrc = -1;
      continue;
    }
    const at = (out.start[k] as number) - 1;
    if (count > 0 && (at < lastCrc || at - lastCrc > MAX_SPAN_GAP)) {
      flush();
      from = g;
      count = 0;
    }
    count++;
    lastCrc = out.end[k] as number;
  }
  flush();
}

/**
 * Records in `out` as chunk `k` the chunk whose record (uvarint len | encoding | data | BE32 CRC32C)
 * starts at `bytes[at]` (buffer `buffer` of `out`), without checking its CRC; false if `bytes` ends
 * inside it, unless `whole` (then that is corruption).
 */
function parseRecord(file: ByteRange, ref: number, bytes: Uint8Array, at: number, whole: boolean, out: ReadChunks, k: number, buffer: number): boolean {
  // Read in place: a view of the record per chunk would cost more than the parsing. The length field is
  // read here as recordLength reads it (0: not complete within its maximum size or the bytes), once.
  let len = 0;
  let mul = 1;
  let p = at;
  let need = 0;
  for (; p < bytes.length && p - at < MAX_CHUNK_LENGTH_FIELD_SIZE; mul *= 0x80) {
    const b = bytes[p++] as number;
    len += (b & 0x7f) * mul;
    if (b < 0x80) {
      need = p - at + 1 + len + 4;
      break;
    }
  }
  if (need === 0 || at + need > bytes.length) {
    if (!whole) return false;
    throw new CorruptionError(file.name, refOffset(ref), need === 0 ? `chunk ${formatRef(ref)}: unreadable chunk length` : `chunk ${formatRef(ref)}: chunk record of ${need} bytes runs past the end of the file`);
  }
  const crcAt = at + need - 4;
  // The data follows the length field and the encoding byte.
  const dataAt = p + 1;
  out.buffer[k] = buffer;
  out.start[k] = dataAt;
  out.end[k] = crcAt;
  out.encoding[k] = bytes[dataAt - 1] as number;
  out.head[k] = crcAt - dataAt >= 2 ? ((bytes[dataAt] as number) << 8) | (bytes[dataAt + 1] as number) : 0;
  return true;
}

/** The chunk's offset in its segment file, checked against the block's files. */
function locate(segments: SegmentFiles, ref: number): number {
  const file = refFileIndex(ref);
  const off = refOffset(ref);
  const size = segments.sizes[file];
  if (!Number.isInteger(ref) || ref < 0 || size === undefined) throw new Error(`chunk ref ${formatRef(ref)}: no segment file with index ${file} (there are ${segments.files.length})`);
  if (off < SEGMENT_HEADER_SIZE || off >= size) throw new CorruptionError((segments.files[file] as ByteRange).name, off, `chunk ref ${formatRef(ref)} points outside the chunks (file size ${size})`);
  return off;
}

/**
 * A size hint for chunk `i` of a series whose chunks are at `refs[from, to)` (0: none): chunks of one
 * series are written one after another, so a chunk followed by the next in the same segment file takes
 * exactly the bytes up to it; the last one is guessed from its siblings (the largest, plus a quarter),
 * none for a series with a single chunk. A distance beyond `MAX_HINT_BYTES` means the chunks are not
 * adjacent (another writer's layout) and gives no hint. A number per chunk, not an array per series: a
 * query asks this of every chunk it reads.
 */
export function chunkSizeHint(refs: ArrayLike<number>, from: number, to: number, i: number): number {
  if (i + 1 < to) return adjacentSize(refs, i);
  let largest = 0;
  for (let j = from; j + 1 < to; j++) largest = Math.max(largest, adjacentSize(refs, j));
  return largest > 0 ? Math.ceil(largest * 1.25) : 0;
}

/** The bytes from chunk `i` to chunk `i + 1` where they are adjacent, else 0. */
function adjacentSize(refs: ArrayLike<number>, i: number): number {
  const ref = refs[i] as number;
  const next = refs[i + 1] as number;
  if (refFileIndex(next) !== refFileIndex(ref) || next <= ref || next - ref > MAX_HINT_BYTES) return 0;
  return next - ref;
}
