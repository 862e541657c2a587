import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileSource, joinKey, mapLimit, type Bucket } from '@strata/objstore';
import { formatMeta, META_FILENAME, parseMeta, type BlockMeta, type ThanosFile } from '@strata/tsdb';

export const INDEX_FILENAME = 'index';
export const CHUNKS_DIRNAME = 'chunks';

export interface UploadOptions {
  /** Also record a SHA256 per file in thanos.files (lets downloads skip unchanged files). */
  hash?: boolean;
  /** Chunk files uploaded in parallel (default 4). */
  concurrency?: number;
  /** Called after each uploaded object. */
  onProgress?: (event: { block: string; object: string; bytes: number }) => void;
  now?: () => Date;
  /** Upload this meta.json instead of the one in the directory (for backfills that set external labels without touching local files). */
  meta?: BlockMeta;
  /** A plain Prometheus block, uploaded without external labels (Thanos' UploadPromBlock, `tools bucket rewrite --prom-blocks`). */
  promBlock?: boolean;
}

/**
 * Uploads a local block directory: chunk files, then the index, then meta.json last with
 * thanos.files and upload_time filled in, so the block becomes visible only once it is complete.
 * The local meta.json must already carry the external labels (thanos.labels); a block without them
 * could not be told apart from other sources' blocks and is refused.
 */
export async function uploadBlock(bucket: Bucket, blockDir: string, opts: UploadOptions = {}): Promise<BlockMeta> {
  const metaPath = join(blockDir, META_FILENAME);
  const meta = opts.meta ?? parseMeta(await readFile(metaPath, 'utf8'), metaPath);
  const id = meta.ulid;
  if (basename(blockDir) !== id) throw new Error(`block ${id}: directory ${blockDir} is not named after the block's ULID`);
  if (opts.promBlock !== true && (!meta.thanos || Object.keys(meta.thanos.labels).length === 0)) throw new Error(`block ${id} (${blockDir}): empty external labels; refusing to upload a block that cannot be told apart from other sources`);

  const chunkNames = (await readdir(join(blockDir, CHUNKS_DIRNAME)).catch(() => [] as string[])).sort();
  const relPaths = [...chunkNames.map((n) => `${CHUNKS_DIRNAME}/${n}`), INDEX_FILENAME];
  const files: ThanosFile[] = await mapLimit(relPaths, 8, async (rel) => {
    const path = join(blockDir, rel);
    const st = await stat(path).catch(() => undefined);
    if (!st?.isFile()) throw new Error(`block ${id}: ${path} is missing`);
    return { rel_path: rel, size_bytes: st.size, ...(opts.hash ? { hash: { hashFunc: 'SHA256' as const, value: await sha256File(path) } } : {}) };
  });
  files.push({ rel_path: META_FILENAME });
  files.sort((a, b) => (a.rel_path < b.rel_path ? -1 : a.rel_path > b.rel_path ? 1 : 0));

  const put = async (rel: string) => {
    const src = await fileSource(join(blockDir, rel));
    try {
      await bucket.upload(joinKey(id, rel), src);
    } catch (e) {
      throw new Error(`block ${id}: upload ${joinKey(id, rel)}: ${(e as Error).message}`, { cause: e });
    }
    opts.onProgress?.({ block: id, object: joinKey(id, rel), bytes: src.size });
  };
  await mapLimit(
    chunkNames.map((n) => `${CHUNKS_DIRNAME}/${n}`),
    opts.concurrency ?? 4,
    put,
  );
  await put(INDEX_FILENAME);

  const uploaded: BlockMeta = { ...meta, thanos: { ...(meta.thanos ?? { labels: {}, downsample: { resolution: 0 } }), files, upload_time: (opts.now?.() ?? new Date()).toISOString() } };
  const body = Buffer.from(formatMeta(uploaded));
  try {
    await bucket.upload(joinKey(id, META_FILENAME), body);
  } catch (e) {
    throw new Error(`block ${id}: upload ${joinKey(id, META_FILENAME)}: ${(e as Error).message}`, { cause: e });
  }
  opts.onProgress?.({ block: id, object: joinKey(id, META_FILENAME), bytes: body.length });
  return uploaded;
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}
