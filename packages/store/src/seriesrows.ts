import type { AggrChunk, EncodedChunks, EncodedLabels, ProtoWriter, StoreSeries } from '@strata/storeapi';
import { grown, Labels, type Label, type SeriesColumns } from '@strata/tsdb';
import type { BlockSeries } from './block.js';
import type { CallChunkBytes } from './chunkbytes.js';
import { carve } from './columns.js';
import { compareKeys, type LabelMapping } from './extlabels.js';
import { RawChunkRun, type RawChunkColumns } from './rawchunks.js';

/** Shared by every series whose chunks are a RawChunkRun (or that has none); frozen, so a push throws. */
const NO_CHUNKS = Object.freeze([]) as unknown as AggrChunk[];

/** Why a read that waited for its call's series to be asked for did not start. */
const CALL_ENDED = 'the Series call ended';

/** No chunk columns: the series has no chunks (skip_chunks) or aggregate chunks. */
const NONE = 0xffffffff;

/**
 * One block's series for one query, in the index's order, as rows of numbers: each series' labels as
 * symbol refs and its raw chunks as rows of a read batch's columns, given as each batch's read ends
 * (`readThrough`). A query holds its series until they are sent (the store gateway's until it has read
 * every block: a corrupt block fails the call before any frame), and objects held that long are what
 * the garbage collector copies: a series is made an object (`storeSeries`) only when it is sent. Also
 * tells how the order relates to the series' mapped labels (the mapping may reorder them or make
 * neighbours equal), found as each series is added.
 */
export class SeriesRows {
  length = 0;
  /** Every series' labels sort at or after the previous one's. */
  sorted = true;
  /** No two neighbours have equal labels. */
  distinct = true;
  /** Chunks and bytes of chunk data the series hold. */
  chunks = 0;
  chunkBytes = 0;
  readonly #mapping: LabelMapping;
  /** Series `i`'s own labels are the symbol refs `#labelRefs[#labelStart[i], #labelStart[i + 1])`. */
  #labelStart: Uint32Array;
  #labelRefs: Uint32Array;
  /** Series `i`'s raw chunks are rows `[#from[i], #to[i])` of `#columns[#batch[i]]` (NONE: no raw chunks). */
  #batch: Uint32Array;
  #from: Uint32Array;
  #to: Uint32Array;
  readonly #columns: RawChunkColumns[] = [];
  /** Aggregate chunks of the series that have them (downsampled blocks). */
  readonly #aggr = new Map<number, AggrChunk[]>();
  /** The order keys of the last series added and of the one being added (views of one buffer). */
  #prevKeys: Float64Array;
  #prevLength = 0;
  #keys: Float64Array;
  /** The chunk reads, in series order: `from[i]` is the first series read `i` gives chunks; `through[i]` settles once reads 0..i have. */
  readonly #readFrom: number[] = [];
  readonly #readThrough: Promise<void>[] = [];
  /** What each read took of the call's share of --chunk-pool-size (once it is done), and how many reads gave it back. */
  readonly #readBytes: number[] = [];
  #readsGivenBack = 0;
  readonly #held: CallChunkBytes | undefined;
  /** The most series `readThrough` was asked for; reads paced by it (undefined: not decided yet) wait for it. */
  #asked = 0;
  #paced: boolean | undefined;
  #ended = false;
  readonly #waiters: { n: number; resolve: () => void; reject: (e: Error) => void }[] = [];

  /**
   * `series`: how many series the block may add (its postings), so that the rows are allocated once.
   * The columns are views of one carved buffer (a typed array of its own costs a backing store each,
   * which a query pays for every block it reads).
   */
  constructor(mapping: LabelMapping, series: number, held?: CallChunkBytes) {
    this.#mapping = mapping;
    this.#held = held;
    const n = Math.max(1, series) + 1;
    const { buffer, at } = carve(2 * 16 * 8 + 4 * (4 * n + 16 * n));
    this.#prevKeys = new Float64Array(buffer, at, 16);
    this.#keys = new Float64Array(buffer, at + 16 * 8, 16);
    const rows = at + 2 * 16 * 8;
    this.#labelStart = new Uint32Array(buffer, rows, n);
    this.#batch = new Uint32Array(buffer, rows + 4 * n, n);
    this.#from = new Uint32Array(buffer, rows + 8 * n, n);
    this.#to = new Uint32Array(buffer, rows + 12 * n, n);
    this.#labelRefs = new Uint32Array(buffer, rows + 16 * n, 16 * n);
  }

