import { getBuffer, isNotFound, joinKey, type Bucket } from '@strata/objstore';
import { META_FILENAME } from '@strata/tsdb';

export const DELETION_MARK_FILENAME = 'deletion-mark.json';
export const NO_COMPACT_MARK_FILENAME = 'no-compact-mark.json';
export const NO_DOWNSAMPLE_MARK_FILENAME = 'no-downsample-mark.json';

export type MarkerFilename = typeof DELETION_MARK_FILENAME | typeof NO_COMPACT_MARK_FILENAME | typeof NO_DOWNSAMPLE_MARK_FILENAME;
export const MARKER_FILENAMES: readonly MarkerFilename[] = [DELETION_MARK_FILENAME, NO_COMPACT_MARK_FILENAME, NO_DOWNSAMPLE_MARK_FILENAME];

/** deletion-mark.json: the block is deleted once the mark is older than the delete delay. */
export interface DeletionMark {
  id: string;
  version: 1;
  details?: string;
  /** Unix seconds. */
  deletion_time: number;
}

/** Thanos' reasons, plus Strata's compactor marks for blocks it skips instead of halting: `overlapping-blocks`, `corrupt-block`. */
export type NoCompactReason =
  | 'manual'
  | 'index-size-exceeding'
  | 'block-index-out-of-order-chunk'
  | 'downsample-vertical-compaction'
  | 'overlapping-blocks'
  | 'corrupt-block';

/** no-compact-mark.json: the compactor leaves the block alone. */
export interface NoCompactMark {
  id: string;
  version: 1;
  details?: string;
  /** Unix seconds. */
  no_compact_time: number;
  reason: NoCompactReason;
}

/** no-downsample-mark.json: the compactor does not downsample the block. */
export interface NoDownsampleMark {
  id: string;
  version: 1;
  details?: string;
  no_downsample_time: number;
  reason: 'manual';
}

interface MarkerTypes {
  [DELETION_MARK_FILENAME]: DeletionMark;
  [NO_COMPACT_MARK_FILENAME]: NoCompactMark;
  [NO_DOWNSAMPLE_MARK_FILENAME]: NoDownsampleMark;
}

const TIME_FIELD = { [DELETION_MARK_FILENAME]: 'deletion_time', [NO_COMPACT_MARK_FILENAME]: 'no_compact_time', [NO_DOWNSAMPLE_MARK_FILENAME]: 'no_downsample_time' } as const;

export function isMarkerFilename(name: string): name is MarkerFilename {
  return (MARKER_FILENAMES as readonly string[]).includes(name);
}

/** Reads a block's marker; undefined when the block has none. A malformed marker is an error naming the object. */
export async function readMarker<F extends MarkerFilename>(bucket: Bucket, id: string, file: F): Promise<MarkerTypes[F] | undefined> {
  const key = joinKey(id, file);
  let text: string;
  try {
    text = (await getBuffer(bucket, key)).toString('utf8');
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`block ${id}: ${key}: invalid JSON: ${(e as Error).message}`);
  }
  if (m.version !== 1) throw new Error(`block ${id}: ${key}: unexpected marker version ${String(m.version)}, want 1`);
  if (m.id !== id) throw new Error(`block ${id}: ${key}: marker is for block ${String(m.id)}`);
  if (typeof m[TIME_FIELD[file]] !== 'number') throw new Error(`block ${id}: ${key}: missing ${TIME_FIELD[file]}`);
  return m as unknown as MarkerTypes[F];
}

export interface MarkOptions {
  details?: string;
  /** Reason for no-compact marks (default "manual"). */
  reason?: NoCompactReason;
  now?: Date;
}

/**
 * Writes a marker for a block that exists (has meta.json). Marking an already marked block is a no-op
 * and returns false, as Thanos does, so the original mark time is kept.
 */
export async function markBlock(bucket: Bucket, id: string, file: MarkerFilename, opts: MarkOptions = {}): Promise<boolean> {
  if (!(await bucket.exists(joinKey(id, META_FILENAME)))) throw new Error(`block ${id}: cannot write ${file}: ${joinKey(id, META_FILENAME)} not found in bucket ${bucket.name}`);
  if (await bucket.exists(joinKey(id, file))) return false;
  const t = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  const details = opts.details ? { details: opts.details } : {};
  let mark: DeletionMark | NoCompactMark | NoDownsampleMark;
  if (file === DELETION_MARK_FILENAME) mark = { id, version: 1, ...details, deletion_time: t };
  else if (file === NO_COMPACT_MARK_FILENAME) mark = { id, version: 1, ...details, no_compact_time: t, reason: opts.reason ?? 'manual' };
  else mark = { id, version: 1, ...details, no_downsample_time: t, reason: 'manual' };
  await bucket.upload(joinKey(id, file), Buffer.from(JSON.stringify(mark, null, '\t')));
  return true;
}

/** Unix milliseconds at which a mark was made. */
export function markTime(mark: DeletionMark | NoCompactMark | NoDownsampleMark): number {
  const t = 'deletion_time' in mark ? mark.deletion_time : 'no_compact_time' in mark ? mark.no_compact_time : mark.no_downsample_time;
  return t * 1000;
}
