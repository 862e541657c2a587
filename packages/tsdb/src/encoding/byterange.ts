import { open, type FileHandle } from 'node:fs/promises';

/**
 * Random access to the bytes of one file, local or in object storage. Every TSDB reader (index, chunk
 * segments) reads through this, so the same code serves a block on disk and a block in a bucket.
 */
export interface ByteRange {
  /** Name for error messages, e.g. `01H…/index`. */
  readonly name: string;
  size(): Promise<number>;
  /** Exactly `length` bytes at `offset`; throws if the range is past the end. */
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** A ByteRange over bytes already in memory. */
export class MemoryByteRange implements ByteRange {
  constructor(
    readonly name: string,
    private readonly bytes: Uint8Array,
  ) {}

  async size(): Promise<number> {
    return this.bytes.length;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this.name, offset, length, this.bytes.length);
    return this.bytes.subarray(offset, offset + length);
  }

  async close(): Promise<void> {}
}

/** A ByteRange over a local file, read with positional reads. */
export class FileByteRange implements ByteRange {
  #fh: FileHandle | undefined;
  #size: number | undefined;

  private constructor(readonly name: string) {}

  static async open(path: string, name = path): Promise<FileByteRange> {
    const r = new FileByteRange(name);
    r.#fh = await open(path, 'r');
    r.#size = (await r.#fh.stat()).size;
    return r;
  }

  async size(): Promise<number> {
    return this.#size as number;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this.name, offset, length, this.#size as number);
    const buf = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await (this.#fh as FileHandle).read(buf, done, length - done, offset + done);
      if (bytesRead === 0) throw new Error(`${this.name}: unexpected end of file at offset ${offset + done}`);
      done += bytesRead;
    }
    return buf;
  }

  async close(): Promise<void> {
    await this.#fh?.close();
    this.#fh = undefined;
  }
}

function checkRange(name: string, offset: number, length: number, size: number): void {
  if (offset < 0 || length < 0 || offset + length > size) {
    throw new Error(`${name}: read of ${length} bytes at offset ${offset} is outside the file (size ${size})`);
  }
}
