import {
  AggrChunk,
  AggrType,
  appendXORSamples,
  BlockWriter,
  CHUNK_SAMPLES_MAX,
  CounterResetHint,
  CounterResetsIterator,
  Encoding,
  FloatHistogramChunk,
  HistogramHeadCutter,
  isDeleted,
  SampleBuffer as TsdbSampleBuffer,
  SampleCountSchedule,
  ValueType,
  XORChunk,
  type BlockMeta,
  type FloatHistogram,
  type Chunk,
  type ChunkMeta,
  type ChunkRecord,
  type Interval,
  type SampleIterator,
  type ThanosMeta,
  type XORAppender,
} from '@strata/tsdb';
import { putAggrRecord, RecordBuffer, type AggrWindows } from './aggr-record.js';
import { toRecord } from './records.js';
import { mergeSymbolTables, SourceBlock } from './source.js';

/** Where downsampleRaw writes its records. */
export { RecordBuffer };

const HOUR = 3_600_000;
export const RES_RAW = 0;
export const RES_5M = 5 * 60_000;
export const RES_1H = HOUR;
/** Raw blocks spanning at least this long are downsampled to 5m (Thanos' ResLevel1DownsampleRange). */
export const DOWNSAMPLE_RANGE_5M = 40 * HOUR;
/** 5m blocks spanning at least this long are downsampled to 1h (ResLevel2DownsampleRange). */
export const DOWNSAMPLE_RANGE_1H = 10 * 24 * HOUR;

/** The resolution a block of `resolution` spanning `range` ms is downsampled to, if it is due. */
export function downsampleTarget(resolution: number, range: number): number | undefined {
  if (resolution === RES_RAW && range >= DOWNSAMPLE_RANGE_5M) return RES_5M;
  if (resolution === RES_5M && range >= DOWNSAMPLE_RANGE_1H) return RES_1H;
  return undefined;
}

export interface DownsampleResult {
  meta: BlockMeta | undefined;
  /** Input points: raw samples, or aggregated points of the source resolution. */
  pointsIn: number;
}

/**
 * Writes a downsampled copy of a local block into `outDir`, series by series (streamed like
 * compaction, over the source read front to back): raw blocks become aggregate chunks of
 * `resolution`; 5m blocks are re-aggregated along their chunk boundaries. The new block keeps the
 * source's symbol table and compaction record (level, sources) so the planner and retention treat it
 * as the same data at another resolution.
 */
