import type { MetaFetcher } from '../fetcher.js';
import type { BlocksView } from './view.js';

export interface BlocksRefresherOptions {
  fetcher: MetaFetcher;
  view: BlocksView;
  /** How often the blocks are read again (Thanos' --block-viewer.global.sync-block-interval, --refresh). */
  intervalMs: number;
  /** A read that takes longer fails, the blocks read before staying shown (…sync-block-timeout, --timeout). */
  timeoutMs: number;
  /** After each read: the error it failed with, if it did, and the blocks whose meta.json could not be read. */
  onRefresh?: (err: Error | undefined, unreadable: ReadonlyMap<string, Error>) => void;
}

/**
 * Keeps a block viewer's view in step with the bucket on a timer of its own, as Thanos' compactor and
 * bucket web do: the view stays current while a long compaction runs. One read at a time: a slow bucket
 * is read again only after the last read ended.
 */
export class BlocksRefresher {
  readonly #opts: BlocksRefresherOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(opts: BlocksRefresherOptions) {
    this.#opts = opts;
  }

  /** Reads the blocks now, then every interval until stop(). */
  start(): void {
    const loop = (): void => {
      this.#running = this.refresh().then(() => {
        if (!this.#stopped) this.#timer = setTimeout(loop, this.#opts.intervalMs);
      });
    };
    loop();
  }

  /** Reads the blocks once, after the read in progress if there is one; never rejects. */
  async refresh(): Promise<void> {
    await this.#running;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`reading the bucket's blocks took longer than ${this.#opts.timeoutMs} ms`)), this.#opts.timeoutMs);
    });
    try {
      const { metas, failed } = await Promise.race([this.#opts.fetcher.fetch(), timeout]);
      this.#opts.view.set(metas.values());
      this.#opts.onRefresh?.(undefined, failed);
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      this.#opts.view.fail(err);
      this.#opts.onRefresh?.(err, new Map());
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops the timer; a read in progress is not waited for (it can take up to the timeout, and only updates the view). */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}
