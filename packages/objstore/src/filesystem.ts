import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, type Dirent } from 'node:fs';
import { mkdir, open, readdir, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { dirPrefix, isBodySource, ObjectNotFoundError, type Bucket, type ListOptions, type ObjectAttributes, type ObjectEntry, type UploadBody } from './bucket.js';
import { FileReads } from './filereads.js';
import { checkRange } from './io.js';
import { OpenFiles, type OpenFilesLimits } from './openfiles.js';

/** Uploads are written here first and renamed into place, so readers never see half an object. */
const TMP_DIR = '.strata-tmp';
/**
 * Ranges up to this size are read with positional reads into one buffer of their own, handed out as
 * the stream's only piece; longer ones (and reads to the end) stream in 64 KiB pieces. One buffer
 * costs a reader nothing to reassemble and spares an allocation and a thread-pool round trip per
 * 64 KiB, which is most of what a store gateway's chunk read costs from a local disk.
 */
const WHOLE_RANGE_MAX = 16 * 1024 * 1024;

/**
 * Objects as files under one directory ("a/b/c" is `<directory>/a/b/c`): the embedded default for a
 * single machine. Directories that become empty on delete are removed, as a prefix disappears from an
 * S3 listing once its last object is gone.
 */
export class FilesystemBucket implements Bucket {
  readonly root: string;
  readonly local = true;
  /** Descriptors of the files read by range, kept open for the next reads. */
  readonly openFiles: OpenFiles;
  readonly #fileReads = new FileReads();

  constructor(
    directory: string,
    readonly name = directory,
    openFiles: OpenFilesLimits = {},
  ) {
    this.root = resolve(directory);
    this.openFiles = new OpenFiles(openFiles);
  }

  async *list(dir: string, opts: ListOptions = {}): AsyncIterable<ObjectEntry> {
    const prefix = dirPrefix(dir);
    const base = prefix === '' ? this.root : this.#path(prefix.slice(0, -1));
    yield* this.#walk(base, prefix, opts.recursive ?? false);
  }

  async *#walk(path: string, prefix: string, recursive: boolean): AsyncIterable<ObjectEntry> {
    let entries: Dirent[];
    try {
      entries = await readdir(path, { withFileTypes: true });
    } catch (e) {
      if (isNotFound(e)) return;
      throw e;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const ent of entries) {
      if (prefix === '' && ent.name === TMP_DIR) continue;
      const full = join(path, ent.name);
      if (ent.isDirectory()) {
        if (recursive) yield* this.#walk(full, `${prefix}${ent.name}/`, true);
        else yield { name: `${prefix}${ent.name}/` };
      } else if (ent.isFile()) {
        const st = await stat(full).catch(() => undefined);
        // A file deleted between readdir and stat is simply gone.
        if (st) yield { name: prefix + ent.name, size: st.size, lastModified: st.mtime };
      }
    }
  }

  async get(name: string): Promise<Readable> {
    const path = await this.#existingFile(name);
    return createReadStream(path);
  }

  async getRange(name: string, offset: number, length: number): Promise<Readable> {
    checkRange(offset, length);
    if (length !== -1 && length <= WHOLE_RANGE_MAX) return Readable.from(await this.#readRange(name, offset, length));
    const path = await this.#existingFile(name);
    if (length === 0) return Readable.from([]);
    return createReadStream(path, { start: offset, ...(length === -1 ? {} : { end: offset + length - 1 }) });
  }

  async getRangeInto(name: string, offset: number, target: Uint8Array): Promise<number> {
    checkRange(offset, target.length);
    return this.#readInto(name, offset, target);
  }

  /** Bytes [offset, offset + length) of an object, fewer where it ends sooner: no piece, or one that owns its buffer. */
  async #readRange(name: string, offset: number, length: number): Promise<Buffer[]> {
    const buf = Buffer.allocUnsafeSlow(length);
    const n = await this.#readInto(name, offset, buf);
    return n === 0 ? [] : [n === length ? buf : Buffer.from(buf.subarray(0, n))];
  }

  /**
   * Reads bytes [offset, offset + target.length) of an object into `target`; returns how many (fewer where
   * it ends sooner), through a descriptor kept open for the next reads (OpenFiles). A missing object is
   * found by the open (or, for a directory, the read) failing: a store gateway's chunk reads are many,
   * and a stat and a FileHandle each cost about as much as the read.
   */
  async #readInto(name: string, offset: number, target: Uint8Array): Promise<number> {
    const path = this.#path(name);
    try {
      return await this.openFiles.read(path, (fd) => this.#fileReads.read(fd, target, offset));
    } catch (e) {
      if (isErrno(e, 'EISDIR')) this.openFiles.forget(path);
      throw isNotFound(e) || isErrno(e, 'EISDIR') ? new ObjectNotFoundError(this.name, name) : e;
    }
  }

  async exists(name: string): Promise<boolean> {
    try {
      return (await stat(this.#path(name))).isFile();
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  async attributes(name: string): Promise<ObjectAttributes> {
    const st = await stat(await this.#existingFile(name));
    return { size: st.size, lastModified: st.mtime };
  }

  async upload(name: string, body: UploadBody): Promise<void> {
    const dst = this.#path(name);
    const tmpDir = join(this.root, TMP_DIR);
    await mkdir(tmpDir, { recursive: true });
    const tmp = join(tmpDir, `${randomBytes(8).toString('hex')}.tmp`);
    try {
      const src = body instanceof Uint8Array ? Readable.from([body]) : isBodySource(body) ? body.open() : body;
      await pipeline(src, createWriteStream(tmp));
      // Durable before visible: a crash after the rename must not leave a truncated object.
      const fh = await open(tmp, 'r+');
      try {
        await fh.datasync();
      } finally {
        await fh.close();
      }
      await mkdir(dirname(dst), { recursive: true });
      await rename(tmp, dst);
      this.openFiles.forget(dst);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  async delete(name: string): Promise<void> {
    const path = this.#path(name);
    this.openFiles.forget(path);
    try {
      await unlink(path);
    } catch (e) {
      if (!isErrno(e, 'ENOENT')) throw e;
    }
    // Drop directories left empty, up to (not including) the root.
    for (let dir = dirname(path); dir !== this.root && dir.startsWith(this.root + sep); dir = dirname(dir)) {
      try {
        await rmdir(dir);
      } catch {
        break;
      }
    }
  }

  async close(): Promise<void> {
    this.openFiles.closeAll();
  }

  /** The file for an object name; rejects names that would land outside the bucket directory. */
  #path(name: string): string {
    const segments = name.split('/');
    if (name === '' || name.includes('\0') || segments.some((s) => s === '' || s === '.' || s === '..') || segments[0] === TMP_DIR) {
      throw new Error(`invalid object name ${JSON.stringify(name)} for filesystem bucket ${this.name}`);
    }
    const path = resolve(this.root, name);
    if (!path.startsWith(this.root + sep)) throw new Error(`object name ${JSON.stringify(name)} escapes filesystem bucket ${this.name}`);
    return path;
  }

  async #existingFile(name: string): Promise<string> {
    const path = this.#path(name);
    try {
      if ((await stat(path)).isFile()) return path;
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    throw new ObjectNotFoundError(this.name, name);
  }
}

function isNotFound(e: unknown): boolean {
  return isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR');
}

function isErrno(e: unknown, code: string): boolean {
  return (e as NodeJS.ErrnoException | null)?.code === code;
}
