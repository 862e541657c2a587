import { Aggr, decodedChunkMetas, fromStoreEncoding, type AggrChunk, type StoreChunk } from '@strata/storeapi';
import {
  ChunkSeriesSamples,
  CounterResetsIterator,
  ValueType,
  chunkFromBytes,
  type Chunk,
  type FloatHistogram,
  type Histogram,
  type ChunkMeta,
  type Labels,
  type SampleIterator,
  type Series,
} from '@strata/tsdb';

/**
 * One replica's chunks of a series (time-ordered, non-overlapping) as samples, reading what the
 * function needs from downsampled chunks as Thanos' querier does: the `min`, `max`, `count` or `sum`
 * aggregate as is; the `counter` aggregate with resets folded back in; otherwise the average sum/count
 * per point. A raw chunk is always read as is, so raw and downsampled data can meet in one series.
 * A downsampled native histogram has float histograms for sum and counter (read as they are: its
 * counter has no resets) and floats for count; its average is a float histogram.
 */
export function chunkRunSeries(labels: Labels, run: readonly AggrChunk[], aggregates: readonly Aggr[]): Series {
  const decoded = decodedChunkMetas(run);
  if (decoded !== undefined) return new ChunkSeriesSamples(labels, decoded);
  if (run.every((c) => c.raw !== undefined)) return new ChunkSeriesSamples(labels, run.map((c) => meta(c, c.raw as StoreChunk)));
  if (aggregates.length === 1 && aggregates[0] === Aggr.COUNTER) {
    const chunks = run.map((c) => decode(c.raw ?? need(c, c.counter, 'counter')));
    return { labels, iterator: () => new CounterResetsIterator(chunks) };
  }
  if (aggregates.length === 1) {
    const aggr = aggregates[0] as Aggr;
    return new ChunkSeriesSamples(labels, run.map((c) => meta(c, c.raw ?? need(c, field(c, aggr), AGGR_NAMES[aggr]))));
  }
  return { labels, iterator: () => new SequenceIterator(run.map((c) => () => averageOrRaw(c))) };
}

const AGGR_NAMES: Record<Aggr, string> = { [Aggr.RAW]: 'raw', [Aggr.COUNT]: 'count', [Aggr.SUM]: 'sum', [Aggr.MIN]: 'min', [Aggr.MAX]: 'max', [Aggr.COUNTER]: 'counter' };

function field(c: AggrChunk, aggr: Aggr): StoreChunk | undefined {
  switch (aggr) {
    case Aggr.COUNT:
      return c.count;
    case Aggr.SUM:
      return c.sum;
    case Aggr.MIN:
      return c.min;
    case Aggr.MAX:
      return c.max;
    case Aggr.COUNTER:
      return c.counter;
    default:
      return c.raw;
  }
}

function need(c: AggrChunk, sc: StoreChunk | undefined, name: string): StoreChunk {
  if (sc === undefined) throw new Error(`downsampled chunk [${c.minTime}, ${c.maxTime}] lacks the ${name} aggregate the query needs`);
  return sc;
}

function decode(sc: StoreChunk): Chunk {
  return chunkFromBytes(fromStoreEncoding(sc.type), sc.data);
}

function meta(c: AggrChunk, sc: StoreChunk): ChunkMeta {
  return { minTime: c.minTime, maxTime: c.maxTime, chunk: decode(sc) };
}

function averageOrRaw(c: AggrChunk): { maxTime: number; it: SampleIterator } {
  if (c.raw !== undefined) return { maxTime: c.maxTime, it: decode(c.raw).iterator() };
  const sum = decode(need(c, c.sum, 'sum')).iterator();
  const count = decode(need(c, c.count, 'count')).iterator();
  return { maxTime: c.maxTime, it: new AverageIterator(sum, count) };
}

/**
 * sum/count per point of two aggregate chunks with the same timestamps; for a downsampled native
 * histogram, whose sum is a float histogram, the sum histogram divided by the count (Thanos'
 * AverageChunkIterator).
 */
class AverageIterator implements SampleIterator {
  constructor(
    private readonly sum: SampleIterator,
    private readonly count: SampleIterator,
  ) {}

  atFloatHistogram(): FloatHistogram {
    const h = (this.sum as Required<SampleIterator>).atFloatHistogram().copy();
    h.div(this.count.atFloat());
    return h;
  }

  next(): ValueType {
    const a = this.sum.next();
    const b = this.count.next();
    return a === ValueType.None || b === ValueType.None ? ValueType.None : a;
  }

  seek(t: number): ValueType {
    const a = this.sum.seek(t);
    const b = this.count.seek(t);
    return a === ValueType.None || b === ValueType.None ? ValueType.None : a;
  }

  atT(): number {
    return this.sum.atT();
  }

  atFloat(): number {
    return this.sum.atFloat() / this.count.atFloat();
  }

  err(): Error | null {
    return this.sum.err() ?? this.count.err();
  }
}

/** Iterators of consecutive, non-overlapping chunks, opened one at a time. */
class SequenceIterator implements SampleIterator {
  #i = -1;
  #cur: { maxTime: number; it: SampleIterator } | undefined;
  #err: Error | null = null;

  constructor(private readonly parts: readonly (() => { maxTime: number; it: SampleIterator })[]) {}

  #advance(): boolean {
    if (this.#cur !== undefined) this.#err ??= this.#cur.it.err();
    this.#i++;
    const open = this.parts[this.#i];
    this.#cur = open === undefined || this.#err !== null ? undefined : open();
    return this.#cur !== undefined;
  }

  next(): ValueType {
    if (this.#i < 0 && !this.#advance()) return ValueType.None;
    while (this.#cur !== undefined) {
      const t = this.#cur.it.next();
      if (t !== ValueType.None) return t;
      if (!this.#advance()) return ValueType.None;
    }
    return ValueType.None;
  }

  seek(t: number): ValueType {
    if (this.#i < 0 && !this.#advance()) return ValueType.None;
    while (this.#cur !== undefined) {
      if (this.#cur.maxTime >= t) {
        const type = this.#cur.it.seek(t);
        if (type !== ValueType.None) return type;
      }
      if (!this.#advance()) return ValueType.None;
    }
    return ValueType.None;
  }

  atT(): number {
    return (this.#cur as { it: SampleIterator }).it.atT();
  }

  atFloat(): number {
    return (this.#cur as { it: SampleIterator }).it.atFloat();
  }

  atHistogram(): Histogram {
    return (this.#cur as { it: Required<SampleIterator> }).it.atHistogram();
  }

  atFloatHistogram(): FloatHistogram {
    return (this.#cur as { it: Required<SampleIterator> }).it.atFloatHistogram();
  }

  err(): Error | null {
    return this.#err ?? this.#cur?.it.err() ?? null;
  }
}
