import { AsyncLocalStorage } from 'node:async_hooks';
import { Readable } from 'node:stream';
import { ForwardingBucket, type Bucket, type ObjectAttributes } from '@strata/objstore';
import pLimit, { type LimitFunction } from 'p-limit';

/** Object-store traffic of one Series/Label call, gathered across every block it touches. */
export class QueryStats {
  requests = 0;
  bytes = 0;
}

const current = new AsyncLocalStorage<QueryStats>();

/** Runs `fn` with `stats` collecting the object-store requests made on its behalf (also in callbacks it awaits). */
export function withQueryStats<T>(stats: QueryStats, fn: () => T): T {
  return current.run(stats, fn);
}

/**
 * The store gateway's view of the bucket: every request is charged to the query it serves (through
 * AsyncLocalStorage, so no stats object is threaded through the tsdb readers), and range reads run
 * at most `concurrency` at a time across all queries so one big query cannot open thousands of
 * connections. Streams are read to the end before the slot is freed.
 */
export class AccountingBucket extends ForwardingBucket {
  readonly #limit: LimitFunction;

  constructor(inner: Bucket, concurrency: number) {
    super(inner);
    this.#limit = pLimit(concurrency);
  }

  override get(name: string): Promise<Readable> {
    return this.#counted(() => this.inner.get(name));
  }

  override getRange(name: string, offset: number, length: number): Promise<Readable> {
    return this.#counted(() => this.inner.getRange(name, offset, length));
  }

  override attributes(name: string): Promise<ObjectAttributes> {
    const stats = current.getStore();
    if (stats !== undefined) stats.requests++;
    return this.inner.attributes(name);
  }

  async #counted(open: () => Promise<Readable>): Promise<Readable> {
    const stats = current.getStore();
    const chunks = await this.#limit(async () => {
      const parts: Buffer[] = [];
      for await (const c of await open()) parts.push(c as Buffer);
      return parts;
    });
    if (stats !== undefined) {
      stats.requests++;
      for (const c of chunks) stats.bytes += c.length;
    }
    return Readable.from(chunks);
  }
}
