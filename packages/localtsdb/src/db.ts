/**
 * A local TSDB, as Prometheus' (tsdb/db.go) for float and native histogram samples appended in order: the stateful ruler's
 * (Thanos' default ruler mode, which keeps a TSDB in --data-dir) and each tenant's of the receiver.
 * Samples are appended to a head that a WAL makes survive restarts, the head is cut into Prometheus
 * blocks in the data directory (where the shipper finds them, as in Prometheus' data directory), blocks
 * past the retention are deleted, and all of it is served over the StoreAPI.
 *
 *   <dir>/<ULID>/   blocks, as Prometheus writes them, meta.json with a `thanos` section (its `source`)
 *   <dir>/wal/      the WAL (wal.ts)
 *   <dir>/wal-ooo/  the out-of-order samples' log
 *
 * Out of order (Prometheus 2.39+'s out-of-order window, native histograms as in Prometheus 3): a sample not after its series' last one,
 * or before where the head takes samples in order, is taken if it is within the window before the
 * head's latest sample. Such samples are kept apart (ooo.ts) and logged apart, and each time the head is
 * cut into blocks they are all flushed into blocks of their own, one per block-duration window, hinted
 * `from-out-of-order`: they may overlap the in-order blocks, which readers merge and the compactor merges
 * in the bucket (Thanos' only with `--compact.enable-vertical-compaction`).
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@strata/runtime';
import { finishedBlocks, LocalBlocks } from '@strata/sidecar';
import type { ComponentType, StoreServer } from '@strata/storeapi';
import {
  type BlockMeta,
  CorruptionError,
  newHistogram,
  FloatHistogram,
  floatHi,
  floatLo,
  histogramToFloat,
  InvalidHistogramError,
  isStaleNaN,
  type Labels,
  type ThanosMeta,
  type ThanosSource,
  type TimedHistogram,
  SampleBuffer,
  fromOutOfOrder,
  validateFloatHistogram,
  validateHistogram,
} from '@strata/tsdb';
import type { Registry } from 'prom-client';
import { beyondRetention, deleteBlock, nextBlockRange, writeHeadBlock, writeOOOBlocks } from './compact.js';
import { type Exemplar, ExemplarBatch, ExemplarStorage } from './exemplars.js';
import { Head, type LastValue, type MemSeries } from './head.js';
import { type DBMetrics, TSDBMetrics } from './metrics.js';
import { TSDBStore } from './store.js';
import { WAL, WBL_DIR } from './wal.js';

export interface LocalTSDBOptions {
  /** --data-dir, --tsdb.path/<tenant> */
  dir: string;
  /** --tsdb.block-duration (2h): the blocks' length, and the head's chunk range. */
  blockDurationMs: number;
  /** --tsdb.retention: blocks ending this long before the newest block ends are deleted; 0 keeps all. */
  retentionMs: number;
  /** --tsdb.too-far-in-future.time-window: samples later than this past the clock are out of bounds; 0 (or none): any time is taken. */
  tooFarInFutureMs?: number;
  /** --tsdb.max-exemplars: exemplars kept (the oldest evicted by the next); 0 (or none): exemplars are not kept. */
  maxExemplars?: number;
  /** --tsdb.out-of-order.time-window: samples (floats and native histograms) up to this long before the head's latest sample are taken out of order; 0 (or none): refused. */
  outOfOrderTimeWindowMs?: number;
  /** --tsdb.out-of-order.cap-max: samples per out-of-order chunk in the head (default 32, as Prometheus'). */
  outOfOrderCapMax?: number;
  /** Added to every series served, and written into the blocks' meta.json. */
  externalLabels: Labels;
  /** meta.json's `thanos.source` of the blocks cut (default `ruler`). */
  source?: ThanosSource;
  /** The component type Info answers with (default `rule`). */
  componentType?: ComponentType;
  /** Of the blocks' reader's metrics, and of the TSDB's unless `metrics` is given. */
  registry: Registry;
  /** The TSDB's metrics among others' on one registry, with this TSDB's label values (a receiver's tenant). */
  metrics?: { readonly of: TSDBMetrics; readonly labels: Readonly<Record<string, string>> };
  logger: Logger;
}

/** A sample of one rule evaluation: a float, or a native histogram (`value` unused). */
export interface RuleDBSample {
  readonly labels: Labels;
  readonly value: number;
  readonly histogram?: FloatHistogram;
}