export async function downsampleBlock(dir: string, outDir: string, resolution: number, thanos: ThanosMeta): Promise<DownsampleResult> {
  const src = await SourceBlock.open(dir);
  try {
    const source = src.meta;
    const inRes = source.thanos?.downsample.resolution ?? RES_RAW;
    if (resolution <= inRes) throw new Error(`block ${source.ulid}: cannot downsample resolution ${inRes} to ${resolution}`);
    if (inRes !== RES_RAW && src.hasTombstones) throw new Error(`block ${source.ulid}: tombstones in a downsampled block are not supported`);
    const writer = await BlockWriter.create(outDir, {
      emptySymbol: false,
      symbols: mergeSymbolTables([src]),
      thanos: { ...thanos, downsample: { resolution } },
      range: { minTime: source.minTime, maxTime: source.maxTime },
      compaction: () => structuredClone(source.compaction),
    });
    let pointsIn = 0;
    const samples = new SampleBuffer();
    const histograms = new HistogramSamples();
    // A series' records stay in it until the writer has taken them: one per call, as calls may overlap.
    const output = new RecordBuffer();
    try {
      while (await src.next()) {
        const records = await src.records();
        const chunks = records.map((r, i) => src.chunkOf(r, src.chunkRefs[i]!));
        let out: readonly ChunkRecord[];
        if (inRes === RES_RAW) {
          const deleted = src.deleted();
          output.reset();
          // Runs of float chunks and of histogram chunks are downsampled apart, as Thanos does (cutNewChunk).
          out = [];
          for (const [from, to] of runs(chunks, isHistogramChunk)) {
            if (isHistogramChunk(chunks[from]!)) {
              histograms.reset();
              for (let i = from; i < to; i++) histograms.append(chunks[i]!, deleted);
              pointsIn += histograms.ts.length;
              out = out.concat(downsampleRawHistograms(histograms, resolution).map(toRecord));
              continue;
            }
            samples.reset();
            for (let i = from; i < to; i++) samples.appendXOR(asXOR(chunks[i]!, source.ulid), deleted);
            pointsIn += samples.n;
            const records = downsampleRaw(samples, resolution, output);
            out = out.length === 0 ? records : out.concat(records);
          }
        } else {
          const aggrs = chunks.map((c) => asAggr(c, source.ulid));
          for (const a of aggrs) pointsIn += a.numSamples();
          out = [];
          for (const [from, to] of runs(aggrs, (a) => a.isHistogram())) {
            out = out.concat(downsampleAggr(aggrs.slice(from, to), src.minTimes[from]!, src.maxTimes[to - 1]!, inRes, resolution).map(toRecord));
          }
        }
        if (out.length > 0) await writer.addSeriesRecords(src.labelRefs, src.numRefs, out);
      }
    } catch (e) {
      await writer.abort();
      throw e;
    }
    if (writer.numSeries === 0) {
      await writer.abort();
      return { meta: undefined, pointsIn };
    }
    return { meta: await writer.close(), pointsIn };
  } finally {
    await src.close();
  }
}

function asXOR(c: Chunk, block: string): XORChunk {
  if (!(c instanceof XORChunk)) throw new Error(`block ${block}: raw block holds a chunk of encoding ${c.encoding}, want XOR or histogram chunks`);
  return c;
}

function isHistogramChunk(c: Chunk): boolean {
  return c.encoding === Encoding.Histogram || c.encoding === Encoding.FloatHistogram;
}

/** [from, to) of each run of consecutive items of one kind. */
function* runs<T>(items: readonly T[], kind: (item: T) => boolean): Generator<[number, number]> {
  for (let from = 0; from < items.length; ) {
    const k = kind(items[from]!);
    let to = from + 1;
    while (to < items.length && kind(items[to]!) === k) to++;
    yield [from, to];
    from = to;
  }
}

function asAggr(c: Chunk, block: string): AggrChunk {
  if (!(c instanceof AggrChunk)) throw new Error(`block ${block}: downsampled block holds a chunk of encoding ${c.encoding}, want aggregate chunks`);
  return c;
}

/** Samples of one series gathered for downsampling. */
export class SampleBuffer extends TsdbSampleBuffer {
  /** Appends an iterator's samples, dropping NaNs (stale markers), samples going back in time and `deleted` ones. */
  expand(it: SampleIterator, deleted?: readonly Interval[]): void {
    let last = this.n > 0 ? (this.ts[this.n - 1] as number) : Number.NEGATIVE_INFINITY;
    while (it.next() === ValueType.Float) {
      const t = it.atT();
      const v = it.atFloat();
      if (Number.isNaN(v) || t < last || (deleted !== undefined && isDeleted(deleted, t))) continue;
      this.push(t, v);
      last = t;
    }
    const err = it.err();
    if (err !== null) throw err;
  }

  /** Like expand over an XOR chunk's samples, decoded in bulk (see tsdb's appendXORSamples). */
  appendXOR(c: XORChunk, deleted?: readonly Interval[]): void {
    const need = this.n + c.numSamples();
    if (this.ts.length < need) {
      const size = Math.max(need, this.ts.length * 2);
      const [ts, vs] = [new Float64Array(size), new Float64Array(size)];
      ts.set(this.ts.subarray(0, this.n));
      vs.set(this.vs.subarray(0, this.n));
      this.ts = ts;
      this.vs = vs;
    }
    this.n = appendXORSamples(c.bytes, this.ts, this.vs, this.n, { dropNaN: true, dropBackwards: true, deleted });
  }
}

