/**
 * The stateful ruler's TSDB (Thanos' default ruler mode, which keeps a Prometheus TSDB in --data-dir):
 * rule results are appended to a head that a WAL makes survive restarts, the head is cut into
 * Prometheus blocks in the data directory (where the shipper finds them, as in Prometheus' data
 * directory), blocks past the retention are deleted, and all of it is served over the StoreAPI.
 *
 *   <dir>/<ULID>/   blocks, as Prometheus writes them, meta.json with a `thanos` section (source ruler)
 *   <dir>/wal/      the WAL (wal.ts)
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@strata/runtime';
import { finishedBlocks, LocalBlocks } from '@strata/sidecar';
import type { StoreServer } from '@strata/storeapi';
import { type BlockMeta, CorruptionError, type Labels, type ThanosMeta } from '@strata/tsdb';
import type { Registry } from 'prom-client';
import { beyondRetention, deleteBlock, nextBlockRange, writeHeadBlock } from './compact.js';
import { Head, type MemSeries } from './head.js';
import { RuleDBMetrics } from './metrics.js';
import { RuleStore } from './store.js';
import { WAL, type WALSeries } from './wal.js';

export interface RuleDBOptions {
  /** --data-dir */
  dir: string;
  /** --tsdb.block-duration (2h): the blocks' length, and the head's chunk range. */
  blockDurationMs: number;
  /** --tsdb.retention (48h): blocks ending this long before the newest block ends are deleted; 0 keeps all. */
  retentionMs: number;
  /** Added to every series served, and written into the blocks' meta.json. */
  externalLabels: Labels;
  registry: Registry;
  logger: Logger;
}

/** A sample of one rule evaluation. */
export interface RuleDBSample {
  readonly labels: Labels;
  readonly value: number;
}

const SAMPLE_TYPE = { type: 'float' } as const;

export class RuleDB {
  /** The StoreAPI over the blocks and the head (Series, LabelNames, LabelValues, Info). */
  readonly store: StoreServer;
  readonly #opts: RuleDBOptions;
  readonly #head: Head;
  readonly #wal: WAL;
  readonly #blocks: LocalBlocks;
  readonly #metrics: RuleDBMetrics;
  /** The blocks in the directory as of the last sync, oldest first. */
  #metas: BlockMeta[];
  #compacting: Promise<void> | undefined;
  #closed = false;

