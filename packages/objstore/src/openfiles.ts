import { close, open } from 'node:fs';

export interface OpenFilesLimits {
  /** A descriptor unread this long (ms) is closed (default 5 s). */
  idleMs?: number;
  /** Nor is one kept longer than this (ms), read or not: a file deleted or replaced by another process is let go (default 30 s). */
  maxAgeMs?: number;
  /** Descriptors kept at most; past this the least recently used ones not being read are closed (default 256). */
  maxOpen?: number;
}

interface OpenFile {
  readonly fd: Promise<number>;
  readonly opened: number;
  lastUsed: number;
  /** Reads under way: the descriptor is closed only once none is. */
  users: number;
  /** Out of the table: closed when its last read ends. */
  dropped: boolean;
}

/**
 * Descriptors of the files a FilesystemBucket reads by range, kept open for the reads after them:
 * opening and closing a file for every read cost more than the read (a sidecar's Series call of a
 * few series spent about a third of its CPU on them). The objects read by range are blocks' files,
 * which are never rewritten in place; a descriptor is still closed once unread for `idleMs` or held
 * for `maxAgeMs`, so that a file deleted (its disk space held while open) or replaced by another
 * process is let go, and at once when the bucket itself replaces or deletes the object.
 */
export class OpenFiles {
  /** By path, least recently used first. */
  readonly #open = new Map<string, OpenFile>();
  readonly #idleMs: number;
  readonly #maxAgeMs: number;
  readonly #maxOpen: number;
  #sweeper: NodeJS.Timeout | undefined;

  constructor(limits: OpenFilesLimits = {}) {
    this.#idleMs = limits.idleMs ?? 5_000;
    this.#maxAgeMs = limits.maxAgeMs ?? 30_000;
    this.#maxOpen = limits.maxOpen ?? 256;
  }

  /** Descriptors open or being opened, kept for further reads. */
  get size(): number {
    return this.#open.size;
  }

  /** Runs `fn` with a descriptor of `path` open for reading; a failed open (ENOENT) is not kept. */
  async read<T>(path: string, fn: (fd: number) => Promise<T>): Promise<T> {
    const f = this.#get(path);
    f.users++;
    try {
      return await fn(await f.fd);
    } finally {
      f.users--;
      f.lastUsed = Date.now();
      if (f.dropped && f.users === 0) closeFile(f);
    }
  }

  /** Closes the descriptor of `path` (once its reads end): the file was replaced or deleted. */
  forget(path: string): void {
    const f = this.#open.get(path);
    if (f !== undefined) this.#drop(path, f);
  }

  /** Closes every descriptor (once its reads end). */
  closeAll(): void {
    for (const [path, f] of this.#open) this.#drop(path, f);
  }

  #get(path: string): OpenFile {
    const now = Date.now();
    let f = this.#open.get(path);
    if (f !== undefined && now - f.opened >= this.#maxAgeMs) {
      this.#drop(path, f);
      f = undefined;
    }
    if (f !== undefined) {
      // Most recently used last.
      this.#open.delete(path);
      this.#open.set(path, f);
      return f;
    }
    const opened: OpenFile = { fd: openForReading(path), opened: now, lastUsed: now, users: 0, dropped: false };
    opened.fd.catch(() => this.#open.get(path) === opened && this.#open.delete(path));
    this.#open.set(path, opened);
    // The least recently used ones not being read; never the one just opened, about to be read.
    for (const [p, old] of this.#open) {
      if (this.#open.size <= this.#maxOpen) break;
      if (old.users === 0 && old !== opened) this.#drop(p, old);
    }
    this.#sweeper ??= setInterval(() => this.#sweep(), Math.min(this.#idleMs, this.#maxAgeMs)).unref();
    return opened;
  }

  #sweep(): void {
    const now = Date.now();
    for (const [path, f] of this.#open) if (f.users === 0 && (now - f.lastUsed >= this.#idleMs || now - f.opened >= this.#maxAgeMs)) this.#drop(path, f);
    if (this.#open.size === 0) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }

  #drop(path: string, f: OpenFile): void {
    if (this.#open.get(path) === f) this.#open.delete(path);
    f.dropped = true;
    if (f.users === 0) closeFile(f);
  }
}

function openForReading(path: string): Promise<number> {
  return new Promise((resolve, reject) => open(path, 'r', (err, fd) => (err ? reject(err) : resolve(fd))));
}

function closeFile(f: OpenFile): void {
  f.fd.then(
    (fd) => close(fd, () => undefined),
    () => {},
  );
}