/** End of the aggregation window of `resolution` containing t (inclusive). */
export function windowEnd(t: number, resolution: number): number {
  return t - (t % resolution) + resolution - 1;
}

/**
 * How many chunks a series' downsampled points go into, so that each holds at most about 140 points
 * (Thanos' targetChunkCount, which assumes raw samples every minute).
 */
function targetChunkCount(mint: number, maxt: number, inRes: number, outRes: number, count: number): number {
  const maxSamples = Math.trunc((maxt - mint) / outRes);
  const fullness = Math.min(1, count / ((maxt - mint) / inRes));
  const expected = Math.trunc(maxSamples * (Number.isFinite(fullness) ? fullness : 1)) + 1;
  let x = 1;
  while (Math.trunc(expected / x) > 140) x++;
  return x;
}

/** Running statistics of one aggregation window, and the counter since the first sample. */
class Aggregator {
  total = 0;
  count = 0;
  sum = 0;
  min = Number.MAX_VALUE;
  max = -Number.MAX_VALUE;
  counter = 0;
  last = 0;

  resetWindow(): void {
    this.count = 0;
    this.sum = 0;
    this.min = Number.MAX_VALUE;
    this.max = -Number.MAX_VALUE;
  }

  add(v: number): void {
    if (this.total === 0) this.counter = v;
    else this.counter += v < this.last ? v : v - this.last;
    this.last = v;
    this.sum += v;
    this.count++;
    this.total++;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }
}

/**
 * Splits samples [from, to) into windows of `resolution`: visit(lo, hi, stamp) for the samples lo ≤ i < hi
 * of each window, stamped at the window's end, or at the batch's last sample time for the window the
 * batch ends in, so that consecutive batches never overlap. Returns the last stamp.
 */
function forEachWindow(ts: ArrayLike<number>, from: number, to: number, resolution: number, visit: (lo: number, hi: number, stamp: number) => void): number {
  const lastT = ts[to - 1] as number;
  let stamp = Number.NEGATIVE_INFINITY;
  for (let lo = from; lo < to; ) {
    stamp = Math.min(windowEnd(ts[lo] as number, resolution), lastT);
    let hi = lo + 1;
    while (hi < to && (ts[hi] as number) <= stamp) hi++;
    visit(lo, hi, stamp);
    lo = hi;
  }
  return stamp;
}

/** Aggregates samples [from, to) into windows (forEachWindow), calling `add` with each window's aggregates. */
function aggregateBatch(ts: Float64Array, vs: Float64Array, from: number, to: number, resolution: number, add: (t: number, a: Aggregator) => void): number {
  const a = new Aggregator();
  return forEachWindow(ts, from, to, resolution, (lo, hi, stamp) => {
    a.resetWindow();
    for (let i = lo; i < hi; i++) a.add(vs[i] as number);
    add(stamp, a);
  });
}

/** Appenders for the five aggregates of one output chunk. */
class AggrBuilder {
  readonly chunks: (XORChunk | undefined)[] = [undefined, undefined, undefined, undefined, undefined];
  readonly #apps: (XORAppender | undefined)[] = [undefined, undefined, undefined, undefined, undefined];
  minTime = Number.POSITIVE_INFINITY;
  maxTime = Number.NEGATIVE_INFINITY;

  append(type: AggrType, t: number, v: number): void {
    let app = this.#apps[type];
    if (app === undefined) {
      const c = new XORChunk();
      this.chunks[type] = c;
      this.#apps[type] = app = c.appender();
    }
    app.append(t, v);
  }

  point(t: number): void {
    if (t < this.minTime) this.minTime = t;
    if (t > this.maxTime) this.maxTime = t;
  }

