import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type BlockMeta, isULID, META_FILENAME, parseMeta } from '@strata/tsdb';

/**
 * The blocks Prometheus has finished in its data directory (directories named exactly as a ULID; never
 * *.tmp-for-creation or *.tmp-for-deletion), oldest first. A block deleted between the listing and the
 * read of its meta.json (retention, compaction) is left out; `onDamaged` hears of any other failure to
 * read one, and that block is left out too.
 */
export async function finishedBlocks(dir: string, onDamaged: (block: string, err: Error) => void): Promise<BlockMeta[]> {
  const metas: BlockMeta[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (!e.isDirectory() || !isULID(e.name)) continue;
    const path = join(dir, e.name, META_FILENAME);
    try {
      metas.push(parseMeta(await readFile(path, 'utf8'), path));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') onDamaged(e.name, err as Error);
    }
  }
  return metas.sort((a, b) => a.minTime - b.minTime || (a.ulid < b.ulid ? -1 : 1));
}
