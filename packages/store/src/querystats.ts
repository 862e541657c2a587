import { Readable } from 'node:stream';
import { ForwardingBucket, type Bucket, type ObjectAttributes } from '@strata/objstore';
import pLimit, { type LimitFunction } from 'p-limit';

/** Object-store traffic of one Series/Label call, gathered across every block it touches. */
export class QueryStats {
  requests = 0;
  bytes = 0;
}

/**
 * The store gateway's view of the bucket: range reads run at most `concurrency` at a time across all
 * queries, so one big query cannot open thousands of connections, and each read is buffered whole
 * before its slot is freed. `charging(stats)` is the same bucket (same slots) with every request
 * counted in one query's stats; the query passes it down explicitly, which costs far less than
 * tracking the query through AsyncLocalStorage's promise hooks.
 */
export class AccountingBucket extends ForwardingBucket {
  readonly #limit: LimitFunction;
  readonly #stats: QueryStats | undefined;

  constructor(inner: Bucket, concurrency: number | LimitFunction, stats?: QueryStats) {
    super(inner);
    this.#limit = typeof concurrency === 'number' ? pLimit(concurrency) : concurrency;
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

  async #counted(open: () => Promise<Readable>): Promise<Readable> {
    const chunks = await this.#limit(async () => {
      const parts: Buffer[] = [];
      for await (const c of await open()) parts.push(c as Buffer);
      return parts;
    });
    if (this.#stats !== undefined) {
      this.#stats.requests++;
      for (const c of chunks) this.#stats.bytes += c.length;
    }
    return Readable.from(chunks);
  }
}
