import { watch, type FSWatcher } from 'node:fs';

export interface FileWatchOptions {
  /** The directories of the files followed. */
  dirs: readonly string[];
  /** Whether a notification about `name` in `dir` (null: a notification naming no file) is one to act on (default: every one). */
  relevant?: (dir: string, name: string | null) => boolean;
  /** Notifications within this long are one change (an editor's or Kubernetes' several writes). */
  debounceMs: number;
  /** How often `onChange` runs without a notification. */
  intervalMs: number;
  onChange: () => void;
  /** A relevant notification came. */
  onNotification?: () => void;
  /** A directory could not be watched, or its watching stopped: it is followed every interval only. */
  onWatchError?: (dir: string, err: Error) => void;
}

/**
 * Files followed as they change, for configuration reloads: their directories are watched rather than
 * the files, so that a file replaced by a rename (editors, Kubernetes' ConfigMap symlink swaps) is still
 * seen, and `onChange` also runs every interval, should notifications be missed (network file systems,
 * a symlink whose target changes in another directory).
 */
export class FileWatch {
  readonly #watchers: FSWatcher[] = [];
  readonly #interval: NodeJS.Timeout;
  /** The change a notification scheduled and that has not run yet: later notifications join it. */
  #debounced: NodeJS.Timeout | undefined;

  constructor(opts: FileWatchOptions) {
    for (const dir of opts.dirs) {
      try {
        const w = watch(dir, (_event, name) => {
          if (opts.relevant !== undefined && !opts.relevant(dir, name)) return;
          opts.onNotification?.();
          this.#debounced ??= setTimeout(() => {
            this.#debounced = undefined;
            opts.onChange();
          }, opts.debounceMs);
          this.#debounced.unref();
        });
        w.on('error', (err) => opts.onWatchError?.(dir, err));
        this.#watchers.push(w);
      } catch (e) {
        opts.onWatchError?.(dir, e as Error);
      }
    }
    this.#interval = setInterval(() => opts.onChange(), opts.intervalMs);
    this.#interval.unref();
  }

  /** How many directories are watched. */
  get watching(): number {
    return this.#watchers.length;
  }

  close(): void {
    for (const w of this.#watchers) w.close();
    clearInterval(this.#interval);
    clearTimeout(this.#debounced);
  }
}
