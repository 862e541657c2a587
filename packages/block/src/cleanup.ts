import type { Bucket } from '@strata/objstore';
import { ulidTime } from '@strata/tsdb';
import { deleteBlock } from './delete.js';
import type { PartialBlock } from './fetcher.js';
import { DELETION_MARK_FILENAME, markTime, readMarker, type DeletionMark } from './markers.js';

/** Thanos' PartialUploadThresholdAge: an upload untouched for this long is not in progress any more. */
export const DEFAULT_PARTIAL_UPLOAD_AGE_MS = 48 * 3_600_000;

export interface CleanupEvent {
  block: string;
  reason: 'aborted-partial-upload' | 'marked-for-deletion';
}

/**
 * Deletes partial blocks (no meta.json) whose newest object is older than `ageMs` (the ULID time when
 * the listing has no times). A partial block carrying a deletion mark is an interrupted deletion: it
 * is finished once the mark is older than `deleteDelayMs`, whatever the age of its objects.
 */
export async function cleanPartialBlocks(
  bucket: Bucket,
  partial: ReadonlyMap<string, PartialBlock>,
  opts: { ageMs?: number; deleteDelayMs: number; now?: Date; onDelete?: (e: CleanupEvent) => void },
): Promise<string[]> {
  const now = (opts.now ?? new Date()).getTime();
  const ageMs = opts.ageMs ?? DEFAULT_PARTIAL_UPLOAD_AGE_MS;
  const deleted: string[] = [];
  for (const b of partial.values()) {
    if (b.hasDeletionMark) {
      const mark = await readMarker(bucket, b.id, DELETION_MARK_FILENAME).catch(() => undefined);
      if (mark && now - markTime(mark) < opts.deleteDelayMs) continue;
      await deleteBlock(bucket, b.id);
      opts.onDelete?.({ block: b.id, reason: 'marked-for-deletion' });
    } else {
      const last = b.lastModified?.getTime() ?? ulidTime(b.id);
      if (now - last < ageMs) continue;
      await deleteBlock(bucket, b.id);
      opts.onDelete?.({ block: b.id, reason: 'aborted-partial-upload' });
    }
    deleted.push(b.id);
  }
  return deleted;
}

/** Deletes blocks whose deletion mark is older than `deleteDelayMs`. */
export async function deleteMarkedBlocks(
  bucket: Bucket,
  marks: ReadonlyMap<string, DeletionMark>,
  opts: { deleteDelayMs: number; now?: Date; onDelete?: (e: CleanupEvent) => void },
): Promise<string[]> {
  const now = (opts.now ?? new Date()).getTime();
  const deleted: string[] = [];
  for (const [id, mark] of marks) {
    if (now - markTime(mark) < opts.deleteDelayMs) continue;
    await deleteBlock(bucket, id);
    opts.onDelete?.({ block: id, reason: 'marked-for-deletion' });
    deleted.push(id);
  }
  return deleted;
}