  /** Adds entry `e` of `cols` as the next series (without chunks yet); returns its index. */
  add(cols: SeriesColumns, e: number): number {
    const k = this.length++;
    if (this.length === this.#batch.length) {
      this.#batch = grown(this.#batch, k + 2);
      this.#from = grown(this.#from, k + 2);
      this.#to = grown(this.#to, k + 2);
      this.#labelStart = grown(this.#labelStart, k + 2);
    }
    const from = cols.labelStart[e] as number;
    const to = cols.labelStart[e + 1] as number;
    const start = this.#labelStart[k] as number;
    const end = start + to - from;
    if (end > this.#labelRefs.length) this.#labelRefs = grown(this.#labelRefs, end);
    // A few refs: a loop costs less than the view `set` would take.
    const src = cols.labelRefs;
    const dst = this.#labelRefs;
    for (let i = from, j = start; i < to; i++, j++) dst[j] = src[i] as number;
    this.#labelStart[k + 1] = end;
    this.#batch[k] = NONE;
    if (this.sorted) this.#order(start, end);
    return k;
  }

  /** Compares series `length - 1`'s mapped labels with the previous one's, by their order keys. */
  #order(start: number, end: number): void {
    const m = this.#mapping;
    if (!m.ordered) {
      // Not known without making every series' labels: sorted by the caller.
      this.sorted = false;
      return;
    }
    const max = m.maxKeys(end - start);
    if (max > this.#keys.length) {
      this.#keys = new Float64Array(2 * max);
      this.#prevKeys = grown(this.#prevKeys, 2 * max);
    }
    const n = m.keys(this.#labelRefs, start, end, this.#keys);
    if (this.length > 1) {
      const c = compareKeys(this.#prevKeys, this.#prevLength, this.#keys, n);
      if (c > 0) this.sorted = false;
      else if (c === 0) this.distinct = false;
    }
    const prev = this.#prevKeys;
    this.#prevKeys = this.#keys;
    this.#keys = prev;
    this.#prevLength = n;
  }

  /**
   * Registers the read that gives series `from` onwards (up to the next read's `from`) their chunks,
   * resolving to the bytes it took of the call's share of --chunk-pool-size. A failure is kept for
   * `readThrough` and `read`, never unhandled: a caller may stop before it asks.
   */
  reading(from: number, read: Promise<number>): void {
    const i = this.#readFrom.length;
    const done = read.then((bytes) => {
      this.#readBytes[i] = bytes;
    });
    const prev = this.#readThrough[this.#readThrough.length - 1];
    const through = prev !== undefined ? Promise.all([prev, done]).then(() => {}) : done;
    through.catch(() => {});
    this.#readFrom.push(from);
    this.#readThrough.push(through);
  }

  /** Settles once series [0, n) have their chunks; rejects with the error of a read among them that failed. */
  readThrough(n: number): Promise<void> {
    if (n > this.#asked) {
      this.#asked = n;
      this.#wake();
    }
    // The last read that starts before series n (reads start in series order).
    let lo = 0;
    let hi = this.#readFrom.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#readFrom[mid] as number) < n) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? Promise.resolve() : (this.#readThrough[lo - 1] as Promise<void>);
  }

  /** Settles once every series has its chunks. */
  get read(): Promise<void> {
    return this.#readThrough[this.#readThrough.length - 1] ?? Promise.resolve();
  }

  /**
   * Whether reads wait for the series before them to be asked for (`whenAskedInto`: an answer sent as it is
   * read, whose reads then stay a few ahead of what is sent), or go on as they come (an answer read
   * whole before any of it is sent, which pacing would deadlock). Reads past the first few wait for this.
   */
  paceReads(byAsks: boolean): void {
    this.#paced = byAsks;
    this.#wake();
  }

  /** The reads registered so far. */
  get reads(): number {
    return this.#readFrom.length;
  }

  /**
   * Settles once `readThrough` was asked for series of read `i` (registered), or at once where reads are
   * not paced; rejects once the call has ended.
   */
  whenAskedInto(i: number): Promise<void> {
    const n = (this.#readFrom[i] as number) + 1;
    if (this.#ended) return Promise.reject(new Error(CALL_ENDED));
    if (this.#mayRead(n)) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ n, resolve, reject }));
  }

  #mayRead(asked: number): boolean {
    return this.#paced === false || (this.#paced === true && this.#asked >= asked);
  }

  /** Series [0, n) have been sent: the reads whose series all were give back the bytes they took. */
  sentThrough(n: number): void {
    const reads = this.#readFrom.length;
    for (; this.#readsGivenBack < reads; this.#readsGivenBack++) {
      const end = this.#readsGivenBack + 1 < reads ? (this.#readFrom[this.#readsGivenBack + 1] as number) : this.length;
      if (end > n) break;
      this.#held?.give(this.#readBytes[this.#readsGivenBack] ?? 0);
    }
  }

  /** The call has ended (sent, failed, or left): reads still waiting to start fail instead. */
  end(): void {
    this.#ended = true;
    this.#wake();
  }

  #wake(): void {
    let kept = 0;
    for (const w of this.#waiters) {
      if (this.#ended) w.reject(new Error(CALL_ENDED));
      else if (this.#mayRead(w.n)) w.resolve();
      else this.#waiters[kept++] = w;
    }
    this.#waiters.length = kept;
  }

  /** Adds a batch's chunk columns; returns the number `setRaw` takes for them. */
  addColumns(columns: RawChunkColumns): number {
    return this.#columns.push(columns) - 1;
  }

  /** Gives series `k` rows [from, to) of the columns `batch` as its chunks. */
  setRaw(k: number, batch: number, from: number, to: number): void {
    this.#batch[k] = batch;
    this.#from[k] = from;
    this.#to[k] = to;
    const { start, end } = (this.#columns[batch] as RawChunkColumns).bytes;
    for (let i = from; i < to; i++) this.chunkBytes += (end[i] as number) - (start[i] as number);
    this.chunks += to - from;
  }

  setAggregates(k: number, chunks: AggrChunk[], bytes: number): void {
    this.#aggr.set(k, chunks);
    this.chunks += chunks.length;
    this.chunkBytes += bytes;
  }

  /**
   * Series `k` as it is sent, made now (each call makes it anew). Where the mapping can, its labels are
   * written straight from the block's symbol table, and made as objects only if something asks for them.
   */
  storeSeries(k: number): StoreSeries {
    const batch = this.#batch[k] as number;
    const raw = batch !== NONE ? this.#run(k, batch) : undefined;
    const chunks = raw !== undefined ? NO_CHUNKS : (this.#aggr.get(k) ?? NO_CHUNKS);
    const m = this.#mapping;
    const from = this.#labelStart[k] as number;
    const to = this.#labelStart[k + 1] as number;
    if (m.encodes) return new SymbolSeries(m, this.#labelRefs, from, to, chunks, raw);
    const labels = m.labels(this.#labelRefs, from, to);
    return raw !== undefined ? { labels, chunks, extraChunks: raw } : { labels, chunks };
  }

  /** Every series as an object, for the merges and sorts that need them all at once (once `read` has settled). */
  toArray(): BlockSeries[] {
    const out: BlockSeries[] = new Array(this.length);
    for (let k = 0; k < this.length; k++) out[k] = { labels: this.labels(k), ...this.chunksOf(k) };
    return out;
  }

  /** Series `k`'s mapped labels. */
  labels(k: number): Labels {
    return Labels.fromSorted(this.#labels(k));
  }

  /** Series `k`'s chunks: a run of raw chunks, or aggregate chunks as objects. */
  chunksOf(k: number): { chunks: AggrChunk[]; raw: RawChunkRun | undefined } {
    const batch = this.#batch[k] as number;
    return batch !== NONE ? { chunks: NO_CHUNKS, raw: this.#run(k, batch) } : { chunks: this.#aggr.get(k) ?? NO_CHUNKS, raw: undefined };
  }

  /** Whether series `k`'s mapped labels are `labels`. */
  labelsEqual(k: number, labels: readonly Label[]): boolean {
    return this.#mapping.equals(this.#labelRefs, this.#labelStart[k] as number, this.#labelStart[k + 1] as number, labels);
  }

  #labels(k: number): Label[] {
    return this.#mapping.labels(this.#labelRefs, this.#labelStart[k] as number, this.#labelStart[k + 1] as number);
  }

  #run(k: number, batch: number): RawChunkRun {
    return new RawChunkRun(this.#columns[batch] as RawChunkColumns, this.#from[k] as number, this.#to[k] as number);
  }
}

/** A series of SeriesRows whose labels are written from the block's symbol table (LabelMapping.encode). */
class SymbolSeries implements StoreSeries, EncodedLabels {
  readonly size: number;

  constructor(
    readonly mapping: LabelMapping,
    readonly refs: Uint32Array,
    readonly from: number,
    readonly to: number,
    readonly chunks: readonly AggrChunk[],
    readonly extraChunks: EncodedChunks | undefined,
  ) {
    this.size = mapping.encodedSize(refs, from, to);
  }

  get labels(): Label[] {
    return this.mapping.labels(this.refs, this.from, this.to);
  }

  /** The series is its own EncodedLabels: one object per series sent. */
  get encodedLabels(): EncodedLabels {
    return this;
  }

  write(w: ProtoWriter): void {
    w.advance(this.mapping.encode(this.refs, this.from, this.to, w.room(this.size), w.pos));
  }
}
