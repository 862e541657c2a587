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

/**
 * Cached answers by key, bounded in bytes (each entry counts its `bytes`): the least recently used keys
 * go first. A range query's key (the query, its step and parameters, and which split interval they lie
 * in) holds extents that do not overlap, in time order, joined as later requests fill the gaps; a label
 * or series request's key (its parameters and exact range) holds its one answer.
 */
export class ResultsCache<E extends { readonly bytes: number } = Extent> {
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
