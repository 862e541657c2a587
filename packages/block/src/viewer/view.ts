import type { BlockMeta } from '@strata/tsdb';

/** The JSON of Thanos' block viewer API (pkg/api/blocks BlocksInfo), under the API's `data`. */
export interface BlocksInfo {
  /** The external label the viewer titles block groups with (Thanos' --label); '' for none. */
  label: string;
  blocks: readonly BlockMeta[];
  /** RFC3339; Go's zero time before the first refresh, as Thanos writes it. */
  refreshedAt: string;
  /** The last refresh's error, the blocks of the one before it kept; null when it succeeded. */
  err: string | null;
}

const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

/**
 * A set of blocks as last synced from the bucket, for the block viewer: the compactor's and the bucket
 * web tool's whole bucket, the store gateway's blocks loaded. A failed refresh keeps the blocks shown
 * before it and says why, as Thanos does.
 */
export class BlocksView {
  #blocks: readonly BlockMeta[] = [];
  #refreshedAt: Date | undefined;
  #err: string | null = null;

  constructor(readonly label = '') {}

  set(blocks: Iterable<BlockMeta>, now = new Date()): void {
    this.#blocks = [...blocks].sort((a, b) => a.minTime - b.minTime || a.ulid.localeCompare(b.ulid));
    this.#refreshedAt = now;
    this.#err = null;
  }

  fail(err: Error, now = new Date()): void {
    this.#refreshedAt = now;
    this.#err = err.message;
  }

  info(): BlocksInfo {
    return { label: this.label, blocks: this.#blocks, refreshedAt: this.#refreshedAt?.toISOString() ?? GO_ZERO_TIME, err: this.#err };
  }
}
