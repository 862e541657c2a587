/**
 * The in-memory head of the local TSDB, as Prometheus' head (tsdb/head.go, head_append.go) for float
 * samples appended in order: per series, its finished XOR chunks and the one being appended, cut as
 * Prometheus cuts them (120 samples, chunk-range boundaries: ChunkSchedule). The chunk range is the
 * block duration, so no chunk crosses a block's boundaries and blocks are cut from whole chunks.
 */
import { type ChunkMeta, ChunkSchedule, type Labels, type Matcher, matchLabels, type XORAppender, XORChunk } from '@strata/tsdb';

export class MemSeries {
  readonly ref: number;
  readonly labels: Labels;
  /** Finished chunks, oldest first. */
  readonly chunks: ChunkMeta[] = [];
  readonly #schedule: ChunkSchedule;
  #open: XORChunk | undefined;
  #app: XORAppender | undefined;
  /** Time of the last sample appended (-Infinity before any). */
  lastTime = -Infinity;
  /** Value of the last sample appended, to tell a resent sample from a conflicting one at the same time. */
  lastValue = 0;
  /** Scratch of LocalTSDB.append: the time and value its call has accepted up to now, in call `appendCall`. */
  pendingTime = -Infinity;
  pendingValue = 0;
  appendCall = 0;

  constructor(ref: number, labels: Labels, chunkRange: number) {
    this.ref = ref;
    this.labels = labels;
    this.#schedule = new ChunkSchedule(chunkRange);
  }

  /** Appends a sample after the last one. */
  append(t: number, v: number): void {
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

  /** The chunks overlapping [mint, maxt], oldest first; the open one as a copy of its bytes now (appends go on). */
  chunksIn(mint: number, maxt: number): ChunkMeta[] {
    const out: ChunkMeta[] = [];
    for (const c of this.chunks) if (c.maxTime >= mint && c.minTime <= maxt) out.push(c);
    if (this.#open !== undefined) {
      const c = this.#schedule.meta(this.#open);
      if (c.maxTime >= mint && c.minTime <= maxt) out.push({ ...c, chunk: XORChunk.fromBytes(this.#open.bytes.slice()) });
    }
    return out;
  }

  /** Time of the oldest sample held (Infinity when none). */
  get minTime(): number {
    return this.chunks[0]?.minTime ?? (this.#open !== undefined ? this.#schedule.meta(this.#open).minTime : Infinity);
  }

  /** Drops the chunks that end before `mint`; whether any sample is left. */
  truncate(mint: number): boolean {
    let drop = 0;
    while (drop < this.chunks.length && (this.chunks[drop] as ChunkMeta).maxTime < mint) drop++;
    this.chunks.splice(0, drop);
    if (this.#open !== undefined && this.#schedule.meta(this.#open).maxTime < mint) {
      this.#open = undefined;
      this.#app = undefined;
      this.#schedule.stop();
    }
    return this.chunks.length > 0 || this.#open !== undefined;
  }
}

export class Head {
  readonly chunkRange: number;
  readonly #byKey = new Map<string, MemSeries>();
  #nextRef = 1;
  /** Samples before this are in blocks (or belong there) and are refused (Prometheus' minValidTime). */
  minValidTime: number;
  #minTime = Infinity;
  #maxTime = -Infinity;

  constructor(chunkRange: number, minValidTime: number) {
    this.chunkRange = chunkRange;
    this.minValidTime = minValidTime;
  }

  /** Oldest sample time held (Infinity when empty). */
  get minTime(): number {
    return this.#minTime;
  }

  /** Latest sample time held (-Infinity when empty). */
  get maxTime(): number {
    return this.#maxTime;
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

  /** Appends a sample in bounds and after the series' last one. */
  append(s: MemSeries, t: number, v: number): void {
    s.append(t, v);
    if (t < this.#minTime) this.#minTime = t;
    if (t > this.#maxTime) this.#maxTime = t;
  }

  /** The series the matchers select that have samples in [mint, maxt], in no particular order. */
  select(matchers: readonly Matcher[], mint: number, maxt: number): MemSeries[] {
    const out: MemSeries[] = [];
    for (const s of this.#byKey.values()) {
      if (s.lastTime < mint || s.minTime > maxt || !matchLabels(matchers, s.labels)) continue;
      out.push(s);
    }
    return out;
  }

  /**
   * Drops every chunk before `mint` (cut into a block), and the series left without samples; samples
   * before `mint` are refused from now on (Prometheus' truncateMemory and gc).
   */
  truncate(mint: number): void {
    this.minValidTime = Math.max(this.minValidTime, mint);
    let min = Infinity;
    for (const [key, s] of this.#byKey) {
      if (!s.truncate(mint)) this.#byKey.delete(key);
      else min = Math.min(min, s.minTime);
    }
    this.#minTime = min;
    if (this.#byKey.size === 0) this.#maxTime = -Infinity;
  }
}
