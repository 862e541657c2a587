import { joinKey, mapLimit, type Bucket } from '@strata/objstore';
import { META_FILENAME } from '@strata/tsdb';
import { DELETION_MARK_FILENAME } from './markers.js';

/**
 * Deletes a block: meta.json first, so readers stop seeing the block at once, then every other object,
 * then deletion-mark.json last so a deletion interrupted midway is still recognisable (and resumed by
 * cleanup) as a block that was meant to go.
 */
export async function deleteBlock(bucket: Bucket, id: string, opts: { concurrency?: number } = {}): Promise<void> {
  const fail = (key: string, e: unknown) => new Error(`block ${id}: delete ${key}: ${(e as Error).message}`, { cause: e });
  const metaKey = joinKey(id, META_FILENAME);
  await bucket.delete(metaKey).catch((e: unknown) => {
    throw fail(metaKey, e);
  });
  const markKey = joinKey(id, DELETION_MARK_FILENAME);
  const rest: string[] = [];
  let marked = false;
  for await (const e of bucket.list(id, { recursive: true })) {
    if (e.name === markKey) marked = true;
    else if (e.name !== metaKey) rest.push(e.name);
  }
  await mapLimit(rest, opts.concurrency ?? 8, (key) =>
    bucket.delete(key).catch((e: unknown) => {
      throw fail(key, e);
    }),
  );
  if (marked) {
    await bucket.delete(markKey).catch((e: unknown) => {
      throw fail(markKey, e);
    });
  }
}
