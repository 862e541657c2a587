/**
 * The in-memory head of the local TSDB, as Prometheus' head (tsdb/head.go, head_append.go): per series,
 * the finished chunks of the samples appended in order and the one being appended, cut as Prometheus cuts
 * them (floats: 120 samples, chunk-range boundaries, ChunkSchedule; native histograms as its head cuts
 * them, HistogramHeadCutter; a sample of another kind than the last starts a chunk of its kind). The
 * chunk range is the block duration, so no chunk crosses a block's boundaries and blocks are cut from
 * whole chunks. Beside them, a series' out-of-order samples (ooo.ts), which the head's time range
 * (minTime, maxTime) leaves out, as Prometheus' in-order head does.
 */
import {
  type Chunk,
  type ChunkMeta,
  chunkFromBytes,
  ChunkSchedule,
  type FloatHistogram,
  FloatHistogramChunk,
  type Histogram,
  type HintedSample,
  type HistogramAppenderBase,
  HistogramChunk,
  type HistogramChunkBase,
  HistogramHeadCutter,
  type Labels,
  type Matcher,
  matchLabels,
  type TimedHistogram,
  type XORAppender,
  XORChunk,
} from '@strata/tsdb';
import { OOOSamples } from './ooo.js';

/** A series' last sample, to tell a resent sample from a conflicting one at the same time: a float value, or a histogram. */
export type LastValue = number | Histogram | FloatHistogram;

export class MemSeries {
  readonly ref: number;
  readonly labels: Labels;
  /** Finished chunks, oldest first. */
  readonly chunks: ChunkMeta[] = [];
  readonly #chunkRange: number;
  readonly #schedule: ChunkSchedule;
  /** The XOR chunk being filled, when the last sample was a float. */
  #open: XORChunk | undefined;
  #app: XORAppender | undefined;
  /** The histogram chunk being filled, when the last sample was a histogram (of integer or float counts). */
  #hists: HistogramHeadCutter<Histogram> | undefined;
  #floatHists: HistogramHeadCutter<FloatHistogram> | undefined;
  /** Time of the last sample appended (-Infinity before any). */
  lastTime = -Infinity;
  /** The last sample appended. */
  lastValue: LastValue = 0;
  /** Scratch of LocalTSDB.append: the time and value its call has accepted up to now, in call `appendCall`. */
  pendingTime = -Infinity;
  pendingValue: LastValue = 0;
  appendCall = 0;
  /** Out-of-order samples taken since the last flush of them began, and those being flushed into blocks (of more than one flush after a failed one). */
  ooo: OOOSamples | undefined;
  oooFlushing: OOOSamples[] | undefined;
  /** The out-of-order log's segment whose series record names this series (WAL.segment). */
  oooLogged = 0;

  constructor(ref: number, labels: Labels, chunkRange: number) {
    this.ref = ref;
    this.labels = labels;
    this.#chunkRange = chunkRange;
    this.#schedule = new ChunkSchedule(chunkRange);
  }

