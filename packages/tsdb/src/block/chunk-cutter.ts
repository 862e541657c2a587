import type { Chunk, ChunkMeta } from '../chunkenc/chunk.js';
import { XORChunk, type XORAppender } from '../chunkenc/xor.js';

/** The number of samples Prometheus aims for per chunk. */
export const SAMPLES_PER_CHUNK = 120;

/**
 * Cuts one series' samples into XOR chunks exactly as Prometheus' head does (memSeries.append in
 * 2.42), so a block written from the same samples has the same chunks as one Prometheus or promtool
 * writes:
 *
 * - a chunk ends at the latest at the next multiple of `chunkRange` after its first sample;
 * - when a chunk reaches 30 samples (a quarter of 120), its end is re-estimated so that the remaining
 *   time up to that boundary is split into chunks of about 120 samples;
 * - a chunk is cut at 240 samples regardless.
 *
 * Samples must have strictly increasing timestamps. The head uses the block duration as `chunkRange`;
 * promtool's block writer uses twice the block duration.
 */
export class HeadChunkCutter {
  readonly #schedule: ChunkSchedule;
  #chunk: XORChunk | undefined;
  #app: XORAppender | undefined;

  constructor(chunkRange: number) {
    this.#schedule = new ChunkSchedule(chunkRange);
  }

  /** Appends a sample; returns the chunk it completed, if the sample started a new one. */
  append(t: number, v: number): ChunkMeta | undefined {
    let done: ChunkMeta | undefined;
    if (this.#schedule.due(t)) {
      done = this.flush();
      this.#chunk = new XORChunk();
      this.#app = this.#chunk.appender();
      this.#schedule.start(t);
    }
    (this.#app as XORAppender).append(t, v);
    this.#schedule.added(t);
    return done;
  }

  /** The chunk being filled, if it has samples; the cutter starts over afterwards. */
  flush(): ChunkMeta | undefined {
    if (this.#chunk === undefined) return undefined;
    const c = this.#schedule.meta(this.#chunk);
    this.#chunk = undefined;
    this.#app = undefined;
    this.#schedule.stop();
    return c;
  }
}

/**
 * When a chunk is cut, whatever its encoding. Call due(t) before each sample, start(t) when a chunk
 * starts with it, added(t) after appending it, stop() when the chunk is done.
 */
export interface CutSchedule {
  /** Whether a sample at t must start a new chunk (always, when no chunk is started). */
  due(t: number): boolean;
  start(t: number): void;
  added(t: number): void;
  stop(): void;
  /** The current chunk's time range with `chunk`. */
  meta(chunk: Chunk): ChunkMeta;
}

/** What both schedules track of the chunk being filled: whether one is started, its time range and samples. */
abstract class ChunkBounds implements CutSchedule {
  protected started = false;
  protected minTime = 0;
  protected maxTime = 0;
  protected num = 0;

  abstract due(t: number): boolean;

  /** The common part of due(t): a sample must come after the previous one. */
  protected checkOrder(t: number): void {
    if (t <= this.maxTime) throw new RangeError(`sample at ${t} is not after the previous one at ${this.maxTime}`);
  }

  /** A new chunk starts with the sample at t. */
  start(t: number): void {
    this.started = true;
    this.minTime = t;
    this.maxTime = t;
    this.num = 0;
  }

  added(t: number): void {
    this.maxTime = t;
    this.num++;
  }

  /** No chunk is started (the next sample starts one). */
  stop(): void {
    this.started = false;
  }

  /** The current chunk's time range with `chunk`. */
  meta(chunk: Chunk): ChunkMeta {
    return { minTime: this.minTime, maxTime: this.maxTime, chunk };
  }
}

/**
 * When Prometheus' head cuts a series' chunk by time and size (memSeries.appendPreprocessor in 2.42):
 * HeadChunkCutter's rules.
 */
export class ChunkSchedule extends ChunkBounds {
  readonly #chunkRange: number;
  #nextAt = 0;

  constructor(chunkRange: number) {
    super();
    if (!(chunkRange > 0)) throw new RangeError(`chunk range must be positive, got ${chunkRange}`);
    this.#chunkRange = chunkRange;
  }

  /** Whether a sample at t must start a new chunk (always, when no chunk is started). */
  due(t: number): boolean {
    if (!this.started) return true;
    this.checkOrder(t);
    if (this.num === SAMPLES_PER_CHUNK / 4) this.#nextAt = computeChunkEndTime(this.minTime, this.maxTime, this.#nextAt);
    return t >= this.#nextAt || this.num >= SAMPLES_PER_CHUNK * 2;
  }

  override start(t: number): void {
    super.start(t);
    this.#nextAt = rangeEnd(t, this.#chunkRange);
  }
}

/** End of the `width`-aligned range containing t (Go's truncating division, as Prometheus computes it). */
function rangeEnd(t: number, width: number): number {
  return Math.trunc(t / width) * width + width;
}

/**
 * An end time that spreads the samples still to come up to `max` evenly over chunks, assuming the chunk
 * is a quarter full (it is called at 30 of 120 samples).
 */
function computeChunkEndTime(start: number, cur: number, max: number): number {
  const n = Math.trunc((max - start) / ((cur - start + 1) * 4));
  if (n <= 1) return max;
  return start + Math.trunc((max - start) / n);
}

/**
 * Chunks of at most `max` samples, whatever their time range: how Prometheus re-encodes merged or
 * filtered samples (seriesToChunkEncoder, 120 samples a chunk), and, with the chunk format's limit,
 * one chunk for as long as the samples fit into it.
 */
export class SampleCountSchedule extends ChunkBounds {
  readonly #max: number;

  constructor(max: number) {
    super();
    if (!(max > 0)) throw new RangeError(`samples per chunk must be positive, got ${max}`);
    this.#max = max;
  }

  due(t: number): boolean {
    if (!this.started) return true;
    this.checkOrder(t);
    return this.num >= this.#max;
  }
}