  /** The aggregate chunk; a histogram series' sum and counter are float histogram chunks built apart. */
  encode(histogramSum?: Chunk, histogramCounter?: Chunk): ChunkMeta {
    const [count, sum, min, max, counter] = this.chunks;
    const parts = [count, histogramSum ?? sum, min, max, histogramCounter ?? counter] as const;
    return { minTime: this.minTime, maxTime: this.maxTime, chunk: AggrChunk.encode(parts) };
  }
}

/**
 * The windows of one raw batch in parallel arrays, reused across batches and series. Index 0 holds
 * the batch's first raw sample and index m + 1 its last stamp with the last raw value (the counter
 * sub-chunk's extra samples); windows are 1…m, so every aggregate encodes straight from [1, m + 1).
 */
class BatchWindows {
  t: Float64Array = new Float64Array(0);
  count: Float64Array = new Float64Array(0);
  sum: Float64Array = new Float64Array(0);
  min: Float64Array = new Float64Array(0);
  max: Float64Array = new Float64Array(0);
  counter: Float64Array = new Float64Array(0);
  /** The stamps and the bits of the aggregates' values, for the encoder. */
  bits: AggrWindows = { t: this.t, count: new Uint32Array(0), sum: new Uint32Array(0), min: new Uint32Array(0), max: new Uint32Array(0), counter: new Uint32Array(0) };

  /** Room for `n` windows and the two extra counter samples. */
  ensure(n: number): void {
    if (this.t.length >= n + 2) return;
    const size = Math.max(n + 2, this.t.length * 2, 64);
    const f64 = (): Float64Array => new Float64Array(size);
    const [t, count, sum, min, max, counter] = [f64(), f64(), f64(), f64(), f64(), f64()];
    this.t = t;
    this.count = count;
    this.sum = sum;
    this.min = min;
    this.max = max;
    this.counter = counter;
    const u32 = (a: Float64Array): Uint32Array => new Uint32Array(a.buffer);
    this.bits = { t, count: u32(count), sum: u32(sum), min: u32(min), max: u32(max), counter: u32(counter) };
  }
}

const windows = new BatchWindows();

/**
 * Raw samples (NaNs already dropped) to aggregate chunks (Thanos' DownsampleRaw): batches of about
 * equal size, each extended to the end of its last window, one aggregate chunk per batch. The counter
 * sub-chunk starts with the batch's first raw sample and ends with its last raw value, repeated at
 * the last stamp. Each batch is aggregated in one pass into BatchWindows and each aggregate then
 * encoded from its array in one go.
 *
 * The chunks come as segment records for BlockWriter.addSeriesRecords, in `records`: the caller
 * resets it from one series to the next, so that there is no allocation per chunk (a 2-day block's
 * chunks would otherwise be garbage of about its size), and records of one series' runs of floats
 * stay valid together.
 */
export function downsampleRaw(s: SampleBuffer, resolution: number, records: RecordBuffer): ChunkRecord[] {
  const { ts, vs, n } = s;
  if (n === 0) return [];
  const numChunks = targetChunkCount(ts[0] as number, ts[n - 1] as number, 60_000, resolution, n);
  const batchSize = Math.trunc(n / numChunks) + 1;
  const out: ChunkRecord[] = [];
  for (let from = 0; from < n; ) {
    let to = Math.min(from + batchSize, n);
    const w = windowEnd(ts[to - 1] as number, resolution);
    while (to < n && (ts[to] as number) <= w) to++;
    out.push(aggregateRawBatch(ts, vs, from, to, resolution, records));
    from = to;
  }
  return out;
}