  /** Appends a float sample after the last one. */
  append(t: number, v: number): void {
    if (this.#hists !== undefined || this.#floatHists !== undefined) this.#endHistograms();
    if (this.#schedule.due(t)) {
      if (this.#open !== undefined) this.chunks.push(this.#schedule.meta(this.#open));
      this.#open = new XORChunk();
      this.#app = this.#open.appender();
      this.#schedule.start(t);
    }
    (this.#app as XORAppender).append(t, v);
    this.#schedule.added(t);
    this.lastTime = t;
    this.lastValue = v;
  }

  /** Appends a histogram of integer counts after the last sample. */
  appendHistogram(t: number, h: Histogram): void {
    if (this.#floatHists !== undefined) this.#endHistograms();
    this.#hists = this.#appendTo(this.#hists, () => new HistogramChunk(), t, h);
  }

  /** Appends a histogram of float counts after the last sample. */
  appendFloatHistogram(t: number, h: FloatHistogram): void {
    if (this.#hists !== undefined) this.#endHistograms();
    this.#floatHists = this.#appendTo(this.#floatHists, () => new FloatHistogramChunk(), t, h);
  }

  /** Appends `h` to the chunks of its kind (`cutter`, started if there is none), after ending a float chunk; returns the cutter. */
  #appendTo<H extends HintedSample & LastValue>(cutter: HistogramHeadCutter<H> | undefined, newChunk: () => HistogramChunkBase<HistogramAppenderBase<H>>, t: number, h: H): HistogramHeadCutter<H> {
    this.#endFloats();
    cutter ??= new HistogramHeadCutter<H>(newChunk, this.#chunkRange);
    this.#push(cutter.append(t, h));
    this.lastTime = t;
    this.lastValue = h;
    return cutter;
  }

  /** The chunks overlapping [mint, maxt], oldest first; the open one as a copy of its bytes now (appends go on). */
  chunksIn(mint: number, maxt: number): ChunkMeta[] {
    const out: ChunkMeta[] = [];
    for (const c of this.chunks) if (c.maxTime >= mint && c.minTime <= maxt) out.push(c);
    const c = this.#openChunk();
    if (c !== undefined && c.maxTime >= mint && c.minTime <= maxt) out.push({ ...c, chunk: copyOf(c.chunk) });
    return out;
  }

  /** The out-of-order chunks overlapping [mint, maxt]: those being flushed, then the others. */
  oooChunksIn(mint: number, maxt: number): ChunkMeta[] {
    const out: ChunkMeta[] = [];
    for (const part of this.oooFlushing ?? []) out.push(...part.chunksIn(mint, maxt));
    if (this.ooo !== undefined) out.push(...this.ooo.chunksIn(mint, maxt));
    return out;
  }

  /** Whether it holds samples in [mint, maxt]: in order (by the range they span) or out of order. */
  overlaps(mint: number, maxt: number): boolean {
    return (this.lastTime >= mint && this.minTime <= maxt) || this.oooOverlaps(mint, maxt);
  }

  /** Whether it holds out-of-order samples in the range their chunks span overlapping [mint, maxt]. */
  oooOverlaps(mint: number, maxt: number): boolean {
    // On every query's path for every series: no array made for the (usual) series without any.
    if (this.ooo === undefined && this.oooFlushing === undefined) return false;
    return [this.ooo, ...(this.oooFlushing ?? [])].some((o) => o !== undefined && o.maxTime >= mint && o.minTime <= maxt);
  }

  /** Whether it holds any sample, in order or out of order. */
  get holdsSamples(): boolean {
    return this.minTime !== Infinity || this.ooo !== undefined || this.oooFlushing !== undefined;
  }

  /** Time of the oldest sample held in order (Infinity when none). */
  get minTime(): number {
    return this.chunks[0]?.minTime ?? this.#openChunk()?.minTime ?? Infinity;
  }

  /** Drops the in-order chunks that end before `mint`. */
  truncate(mint: number): void {
    let drop = 0;
    while (drop < this.chunks.length && (this.chunks[drop] as ChunkMeta).maxTime < mint) drop++;
    this.chunks.splice(0, drop);
    const open = this.#openChunk();
    if (open !== undefined && open.maxTime < mint) {
      this.#open = undefined;
      this.#app = undefined;
      this.#schedule.stop();
      this.#hists = this.#floatHists = undefined;
    }
  }

  /** The chunk being filled, of whichever kind. */
  #openChunk(): ChunkMeta | undefined {
    if (this.#open !== undefined) return this.#schedule.meta(this.#open);
    return (this.#hists ?? this.#floatHists)?.current();
  }

  #push(done: ChunkMeta | undefined): void {
    if (done !== undefined) this.chunks.push(done);
  }

  /** Finishes the XOR chunk being filled: a histogram comes. */
  #endFloats(): void {
    if (this.#open === undefined) return;
    this.chunks.push(this.#schedule.meta(this.#open));
    this.#open = undefined;
    this.#app = undefined;
    this.#schedule.stop();
  }

  /** Finishes the histogram chunk being filled: a sample of another kind comes. */
  #endHistograms(): void {
    this.#push((this.#hists ?? this.#floatHists)?.flush());
    this.#hists = this.#floatHists = undefined;
  }
}

/** A chunk as it is now, which later appends to the original do not change. */
function copyOf(chunk: Chunk): Chunk {
  return chunkFromBytes(chunk.encoding, chunk.bytes.slice());
}

export class Head {
  readonly chunkRange: number;
  /** --tsdb.out-of-order.cap-max: samples per out-of-order chunk. */
  readonly oooCapMax: number;
  readonly #byKey = new Map<string, MemSeries>();
  #nextRef = 1;
  /** Samples before this are in blocks (or belong there) and are refused (Prometheus' minValidTime). */
  minValidTime: number;
  #minTime = Infinity;
  #maxTime = -Infinity;
  /** Oldest out-of-order sample taken since the last flush of them began, and of those being flushed. */
  #oooMinTime = Infinity;
  #flushingMinTime = Infinity;

  constructor(chunkRange: number, minValidTime: number, oooCapMax = 32) {
    this.chunkRange = chunkRange;
    this.minValidTime = minValidTime;
    this.oooCapMax = oooCapMax;
  }

  /** Oldest sample time held in order (Infinity when none). */
  get minTime(): number {
    return this.#minTime;
  }

  /** Latest sample time held in order (-Infinity when none). */
  get maxTime(): number {
    return this.#maxTime;
  }

  /** Oldest out-of-order sample time held (Infinity when none). */
  get oldestOutOfOrderTime(): number {
    return Math.min(this.#oooMinTime, this.#flushingMinTime);
  }

  get numSeries(): number {
    return this.#byKey.size;
  }

  series(): IterableIterator<MemSeries> {
    return this.#byKey.values();
  }

  /** The series of `labels`, or undefined. */
  get(labels: Labels): MemSeries | undefined {
    return this.#byKey.get(labels.key());
  }

  /** The series of `labels`, created if new (`created` then). */
  getOrCreate(labels: Labels): { series: MemSeries; created: boolean } {
    const s = this.get(labels);
    return s !== undefined ? { series: s, created: false } : { series: this.create(labels), created: true };
  }

  /** A new series of `labels`, which the head does not hold yet. */
  create(labels: Labels): MemSeries {
    const series = new MemSeries(this.#nextRef++, labels, this.chunkRange);
    this.#byKey.set(labels.key(), series);
    return series;
  }

  /** Removes a series created by an append call that failed. */
  forget(s: MemSeries): void {
    this.#byKey.delete(s.labels.key());
  }

  /**
   * Whether the head takes samples at `t`: not before what blocks hold (minValidTime), and for live
   * appends (`live`) not over half a chunk range before the head's latest sample either, as Prometheus'
   * appender (appendableMinValidTime), so that nothing lands in a range while it is cut into a block.
   */
  inBounds(t: number, live: boolean): boolean {
    return t >= this.appendableMinTime(live);
  }

  /** The oldest time `inBounds` takes now. */
  appendableMinTime(live: boolean): number {
    return live ? Math.max(this.minValidTime, this.#maxTime - this.chunkRange / 2) : this.minValidTime;
  }

  /** Appends a float sample in bounds and after the series' last one. */
  append(s: MemSeries, t: number, v: number): void {
    s.append(t, v);
    this.#appended(t);
  }

  /** Appends a native histogram sample in bounds and after the series' last one. */
  appendHistogram(s: MemSeries, h: TimedHistogram): void {
    if ('histogram' in h) s.appendHistogram(h.timestamp, h.histogram);
    else s.appendFloatHistogram(h.timestamp, h.floatHistogram);
    this.#appended(h.timestamp);
  }

  /** Inserts an out-of-order sample: `h` where it is a histogram, else the float `v`; false if it is a resend (dropped). */
  insertOOO(s: MemSeries, t: number, v: number, h?: Histogram | FloatHistogram): boolean {
    s.ooo ??= new OOOSamples(this.oooCapMax);
    if (!s.ooo.insert(t, v, h)) return false;
    if (t < this.#oooMinTime) this.#oooMinTime = t;
    return true;
  }

  /**
   * Sets every series' out-of-order samples aside to be flushed into blocks (served as before until
   * `dropFlushedOOO`), with those of a flush that failed; samples taken from now on start anew. Returns
   * the series with samples to flush.
   */
  takeOOO(): MemSeries[] {
    const out: MemSeries[] = [];
    for (const s of this.#byKey.values()) {
      if (s.ooo !== undefined) {
        (s.oooFlushing ??= []).push(s.ooo);
        s.ooo = undefined;
      }
      if (s.oooFlushing !== undefined) out.push(s);
    }
    this.#flushingMinTime = Math.min(this.#flushingMinTime, this.#oooMinTime);
    this.#oooMinTime = Infinity;
    return out;
  }

  /** Lets go of the out-of-order samples `takeOOO` set aside (blocks serve them now), and of series left without samples. */
  dropFlushedOOO(series: readonly MemSeries[]): void {
    for (const s of series) {
      s.oooFlushing = undefined;
      if (!s.holdsSamples) this.#byKey.delete(s.labels.key());
    }
    this.#flushingMinTime = Infinity;
  }

  #appended(t: number): void {
    if (t < this.#minTime) this.#minTime = t;
    if (t > this.#maxTime) this.#maxTime = t;
  }

  /** The series the matchers select that have samples in [mint, maxt] (in order, or also out of order with `ooo`), in no particular order. */
  select(matchers: readonly Matcher[], mint: number, maxt: number, ooo = false): MemSeries[] {
    const out: MemSeries[] = [];
    for (const s of this.#byKey.values()) {
      if (ooo ? !s.overlaps(mint, maxt) : s.lastTime < mint || s.minTime > maxt) continue;
      if (!matchLabels(matchers, s.labels)) continue;
      out.push(s);
    }
    return out;
  }

  /**
   * Drops every in-order chunk before `mint` (cut into a block), and the series left without samples;
   * samples before `mint` are refused from now on, but for those the out-of-order window takes
   * (Prometheus' truncateMemory and gc).
   */
  truncate(mint: number): void {
    this.minValidTime = Math.max(this.minValidTime, mint);
    let min = Infinity;
    for (const [key, s] of this.#byKey) {
      s.truncate(mint);
      if (!s.holdsSamples) this.#byKey.delete(key);
      else min = Math.min(min, s.minTime);
    }
    this.#minTime = min;
    if (this.#byKey.size === 0) this.#maxTime = -Infinity;
  }
}
