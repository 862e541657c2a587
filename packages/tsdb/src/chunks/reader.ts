import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Chunk } from '../chunkenc/chunk.js';
import { chunkFromBytes } from '../chunkenc/frombytes.js';
import { FileByteRange, type ByteRange } from '../encoding/byterange.js';
import { CorruptionError } from '../encoding/decbuf.js';
import {
  checkChunkCrc,
  chunkRef,
  formatRef,
  isSegmentFileName,
  MAX_CHUNK_LENGTH_FIELD_SIZE,
  recordLength,
  refFileIndex,
  refOffset,
  SEGMENT_HEADER_SIZE,
  SEGMENT_MAGIC,
  SEGMENT_VERSION,
} from './segment.js';

export interface ChunkSegmentReaderOptions {
  /**
   * Bytes read after a chunk's start when its length is not known yet; a chunk that turns out longer
   * costs one more read. Prometheus' 120-sample chunks are mostly well under 1 KiB.
   */
  chunkSizeEstimate?: number;
  /** Chunks at most this many bytes apart are fetched with one read in `chunks()` (object storage: fewer requests). */
  maxGap?: number;
}

/** A chunk with its reference, from sequential reading. */
export interface RefChunk {
  readonly ref: number;
  readonly chunk: Chunk;
}

/**
 * Reads chunks by reference from a block's segment files (format in segment.ts), through one ByteRange
 * per file, so the same code reads local files and object storage. Every file's magic and version is
 * checked on open and every chunk's CRC on read; corruption is reported as a CorruptionError naming
 * the file, the offset and what was expected.
 */
export class ChunkSegmentReader {
  readonly #files: readonly ByteRange[];
  readonly #sizes: readonly number[];
  readonly #estimate: number;
  readonly #maxGap: number;
  /** Where the record #parseAt parsed last ends in its data (no result object per chunk). */
  #parsedEnd = 0;

  private constructor(files: readonly ByteRange[], sizes: readonly number[], opts: ChunkSegmentReaderOptions) {
    this.#files = files;
    this.#sizes = sizes;
    this.#estimate = opts.chunkSizeEstimate ?? 1024;
    this.#maxGap = opts.maxGap ?? 16 * 1024;
  }

  /** A reader over the given segment files, in order (`000001` first). Takes ownership of the ranges. */
  static async open(files: readonly ByteRange[], opts: ChunkSegmentReaderOptions = {}): Promise<ChunkSegmentReader> {
    try {
      const sizes = await Promise.all(files.map((f) => checkHeader(f)));
      return new ChunkSegmentReader(files, sizes, opts);
    } catch (err) {
      await Promise.all(files.map((f) => f.close()));
      throw err;
    }
  }

  /** A reader over the segment files in a local `chunks/` directory; `name` prefixes file names in errors. */
  static async openDir(dir: string, opts: ChunkSegmentReaderOptions & { name?: string } = {}): Promise<ChunkSegmentReader> {
    const names = (await readdir(dir)).filter(isSegmentFileName).sort((a, b) => Number(a) - Number(b));
    const files: ByteRange[] = [];
    try {
      for (const n of names) files.push(await FileByteRange.open(join(dir, n), opts.name === undefined ? join(dir, n) : `${opts.name}/${n}`));
    } catch (err) {
      await Promise.all(files.map((f) => f.close()));
      throw err;
    }
    return ChunkSegmentReader.open(files, opts);
  }

  /** Number of segment files. */
  get numFiles(): number {
    return this.#files.length;
  }

  /** Total bytes of all segment files. */
  get size(): number {
    return this.#sizes.reduce((a, b) => a + b, 0);
  }

  /** The chunk at `ref`. */
  async chunk(ref: number): Promise<Chunk> {
    this.#check(ref);
    const file = refFileIndex(ref);
    const offset = refOffset(ref);
    const data = await this.#files[file]!.read(offset, Math.min(this.#estimate, this.#sizes[file]! - offset));
    return this.#parseOrFetch(ref, data, offset);
  }