/** One aggregate chunk of raw samples [from, to), as a record in `records`. */
function aggregateRawBatch(ts: Float64Array, vs: Float64Array, from: number, to: number, resolution: number, records: RecordBuffer): ChunkRecord {
  const wd = windows;
  // A window holds at least one sample: at most to − from windows.
  wd.ensure(to - from);
  const { t: wt, count, sum, min, max, counter } = wd;
  const lastT = ts[to - 1] as number;
  let m = 0;
  let end = Number.NEGATIVE_INFINITY;
  let ctr = vs[from] as number;
  let last = ctr;
  for (let i = from; i < to; ) {
    const t = ts[i] as number;
    // The window after the last one is found without a division (a floating-point remainder is a
    // library call), as long as no negative timestamps make windows irregular.
    end = t >= 0 && t <= end + resolution ? end + resolution : windowEnd(t, resolution);
    let cnt = 0;
    let sm = 0;
    let mn = Number.MAX_VALUE;
    let mx = -Number.MAX_VALUE;
    do {
      const v = vs[i] as number;
      if (i > from) ctr += v < last ? v : v - last;
      last = v;
      sm += v;
      cnt++;
      if (v < mn) mn = v;
      if (v > mx) mx = v;
      i++;
    } while (i < to && (ts[i] as number) <= end);
    m++;
    // Stamps: window ends, but the batch's last sample time for its last window.
    wt[m] = end < lastT ? end : lastT;
    count[m] = cnt;
    sum[m] = sm;
    min[m] = mn;
    max[m] = mx;
    counter[m] = ctr;
  }
  wt[0] = ts[from] as number;
  counter[0] = vs[from] as number;
  wt[m + 1] = lastT;
  counter[m + 1] = vs[to - 1] as number;
  return { minTime: wt[1] as number, maxTime: lastT, numSamples: m, record: putAggrRecord(records, wd.bits, m) };
}

/** What a window of already aggregated points of each kind becomes at the coarser resolution. */
const REAGGREGATE: readonly [AggrType, (a: Aggregator) => number][] = [
  [AggrType.Count, (a) => a.sum],
  [AggrType.Sum, (a) => a.sum],
  [AggrType.Min, (a) => a.min],
  [AggrType.Max, (a) => a.max],
];

/**
 * Aggregate chunks, all of floats or all of histograms, to a coarser resolution (Thanos'
 * downsampleAggr), along input chunk boundaries so that every output counter chunk still starts and
 * ends with true raw values: count and sum are summed, min and max folded, and the counter rebuilt
 * from the resets-applied input counters; histogram aggregates as reaggregateHistogramBatch says.
 */
export function downsampleAggr(chunks: readonly AggrChunk[], mint: number, maxt: number, inRes: number, outRes: number): ChunkMeta[] {
  let points = 0;
  for (const c of chunks) points += c.numSamples();
  const numChunks = targetChunkCount(mint, maxt, inRes, outRes, points);
  const batchSize = Math.max(1, Math.trunc(chunks.length / numChunks));
  const out: ChunkMeta[] = [];
  const buf = new SampleBuffer();
  const histograms = chunks[0]?.isHistogram() === true;
  for (let i = 0; i < chunks.length; i += batchSize) {
    const batch = chunks.slice(i, i + batchSize);
    if (histograms) out.push(...reaggregateHistogramBatch(batch, outRes, buf));
    else out.push(reaggregateBatch(batch, outRes, buf));
  }
  return out;
}

function reaggregateBatch(batch: readonly AggrChunk[], resolution: number, buf: SampleBuffer): ChunkMeta {
  const b = new AggrBuilder();
  for (const [type, value] of REAGGREGATE) {
    buf.reset();
    for (const c of batch) {
      const sub = c.get(type);
      if (sub !== undefined) buf.expand(sub.iterator());
    }
    if (buf.n === 0) continue;
    aggregateBatch(buf.ts, buf.vs, 0, buf.n, resolution, (t, a) => {
      b.point(t);
      b.append(type, t, value(a));
    });
  }
  const counters = batch.map((c) => c.get(AggrType.Counter)).filter((c): c is Chunk => c !== undefined);
  if (counters.length > 0) {
    const it = new CounterResetsIterator(counters);
    buf.reset();
    buf.expand(it);
    if (buf.n > 0) {
      b.append(AggrType.Counter, buf.ts[0] as number, buf.vs[0] as number);
      const lastT = aggregateBatch(buf.ts, buf.vs, 0, buf.n, resolution, (t, a) => {
        b.point(t);
        b.append(AggrType.Counter, t, a.counter);
      });
      b.append(AggrType.Counter, lastT, it.lastRawValue);
    }
  }
  return b.encode();
}

