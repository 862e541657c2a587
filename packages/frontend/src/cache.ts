import type { MatrixAnswer } from './answer.js';

/** What is cached of one range query: its answer for [start, end] (ms, both on its step grid). */
export interface Extent {
  readonly start: number;
  readonly end: number;
  readonly answer: MatrixAnswer;
  /** Its size as the downstream querier sent it, what the cache counts against its bound. */
  readonly bytes: number;
}

/**
 * The answers of range queries, as extents by key (the query, its step and parameters, and which split
 * interval they lie in), bounded in bytes: the least recently used keys go first. A key's extents do not
 * overlap and are kept in time order; adjacent ones are joined as later requests fill the gaps.
 */
export class ResultsCache {
  readonly #entries = new Map<string, Extent[]>();
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

  /** The key's extents, oldest first (made the most recently used key). */
  get(key: string): readonly Extent[] {
    const extents = this.#entries.get(key);
    if (extents === undefined) return [];
    this.#entries.delete(key);
    this.#entries.set(key, extents);
    return extents;
  }

  /** Replaces the key's extents; evicts other keys until the cache is within its bound. */
  set(key: string, extents: readonly Extent[]): void {
    this.#delete(key);
    const bytes = extents.reduce((n, e) => n + e.bytes, 0);
    // One key larger than the whole cache would evict everything for nothing.
    if (bytes > this.maxBytes) return;
    this.#entries.set(key, [...extents]);
    this.#bytes += bytes;
    for (const [oldest] of this.#entries) {
      if (this.#bytes <= this.maxBytes) break;
      this.onEvict(this.#delete(oldest));
    }
  }

  #delete(key: string): number {
    const extents = this.#entries.get(key);
    if (extents === undefined) return 0;
    this.#entries.delete(key);
    const bytes = extents.reduce((n, e) => n + e.bytes, 0);
    this.#bytes -= bytes;
    return bytes;
  }
}
