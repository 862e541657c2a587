import type { Readable } from 'node:stream';

/**
 * An object store as every Strata component sees it: flat keys with "/" as the directory separator,
 * whole and ranged reads, and whole-object writes. Mirrors Thanos' objstore.Bucket so the block layer
 * never cares whether blocks live in S3, on a local disk or in memory.
 */
export interface Bucket {
  /** Names the bucket in metrics and errors. */
  readonly name: string;
  /**
   * Objects under `dir` ("" for the root). Without `recursive`, only direct children: objects by name
   * and "directories" as `prefix/` (trailing slash). With `recursive`, every object below `dir`.
   */
  list(dir: string, opts?: ListOptions): AsyncIterable<ObjectEntry>;
  /** The whole object. Rejects with ObjectNotFoundError when it does not exist. */
  get(name: string): Promise<Readable>;
  /** Bytes [offset, offset+length) of the object; length -1 reads to the end. */
  getRange(name: string, offset: number, length: number): Promise<Readable>;
  /**
   * Reads bytes [offset, offset + target.length) of the object into `target`; resolves to how many it
   * read (fewer where the object ends sooner). Only where a backend reads straight into a caller's memory
   * (a local file, a plain-HTTP S3 endpoint), so that a reader can reuse its buffers; absent otherwise
   * (use getRange).
   */
  readonly getRangeInto?: RangeIntoReader;
  /** Objects are local files: reads over 1 MiB are served by Node's thread pool, where many at once only queue (smaller ones inline: FileReads). */
  readonly local?: boolean;
  exists(name: string): Promise<boolean>;
  /** Rejects with ObjectNotFoundError when the object does not exist. */
  attributes(name: string): Promise<ObjectAttributes>;
  /** Writes the object whole; readers see either the old or the new content, never a part. */
  upload(name: string, body: UploadBody): Promise<void>;
  /** Removes the object; removing a missing object is not an error. */
  delete(name: string): Promise<void>;
  close(): Promise<void>;
}

/** Bucket.getRangeInto. */
export type RangeIntoReader = (name: string, offset: number, target: Uint8Array) => Promise<number>;

export interface ListOptions {
  recursive?: boolean;
}

/** One listed object or directory (`name` ending in "/"); size and time are filled where the backend knows them cheaply. */
export interface ObjectEntry {
  name: string;
  size?: number;
  lastModified?: Date;
}

export interface ObjectAttributes {
  size: number;
  lastModified: Date;
}

/**
 * Content that can be read again from the start, so a failed upload can be retried: a local file or
 * anything else with a known size.
 */
export interface BodySource {
  readonly size: number;
  open(): Readable;
}

/** Bytes, a one-shot stream (not retried on failure), or a re-openable source. */
export type UploadBody = Uint8Array | Readable | BodySource;

export function isBodySource(body: UploadBody): body is BodySource {
  return typeof (body as BodySource).open === 'function' && typeof (body as BodySource).size === 'number';
}

/** The object does not exist. Every backend maps its own "no such key" to this. */
export class ObjectNotFoundError extends Error {
  constructor(
    readonly bucket: string,
    readonly object: string,
    options?: { cause?: unknown },
  ) {
    super(`object ${object} not found in bucket ${bucket}`, options);
    this.name = 'ObjectNotFoundError';
  }
}

export function isNotFound(err: unknown): err is ObjectNotFoundError {
  return err instanceof ObjectNotFoundError;
}

/** Joins key segments with "/" without doubling separators. */
export function joinKey(...parts: string[]): string {
  return parts
    .filter((p) => p !== '')
    .map((p, i) => (i === 0 ? p.replace(/\/+$/, '') : p.replace(/^\/+|\/+$/g, '')))
    .join('/');
}

/** "dir" → "dir/" (and "" stays ""), the form listings compare prefixes against. */
export function dirPrefix(dir: string): string {
  return dir === '' || dir.endsWith('/') ? dir : `${dir}/`;
}

/**
 * A Bucket that forwards every operation to another; wrappers extend it and override only the
 * operations they change (counting, caching, …).
 */
export class ForwardingBucket implements Bucket {
  // Not getRangeInto: a wrapper that overrides getRange (to count, or to fail on purpose) would be bypassed.
  constructor(protected readonly inner: Bucket) {}

  get name(): string {
    return this.inner.name;
  }

  get local(): boolean | undefined {
    return this.inner.local;
  }

  list(dir: string, opts?: ListOptions): AsyncIterable<ObjectEntry> {
    return this.inner.list(dir, opts);
  }

  get(name: string): Promise<Readable> {
    return this.inner.get(name);
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