/** One series' histogram samples as float histograms, gathered for downsampling. */
export class HistogramSamples {
  ts: number[] = [];
  hs: FloatHistogram[] = [];

  reset(): void {
    this.ts.length = 0;
    this.hs.length = 0;
  }

  /**
   * Appends a histogram chunk's samples (integer ones as float histograms), dropping those with a NaN
   * sum (stale markers, as Thanos drops them), going back in time or `deleted`.
   */
  append(c: Chunk, deleted?: readonly Interval[]): void {
    const it = c.iterator() as Required<SampleIterator>;
    let last = this.ts.length > 0 ? (this.ts[this.ts.length - 1] as number) : Number.NEGATIVE_INFINITY;
    while (it.next() !== ValueType.None) {
      const t = it.atT();
      if (t < last || (deleted !== undefined && isDeleted(deleted, t))) continue;
      const h = it.atFloatHistogram();
      if (Number.isNaN(h.sum)) continue;
      this.hs.push(h);
      this.ts.push(t);
      last = t;
    }
    const err = it.err();
    if (err !== null) throw err;
  }
}

/**
 * Thanos' histogramAggregator: the window's number of histograms and their sum (a gauge), and the
 * counter since the first histogram, all at the lowest schema of the batch. The counter adds each
 * histogram's increase over the previous one, or the whole histogram after a counter reset (not
 * looked for in gauge histograms, which simply add their differences).
 */
class HistogramAggregator {
  total = 0;
  count = 0;
  sum: FloatHistogram | undefined;
  counter: FloatHistogram | undefined;
  #previous: FloatHistogram | undefined;

  constructor(readonly schema: number) {}

  resetWindow(): void {
    this.count = 0;
    this.sum = undefined;
  }

  add(h: FloatHistogram): void {
    const fh = h.schema > this.schema ? h.copyToSchema(this.schema) : h;
    const prev = this.#previous;
    if (prev === undefined || this.counter === undefined) {
      this.counter = fh.copy();
    } else if (fh.counterResetHint !== CounterResetHint.Gauge && h.detectReset(prev)) {
      // Thanos compares the histogram at its own schema with the previous one at the batch's schema,
      // so a histogram of a finer schema than the batch's counts as a reset unless its hint says not.
      this.counter.add(fh);
    } else {
      const increase = fh.copy();
      increase.sub(prev);
      this.counter.add(increase);
    }
    if (this.sum === undefined) this.sum = fh.copy();
    else this.sum.add(fh);
    this.sum.counterResetHint = CounterResetHint.Gauge;
    this.#previous = fh;
    this.count++;
    this.total++;
  }
}

/** The lowest schema of histograms [from, to): every aggregate of a batch is at it, so that they can share a chunk. */
function minSchema(hs: readonly FloatHistogram[], from: number, to: number): number {
  let schema = Number.POSITIVE_INFINITY;
  for (let i = from; i < to; i++) schema = Math.min(schema, (hs[i] as FloatHistogram).schema);
  return schema;
}

/**
 * The float histogram sub-chunk of one aggregate: appendability checked and the chunk recoded for new
 * buckets, as Prometheus' appender does. Its points are gauges (a sum, or any aggregate of a gauge
 * series), or a counter's, whose chunk starts with an unknown reset (the previous chunk restarts the
 * counter) and never resets after.
 */
class HistogramAggrAppender {
  readonly #cutter = new HistogramHeadCutter<FloatHistogram>(() => new FloatHistogramChunk(), new SampleCountSchedule(CHUNK_SAMPLES_MAX));
  #n = 0;

