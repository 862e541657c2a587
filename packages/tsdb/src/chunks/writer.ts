import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Chunk } from '../chunkenc/chunk.js';
import { crc32c } from '../encoding/crc32c.js';
import { Encbuf, putUvarintAt, uvarintSize } from '../encoding/encbuf.js';
import { CHUNK_OVERHEAD, chunkRef, recordDataLength, DEFAULT_MAX_SEGMENT_SIZE, SEGMENT_HEADER_SIZE, SEGMENT_MAGIC, SEGMENT_VERSION, segmentFileName } from './segment.js';

export interface ChunkSegmentWriterOptions {
  /** Maximum segment file size in bytes (Prometheus: 512 MiB); smaller values are for tests. */
  maxSegmentSize?: number;
}

/** Bytes buffered before a write to the file. */
const FLUSH_SIZE = 1024 * 1024;

/** Appends a chunk's segment record (`len | encoding | data | CRC32C(encoding, data)`) to `buf`. */
function putChunkRecord(buf: Encbuf, c: Chunk): void {
  buf.putUvarint(c.bytes.length);
  const encodingAt = buf.length;
  buf.putByte(c.encoding);
  buf.putBytes(c.bytes);
  buf.putBE32(crc32c(buf.get(), 0, encodingAt, buf.length));
}

/** A chunk's segment record on its own, in a buffer of exactly its size (for ChunkSegmentWriter.writeRecords). */
export function encodeChunkRecord(c: Chunk): Uint8Array {
  const data = c.bytes;
  const rec = new Uint8Array(uvarintSize(data.length) + 1 + data.length + 4);
  const encodingAt = putUvarintAt(rec, 0, data.length);
  rec[encodingAt] = c.encoding;
  rec.set(data, encodingAt + 1);
  const crcAt = rec.length - 4;
  const crc = crc32c(rec, 0, encodingAt, crcAt);
  rec[crcAt] = crc >>> 24;
  rec[crcAt + 1] = crc >>> 16;
  rec[crcAt + 2] = crc >>> 8;
  rec[crcAt + 3] = crc;
  return rec;
}

/**
 * Writes chunk segment files (format in segment.ts) into one directory, as Prometheus' chunks.Writer:
 * a series' chunks go in one call, and a new segment is cut before a batch that would make the current
 * one exceed the maximum size. No empty segment files are left behind.
 */
export class ChunkSegmentWriter {
  readonly #dir: string;
  readonly #maxSize: number;
  #buf = new Encbuf(64 * 1024);
  /** The buffer last handed to the file, being written while #buf fills (reused once that is done). */
  #spare = new Encbuf(64 * 1024);
  #writing: Promise<void> | null = null;
  #fh: FileHandle | null = null;
  /** Number of segment files started. */
  #files = 0;
  /** Size of the current segment, including buffered bytes; 0 before the first segment. */
  #n = 0;

  private constructor(dir: string, maxSize: number) {
    this.#dir = dir;
    this.#maxSize = maxSize;
  }

  /** A writer of segment files in `dir` (created if missing). */
  static async create(dir: string, opts: ChunkSegmentWriterOptions = {}): Promise<ChunkSegmentWriter> {
    await mkdir(dir, { recursive: true });
    return new ChunkSegmentWriter(dir, opts.maxSegmentSize ?? DEFAULT_MAX_SEGMENT_SIZE);
  }

  /** Names of the segment files written so far. */
  get files(): string[] {
    return Array.from({ length: this.#files }, (_, i) => segmentFileName(i));
  }

  /**
   * Writes one series' chunks and returns their references, in order. As Prometheus does, the chunks
   * that still fit go into the current segment and the rest into new segments, each batch as big as
   * fits (sizes counted with the longest length field); a chunk bigger than a segment gets one alone.
   */
  writeChunks(chunks: readonly Chunk[]): Promise<number[]> {
    return this.#write(
      chunks.length,
      (i) => CHUNK_OVERHEAD + chunks[i]!.bytes.length,
      (i) => this.#writeChunk(chunks[i]!),
    );
  }

  /**
   * Like writeChunks for chunks already encoded as segment records (`len | encoding | data | CRC`, as
   * read from another block's segment file): the records are copied unchanged, CRC included, so a
   * compaction copies chunks without decoding them or computing their checksums again.
   */
  writeRecords(records: readonly Uint8Array[]): Promise<number[]> {
    return this.#write(
      records.length,
      (i) => CHUNK_OVERHEAD + recordDataLength(records[i]!),
      (i) => {
        this.#buf.putBytes(records[i]!);
        this.#n += records[i]!.length;
      },
    );
  }