  /**
   * The chunks at `refs`, in the order given. Refs are sorted and nearby chunks of a file are read with
   * one range read (gaps up to `maxGap` bytes), so a series' chunks or a block's postings cost a few reads.
   */
  async chunks(refs: readonly number[]): Promise<Chunk[]> {
    const order = refs.map((_, i) => i);
    // The chunks of series taken in index order mostly come sorted already.
    for (let i = 1; i < refs.length; i++) {
      if (refs[i]! < refs[i - 1]!) {
        order.sort((a, b) => refs[a]! - refs[b]!);
        break;
      }
    }
    const out: Chunk[] = new Array(refs.length);
    const reads: Promise<void>[] = [];
    for (let i = 0; i < order.length; ) {
      const first = refs[order[i]!]!;
      this.#check(first);
      const file = refFileIndex(first);
      const start = refOffset(first);
      let j = i + 1;
      let last = start;
      while (j < order.length) {
        const ref = refs[order[j]!]!;
        this.#check(ref);
        const o = refOffset(ref);
        if (refFileIndex(ref) !== file || o - last > this.#maxGap + this.#estimate) break;
        last = o;
        j++;
      }
      reads.push(this.#readGroup(file, start, last, order.slice(i, j), refs, out));
      i = j;
    }
    await Promise.all(reads);
    return out;
  }

  async #readGroup(file: number, start: number, last: number, group: number[], refs: readonly number[], out: Chunk[]): Promise<void> {
    const end = Math.min(last + this.#estimate, this.#sizes[file]!);
    const data = await this.#files[file]!.read(start, end - start);
    for (const k of group) {
      const ref = refs[k]!;
      const offset = refOffset(ref);
      const at = offset - start;
      // Most chunks lie wholly within the read: parsed in place, without a promise each.
      const need = recordLength(data, at);
      out[k] = need > 0 && need <= data.length - at ? this.#parseAt(ref, data, at, start) : await this.#parseOrFetch(ref, data.subarray(at), offset);
    }
  }

  /**
   * Every chunk of every segment file in file order, read sequentially without an index (for
   * verification and analysis). Each file is read whole.
   */
  async *entries(): AsyncGenerator<RefChunk> {
    for (let file = 0; file < this.#files.length; file++) {
      const data = await this.#files[file]!.read(0, this.#sizes[file]!);
      for (let offset = SEGMENT_HEADER_SIZE; offset < data.length; ) {
        const ref = chunkRef(file, offset);
        const chunk = this.#parseAt(ref, data, offset);
        // Taken before yielding: other reads may parse meanwhile.
        offset = this.#parsedEnd;
        yield { ref, chunk };
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.#files.map((f) => f.close()));
  }

  /** Throws unless `ref` points into the chunks of one of the files. */
  #check(ref: number): void {
    const file = refFileIndex(ref);
    const offset = refOffset(ref);
    if (!Number.isInteger(ref) || ref < 0 || file >= this.#files.length) {
      throw new Error(`chunk ref ${formatRef(ref)}: no segment file with index ${file} (there are ${this.#files.length})`);
    }
    if (offset < SEGMENT_HEADER_SIZE || offset >= this.#sizes[file]!) {
      throw new CorruptionError(this.#files[file]!.name, offset, `chunk ref ${formatRef(ref)} points outside the chunks (file size ${this.#sizes[file]})`);
    }
  }

  /** Parses the chunk at the start of `data` (which is at `offset` in its file); reads it whole first if `data` is short. */
  async #parseOrFetch(ref: number, data: Uint8Array, offset: number): Promise<Chunk> {
    const need = recordLength(data);
    const file = refFileIndex(ref);
    if (need > data.length && offset + need <= this.#sizes[file]!) data = await this.#files[file]!.read(offset, need);
    return this.#parseAt(ref, data, 0, offset);
  }

  /**
   * Parses the chunk at `data[at]`, where `data[0]` is at file offset `base`, and leaves where its record
   * ends in #parsedEnd. `data` must hold the whole chunk unless it ends at the end of the file (then the
   * chunk is truncated: an error).
   */
  #parseAt(ref: number, data: Uint8Array, at: number, base = 0): Chunk {
    const file = refFileIndex(ref);
    const name = this.#files[file]!.name;
    const fileOffset = base + at;
    // uvarint len, at most 5 bytes.
    let len = 0;
    let p = at;
    for (let shift = 0; ; shift += 7) {
      if (p >= data.length) throw new CorruptionError(name, base + p, `chunk ${formatRef(ref)}: unexpected end of data reading the chunk length`);
      if (p - at >= MAX_CHUNK_LENGTH_FIELD_SIZE) throw new CorruptionError(name, fileOffset, `chunk ${formatRef(ref)}: chunk length is longer than ${MAX_CHUNK_LENGTH_FIELD_SIZE} bytes`);
      const b = data[p++]!;
      len += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) break;
    }
    const encAt = p;
    const crcAt = encAt + 1 + len;
    if (crcAt + 4 > data.length) {
      throw new CorruptionError(
        name,
        fileOffset,
        `chunk ${formatRef(ref)}: chunk of ${len} data bytes needs ${crcAt + 4 - at} bytes, only ${data.length - at} left`,
      );
    }
    checkChunkCrc(data, encAt, crcAt, name, ref);
    this.#parsedEnd = crcAt + 4;
    try {
      // A plain view, not data.subarray(): on a Buffer that builds a FastBuffer, several times the cost.
      return chunkFromBytes(data[encAt]!, new Uint8Array(data.buffer, data.byteOffset + encAt + 1, crcAt - encAt - 1));
    } catch (err) {
      throw new CorruptionError(name, fileOffset, `chunk ${formatRef(ref)}: ${(err as Error).message}`);
    }
  }
}

/** Checks a segment file's header; returns the file size. */
async function checkHeader(f: ByteRange): Promise<number> {
  const size = await f.size();
  if (size < SEGMENT_HEADER_SIZE) throw new CorruptionError(f.name, size, `segment file of ${size} bytes is shorter than its ${SEGMENT_HEADER_SIZE}-byte header`);
  const h = await f.read(0, SEGMENT_HEADER_SIZE);
  const magic = ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0;
  if (magic !== SEGMENT_MAGIC) {
    throw new CorruptionError(f.name, 0, `invalid magic number 0x${magic.toString(16).padStart(8, '0')}, expected 0x${SEGMENT_MAGIC.toString(16)}`);
  }
  if (h[4] !== SEGMENT_VERSION) throw new CorruptionError(f.name, 4, `invalid chunk format version ${h[4]}, expected ${SEGMENT_VERSION}`);
  return size;
}
