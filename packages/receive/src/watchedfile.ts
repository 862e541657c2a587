/**
 * A configuration file the receiver follows as Thanos' ConfigWatcher does: read at start, again on a
 * change in its directory (Kubernetes swaps a ConfigMap's files by renaming a symlink) and every refresh
 * interval besides. Content that differs from what was applied is applied; content that cannot be
 * (unreadable, invalid) is reported, and what was applied before stays.
 */
import { createHash } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Logger } from '@strata/runtime';

export interface WatchedFileOptions {
  file: string;
  refreshIntervalMs: number;
  /** Takes content that changed, with its SHA-256; throws if it is not valid. */
  apply: (content: string, sha256: Buffer) => void;
  /** The file could not be read or applied. */
  failed: (err: Error) => void;
  /** Each read of the refresh interval. */
  refreshed?: () => void;
  logger: Logger;
}

export class WatchedFile {
  readonly #opts: WatchedFileOptions;
  #hash = '';
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #reading: Promise<void> = Promise.resolve();

  private constructor(opts: WatchedFileOptions) {
    this.#opts = opts;
  }

  /** Reads and applies the file (a failure is reported, not thrown), then follows it. */
  static async start(opts: WatchedFileOptions): Promise<WatchedFile> {
    const w = new WatchedFile(opts);
    await w.#read();
    const name = basename(opts.file);
    const cannotWatch = (err: Error) => opts.logger.warn('watching a configuration file failed; it is still read every refresh interval', { file: opts.file, err });
    try {
      w.#watcher = watch(dirname(opts.file), (_event, changed) => {
        if (changed === null || changed === name || changed.startsWith('..')) w.#schedule();
      });
      w.#watcher.on('error', cannotWatch);
    } catch (err) {
      cannotWatch(err as Error);
    }
    w.#timer = setInterval(() => {
      opts.refreshed?.();
      w.#schedule();
    }, opts.refreshIntervalMs);
    w.#timer.unref();
    return w;
  }

  /** Whether content was applied. */
  get applied(): boolean {
    return this.#hash !== '';
  }

  stop(): void {
    this.#watcher?.close();
    clearInterval(this.#timer);
  }

  #schedule(): void {
    this.#reading = this.#reading.then(() => this.#read());
  }

  async #read(): Promise<void> {
    let content: string;
    try {
      content = await readFile(this.#opts.file, 'utf8');
    } catch (err) {
      this.#opts.failed(err as Error);
      return;
    }
    const sha256 = createHash('sha256').update(content).digest();
    const hex = sha256.toString('hex');
    if (hex === this.#hash) return;
    try {
      this.#opts.apply(content, sha256);
    } catch (err) {
      this.#opts.failed(err as Error);
      return;
    }
    this.#hash = hex;
  }
}