/** A sample at its own time (ms), as prompb.Sample (so a decoded remote-write request is appended as it is). */
export interface TimedSample {
  readonly timestamp: number;
  readonly value: number;
}

/** A series' samples to append, in time order. */
export interface SeriesSamples {
  /** Sorted by name, no name twice (not checked). */
  readonly labels: Labels;
  readonly samples: readonly TimedSample[];
  /** Native histogram samples, appended after the float samples (as Prometheus' remote-write handler appends a series'). */
  readonly histograms?: readonly TimedHistogram[];
  /** Exemplars, kept (with an exemplar storage) once the series exists, as Prometheus' appender keeps them; in time order. */
  readonly exemplars?: readonly Exemplar[];
}

/**
 * What became of an append call's samples, as Prometheus' appender errors tell a remote-write receiver:
 * appended (in order or, with the out-of-order window, out of order); before their series' last sample
 * (ErrOutOfOrderSample); at its time with another value (ErrDuplicateSampleForTimestamp); before where the
 * head takes samples (ErrOutOfBounds); with the out-of-order window, before it (ErrTooOldSample); a native
 * histogram that is not well formed (Prometheus' Validate). A sample equal to its series' last one (same
 * time, same value bits: a resent one), or out of order at a time its series has one out of order already,
 * is none of these: it is dropped without error, as Prometheus drops it.
 */
export interface AppendResult {
  appended: number;
  outOfOrder: number;
  duplicates: number;
  outOfBounds: number;
  tooOld: number;
  invalidHistograms: number;
  /** What was wrong with the first invalid histogram. */
  invalidHistogram?: string;
}

export class LocalTSDB {
  /** The StoreAPI over the blocks and the head (Series, LabelNames, LabelValues, Info). */
  readonly store: StoreServer;
  readonly #opts: LocalTSDBOptions;
  readonly #head: Head;
  readonly #wal: WAL;
  /** The out-of-order samples' log. */
  readonly #wbl: WAL;
  readonly #blocks: LocalBlocks;
  readonly #metrics: DBMetrics;
  /** Reused by each append call: the samples it accepted, in order. */
  #accepted: MemSeries[] = [];
  #refs = new Float64Array(1024);
  #times = new Float64Array(1024);
  #values = new Float64Array(1024);
  #appendCall = 0;
  /** Reused by each append call: the samples it took out of order (their series, times and values, and histograms by index where any). */
  #oooAccepted: MemSeries[] = [];
  readonly #oooSamples = new SampleBuffer(256);
  #oooHistograms: (TimedHistogram | undefined)[] | undefined;
  /** The blocks in the directory as of the last sync, oldest first. */
  #metas: BlockMeta[];
  #compacting: Promise<void> | undefined;
  #closed = false;

  readonly #exemplars: ExemplarStorage | undefined;

