import { Readable } from 'node:stream';
import { dirPrefix, isBodySource, ObjectNotFoundError, type Bucket, type ListOptions, type ObjectAttributes, type ObjectEntry, type UploadBody } from './bucket.js';
import { checkRange, readAll } from './io.js';

/** A bucket held in a Map, for unit tests of code built on Bucket. */
export class InMemoryBucket implements Bucket {
  readonly #objects = new Map<string, { data: Buffer; lastModified: Date }>();

  constructor(readonly name = 'memory') {}

  async *list(dir: string, opts: ListOptions = {}): AsyncIterable<ObjectEntry> {
    const prefix = dirPrefix(dir);
    const seenDirs = new Set<string>();
    for (const key of [...this.#objects.keys()].sort()) {
      if (!key.startsWith(prefix)) continue;
      const rest = key.slice(prefix.length);
      const slash = rest.indexOf('/');
      if (opts.recursive || slash < 0) {
        const o = this.#objects.get(key);
        if (o) yield { name: key, size: o.data.length, lastModified: o.lastModified };
      } else {
        const sub = prefix + rest.slice(0, slash + 1);
        if (!seenDirs.has(sub)) {
          seenDirs.add(sub);
          yield { name: sub };
        }
      }
    }
  }

  async get(name: string): Promise<Readable> {
    return Readable.from([this.#find(name).data]);
  }

  async getRange(name: string, offset: number, length: number): Promise<Readable> {
    checkRange(offset, length);
    const data = this.#find(name).data;
    return Readable.from([data.subarray(offset, length === -1 ? undefined : offset + length)]);
  }

  async exists(name: string): Promise<boolean> {
    return this.#objects.has(name);
  }

  async attributes(name: string): Promise<ObjectAttributes> {
    const o = this.#find(name);
    return { size: o.data.length, lastModified: o.lastModified };
  }

  async upload(name: string, body: UploadBody): Promise<void> {
    const data = body instanceof Uint8Array ? Buffer.from(body) : await readAll(isBodySource(body) ? body.open() : body);
    this.#objects.set(name, { data, lastModified: new Date() });
  }

  async delete(name: string): Promise<void> {
    this.#objects.delete(name);
  }

  async close(): Promise<void> {}

  /** Test hook: backdates an object, e.g. to make a partial upload look old. */
  setLastModified(name: string, when: Date): void {
    this.#find(name).lastModified = when;
  }

  #find(name: string): { data: Buffer; lastModified: Date } {
    const o = this.#objects.get(name);
    if (!o) throw new ObjectNotFoundError(this.name, name);
    return o;
  }
}
