import type { Readable } from 'node:stream';
import { dirPrefix, joinKey, type Bucket, type ListOptions, type ObjectAttributes, type ObjectEntry, type RangeIntoReader, type UploadBody } from './bucket.js';

/** Confines a bucket to the keys under a prefix (the config's `prefix:`), which callers never see. */
export class PrefixedBucket implements Bucket {
  readonly #prefix: string;
  readonly getRangeInto?: RangeIntoReader;

  constructor(
    readonly inner: Bucket,
    prefix: string,
  ) {
    this.#prefix = dirPrefix(prefix.replace(/^\/+|\/+$/g, ''));
    const into = inner.getRangeInto;
    if (into !== undefined) this.getRangeInto = (name, offset, target) => into.call(inner, this.#key(name), offset, target);
  }

  get name(): string {
    return this.inner.name;
  }

  get local(): boolean | undefined {
    return this.inner.local;
  }

  async *list(dir: string, opts?: ListOptions): AsyncIterable<ObjectEntry> {
    for await (const e of this.inner.list(this.#key(dir), opts)) yield { ...e, name: e.name.slice(this.#prefix.length) };
  }

  get(name: string): Promise<Readable> {
    return this.inner.get(this.#key(name));
  }

  getRange(name: string, offset: number, length: number): Promise<Readable> {
    return this.inner.getRange(this.#key(name), offset, length);
  }

  exists(name: string): Promise<boolean> {
    return this.inner.exists(this.#key(name));
  }

  attributes(name: string): Promise<ObjectAttributes> {
    return this.inner.attributes(this.#key(name));
  }

  upload(name: string, body: UploadBody): Promise<void> {
    return this.inner.upload(this.#key(name), body);
  }

  delete(name: string): Promise<void> {
    return this.inner.delete(this.#key(name));
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  #key(name: string): string {
    return name === '' ? this.#prefix : joinKey(this.#prefix, name);
  }
}