  private constructor(opts: LocalTSDBOptions, head: Head, wal: WAL, wbl: WAL, blocks: LocalBlocks, metrics: DBMetrics, metas: BlockMeta[], exemplars: ExemplarStorage | undefined) {
    this.#opts = opts;
    this.#head = head;
    this.#wal = wal;
    this.#wbl = wbl;
    this.#blocks = blocks;
    this.#metrics = metrics;
    this.#metas = metas;
    this.#exemplars = exemplars;
    this.store = new TSDBStore(head, blocks, opts.externalLabels, opts.componentType ?? 'rule', () => this.#metas[0]?.minTime ?? Infinity, exemplars);
  }

  /**
   * Opens the data directory: removes what an interrupted block write or deletion left, replays the WAL
   * into the head (samples the blocks already hold are skipped) and loads the blocks. A corrupt record
   * in a WAL segment before the last fails it.
   */
  static async open(opts: LocalTSDBOptions): Promise<LocalTSDB> {
    if (!(opts.blockDurationMs > 0)) throw new Error(`block duration must be positive, got ${opts.blockDurationMs}`);
    const { dir, logger } = opts;
    await mkdir(dir, { recursive: true });
    for (const name of await readdir(dir)) if (name.endsWith('.tmp-for-creation') || name.endsWith('.tmp-for-deletion')) await rm(join(dir, name), { recursive: true, force: true });
    const metas = await listBlocks(dir, logger);
    // Out-of-order blocks may end later than the in-order samples do: they do not move where the head starts.
    const head = new Head(opts.blockDurationMs, Math.max(-Infinity, ...metas.filter((m) => !fromOutOfOrder(m)).map((m) => m.maxTime)), opts.outOfOrderCapMax);
    const exemplars = (opts.maxExemplars ?? 0) > 0 ? new ExemplarStorage(opts.maxExemplars as number) : undefined;
    const metrics = opts.metrics !== undefined ? opts.metrics.of.of(head, opts.metrics.labels, exemplars) : new TSDBMetrics(opts.registry).of(head, {}, exemplars);
    const tornTail = (file: string, offset: number, reason: string) => {
      metrics.walCorruptions.inc();
      logger.warn('WAL segment ends in a torn or corrupt record, as a crash while writing it leaves it: replayed up to it and truncated there', { file, offset, reason });
    };
    let wal: WAL;
    let wbl: WAL;
    try {
      wal = await WAL.open(dir, {
        samples(labels, times, values, histograms) {
          for (let i = 0; i < labels.length; i++) {
            const t = times[i] as number;
            if (!head.inBounds(t, false)) continue;
            const { series } = head.getOrCreate(labels[i] as Labels);
            if (!(t > series.lastTime)) continue;
            const h = histograms?.[i];
            if (h !== undefined) head.appendHistogram(series, h);
            else head.append(series, t, values[i] as number);
          }
        },
        exemplars(labels, list) {
          for (let i = 0; i < list.length; i++) exemplars?.add(labels[i] as Labels, list[i] as Exemplar);
        },
        tornTail,
      });
      // Whatever it holds has not been flushed into blocks (it is deleted once it is), window or not now.
      wbl = await WAL.open(
        dir,
        {
          samples(labels, times, values, histograms) {
            for (let i = 0; i < labels.length; i++) {
              const h = histograms?.[i];
              head.insertOOO(head.getOrCreate(labels[i] as Labels).series, times[i] as number, values[i] as number, h !== undefined ? valueOf(h) : undefined);
            }
          },
          exemplars() {},
          tornTail,
        },
        WBL_DIR,
      );
    } catch (e) {
      if (e instanceof CorruptionError) metrics.walCorruptions.inc();
      metrics.close();
      throw e;
    }
    wal.startSegment([...head.series()]);
    wbl.startSegment([]);
    // Segments without samples to flush (a restart's, before the first out-of-order sample) are let go of.
    if (!Number.isFinite(head.oldestOutOfOrderTime)) await wbl.truncate(Infinity);
    const blocks = await LocalBlocks.open({ dir, registry: opts.registry, logger });
    await blocks.sync(opts.externalLabels);
    metrics.blocksLoaded.set(metas.length);
    logger.info('TSDB opened', { dir, blocks: metas.length, head_series: head.numSeries });
    return new LocalTSDB(opts, head, wal, wbl, blocks, metrics, metas, exemplars);
  }

  /** Appends one rule evaluation's samples, all at `timeMs` (the ruler's append; see `appendSeries`). */
  append(samples: readonly RuleDBSample[], timeMs: number): AppendResult {
    return this.appendSeries(
      samples.map((s) => (s.histogram !== undefined ? { labels: s.labels, samples: [], histograms: [{ timestamp: timeMs, floatHistogram: s.histogram }] } : { labels: s.labels, samples: [{ timestamp: timeMs, value: s.value }] })),
    );
  }

  /**
   * Appends series' samples (stale markers kept bit for bit), as a Prometheus appender and its commit.
   * A sample at or before its series' last one (out of order, or a duplicate) is dropped, as is one
   * before where the head takes samples (out of bounds: in a block already, or over half a block
   * duration before the head's latest sample when the call starts, or too far in the future), and a native histogram that is not
   * well formed; each is counted in the result and the first three in prometheus_tsdb_out_of_order_samples_total /
   * _out_of_bound_samples_total. With the out-of-order window, a sample before its series' last one
   * or out of bounds is taken out of order instead if it is within the window before the head's latest
   * sample when the call starts, and refused as too old if it is not (prometheus_tsdb_too_old_samples_total).
   * A float stale marker for a series whose last sample is a histogram
   * is stored as a histogram stale marker, as Prometheus' appender stores it. A series appears once or
   * more; a new one is created with its first accepted sample. The accepted samples are written to the
   * WAL (those out of order to their own log) before this returns: a crash after it loses none of them.
   * If the out-of-order log's write fails, the call throws having kept the in-order samples only, which
   * a retry of the whole call then finds there.
   */
  appendSeries(series: readonly SeriesSamples[]): AppendResult {
    if (this.#closed) throw new Error('TSDB is closed');
    const head = this.#head;
    const minTime = head.appendableMinTime(true);
    // A sample far in the future would move the head's window past every other series' samples.
    const future = this.#opts.tooFarInFutureMs ?? 0;
    const maxTime = future > 0 ? Date.now() + future : Infinity;
    const window = this.#opts.outOfOrderTimeWindowMs ?? 0;
    // The window reaches back from the head's latest sample (from where the in-order blocks end while the head is empty).
    const oooMinTime = window > 0 ? (Number.isFinite(head.maxTime) ? head.maxTime : head.minValidTime - 1) - window : Infinity;
    const call = ++this.#appendCall;
    const result: AppendResult = { appended: 0, outOfOrder: 0, duplicates: 0, outOfBounds: 0, tooOld: 0, invalidHistograms: 0 };
    const created: MemSeries[] = [];
    const accepted = this.#accepted;
    const ooo = this.#oooSamples;
    ooo.reset();
    this.#oooAccepted.length = 0;
    this.#oooHistograms = undefined;
    // The accepted histograms by their index among the accepted samples (none in most calls).
    let histograms: (TimedHistogram | undefined)[] | undefined;
    let histogramCount = 0;
    const exemplars = this.#exemplars !== undefined ? new ExemplarBatch<MemSeries>(this.#exemplars) : undefined;
    let n = 0;
    for (const s of series) {
      let ms: MemSeries | undefined;
      const floats = s.samples.length;
      const total = floats + (s.histograms?.length ?? 0);
      for (let i = 0; i < total; i++) {
        let t: number;
        let v = 0;
        let h: TimedHistogram | undefined;
        if (i < floats) ({ timestamp: t, value: v } = s.samples[i] as TimedSample);
        else {
          h = (s.histograms as readonly TimedHistogram[])[i - floats] as TimedHistogram;
          t = h.timestamp;
          const problem = invalidHistogram(h);
          if (problem !== undefined) {
            result.invalidHistograms++;
            result.invalidHistogram ??= problem;
            continue;
          }
        }
        if (t > maxTime || (t < minTime && window === 0)) {
          result.outOfBounds++;
          continue;
        }
        if (t < oooMinTime && t < minTime) {
          result.tooOld++;
          continue;
        }
        if (ms === undefined) {
          ms = head.get(s.labels);
          if (ms === undefined) created.push((ms = head.create(s.labels)));
        }
        // The series' last sample as of this call's accepted ones: they reach it only after the WAL write.
        if (ms.appendCall !== call) {
          ms.appendCall = call;
          ms.pendingTime = ms.lastTime;
          ms.pendingValue = ms.lastValue;
        }
        if (h === undefined && typeof ms.pendingValue !== 'number' && isStaleNaN(v)) h = staleHistogram(t, v, ms.pendingValue);
        if (t < minTime || t < ms.pendingTime) {
          if (window === 0) result.outOfOrder++;
          else if (t < oooMinTime) result.tooOld++;
          else {
            this.#oooAccepted[ooo.n] = ms;
            if (h !== undefined) (this.#oooHistograms ??= [])[ooo.n] = h;
            ooo.push(t, v);
          }
          continue;
        }
        if (t === ms.pendingTime) {
          if (!sameValue(h !== undefined ? valueOf(h) : v, ms.pendingValue)) result.duplicates++;
          continue;
        }
        ms.pendingTime = t;
        ms.pendingValue = h !== undefined ? valueOf(h) : v;
        if (n === this.#times.length) this.#grow();
        accepted[n] = ms;
        this.#refs[n] = ms.ref;
        this.#times[n] = t;
        this.#values[n] = v;
        if (h !== undefined) {
          (histograms ??= [])[n] = h;
          histogramCount++;
        }
        n++;
      }
      // Only for a series there is, as Prometheus' appender keeps exemplars.
      if (s.exemplars === undefined || exemplars === undefined) continue;
      ms ??= head.get(s.labels);
      if (ms !== undefined) for (const e of s.exemplars) exemplars.offer(ms, e);
    }
    const m = this.#metrics;
    if (result.outOfBounds > 0) m.outOfBoundSamples.inc(result.outOfBounds);
    // Prometheus counts only the earlier ones; the ruler's metric has always counted both.
    if (result.outOfOrder + result.duplicates > 0) m.outOfOrderSamples.inc(result.outOfOrder + result.duplicates);
    if (result.tooOld > 0) m.tooOldSamples.inc(result.tooOld);
    if ((exemplars?.outOfOrder ?? 0) > 0) m.outOfOrderExemplars.inc(exemplars?.outOfOrder);
    const acceptedExemplars = exemplars?.accepted ?? [];
    if (n === 0 && ooo.n === 0 && created.length === 0 && acceptedExemplars.length === 0) return result;
    try {
      try {
        this.#wal.log(created, n, this.#refs, this.#times, this.#values, histograms, acceptedExemplars);
      } catch (e) {
        // Nothing of the call is logged: nor is anything kept, not even its new series (which later samples would name).
        for (const s of created) head.forget(s);
        throw e;
      }
      for (let i = 0; i < n; i++) {
        const h = histograms?.[i];
        if (h !== undefined) head.appendHistogram(accepted[i] as MemSeries, h);
        else head.append(accepted[i] as MemSeries, this.#times[i] as number, this.#values[i] as number);
      }
    } finally {
      accepted.length = 0;
    }
    if (n > histogramCount) m.samplesAppended.inc(n - histogramCount);
    if (histogramCount > 0) m.histogramsAppended.inc(histogramCount);
    if (acceptedExemplars.length > 0) {
      exemplars?.commit();
      m.exemplarsAppended.inc(acceptedExemplars.length);
    }
    result.appended = n + (ooo.n > 0 ? this.#appendOutOfOrder() : 0);
    return result;
  }

  /** Logs the samples the call took out of order, then inserts them in their series; returns how many were not resends. */
  #appendOutOfOrder(): number {
    const ooo = this.#oooSamples;
    const series = this.#oooAccepted;
    const head = this.#head;
    try {
      // A segment names each series before its first sample.
      const segment = this.#wbl.segment;
      const unnamed = [...new Set(series.slice(0, ooo.n).filter((s) => s.oooLogged !== segment))];
      const histograms = this.#oooHistograms;
      this.#wbl.log(unnamed, ooo.n, series.map((s) => s.ref), ooo.ts, ooo.vs, histograms);
      for (const s of unnamed) s.oooLogged = segment;
      let floats = 0;
      let hists = 0;
      for (let i = 0; i < ooo.n; i++) {
        const h = histograms?.[i];
        if (!head.insertOOO(series[i] as MemSeries, ooo.ts[i] as number, ooo.vs[i] as number, h !== undefined ? valueOf(h) : undefined)) continue;
        if (h !== undefined) hists++;
        else floats++;
      }
      const m = this.#metrics;
      m.samplesAppended.inc(floats);
      m.histogramsAppended.inc(hists);
      m.outOfOrderAppended.inc(floats);
      m.outOfOrderHistogramsAppended.inc(hists);
      return floats + hists;
    } finally {
      series.length = 0;
    }
  }

  /** Doubles the append buffers. */
  #grow(): void {
    const grow = (a: Float64Array) => {
      const b = new Float64Array(a.length * 2);
      b.set(a);
      return b;
    };
    this.#refs = grow(this.#refs);
    this.#times = grow(this.#times);
    this.#values = grow(this.#values);
  }

  /**
   * Cuts the head into blocks while it spans more than one and a half block durations (the oldest
   * block-duration-aligned range each time), truncates the head and the WAL behind them, and deletes
   * the blocks beyond the retention. One at a time: a call while one runs waits for that one.
   */
  compact(): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('TSDB is closed'));
    return (this.#compacting ??= this.#compact(false).finally(() => (this.#compacting = undefined)));
  }

  /** Cuts the whole head into blocks, as a receiver does before it lets go of a tenant (after a running compaction). */
  async flush(): Promise<void> {
    await this.#compacting?.catch(() => undefined);
    if (this.#closed) throw new Error('TSDB is closed');
    return (this.#compacting = this.#compact(true).finally(() => (this.#compacting = undefined)));
  }

  /** The time of the latest sample held, in the head or the blocks (-Infinity when none). */
  get latestTime(): number {
    return Math.max(this.#head.maxTime, ...this.#metas.map((m) => m.maxTime - 1));
  }

  async #compact(all: boolean): Promise<void> {
    const { dir, logger } = this.#opts;
    try {
      let cut = all;
      for (let range = nextBlockRange(this.#head, all); range !== undefined; range = nextBlockRange(this.#head, all)) {
        cut = true;
        this.#metrics.compactions.inc();
        const meta = await writeHeadBlock(dir, this.#head, range, this.#thanosMeta());
        if (meta !== undefined) logger.info('write block', { ulid: meta.ulid, mint: meta.minTime, maxt: meta.maxTime });
        // The block is served before the head lets go of its samples: queries see them throughout.
        await this.#sync();
        this.#head.truncate(range.maxTime);
        this.#wal.startSegment([...this.#head.series()]);
        await this.#wal.truncate(range.maxTime);
      }
      // As Prometheus: the out-of-order samples are flushed whenever the head is cut.
      if (cut) await this.#flushOutOfOrder();
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

  /**
   * Writes every out-of-order sample held into blocks (writeOOOBlocks), has them served, then lets go of
   * the samples and of the log segments that held them. Samples taken meanwhile go to a new segment.
   */
  async #flushOutOfOrder(): Promise<void> {
    const series = this.#head.takeOOO();
    if (series.length === 0) return;
    this.#wbl.startSegment([]);
    const metas = await writeOOOBlocks(this.#opts.dir, series, this.#opts.blockDurationMs, this.#thanosMeta());
    for (const meta of metas) this.#opts.logger.info('write out-of-order block', { ulid: meta.ulid, mint: meta.minTime, maxt: meta.maxTime });
    await this.#sync();
    this.#head.dropFlushedOOO(series);
    await this.#wbl.truncate(Infinity);
  }

  /** Lists the blocks again and has the store serve what is there now. */
  async #sync(): Promise<void> {
    this.#metas = await listBlocks(this.#opts.dir, this.#opts.logger);
    await this.#blocks.sync(this.#opts.externalLabels);
    this.#metrics.blocksLoaded.set(this.#metas.length);
  }

  #thanosMeta(): ThanosMeta {
    return { version: 1, labels: this.#opts.externalLabels.toRecord(), downsample: { resolution: 0 }, source: this.#opts.source ?? 'ruler' };
  }

  /** Waits for a running compaction, then finishes the WAL (fsync'ed) and closes the blocks. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#compacting?.catch(() => undefined);
    this.#wal.close();
    this.#wbl.close();
    this.#metrics.close();
    await this.#blocks.close();
  }
}

/** Whether two samples are the same, as Prometheus tells a resent sample: floats by their bits (NaNs by their payload: the stale marker is one), histograms by Equals. */
function sameValue(a: LastValue, b: LastValue): boolean {
  if (typeof a === 'number' || typeof b === 'number') {
    return typeof a === 'number' && typeof b === 'number' && (a === b || (Number.isNaN(a) && Number.isNaN(b) && floatHi(a) === floatHi(b) && floatLo(a) === floatLo(b)));
  }
  if (a instanceof FloatHistogram !== b instanceof FloatHistogram) return false;
  return asFloat(a).equals(asFloat(b));
}

function asFloat(h: Exclude<LastValue, number>): FloatHistogram {
  return h instanceof FloatHistogram ? h : histogramToFloat(h);
}

function valueOf(h: TimedHistogram): Exclude<LastValue, number> {
  return 'histogram' in h ? h.histogram : h.floatHistogram;
}

/** What is wrong with a histogram, if anything. */
function invalidHistogram(h: TimedHistogram): string | undefined {
  try {
    if ('histogram' in h) validateHistogram(h.histogram);
    else validateFloatHistogram(h.floatHistogram);
    return undefined;
  } catch (e) {
    if (e instanceof InvalidHistogramError) return e.message;
    throw e;
  }
}

/** A stale marker (`v`) as a histogram of the kind of the series' last sample (Prometheus' appender turns a float one into it). */
function staleHistogram(t: number, v: number, last: Exclude<LastValue, number>): TimedHistogram {
  const fields = newHistogram({ sum: v });
  return last instanceof FloatHistogram ? { timestamp: t, floatHistogram: new FloatHistogram(fields) } : { timestamp: t, histogram: fields };
}

function listBlocks(dir: string, logger: Logger): Promise<BlockMeta[]> {
  return finishedBlocks(dir, (block, err) => logger.warn('cannot read block meta.json; block left out', { block, err }));
}
