import { createHash } from 'node:crypto';
import type { RemoteCacheClient } from '@strata/runtime';
import snappy from 'snappy';
import type { MatrixAnswer } from './answer.js';

/** What is cached of one range query: its answer for [start, end] (ms, both on its step grid). */
export interface Extent {
  readonly start: number;
  readonly end: number;
  readonly answer: MatrixAnswer;
  /** What the cache counts against its bound (parsedSize). */
  readonly bytes: number;
}

/**
 * The memory an answer parsed from `jsonBytes` of JSON takes, as the caches count it: kept parsed, a
 * matrix of [time, "value"] pairs measured 3.4–4.2× its JSON (V8, Node 20), so that `max_size` bounds
 * what the cache holds, not the JSON it came as. (Kept as text and parsed on every hit, a warm
 * 7-day dashboard query took 1.7× as long.)
 */
export function parsedSize(jsonBytes: number): number {
  return 4 * jsonBytes;
}

/** Where the range and label handlers keep answers by key: this process' memory (ResultsCache), or memcached or redis (RemoteResults). */
export interface EntriesCache<E> {
  /** The key's entries; none where the cache has none (or could not be asked). */
  get(key: string): readonly E[] | Promise<readonly E[]>;
  /** Replaces the key's entries (in memcached or redis: queued, and kept for its expiration). */
  set(key: string, entries: readonly E[]): void;
}

/**
 * Cached answers by key, bounded in bytes (each entry counts its `bytes`): the least recently used keys
 * go first. A range query's key (the query, its step and parameters, and which split interval they lie
 * in) holds extents that do not overlap, in time order, joined as later requests fill the gaps; a label
 * or series request's key (its parameters and exact range) holds its one answer.
 */
export class ResultsCache<E extends { readonly bytes: number } = Extent> implements EntriesCache<E> {
  readonly #entries = new Map<string, E[]>();
  #bytes = 0;

  constructor(
    readonly maxBytes: number,
    private readonly onEvict: (bytes: number) => void = () => {},
  ) {}

  get bytes(): number {
    return this.#bytes;
  }

  get items(): number {
    return this.#entries.size;
  }

  /** The key's entries, in the order set (made the most recently used key). */
  get(key: string): readonly E[] {
    const entries = this.#entries.get(key);
    if (entries === undefined) return [];
    this.#entries.delete(key);
    this.#entries.set(key, entries);
    return entries;
  }

  /** Replaces the key's entries; evicts other keys until the cache is within its bound. */
  set(key: string, entries: readonly E[]): void {
    this.#delete(key);
    const bytes = entries.reduce((n, e) => n + e.bytes, 0);
    // One key larger than the whole cache would evict everything for nothing.
    if (bytes > this.maxBytes) return;
    this.#entries.set(key, [...entries]);
    this.#bytes += bytes;
    for (const [oldest] of this.#entries) {
      if (this.#bytes <= this.maxBytes) break;
      this.onEvict(this.#delete(oldest));
    }
  }

  #delete(key: string): number {
    const entries = this.#entries.get(key);
    if (entries === undefined) return 0;
    this.#entries.delete(key);
    const bytes = entries.reduce((n, e) => n + e.bytes, 0);
    this.#bytes -= bytes;
    return bytes;
  }
}

/** How answers kept in memcached or redis are compressed (Thanos' --cache-compression-type; '': not). */
export type CacheCompression = '' | 'snappy';

/**
 * Answers kept in memcached or redis, where every frontend pointed at it finds them (and a restarted one
 * still does). Entries are stored as JSON under `prefix:` and the SHA-256 of the key (memcached keys are
 * at most 250 bytes), with the key itself, so that a hash collision reads as a miss.
 */
export class RemoteResults<E> implements EntriesCache<E> {
  /** `compression`: Thanos' --cache-compression-type, snappy or none (''); each keeps entries under a prefix of its own. */
  constructor(
    private readonly client: RemoteCacheClient,
    private readonly expirationMs: number,
    private readonly prefix: string,
    private readonly compression: CacheCompression = '',
  ) {}

  async get(key: string): Promise<readonly E[]> {
    const value = await this.client.get(this.#id(key));
    if (value === undefined) return [];
    try {
      const json = this.compression === 'snappy' ? (snappy.uncompressSync(value) as Buffer) : value;
      const stored = JSON.parse(json.toString('utf8')) as { key?: unknown; entries?: unknown };
      return stored.key === key && Array.isArray(stored.entries) ? (stored.entries as E[]) : [];
    } catch {
      return [];
    }
  }

  set(key: string, entries: readonly E[]): void {
    const json = Buffer.from(JSON.stringify({ key, entries }));
    this.client.setAsync(this.#id(key), this.compression === 'snappy' ? snappy.compressSync(json) : json, this.expirationMs);
  }

  #id(key: string): string {
    return `${this.prefix}${this.compression === 'snappy' ? '-snappy' : ''}:${createHash('sha256').update(key).digest('hex')}`;
  }
}