  constructor(readonly gauge: boolean) {}

  /** Whether `h` at `t` (if any) can join the chunk being filled, always true when it is empty. */
  fits(t: number, h: FloatHistogram | undefined): boolean {
    if (h === undefined || this.#n === 0) return true;
    this.#hint(h);
    return this.#cutter.joins(t, h);
  }

  /** Appends a point that fits (`h` is the caller's to give away: its hint is set here). */
  append(t: number, h: FloatHistogram): void {
    this.#hint(h);
    if (this.#cutter.append(t, h) !== undefined) throw new Error(`downsampling: histogram aggregate at ${t} was appended without fitting its chunk`);
    this.#n++;
  }

  #hint(h: FloatHistogram): void {
    h.counterResetHint = this.gauge ? CounterResetHint.Gauge : this.#n === 0 ? CounterResetHint.Unknown : CounterResetHint.NotCounterReset;
  }

  /** The chunk filled so far; the next point starts a new one. */
  cut(): Chunk | undefined {
    this.#n = 0;
    return this.#cutter.flush()?.chunk;
  }
}

/**
 * One series' histogram aggregate chunks: count (XOR), sum and counter (float histogram chunks) of each
 * window, in one aggregate chunk per batch, cut early where a sum or counter does not fit its
 * sub-chunk (the zero threshold or custom bucket bounds changed within the batch; schemas are
 * unified per batch): all parts are cut at that window, so each chunk keeps every point of its time
 * range. Thanos keeps only the new sub-chunk its appender starts then, dropping the points before.
 */
class HistogramAggrChunks {
  readonly out: ChunkMeta[] = [];
  #b = new AggrBuilder();
  readonly #sum = new HistogramAggrAppender(true);
  readonly #counter: HistogramAggrAppender;

  constructor(gauge: boolean) {
    this.#counter = new HistogramAggrAppender(gauge);
  }