  private constructor(opts: RuleDBOptions, head: Head, wal: WAL, blocks: LocalBlocks, metrics: RuleDBMetrics, metas: BlockMeta[]) {
    this.#opts = opts;
    this.#head = head;
    this.#wal = wal;
    this.#blocks = blocks;
    this.#metrics = metrics;
    this.#metas = metas;
    this.store = new RuleStore(head, blocks, opts.externalLabels, () => this.#metas[0]?.minTime ?? Infinity);
  }

  /**
   * Opens the data directory: removes what an interrupted block write or deletion left, replays the WAL
   * into the head (samples the blocks already hold are skipped) and loads the blocks. A corrupt record
   * in a WAL segment before the last fails it.
   */
  static async open(opts: RuleDBOptions): Promise<RuleDB> {
    if (!(opts.blockDurationMs > 0)) throw new Error(`block duration must be positive, got ${opts.blockDurationMs}`);
    const { dir, logger } = opts;
    await mkdir(dir, { recursive: true });
    for (const name of await readdir(dir)) if (name.endsWith('.tmp-for-creation') || name.endsWith('.tmp-for-deletion')) await rm(join(dir, name), { recursive: true, force: true });
    const metas = await listBlocks(dir, logger);
    const head = new Head(opts.blockDurationMs, Math.max(-Infinity, ...metas.map((m) => m.maxTime)));
    const metrics = new RuleDBMetrics(opts.registry, head);
    let wal: WAL;
    try {
      wal = await WAL.open(dir, {
        samples(t, labels, values) {
          if (!head.inBounds(t, false)) return;
          for (let i = 0; i < labels.length; i++) {
            const { series } = head.getOrCreate(labels[i] as Labels);
            if (t > series.lastTime) head.append(series, t, values[i] as number);
          }
        },
        tornTail(file, offset, reason) {
          metrics.walCorruptions.inc();
          logger.warn('WAL segment ends in a torn or corrupt record, as a crash while writing it leaves it: replayed up to it and truncated there', { file, offset, reason });
        },
      });
    } catch (e) {
      if (e instanceof CorruptionError) metrics.walCorruptions.inc();
      throw e;
    }
    wal.startSegment([...head.series()]);
    const blocks = await LocalBlocks.open({ dir, registry: opts.registry, logger });
    await blocks.sync(opts.externalLabels);
    metrics.blocksLoaded.set(metas.length);
    logger.info('ruler TSDB opened', { dir, blocks: metas.length, head_series: head.numSeries });
    return new RuleDB(opts, head, wal, blocks, metrics, metas);
  }

  /**
   * Appends one evaluation's samples at `timeMs` (stale markers kept bit for bit). A sample at or before
   * its series' last one is dropped (out of order), as is one before where the head takes samples (out
   * of bounds: in a block already, or over half a block duration before the head's latest sample).
   * The accepted samples are written to the WAL in one write before this returns: a crash after it
   * loses none of them.
   */
  append(samples: readonly RuleDBSample[], timeMs: number): void {
    if (this.#closed) throw new Error('ruler TSDB is closed');
    const head = this.#head;
    if (!head.inBounds(timeMs, true)) {
      this.#metrics.outOfBoundSamples.inc(SAMPLE_TYPE, samples.length);
      return;
    }
    const created: WALSeries[] = [];
    const accepted: MemSeries[] = [];
    const seen = new Set<MemSeries>();
    const refs: number[] = [];
    // Typed, as a plain array would quiet the stale marker's NaN.
    const values = new Float64Array(samples.length);
    for (const s of samples) {
      const { series, created: isNew } = head.getOrCreate(s.labels);
      // A second sample of a series in one evaluation is at its first one's time: out of order too.
      if (timeMs <= series.lastTime || seen.has(series)) {
        this.#metrics.outOfOrderSamples.inc(SAMPLE_TYPE);
        continue;
      }
      if (isNew) created.push(series);
      values[accepted.length] = s.value;
      accepted.push(series);
      seen.add(series);
      refs.push(series.ref);
    }
    if (accepted.length === 0) return;
    this.#wal.log(created, timeMs, refs, values.subarray(0, accepted.length));
    for (let i = 0; i < accepted.length; i++) head.append(accepted[i] as MemSeries, timeMs, values[i] as number);
    this.#metrics.samplesAppended.inc(SAMPLE_TYPE, accepted.length);
  }

  /**
   * Cuts the head into blocks while it spans more than one and a half block durations (the oldest
   * block-duration-aligned range each time), truncates the head and the WAL behind them, and deletes
   * the blocks beyond the retention. One at a time: a call while one runs waits for that one.
   */
  compact(): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('ruler TSDB is closed'));
    return (this.#compacting ??= this.#compact().finally(() => (this.#compacting = undefined)));
  }

  async #compact(): Promise<void> {
    const { dir, logger } = this.#opts;
    try {
      for (let range = nextBlockRange(this.#head); range !== undefined; range = nextBlockRange(this.#head)) {
        this.#metrics.compactions.inc();
        const meta = await writeHeadBlock(dir, this.#head, range, this.#thanosMeta());
        if (meta !== undefined) logger.info('write block', { ulid: meta.ulid, mint: meta.minTime, maxt: meta.maxTime });
        // The block is served before the head lets go of its samples: queries see them throughout.
        await this.#sync();
        this.#head.truncate(range.maxTime);
        this.#wal.startSegment([...this.#head.series()]);
        await this.#wal.truncate(range.maxTime);
      }
      const old = beyondRetention(this.#metas, this.#opts.retentionMs);
      for (const m of old) {
        await deleteBlock(dir, m.ulid);
        logger.info('deleting block beyond the retention', { ulid: m.ulid, mint: m.minTime, maxt: m.maxTime });
      }
      if (old.length > 0) await this.#sync();
    } catch (e) {
      this.#metrics.compactionsFailed.inc();
      throw e;
    }
  }

  /** Lists the blocks again and has the store serve what is there now. */
  async #sync(): Promise<void> {
    this.#metas = await listBlocks(this.#opts.dir, this.#opts.logger);
    await this.#blocks.sync(this.#opts.externalLabels);
    this.#metrics.blocksLoaded.set(this.#metas.length);
  }

  #thanosMeta(): ThanosMeta {
    return { version: 1, labels: this.#opts.externalLabels.toRecord(), downsample: { resolution: 0 }, source: 'ruler' };
  }

  /** Waits for a running compaction, then finishes the WAL (fsync'ed) and closes the blocks. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#compacting?.catch(() => undefined);
    this.#wal.close();
    await this.#blocks.close();
  }
}

function listBlocks(dir: string, logger: Logger): Promise<BlockMeta[]> {
  return finishedBlocks(dir, (block, err) => logger.warn('cannot read block meta.json; block left out', { block, err }));
}
