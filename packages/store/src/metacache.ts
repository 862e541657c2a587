import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { getBuffer, type Bucket, type ListOptions, type ObjectAttributes, type ObjectEntry, type UploadBody } from '@strata/objstore';
import { isULID, META_FILENAME } from '@strata/tsdb';

/**
 * The bucket as the meta fetcher sees it, with `<ULID>/meta.json` served from
 * `<data-dir>/meta-syncer/` once read: a block's meta.json never changes, so each sync re-reads only
 * the listing and the metas of new blocks. Which blocks exist is still decided by the listing.
 */
export class MetaCacheBucket implements Bucket {
  constructor(
    readonly inner: Bucket,
    readonly dir: string,
  ) {}

  get name(): string {
    return this.inner.name;
  }

  list(dir: string, opts?: ListOptions): AsyncIterable<ObjectEntry> {
    return this.inner.list(dir, opts);
  }

  async get(name: string): Promise<Readable> {
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

  getRange(name: string, offset: number, length: number): Promise<Readable> {
    return this.inner.getRange(name, offset, length);
  }

  exists(name: string): Promise<boolean> {
    return this.inner.exists(name);
  }

  attributes(name: string): Promise<ObjectAttributes> {
    return this.inner.attributes(name);
  }

  upload(name: string, body: UploadBody): Promise<void> {
    return this.inner.upload(name, body);
  }

  delete(name: string): Promise<void> {
    return this.inner.delete(name);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
