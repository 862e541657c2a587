import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { getBuffer, isNotFound, joinKey, mapLimit, type Bucket } from '@strata/objstore';
import { META_FILENAME, parseMeta, type BlockMeta } from '@strata/tsdb';
import { isMarkerFilename } from './markers.js';
import { sha256File } from './upload.js';

export interface DownloadOptions {
  concurrency?: number;
  onProgress?: (event: { block: string; object: string; bytes: number }) => void;
}

/** Reads a block's meta.json from the bucket; errors name the block and object. */
export async function readBlockMeta(bucket: Bucket, id: string): Promise<BlockMeta> {
  const key = joinKey(id, META_FILENAME);
  let text: string;
  try {
    text = (await getBuffer(bucket, key)).toString('utf8');
  } catch (e) {
    if (isNotFound(e)) throw new Error(`block ${id}: ${key} not found in bucket ${bucket.name}`, { cause: e });
    throw e;
  }
  return parseMeta(text, `block ${id}: ${key}`);
}

/**
 * Downloads a block into `<dstDir>/<ULID>`: every object of the block except markers, meta.json last.
 * Files whose SHA256 in thanos.files matches an existing local copy are skipped. Each file is
 * written under a temporary name and renamed, so an interrupted download never leaves a
 * truncated file that looks complete.
 */
export async function downloadBlock(bucket: Bucket, id: string, dstDir: string, opts: DownloadOptions = {}): Promise<BlockMeta> {
  const meta = await readBlockMeta(bucket, id);
  const blockDir = join(dstDir, id);
  const expected = new Map((meta.thanos?.files ?? []).filter((f) => f.rel_path !== META_FILENAME).map((f) => [f.rel_path, f]));
  const objects: string[] = [];
  for await (const e of bucket.list(id, { recursive: true })) {
    const rel = e.name.slice(id.length + 1);
    if (rel !== META_FILENAME && !isMarkerFilename(rel)) objects.push(rel);
  }
  for (const rel of expected.keys()) if (!objects.includes(rel)) throw new Error(`block ${id}: ${joinKey(id, rel)} listed in meta.json but not found in bucket ${bucket.name}`);

  await mapLimit(objects, opts.concurrency ?? 4, async (rel) => {
    const path = join(blockDir, rel);
    const want = expected.get(rel);
    if (want?.hash && (await stat(path).catch(() => undefined)) && (await sha256File(path)) === want.hash.value) return;
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.download`;
    try {
      await pipeline(await bucket.get(joinKey(id, rel)), createWriteStream(tmp));
      const size = (await stat(tmp)).size;
      if (want?.size_bytes !== undefined && size !== want.size_bytes) {
        throw new Error(`block ${id}: ${joinKey(id, rel)} has ${size} bytes, meta.json says ${want.size_bytes}`);
      }
      await rename(tmp, path);
      opts.onProgress?.({ block: id, object: joinKey(id, rel), bytes: size });
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  });
  const metaBytes = await getBuffer(bucket, joinKey(id, META_FILENAME));
  await writeFile(join(blockDir, META_FILENAME), metaBytes);
  return meta;
}
