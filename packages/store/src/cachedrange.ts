import type { ByteRange } from '@strata/tsdb';
import { CacheItem, type IndexItemCache } from './cache.js';

/**
 * The index reads that miss the index-header (postings lists and series entries) go through here:
 * each read is an item of the index cache, keyed by block and byte range. IndexReader asks for the
 * same ranges for the same matchers and series, so repeated queries are served from memory.
 */
export class CachedIndexRange implements ByteRange {
  constructor(
    readonly inner: ByteRange,
    readonly blockId: string,
    readonly cache: IndexItemCache,
    /** Where the postings section starts (the TOC's postings offset): reads before it are series entries. */
    readonly postingsStart: number,
  ) {}

  get name(): string {
    return this.inner.name;
  }

  size(): Promise<number> {
    return this.inner.size();
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const item = offset >= this.postingsStart ? CacheItem.Postings : CacheItem.Series;
    const key = `${this.blockId}:${item === CacheItem.Postings ? 'P' : 'S'}:${offset}:${length}`;
    const got = this.cache.get(item, key);
    // Awaited only when the cache is remote (memcached): a read of the in-memory cache takes no extra turn.
    const hit = got instanceof Promise ? await got : got;
    if (hit !== undefined) return hit;
    const bytes = await this.inner.read(offset, length);
    this.cache.set(item, key, bytes);
    return bytes;
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
