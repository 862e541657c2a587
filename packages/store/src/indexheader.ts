import { mkdir, open, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CorruptionError, crc32c, FileByteRange, IndexReader, type ByteRange } from '@strata/tsdb';

/**
 * The index-header: the parts of a block's index that IndexReader.open reads (header, TOC, symbol
 * table, postings offset table), fetched once with range reads and kept in
 * `<data-dir>/<ULID>/index-header`, so opening a block's index after a restart or an idle close costs
 * no object-store request. Which bytes those are is not hard-coded here: the header is built by
 * opening an IndexReader over a recording ByteRange, so it always holds exactly what the reader needs.
 *
 * File layout (all big-endian):
 *
 *   BE32 magic 0x53544948 ("STIH") | u8 version 1 | BE64 index size | BE32 #regions |
 *   (BE64 offset, BE64 length) × #regions | region bytes, in order | BE32 CRC32C(everything before)
 */

const MAGIC = 0x53544948;
const VERSION = 1;
export const INDEX_HEADER_FILENAME = 'index-header';

/** A byte range of the original index held in the header file. */
interface Region {
  offset: number;
  length: number;
  /** Where its bytes start in the header file. */
  fileOffset: number;
}

/** A loaded index-header: a few numbers in memory; the bytes stay on disk until a reader opens it. */
export class IndexHeader {
  private constructor(
    readonly path: string,
    readonly indexSize: number,
    readonly regions: readonly Region[],
  ) {}

  /**
   * Loads `<dir>/index-header`, or builds it from `index` (the block's index in the bucket) when it
   * is missing or unreadable. Returns whether it had to be built.
   */
  static async loadOrBuild(dir: string, index: ByteRange): Promise<{ header: IndexHeader; built: boolean }> {
    const path = join(dir, INDEX_HEADER_FILENAME);
    const loaded = await IndexHeader.load(path).catch((e: unknown) => {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || e instanceof CorruptionError) return undefined;
      throw e;
    });
    if (loaded !== undefined) return { header: loaded, built: false };
    return { header: await IndexHeader.build(dir, index), built: true };
  }

  /** Reads and CRC-checks a header file. */
  static async load(path: string): Promise<IndexHeader> {
    const fh = await open(path, 'r');
    try {
      const { size } = await fh.stat();
      const bytes = new Uint8Array(size);
      await fh.read(bytes, 0, size, 0);
      if (size < 21) throw new CorruptionError(path, 0, `index-header of ${size} bytes is too short`);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      if (view.getUint32(size - 4) !== crc32c(bytes, 0, 0, size - 4)) throw new CorruptionError(path, size - 4, 'index-header checksum mismatch');
      if (view.getUint32(0) !== MAGIC || bytes[4] !== VERSION) throw new CorruptionError(path, 0, 'not an index-header file of version 1');
      const indexSize = Number(view.getBigUint64(5));
      const n = view.getUint32(13);
      const regions: Region[] = [];
      let fileOffset = 17 + 16 * n;
      for (let i = 0; i < n; i++) {
        const offset = Number(view.getBigUint64(17 + 16 * i));
        const length = Number(view.getBigUint64(25 + 16 * i));
        regions.push({ offset, length, fileOffset });
        fileOffset += length;
      }
      if (fileOffset !== size - 4) throw new CorruptionError(path, 13, `regions cover ${fileOffset} bytes, file has ${size - 4}`);
      return new IndexHeader(path, indexSize, regions);
    } finally {
      await fh.close();
    }
  }

  /** Builds the header from range reads of `index` and writes it atomically (tmp file, rename). */
  static async build(dir: string, index: ByteRange): Promise<IndexHeader> {
    const recorder = new RecordingRange(index);
    await IndexReader.open(recorder);
    const parts = recorder.merged();
    const indexSize = await index.size();
    const head = new DataView(new ArrayBuffer(17 + 16 * parts.length));
    head.setUint32(0, MAGIC);
    head.setUint8(4, VERSION);
    head.setBigUint64(5, BigInt(indexSize));
    head.setUint32(13, parts.length);
    parts.forEach((p, i) => {
      head.setBigUint64(17 + 16 * i, BigInt(p.offset));
      head.setBigUint64(25 + 16 * i, BigInt(p.bytes.length));
    });
    const body = Buffer.concat([new Uint8Array(head.buffer), ...parts.map((p) => p.bytes)]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32c(body));
    await mkdir(dir, { recursive: true });
    const path = join(dir, INDEX_HEADER_FILENAME);
    await writeFile(`${path}.tmp`, Buffer.concat([body, crc]));
    await rename(`${path}.tmp`, path);
    return IndexHeader.load(path);
  }

  /** A ByteRange over the whole index: header regions from the local file, anything else from `remote`. */
  async open(remote: ByteRange): Promise<HeaderBackedRange> {
    const local = await FileByteRange.open(this.path);
    return new HeaderBackedRange(remote, local, this);
  }
}

export class HeaderBackedRange implements ByteRange {
  constructor(
    readonly remote: ByteRange,
    readonly local: FileByteRange,
    readonly header: IndexHeader,
  ) {}

  /** The same index with the reads the header does not hold going to `remote` (one query's view); closing stays with this range. */
  withRemote(remote: ByteRange): ByteRange {
    return new HeaderBackedRange(remote, this.local, this.header);
  }

  get name(): string {
    return this.remote.name;
  }

  async size(): Promise<number> {
    return this.header.indexSize;
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    for (const r of this.header.regions) {
      if (offset >= r.offset && offset + length <= r.offset + r.length) return this.local.read(r.fileOffset + offset - r.offset, length);
    }
    return this.remote.read(offset, length);
  }

  async close(): Promise<void> {
    await this.local.close();
    await this.remote.close();
  }
}

/** Passes reads through and remembers them, so the bytes an IndexReader needs to open can be saved. */
class RecordingRange implements ByteRange {
  readonly #reads: { offset: number; bytes: Uint8Array }[] = [];

  constructor(readonly inner: ByteRange) {}

  get name(): string {
    return this.inner.name;
  }

  size(): Promise<number> {
    return this.inner.size();
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const bytes = await this.inner.read(offset, length);
    this.#reads.push({ offset, bytes });
    return bytes;
  }

  /** The reads, sorted, with touching or overlapping ones joined. */
  merged(): { offset: number; bytes: Uint8Array }[] {
    const sorted = [...this.#reads].sort((a, b) => a.offset - b.offset);
    const out: { offset: number; bytes: Uint8Array }[] = [];
    for (const r of sorted) {
      const last = out[out.length - 1];
      if (last !== undefined && r.offset <= last.offset + last.bytes.length) {
        const end = Math.max(last.offset + last.bytes.length, r.offset + r.bytes.length);
        const joined = new Uint8Array(end - last.offset);
        joined.set(last.bytes, 0);
        joined.set(r.bytes, r.offset - last.offset);
        last.bytes = joined;
      } else out.push({ offset: r.offset, bytes: r.bytes });
    }
    return out;
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
