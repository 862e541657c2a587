import { getRangeBuffer, type Bucket } from '@strata/objstore';
import type { ByteRange } from '@strata/tsdb';

/** A ByteRange over one object in a bucket, so the tsdb readers can read an index or chunk file in place with range requests. */
export class BucketByteRange implements ByteRange {
  #size: number | undefined;

  constructor(
    readonly bucket: Bucket,
    readonly object: string,
    size?: number,
  ) {
    this.#size = size;
  }

  get name(): string {
    return this.object;
  }

  async size(): Promise<number> {
    this.#size ??= (await this.bucket.attributes(this.object)).size;
    return this.#size;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const size = await this.size();
    if (offset < 0 || length < 0 || offset + length > size) throw new RangeError(`${this.object}: range [${offset}, ${offset + length}) outside object of ${size} bytes`);
    return this.fetch(offset, length);
  }

  /** Bytes [offset, offset + length) of the object, already checked to lie within it. */
  protected async fetch(offset: number, length: number): Promise<Uint8Array> {
    const b = await getRangeBuffer(this.bucket, this.object, offset, length);
    if (b.length !== length) throw new Error(`${this.object}: short read: ${b.length} of ${length} bytes at offset ${offset}`);
    return b;
  }

  async close(): Promise<void> {}
}