  /** Adds the aggregates of the window ending at `t` (after the previous window's; histograms the caller's to give away). */
  window(t: number, count: number | undefined, sum: FloatHistogram | undefined, counter: FloatHistogram | undefined): void {
    if (!this.#sum.fits(t, sum) || !this.#counter.fits(t, counter)) this.cut();
    this.#b.point(t);
    if (count !== undefined) this.#b.append(AggrType.Count, t, count);
    if (sum !== undefined) this.#sum.append(t, sum);
    if (counter !== undefined) this.#counter.append(t, counter);
  }

  /** Ends the aggregate chunk being filled, if it has points. */
  cut(): void {
    if (this.#b.minTime <= this.#b.maxTime) this.out.push(this.#b.encode(this.#sum.cut(), this.#counter.cut()));
    this.#b = new AggrBuilder();
  }
}

/** Aggregates histograms [from, to) into windows as aggregateBatch does floats; returns the last stamp. */
function aggregateHistogramBatch(ts: readonly number[], hs: readonly FloatHistogram[], from: number, to: number, resolution: number, add: (t: number, a: HistogramAggregator) => void): number {
  const a = new HistogramAggregator(minSchema(hs, from, to));
  return forEachWindow(ts, from, to, resolution, (lo, hi, stamp) => {
    a.resetWindow();
    for (let i = lo; i < hi; i++) a.add(hs[i] as FloatHistogram);
    add(stamp, a);
  });
}

/**
 * Raw histograms to aggregate chunks (Thanos' DownsampleRaw for histograms, since v0.38): batches as
 * for floats, each one aggregate chunk of count (XOR), sum and counter (float histogram chunks), min
 * and max absent. The counter has no extra first and last raw samples. Whether the series is a gauge
 * is taken from its first histogram, as Thanos does.
 */
export function downsampleRawHistograms(s: HistogramSamples, resolution: number): ChunkMeta[] {
  const { ts, hs } = s;
  const n = ts.length;
  if (n === 0) return [];
  const numChunks = targetChunkCount(ts[0] as number, ts[n - 1] as number, 60_000, resolution, n);
  const batchSize = Math.trunc(n / numChunks) + 1;
  const out = new HistogramAggrChunks((hs[0] as FloatHistogram).counterResetHint === CounterResetHint.Gauge);
  for (let from = 0; from < n; ) {
    let to = Math.min(from + batchSize, n);
    const w = windowEnd(ts[to - 1] as number, resolution);
    while (to < n && (ts[to] as number) <= w) to++;
    // The counter is appended as it stands and goes on changing, which appending (encoding) survives.
    aggregateHistogramBatch(ts, hs, from, to, resolution, (t, a) => out.window(t, a.count, a.sum, a.counter));
    out.cut();
    from = to;
  }
  return out.out;
}

/** The points of the histogram aggregate `type` of a batch, in time order. */
function histogramPoints(batch: readonly AggrChunk[], type: AggrType): HistogramSamples {
  const s = new HistogramSamples();
  for (const c of batch) {
    const sub = c.get(type);
    if (sub !== undefined) s.append(sub);
  }
  return s;
}

/** One aggregate's points of a batch, in time order. */
class Windows<V> {
  readonly ts: number[] = [];
  readonly vs: V[] = [];

  push(t: number, v: V): void {
    this.ts.push(t);
    this.vs.push(v);
  }
}

/**
 * Histogram aggregate chunks to a coarser resolution (Thanos' downsampleHistogramAggrBatch): the
 * counter aggregated again from the input counters as from raw histograms (an input chunk's counter
 * restarts at its first raw histogram, which shows as a reset unless it is higher than the counter
 * so far), the sums summed, the counts summed. One aggregate chunk, or more where HistogramAggrChunks
 * cuts.
 */
function reaggregateHistogramBatch(batch: readonly AggrChunk[], resolution: number, buf: SampleBuffer): ChunkMeta[] {
  const counterIn = histogramPoints(batch, AggrType.Counter);
  const counters = new Windows<FloatHistogram>();
  if (counterIn.ts.length > 0) {
    // Copied: the aggregator's counter goes on changing.
    aggregateHistogramBatch(counterIn.ts, counterIn.hs, 0, counterIn.ts.length, resolution, (t, a) => counters.push(t, (a.counter as FloatHistogram).copy()));
  }
  const sumIn = histogramPoints(batch, AggrType.Sum);
  const sums = new Windows<FloatHistogram>();
  if (sumIn.ts.length > 0) aggregateHistogramBatch(sumIn.ts, sumIn.hs, 0, sumIn.ts.length, resolution, (t, a) => sums.push(t, a.sum as FloatHistogram));
  buf.reset();
  for (const c of batch) {
    const sub = c.get(AggrType.Count);
    if (sub !== undefined) buf.expand(sub.iterator());
  }
  const counts = new Windows<number>();
  if (buf.n > 0) aggregateBatch(buf.ts, buf.vs, 0, buf.n, resolution, (t, a) => counts.push(t, a.sum));
  const out = new HistogramAggrChunks(counterIn.hs[0]?.counterResetHint === CounterResetHint.Gauge);
  // The three aggregates' windows in time order, together where their stamps are equal (as they are in chunks Strata or Thanos wrote).
  for (let i = 0, j = 0, k = 0; i < counts.ts.length || j < sums.ts.length || k < counters.ts.length; ) {
    const t = Math.min(counts.ts[i] ?? Infinity, sums.ts[j] ?? Infinity, counters.ts[k] ?? Infinity);
    out.window(t, counts.ts[i] === t ? counts.vs[i++] : undefined, sums.ts[j] === t ? sums.vs[j++] : undefined, counters.ts[k] === t ? counters.vs[k++] : undefined);
  }
  out.cut();
  return out.out;
}
