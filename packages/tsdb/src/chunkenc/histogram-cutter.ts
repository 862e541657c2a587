/**
 * Cuts one series' histogram samples into chunks as Prometheus 2.42's head does (memSeries.
 * appendHistogram / appendFloatHistogram), so that the chunks equal Prometheus' for the same samples:
 *
 * - by time and size as for floats (block/chunk-cutter.ts: ChunkSchedule);
 * - a gauge sample (hint Gauge) is checked with appendableGauge, any other with appendable; a sample
 *   with the hint CounterReset always starts a chunk;
 * - a sample that cannot join the current chunk starts a new one; one that needs a wider layout makes
 *   the current chunk recoded first; a gauge sample lacking buckets of the chunk gets them (as 0);
 * - a new chunk's header says Gauge for a gauge sample, CounterReset for a counter reset, NotCounterReset
 *   when the sample could have joined the previous chunk (it was cut by time or size), and Unknown
 *   otherwise (the first chunk, a schema or zero threshold change, a stale marker before).
 */
import { ChunkSchedule, type CutSchedule } from '../block/chunk-cutter.js';
import type { ChunkMeta } from './chunk.js';
import { FloatHistogramChunk } from './floathistogram.js';
import type { Appendability, GaugeAppendability } from './histogram-appendable.js';
import type { HistogramAppenderBase, HistogramChunkBase, HistogramSample } from './histogram-chunk.js';
import { HistogramChunk } from './histogram.js';
import { CounterResetHeader } from './histogram-meta.js';
import type { FloatHistogram } from '../histogram/float.js';
import { CounterResetHint, type Histogram } from '../histogram/types.js';

/** A sample with its hint (Gauge, CounterReset or other) as the head gets it. */
export interface HintedSample extends HistogramSample {
  counterResetHint: CounterResetHint;
}

/** Cuts samples of one histogram kind into chunks; see the module comment. */
export class HistogramHeadCutter<H extends HintedSample> {
  readonly #schedule: CutSchedule;
  readonly #newChunk: () => HistogramChunkBase<HistogramAppenderBase<H>>;
  #app: HistogramAppenderBase<H> | undefined;

  /**
   * `cut`: a chunk range, to cut by time and size as the head does (as for HeadChunkCutter: the head
   * uses the block duration), or another schedule (SampleCountSchedule: as Prometheus re-encodes).
   */
  constructor(newChunk: () => HistogramChunkBase<HistogramAppenderBase<H>>, cut: number | CutSchedule) {
    this.#newChunk = newChunk;
    this.#schedule = typeof cut === 'number' ? new ChunkSchedule(cut) : cut;
  }

  /** Appends a sample; returns the chunk it completed, if it started a new one. */
  append(t: number, h: H): ChunkMeta | undefined {
    const prev = this.#app;
    let done: ChunkMeta | undefined;
    let created = false;
    if (this.#schedule.due(t)) {
      done = this.flush();
      this.#start(t);
      created = true;
    }
    const gauge = h.counterResetHint === CounterResetHint.Gauge;
    const check = prev !== undefined ? appendability(prev, h) : undefined;
    const counterReset = h.counterResetHint === CounterResetHint.CounterReset || check?.counterReset === true;
    const ok = check?.okToAppend === true;
    if (!created && prev !== undefined) {
      if (check !== undefined && isGaugeCheck(check)) {
        if (check.backwardPositiveInserts.length + check.backwardNegativeInserts.length > 0) h = prev.withBackwardInserts(h, check);
      }
      if (!ok || counterReset) {
        done = this.flush();
        this.#start(t);
        created = true;
      } else if (check !== undefined && check.positiveInserts.length + check.negativeInserts.length > 0) {
        this.#app = prev.recode(check.positiveInserts, check.negativeInserts, h.positiveSpans, h.negativeSpans);
      }
    }
    const app = this.#app as HistogramAppenderBase<H>;
    if (created) {
      app.chunk.setCounterResetHeader(
        gauge ? CounterResetHeader.Gauge : counterReset ? CounterResetHeader.CounterReset : ok ? CounterResetHeader.NotCounterReset : CounterResetHeader.Unknown,
      );
    }
    app.append(t, h);
    this.#schedule.added(t);
    return done;
  }

  /** Whether a sample would join the chunk being filled (recoded at most) rather than start a new one. */
  joins(t: number, h: H): boolean {
    if (this.#app === undefined || this.#schedule.due(t)) return false;
    const check = appendability(this.#app, h);
    return check?.okToAppend === true && !check.counterReset;
  }

  /** The chunk being filled, if any; appends go on filling it (or a recoded copy of it). */
  current(): ChunkMeta | undefined {
    return this.#app === undefined ? undefined : this.#schedule.meta(this.#app.chunk);
  }

  /** The chunk being filled, if any; the cutter starts over afterwards. */
  flush(): ChunkMeta | undefined {
    const c = this.current();
    if (c === undefined) return undefined;
    this.#app = undefined;
    this.#schedule.stop();
    return c;
  }

  #start(t: number): void {
    this.#app = this.#newChunk().appender();
    this.#schedule.start(t);
  }
}

/** Whether `h` can join `app`'s chunk, as its hint says to check; undefined for a counter reset, which never can. */
function appendability<H extends HintedSample>(app: HistogramAppenderBase<H>, h: H): Appendability | GaugeAppendability | undefined {
  if (h.counterResetHint === CounterResetHint.Gauge) return app.appendableGauge(h);
  return h.counterResetHint === CounterResetHint.CounterReset ? undefined : app.appendable(h);
}

function isGaugeCheck(c: Appendability): c is GaugeAppendability {
  return 'backwardPositiveInserts' in c;
}

function cutAll<H extends HintedSample>(cutter: HistogramHeadCutter<H>, samples: Iterable<{ t: number; h: H }>): ChunkMeta[] {
  const out: ChunkMeta[] = [];
  for (const s of samples) {
    const done = cutter.append(s.t, s.h);
    if (done !== undefined) out.push(done);
  }
  const last = cutter.flush();
  if (last !== undefined) out.push(last);
  return out;
}

/** One series' integer histograms (ascending timestamps) cut into chunks as Prometheus' head does. */
export function cutHistogramChunks(samples: Iterable<{ t: number; h: Histogram }>, chunkRange: number): ChunkMeta[] {
  return cutAll(new HistogramHeadCutter<Histogram>(() => new HistogramChunk(), chunkRange), samples);
}

/** One series' float histograms (ascending timestamps) cut into chunks as Prometheus' head does. */
export function cutFloatHistogramChunks(samples: Iterable<{ t: number; h: FloatHistogram }>, chunkRange: number): ChunkMeta[] {
  return cutAll(new HistogramHeadCutter<FloatHistogram>(() => new FloatHistogramChunk(), chunkRange), samples);
}
