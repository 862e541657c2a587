import { getBuffer, isNotFound, joinKey, settleLimit, type Bucket } from '@strata/objstore';
import { isULID, META_FILENAME, parseMeta, ulidTime, type BlockMeta } from '@strata/tsdb';
import { DELETION_MARK_FILENAME } from './markers.js';

/** What one recursive listing says about a block directory, before meta.json is read. */
export interface BlockObjects {
  id: string;
  hasMeta: boolean;
  hasDeletionMark: boolean;
  /** Newest LastModified among the block's objects. */
  lastModified?: Date;
  objects: number;
}

/** A block directory without meta.json: an upload in progress or aborted, or a deletion interrupted after its first step. */
export type PartialBlock = BlockObjects;

/** Counts per sync state, as in Thanos' `blocks_meta_synced{state}`. */
export type SyncedStates = Map<string, number>;

export interface FetchResult {
  /** Blocks that exist and passed every filter, by ULID. */
  metas: Map<string, BlockMeta>;
  partial: Map<string, PartialBlock>;
  /** Blocks whose meta.json could not be read or parsed. */
  failed: Map<string, Error>;
  /** Every block directory seen, as listed. */
  objects: Map<string, BlockObjects>;
  synced: SyncedStates;
}

/** Context a filter may use: the listing and the bucket. */
export interface FilterContext {
  bucket: Bucket;
  objects: ReadonlyMap<string, BlockObjects>;
  now: Date;
}

/** Removes blocks from `metas` in place and counts why, in `synced`. */
export interface MetaFilter {
  filter(metas: Map<string, BlockMeta>, synced: SyncedStates, ctx: FilterContext): Promise<void>;
}

export interface MetaFetcherOptions {
  /** Parallel meta.json reads (default 32). */
  concurrency?: number;
  filters?: MetaFilter[];
  now?: () => Date;
}

/**
 * Finds the blocks in a bucket and reads their meta.json, then applies filters in order; the
 * sidecar, store gateway, compactor and bucket tools all see the bucket through this.
 *
 * Discovery is one recursive listing rather than a directory listing plus an existence check per
 * block: it costs one request per 1000 objects, gives each block's last-modified time for the
 * partial-upload cleanup, and also sees partial blocks whose only objects are under chunks/, which
 * some S3-compatible servers leave out of delimiter listings.
 */
export class MetaFetcher {
  constructor(
    readonly bucket: Bucket,
    readonly opts: MetaFetcherOptions = {},
  ) {}

  async fetch(): Promise<FetchResult> {
    const now = this.opts.now?.() ?? new Date();
    const objects = await listBlockObjects(this.bucket);
    const metas = new Map<string, BlockMeta>();
    const partial = new Map<string, PartialBlock>();
    const failed = new Map<string, Error>();
    const synced: SyncedStates = new Map();
    const count = (state: string) => synced.set(state, (synced.get(state) ?? 0) + 1);

    const withMeta = [...objects.values()].filter((b) => {
      if (!b.hasMeta) partial.set(b.id, b);
      return b.hasMeta;
    });
    for (let i = 0; i < partial.size; i++) count('no-meta-json');
    const results = await settleLimit(withMeta, this.opts.concurrency ?? 32, (b) => readMeta(this.bucket, b.id));
    results.forEach((r, i) => {
      const b = withMeta[i] as BlockObjects;
      if (r.status === 'fulfilled') {
        // Deleted between the listing and the read: as good as partial.
        if (r.value === undefined) {
          partial.set(b.id, { ...b, hasMeta: false });
          count('no-meta-json');
        } else metas.set(b.id, r.value);
      } else {
        failed.set(b.id, r.reason instanceof Error ? r.reason : new Error(String(r.reason)));
        count('corrupted-meta-json');
      }
    });
    const ctx: FilterContext = { bucket: this.bucket, objects, now };
    for (const f of this.opts.filters ?? []) await f.filter(metas, synced, ctx);
    synced.set('loaded', metas.size);
    return { metas, partial, failed, objects, synced };
  }
}

/** Groups a recursive listing of the bucket by top-level ULID directory; anything else at the root is ignored. */
export async function listBlockObjects(bucket: Bucket): Promise<Map<string, BlockObjects>> {
  const blocks = new Map<string, BlockObjects>();
  for await (const e of bucket.list('', { recursive: true })) {
    const slash = e.name.indexOf('/');
    if (slash < 0) continue;
    const id = e.name.slice(0, slash);
    if (!isULID(id)) continue;
    const rest = e.name.slice(slash + 1);
    let b = blocks.get(id);
    if (!b) blocks.set(id, (b = { id, hasMeta: false, hasDeletionMark: false, objects: 0 }));
    b.objects++;
    if (rest === META_FILENAME) b.hasMeta = true;
    if (rest === DELETION_MARK_FILENAME) b.hasDeletionMark = true;
    if (e.lastModified && (!b.lastModified || e.lastModified > b.lastModified)) b.lastModified = e.lastModified;
  }
  return blocks;
}

async function readMeta(bucket: Bucket, id: string): Promise<BlockMeta | undefined> {
  const key = joinKey(id, META_FILENAME);
  let text: string;
  try {
    text = (await getBuffer(bucket, key)).toString('utf8');
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw new Error(`block ${id}: read ${key}: ${(e as Error).message}`, { cause: e });
  }
  const meta = parseMeta(text, `block ${id}: ${key}`);
  if (meta.ulid !== id) throw new Error(`block ${id}: ${key} describes block ${meta.ulid}`);
  return meta;
}

/** When a block became visible: its upload_time, or the time in its ULID for blocks uploaded without one. */
export function blockUploadTime(meta: BlockMeta): number {
  const t = meta.thanos?.upload_time;
  if (t && !t.startsWith('0001-01-01')) {
    const ms = Date.parse(t);
    if (!Number.isNaN(ms)) return ms;
  }
  return ulidTime(meta.ulid);
}
