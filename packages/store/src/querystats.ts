import { Readable } from 'node:stream';
import { ForwardingBucket, type Bucket, type ObjectAttributes } from '@strata/objstore';
import { BucketByteRange } from '@strata/block';
import { gate, type Gate } from '@strata/runtime';
import type { RequestLimit } from './block.js';
import type { ChunkPool } from './chunkpool.js';

/**
 * Object-store traffic of one Series/Label call, gathered across every block it touches, and held to
 * `limit` (--store.grpc.downloaded-bytes-limit): a read past it is refused before it is made.
 */
export class QueryStats {
  requests = 0;
  bytes = 0;

  constructor(readonly limit?: RequestLimit) {}

  /** Takes `bytes` about to be read against the limit; throws past it. */
  reserve(bytes: number): void {
    this.limit?.take(bytes);
  }
}

/**
 * The store gateway's view of the bucket: range reads run at most `concurrency` at a time across all
 * queries, so one big query cannot open thousands of connections, and each read is buffered whole
 * before its slot is freed. `charging(stats)` is the same bucket (same slots) with every request
 * counted in one query's stats; the query passes it down explicitly, which costs far less than
 * tracking the query through AsyncLocalStorage's promise hooks.
 */
export class AccountingBucket extends ForwardingBucket {
  readonly #limit: Gate;
  readonly #stats: QueryStats | undefined;

  constructor(inner: Bucket, concurrency: number | Gate, stats?: QueryStats) {
    super(inner);
    this.#limit = typeof concurrency === 'number' ? gate(concurrency) : concurrency;
    this.#stats = stats;
  }

  /** This bucket with every request charged to `stats`. */
  charging(stats: QueryStats): AccountingBucket {
    return new AccountingBucket(this.inner, this.#limit, stats);
  }

  override get(name: string): Promise<Readable> {
    return this.#counted(() => this.inner.get(name));
  }

  override getRange(name: string, offset: number, length: number): Promise<Readable> {
    return this.#counted(() => this.inner.getRange(name, offset, length));
  }

  override attributes(name: string): Promise<ObjectAttributes> {
    if (this.#stats !== undefined) this.#stats.requests++;
    return this.inner.attributes(name);
  }

  /**
   * Bytes [offset, offset + length) of an object in one buffer of that size (from `pool` if given): read
   * straight into it where the bucket can (a local file, a plain-HTTP S3 endpoint), else copied into it
   * as the stream arrives (one copy, where collecting the pieces and concatenating them costs two). A
   * buffer of its own, never a view of something larger: what the caller keeps (in the index cache,
   * say) holds no more memory than it counts.
   */
  async readRange(name: string, offset: number, length: number, pool?: ChunkPool): Promise<Buffer> {
    this.#stats?.reserve(length);
    const out = await this.#limit(async () => {
      const buf = pool?.get(length) ?? Buffer.allocUnsafeSlow(length);
      try {
        const into = this.inner.getRangeInto;
        let n = 0;
        if (into !== undefined) n = await into.call(this.inner, name, offset, buf);
        else {
          for await (const c of await this.inner.getRange(name, offset, length)) {
            const piece = c as Buffer;
            if (n + piece.length > length) throw new Error(`${name}: range read at offset ${offset} returned more than the ${length} bytes asked`);
            piece.copy(buf, n);
            n += piece.length;
          }
        }
        if (n !== length) throw new Error(`${name}: short read: ${n} of ${length} bytes at offset ${offset}`);
        return buf;
      } catch (e) {
        pool?.put(buf);
        throw e;
      }
    });
    if (this.#stats !== undefined) {
      this.#stats.requests++;
      this.#stats.bytes += length;
    }
    return out;
  }

  async #counted(open: () => Promise<Readable>): Promise<Readable> {
    const chunks = await this.#limit(async () => {
      const parts: Buffer[] = [];
      for await (const c of await open()) parts.push(c as Buffer);
      return parts;
    });
    if (this.#stats !== undefined) {
      this.#stats.requests++;
      let bytes = 0;
      for (const c of chunks) bytes += c.length;
      this.#stats.bytes += bytes;
      // A whole object or an open range: its size known only once read.
      this.#stats.reserve(bytes);
    }
    return Readable.from(chunks);
  }
}

/** An object of the bucket as a ByteRange, read through an AccountingBucket's `readRange`. */
export class AccountedByteRange extends BucketByteRange {
  /**
   * `pool`: reads land in its buffers, which the reader gives back (only for reads whose bytes nothing
   * keeps beyond the reader's own use, e.g. not for a cache).
   */
  constructor(
    override readonly bucket: AccountingBucket,
    object: string,
    size?: number,
    readonly pool?: ChunkPool,
  ) {
    super(bucket, object, size);
  }

  protected override fetch(offset: number, length: number): Promise<Uint8Array> {
    return this.bucket.readRange(this.object, offset, length, this.pool);
  }
}