  async #write(count: number, sizeOf: (i: number) => number, put: (i: number) => void): Promise<number[]> {
    // Indices where a new segment starts before the chunk (possibly 0, when the series' first chunk
    // does not fit next to what the current segment holds).
    const cuts: number[] = [];
    let batchSize = 0;
    // The first batch goes into the current segment, so it must fit next to what is there.
    let firstBatch = this.#n > SEGMENT_HEADER_SIZE;
    for (let i = 0; i < count; i++) {
      const size = sizeOf(i);
      batchSize += size;
      let cut = i !== 0 && batchSize + SEGMENT_HEADER_SIZE > this.#maxSize;
      if (firstBatch) {
        cut = batchSize + this.#n > this.#maxSize;
        if (cut) firstBatch = false;
      }
      if (cut) {
        cuts.push(i);
        batchSize = size;
      }
    }

    if (this.#n === 0) await this.#cut();
    const refs = new Array<number>(count);
    let next = 0;
    for (let i = 0; i < count; i++) {
      if (cuts[next] === i) {
        next++;
        if (this.#buf.length >= FLUSH_SIZE) await this.#flush();
        await this.#cut();
      }
      refs[i] = chunkRef(this.#files - 1, this.#n);
      put(i);
    }
    if (this.#buf.length >= FLUSH_SIZE) await this.#flush();
    return refs;
  }

  #writeChunk(c: Chunk): void {
    const start = this.#buf.length;
    putChunkRecord(this.#buf, c);
    this.#n += this.#buf.length - start;
  }

  /** Starts writing the buffered bytes, after the previous write has finished; the CPU fills the other buffer meanwhile. */
  async #flush(): Promise<void> {
    if (this.#fh === null || this.#buf.length === 0) return;
    await this.#writing;
    const fh = this.#fh;
    const data = this.#buf.get();
    const writing = (async () => {
      let done = 0;
      while (done < data.length) done += (await fh.write(data, done, data.length - done)).bytesWritten;
    })();
    // Failures surface at the next await of #writing, not as an unhandled rejection.
    writing.catch(() => undefined);
    this.#writing = writing;
    [this.#buf, this.#spare] = [this.#spare, this.#buf];
    this.#buf.reset();
  }

  async #finishSegment(): Promise<void> {
    if (this.#fh === null) return;
    await this.#flush();
    await this.#writing;
    this.#writing = null;
    await this.#fh.sync();
    await this.#fh.close();
    this.#fh = null;
  }

  /** Finishes the current segment and starts the next one with its header. */
  async #cut(): Promise<void> {
    await this.#finishSegment();
    this.#fh = await open(join(this.#dir, segmentFileName(this.#files)), 'wx');
    this.#files++;
    this.#buf.putBE32(SEGMENT_MAGIC);
    this.#buf.putByte(SEGMENT_VERSION);
    this.#buf.putBytes(new Uint8Array(3));
    this.#n = SEGMENT_HEADER_SIZE;
  }

  /** Flushes and syncs the last segment. */
  async close(): Promise<void> {
    await this.#finishSegment();
  }

  /** Closes the open segment without finishing it (the caller removes the directory). */
  async abort(): Promise<void> {
    const fh = this.#fh;
    this.#fh = null;
    this.#buf.reset();
    await this.#writing?.catch(() => undefined);
    this.#writing = null;
    await fh?.close();
  }
}
