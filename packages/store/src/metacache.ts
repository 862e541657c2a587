import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { ForwardingBucket, getBuffer, type Bucket } from '@strata/objstore';
import { isULID, META_FILENAME } from '@strata/tsdb';

/**
 * The bucket as the meta fetcher sees it, with `<ULID>/meta.json` served from
 * `<data-dir>/meta-syncer/` once read: a block's meta.json never changes, so each sync re-reads only
 * the listing and the metas of new blocks. Which blocks exist is still decided by the listing.
 */
export class MetaCacheBucket extends ForwardingBucket {
  constructor(
    inner: Bucket,
    readonly dir: string,
  ) {
    super(inner);
  }

  override async get(name: string): Promise<Readable> {
    const [id, file] = name.split('/');
    if (file !== META_FILENAME || id === undefined || !isULID(id)) return this.inner.get(name);
    const path = join(this.dir, id, META_FILENAME);
    const cached = await readFile(path).catch(() => undefined);
    if (cached !== undefined) return Readable.from([cached]);
    const body = await getBuffer(this.inner, name);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(`${path}.tmp`, body);
    await rename(`${path}.tmp`, path);
    return Readable.from([body]);
  }
}

