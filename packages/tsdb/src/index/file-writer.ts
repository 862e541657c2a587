import { open, type FileHandle } from 'node:fs/promises';

/** Padding source for padTo (alignments are at most 16 bytes). */
const ZEROS = new Uint8Array(16);

/**
 * An append-only file with a write buffer, tracking the absolute position so writers can record
 * offsets (series IDs, postings offsets, TOC entries) as they go. Bytes reach the disk in large
 * writes; `close()` flushes and fsyncs.
 */
export class BufferedFileWriter {
  #fh: FileHandle;
  #buf: Uint8Array;
  #len = 0;
  #pos = 0;

  private constructor(
    readonly path: string,
    fh: FileHandle,
    bufferSize: number,
  ) {
    this.#fh = fh;
    this.#buf = new Uint8Array(bufferSize);
  }

  static async create(path: string, bufferSize = 1 << 20): Promise<BufferedFileWriter> {
    return new BufferedFileWriter(path, await open(path, 'w'), bufferSize);
  }

  /** Bytes written so far, buffered or not. */
  get pos(): number {
    return this.#pos;
  }

  async write(b: Uint8Array): Promise<void> {
    if (this.#len + b.length > this.#buf.length) {
      await this.flush();
      if (b.length > this.#buf.length) {
        await this.#writeFully(b);
        this.#pos += b.length;
        return;
      }
    }
    this.#buf.set(b, this.#len);
    this.#len += b.length;
    this.#pos += b.length;
  }

  /** Zero bytes until the position is a multiple of `n` (at most 16). */
  async padTo(n: number): Promise<void> {
    const pad = (n - (this.#pos % n)) % n;
    if (pad > 0) await this.write(ZEROS.subarray(0, pad));
  }

  async flush(): Promise<void> {
    if (this.#len === 0) return;
    await this.#writeFully(this.#buf.subarray(0, this.#len));
    this.#len = 0;
  }

  async #writeFully(b: Uint8Array): Promise<void> {
    let done = 0;
    while (done < b.length) done += (await this.#fh.write(b, done, b.length - done)).bytesWritten;
  }

  async close(): Promise<void> {
    await this.flush();
    await this.#fh.sync();
    await this.#fh.close();
  }

  /** Closes without flushing, for error paths. */
  async abort(): Promise<void> {
    await this.#fh.close().catch(() => undefined);
  }
}
