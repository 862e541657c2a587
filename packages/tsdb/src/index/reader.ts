import type { ByteRange } from '../encoding/byterange.js';
import { MAX_SPAN_GAP, spanCrcsMatch } from '../encoding/crc32c.js';
import { CorruptionError, Decbuf } from '../encoding/decbuf.js';
import { compareStrings, Labels, type Label } from '../labels/labels.js';
import type { Matcher } from '../labels/matcher.js';
import { EMPTY_POSTINGS, intersect, subtract, union, type Postings } from './postings.js';
import { checkCRC, crcMismatch, PostingsTable, type PostingsRange } from './postings-table.js';
import { decodeTOC, TOC_LEN, type TOC } from './toc.js';
import { INDEX_MAGIC, type ChunkRef } from './writer.js';
import { grown } from '../arrays.js';

/** One series entry of the index: its ID (offset/16), labels and chunk references. */
export interface SeriesEntry {
  readonly id: number;
  readonly labels: Labels;
  readonly chunks: ChunkRef[];
}

/**
 * A read of series entries goes on to the next wanted entry if it starts at most this many bytes after
 * the previous one's estimated end (the bytes between are read and dropped), and stops at the size
 * below: a dense selection costs one request per 256 KiB of entries (every request waits for the last:
 * entries are decoded in order), a sparse one no more than a few KiB per entry. Larger reads would
 * save requests but decode no faster (1 MiB: 10-30% slower per entry in a micro-benchmark, the
 * columns of one read no longer staying in the CPU's cache).
 */
const SERIES_READ_GAP = 16 * 1024;
const SERIES_READ_MAX = 256 * 1024;
/** Series entries are 16-byte aligned (their ID is offset/16). */
const SERIES_ALIGNMENT = 16;

/**
 * Reads an index (format v1 is rejected, v2 and the identical v3 are read; the layout is documented in
 * writer.ts) through a ByteRange. Opening reads the TOC, the symbol table and the postings offset
 * table; postings lists and series entries are read on demand, so one matcher set costs a few range
 * reads, not the whole file. Every table, list and entry is CRC-checked.
 */
export class IndexReader {
  readonly #r: ByteRange;
  readonly toc: TOC;
  readonly #symbols: string[];
  readonly #symbolTable: SymbolTable;
  /**
   * Whether the symbol table is in compareStrings order (as Prometheus writes it): then comparing two
   * symbol refs compares their strings.
   */
  readonly symbolsSorted: boolean;
  readonly #table: PostingsTable;
  readonly #seriesEnd: number;
  /**
   * Bytes read past the last wanted entry's start: twice the average entry (the series section's size
   * over the series count the all-postings list implies), so a lone entry costs one small read and
   * the rare longer one a second read.
   */
  readonly #seriesSizeEstimate: number;
  /** Decodes series entries (one at a time: decoding is synchronous). */
  readonly #cursor = new EntryCursor();
  /** Content length of the entry #entryIn found last. */
  #entryLen = 0;

  private constructor(r: ByteRange, toc: TOC, symbols: string[], symbolTable: SymbolTable, symbolsSorted: boolean, table: PostingsTable, seriesEnd: number, seriesSizeEstimate: number) {
    this.#r = r;
    this.toc = toc;
    this.#symbols = symbols;
    this.#symbolTable = symbolTable;
    this.symbolsSorted = symbolsSorted;
    this.#table = table;
    this.#seriesEnd = seriesEnd;
    this.#seriesSizeEstimate = seriesSizeEstimate;
  }

  /**
   * The same index with postings lists and series entries read through `r` instead (the symbols and
   * postings offset table already in memory are shared): a caller can route one query's reads through
   * its own ByteRange, e.g. to count them, without opening the index again.
   */
  withRange(r: ByteRange): IndexReader {
    return new IndexReader(r, this.toc, this.#symbols, this.#symbolTable, this.symbolsSorted, this.#table, this.#seriesEnd, this.#seriesSizeEstimate);
  }

  get name(): string {
    return this.#r.name;
  }

  static async open(r: ByteRange): Promise<IndexReader> {
    const size = await r.size();
    if (size < 5 + TOC_LEN) throw new CorruptionError(r.name, 0, `index too short: ${size} bytes, want at least ${5 + TOC_LEN}`);
    const head = new Decbuf(await r.read(0, 5), `${r.name}: header`, 0);
    const magic = head.be32();
    if (magic !== INDEX_MAGIC) throw new CorruptionError(`${r.name}: header`, 0, `invalid magic 0x${magic.toString(16)}, want 0xbaaad700`);
    const version = head.byte();
    if (version !== 2 && version !== 3) throw new CorruptionError(`${r.name}: header`, 4, `unsupported index version ${version}, want 2`);
    const toc = decodeTOC(await r.read(size - TOC_LEN, TOC_LEN), `${r.name}: TOC`, size - TOC_LEN, size);
    const tocStart = size - TOC_LEN;
    for (const [k, v] of Object.entries(toc)) {
      if (v >= tocStart) throw new CorruptionError(`${r.name}: TOC`, tocStart, `${k} offset ${v} is not before the TOC`);
    }
    if (toc.symbols === 0 || toc.postingsTable === 0) throw new CorruptionError(`${r.name}: TOC`, tocStart, 'symbol table or postings offset table missing');
    const { symbols, table: symbolTable, sorted } = await readSymbols(r, toc.symbols, tocStart);
    const postingsEnd = firstAfter(toc.postings, [toc.labelIndicesTable, toc.postingsTable], tocStart);
    const table = await PostingsTable.read(r, toc.postingsTable, postingsEnd, tocStart);
    const seriesEnd = firstAfter(toc.series, [toc.labelIndices, toc.postings, toc.labelIndicesTable, toc.postingsTable], tocStart);
    return new IndexReader(r, toc, symbols, symbolTable, sorted, table, seriesEnd, seriesSizeEstimate(table, seriesEnd - toc.series));
  }

  symbols(): readonly string[] {
    return this.#symbols;
  }

  /** The symbols as stored (see SymbolTable), for writers that copy them instead of encoding the strings again. */
  symbolTable(): SymbolTable {
    return this.#symbolTable;
  }

  /** The union of the postings of `name` for each of `values` (sorted, unique). */
  async postings(name: string, values: readonly string[]): Promise<Postings> {
    return this.#readPostings(await this.#table.lookup(name, values));
  }

  /** Every series ID (the all-postings list). */
  async allPostings(): Promise<Postings> {
    return this.postings('', ['']);
  }

  /**
   * Series IDs matching all matchers, with Prometheus' semantics: a matcher that matches "" also selects
   * series without the label, so it is applied by subtracting the series whose value it rejects.
   * No matchers select every series.
   */
  async postingsForMatchers(matchers: readonly Matcher[]): Promise<Postings> {
    const include: Postings[] = [];
    const exclude: Postings[] = [];
    for (const m of matchers) {
      if (m.matchesEmpty()) {
        const rejected = (await this.#table.values(m.name)).filter((p) => !m.matches(p.value));
        exclude.push(await this.#readPostings(rejected));
        continue;
      }
      // `=` and alternations of literals (`a|b|c`) read their values' postings only, as Prometheus does;
      // `lit.*` reads the entries of the values starting with `lit` only.
      const values = m.setMatches();
      let p: Postings;
      if (values !== undefined) {
        p = await this.postings(m.name, [...values].sort(compareStrings));
      } else {
        const prefix = m.literalPrefix();
        const candidates = prefix !== undefined ? await this.#table.valuesWithPrefix(m.name, prefix) : await this.#table.values(m.name);
        p = await this.#readPostings(candidates.filter((v) => m.matches(v.value)));
      }
      if (p.length === 0) return EMPTY_POSTINGS;
      include.push(p);
    }
    if (include.length === 0) include.push(await this.allPostings());
    return subtract(intersect(include), union(exclude));
  }

  /** Label names, sorted; with matchers, only names of matching series. */
  async labelNames(matchers: readonly Matcher[] = []): Promise<string[]> {
    if (matchers.length === 0) return this.#table.names().filter((n) => n !== '');
    const names = new Set<string>();
    for await (const s of this.series(await this.postingsForMatchers(matchers))) for (const l of s.labels) names.add(l.name);
    return [...names].sort(compareStrings);
  }

  /** Values of `name`, sorted; with matchers, only values carried by matching series. */
  async labelValues(name: string, matchers: readonly Matcher[] = []): Promise<string[]> {
    const all = await this.#table.values(name);
    if (matchers.length === 0) return all.map((p) => p.value);
    const selected = await this.postingsForMatchers(matchers);
    const out: string[] = [];
    for (const p of all) if (intersect([selected, await this.#readPostings([p])]).length > 0) out.push(p.value);
    return out;
  }

  /** Reads the given lists, one request per run of adjacent lists, and returns their union. */
  async #readPostings(ranges: readonly PostingsRange[]): Promise<Postings> {
    if (ranges.length === 0) return EMPTY_POSTINGS;
    const lists: Postings[] = [];
    let i = 0;
    while (i < ranges.length) {
      let j = i + 1;
      while (j < ranges.length && (ranges[j] as PostingsRange).start === (ranges[j - 1] as PostingsRange).end) j++;
      const start = (ranges[i] as PostingsRange).start;
      const bytes = await this.#r.read(start, (ranges[j - 1] as PostingsRange).end - start);
      for (let k = i; k < j; k++) {
        const p = ranges[k] as PostingsRange;
        lists.push(this.#decodePostings(bytes.subarray(p.start - start, p.end - start), p));
      }
      i = j;
    }
    return union(lists);
  }

  /** A postings list: BE32 len | BE32 n | BE32 id×n | CRC32C(n and ids); may be followed by padding. */
  #decodePostings(b: Uint8Array, p: PostingsRange): Postings {
    const what = `${this.#r.name}: postings list for value ${JSON.stringify(p.value)}`;
    const d = new Decbuf(b, what, p.start);
    const len = d.be32();
    if (len + 8 > b.length) d.fail(`list length ${len} runs past the next list at ${p.end}`, 0);
    const n = d.be32();
    if (len !== 4 + 4 * n) d.fail(`list length ${len} does not fit ${n} entries`, 0);
    checkCRC(b.subarray(4), len, what, p.start + 4 + len);
    const out = new Uint32Array(n);
    const view = d.view;
    let prev = -1;
    for (let k = 0; k < n; k++) {
      const id = view.getUint32(8 + 4 * k);
      if (id <= prev) d.fail(`series IDs not ascending (${id} after ${prev})`, 8 + 4 * k);
      out[k] = id;
      prev = id;
    }
    return out;
  }

  /**
   * The series entries for `ids` (ascending), read in windows of adjacent entries. With a time range,
   * an entry lists only its chunks overlapping [mint, maxt] (inclusive).
   */
  async *series(ids: Postings, mint = -Infinity, maxt = Infinity): AsyncGenerator<SeriesEntry> {
    for await (const batch of this.seriesBatches(ids, mint, maxt)) yield* batch;
  }

  /**
   * The series entries for `ids` (ascending), one array per window read: for callers that go through
   * many entries, one promise per window instead of one per entry. With a time range, an entry lists
   * only its chunks overlapping [mint, maxt] (inclusive); the others are decoded past, not built.
   */
  async *seriesBatches(ids: Postings, mint = -Infinity, maxt = Infinity): AsyncGenerator<SeriesEntry[]> {
    for await (const c of this.seriesColumns(ids)) {
      const batch: SeriesEntry[] = new Array(c.length);
      for (let i = 0; i < c.length; i++) {
        const from = c.labelStart[i] as number;
        const labels: Label[] = new Array((c.labelStart[i + 1]! - from) / 2);
        for (let j = 0; j < labels.length; j++) labels[j] = { name: this.#symbols[c.labelRefs[from + 2 * j]!]!, value: this.#symbols[c.labelRefs[from + 2 * j + 1]!]! };
        const chunks: ChunkRef[] = [];
        for (let k = c.chunkStart[i]!; k < c.chunkStart[i + 1]!; k++) {
          const minTime = c.minTime[k]!;
          const maxTime = c.maxTime[k]!;
          if (maxTime >= mint && minTime <= maxt) chunks.push({ minTime, maxTime, ref: c.ref[k]! });
        }
        batch[i] = { id: c.ids[i]!, labels: Labels.fromSorted(labels), chunks };
      }
      yield batch;
    }
  }

  /**
   * The series entries for `ids` (ascending), one window read at a time, decoded into columns (label
   * symbol refs and chunk metas) without an object per entry, label or chunk: for callers that keep
   * many series, which would otherwise hold (and make the garbage collector copy) several objects each.
   * The columns are reused: they hold one window's entries until the generator is resumed.
   */
  async *seriesColumns(ids: Postings): AsyncGenerator<SeriesColumns> {
    const window = takeSeriesWindow(Math.min(ids.length, 1024));
    try {
      yield* this.#seriesColumns(ids, window);
    } finally {
      releaseSeriesWindow(window);
    }
  }

  async *#seriesColumns(ids: Postings, { cols, unchecked }: SeriesWindow): AsyncGenerator<SeriesColumns> {
    let buf: Uint8Array = new Uint8Array(0);
    let bufStart = 0;
    for (let k = 0; k < ids.length; k++) {
      const id = ids[k] as number;
      const off = id * 16;
      if (off < this.toc.series || off >= this.#seriesEnd) throw new CorruptionError(`${this.#r.name}: series`, off, `series ID ${id} outside the series section [${this.toc.series}, ${this.#seriesEnd})`);
      let at = off >= bufStart ? this.#entryIn(buf, bufStart, off) : -1;
      if (at < 0) {
        if (cols.length > 0) {
          unchecked.check(buf, bufStart, this.#r.name);
          yield cols;
          cols.clear();
        }
        const estimate = this.#seriesSizeEstimate;
        let end = off + estimate;
        for (let j = k + 1; j < ids.length; j++) {
          const next = (ids[j] as number) * 16;
          if (next > end + SERIES_READ_GAP || next + estimate - off > SERIES_READ_MAX) break;
          end = next + estimate;
        }
        let len = Math.min(end - off, this.#seriesEnd - off);
        for (;;) {
          buf = await this.#r.read(off, len);
          bufStart = off;
          at = this.#entryIn(buf, bufStart, off);
          if (at >= 0) break;
          if (off + len >= this.#seriesEnd) throw new CorruptionError(`${this.#r.name}: series ${id}`, off, `entry runs past the end of the series section at ${this.#seriesEnd}`);
          len = Math.min(len * 4, this.#seriesEnd - off);
        }
      }
      unchecked.push(id, at, at + this.#entryLen);
      try {
        this.#decodeSeries(cols, id, buf, at, at + this.#entryLen, bufStart);
      } catch (e) {
        // A corrupt entry fails as corrupt (its CRC), not as whatever its bytes decoded to.
        unchecked.check(buf, bufStart, this.#r.name);
        throw e;
      }
    }
    if (cols.length > 0) {
      unchecked.check(buf, bufStart, this.#r.name);
      yield cols;
    }
  }

  /**
   * Where the content of the entry at `off` starts in `buf`, if the entry lies wholly within it (its
   * CRC not checked: see UncheckedEntries), else -1. The content's length is left in #entryLen.
   */
  #entryIn(buf: Uint8Array, bufStart: number, off: number): number {
    const rel = off - bufStart;
    if (rel >= buf.length) return -1;
    let len = 0;
    let mul = 1;
    let p = rel;
    for (let i = 0; ; i++) {
      if (p >= buf.length) return -1;
      if (i === 5) throw new CorruptionError(`${this.#r.name}: series ${off / 16}`, off, 'entry length varint longer than 5 bytes');
      const b = buf[p++] as number;
      len += (b & 0x7f) * mul;
      if (b < 0x80) break;
      mul *= 128;
    }
    if (p + len + 4 > buf.length) return -1;
    this.#entryLen = len;
    return p;
  }

  /**
   * Decodes the entry content `buf[start, end)` (at file offset bufStart + start) as the next row of
   * `out`. Errors name the entry and the offset, as Decbuf's would.
   */
  #decodeSeries(out: SeriesColumns, id: number, buf: Uint8Array, start: number, end: number, bufStart: number): void {
    const c = this.#cursor;
    c.reset(buf, start, end, bufStart, this.#r.name, id);
    const nSymbols = this.#symbols.length;
    const n = c.uvarint();
    // A label takes at least two bytes and a chunk meta three: a larger count is corruption, not a reason to allocate.
    if (2 * n > end - c.pos) c.fail(`${n} labels do not fit in the entry`);
    let l = out.labelStart[out.length] as number;
    out.reserveLabels(l + 2 * n);
    const refs = out.labelRefs;
    for (let i = 0; i < n; i++) {
      const at = c.offset;
      const name = c.uvarint();
      const value = c.uvarint();
      if (name >= nSymbols || value >= nSymbols) c.fail(`symbol ref ${name >= nSymbols ? name : value} out of range (${nSymbols} symbols)`, at);
      refs[l++] = name;
      refs[l++] = value;
    }
    const nChunks = c.uvarint();
    if (3 * nChunks > end - c.pos) c.fail(`${nChunks} chunk metas do not fit in the entry`);
    let k = out.chunkStart[out.length] as number;
    out.reserveChunks(k + nChunks);
    if (nChunks > 0) {
      const { minTime: mins, maxTime: maxs, ref: refsOut } = out;
      // Times are deltas that Go's reader takes as int64(uvarint): a chunk that starts before the one
      // before it ends (out of order or overlapping, as old Prometheus versions wrote some) has a negative one.
      c.int64 = true;
      let minTime = c.varint();
      let maxTime = minTime + c.uvarint();
      let ref = c.uvarint();
      mins[k] = minTime;
      maxs[k] = maxTime;
      refsOut[k++] = ref;
      for (let i = 1; i < nChunks; i++) {
        minTime = maxTime + c.uvarint();
        maxTime = minTime + c.uvarint();
        ref += c.varint();
        mins[k] = minTime;
        maxs[k] = maxTime;
        refsOut[k++] = ref;
      }
      c.int64 = false;
    }
    if (c.pos !== end) c.fail(`${end - c.pos} unexpected bytes after ${nChunks} chunk metas`);
    out.push(id, l, k);
  }

  async close(): Promise<void> {
    await this.#r.close();
  }
}

/**
 * A cursor over one series entry's content with Decbuf's checks and errors, reset for each entry instead
 * of allocating a Decbuf (and its name) per entry.
 */
class EntryCursor {
  #buf: Uint8Array = new Uint8Array(0);
  pos = 0;
  #end = 0;
  /** File offset of #buf[0]. */
  #base = 0;
  #file = '';
  #id = 0;

  reset(buf: Uint8Array, start: number, end: number, base: number, file: string, id: number): void {
    this.#buf = buf;
    this.pos = start;
    this.#end = end;
    this.#base = base;
    this.#file = file;
    this.#id = id;
    this.int64 = false;
  }

  get what(): string {
    return `${this.#file}: series ${this.#id}`;
  }

  /** File offset of the next byte. */
  get offset(): number {
    return this.#base + this.pos;
  }

  fail(reason: string, at = this.offset): never {
    throw new CorruptionError(this.what, at, reason);
  }

  /**
   * While set, a uvarint of 2^63 or more is read as Go's int64() of it, negative, rather than refused
   * (chunk metas' time deltas). Such a uvarint has ten bytes: only the byte-at-a-time loop reads it, so
   * the common path pays nothing for it.
   */
  int64 = false;

  /** Unsigned LEB128 of at most 2^53, as Decbuf.uvarint. */
  uvarint(): number {
    const b = this.#buf;
    const start = this.pos;
    // Symbol refs take 1 to 3 bytes, chunk metas' times and refs up to 6: up to 7 bytes (below 2^49) are
    // read unrolled, without a bounds check per byte (micro-benchmark: 10-30% less time per varint than
    // a fast path of 3 bytes and the general loop beyond).
    if (start + 3 <= this.#end) {
      const c0 = b[start] as number;
      if (c0 < 0x80) {
        this.pos = start + 1;
        return c0;
      }
      const c1 = b[start + 1] as number;
      if (c1 < 0x80) {
        this.pos = start + 2;
        return (c0 & 0x7f) | (c1 << 7);
      }
      const c2 = b[start + 2] as number;
      if (c2 < 0x80) {
        this.pos = start + 3;
        return (c0 & 0x7f) | ((c1 & 0x7f) << 7) | (c2 << 14);
      }
      if (start + 7 > this.#end) return this.#uvarintLoop(start);
      const lo = (c0 & 0x7f) | ((c1 & 0x7f) << 7) | ((c2 & 0x7f) << 14);
      const c3 = b[start + 3] as number;
      if (c3 < 0x80) {
        this.pos = start + 4;
        return lo | (c3 << 21);
      }
      const lo4 = lo | ((c3 & 0x7f) << 21);
      const c4 = b[start + 4] as number;
      if (c4 < 0x80) {
        this.pos = start + 5;
        return lo4 + c4 * 0x10000000;
      }
      const c5 = b[start + 5] as number;
      if (c5 < 0x80) {
        this.pos = start + 6;
        return lo4 + (c4 & 0x7f) * 0x10000000 + c5 * 0x800000000;
      }
      const c6 = b[start + 6] as number;
      if (c6 < 0x80) {
        this.pos = start + 7;
        return lo4 + (c4 & 0x7f) * 0x10000000 + (c5 & 0x7f) * 0x800000000 + c6 * 0x40000000000;
      }
    }
    return this.#uvarintLoop(start);
  }

  /** uvarint, a byte at a time with every check. */
  #uvarintLoop(start: number): number {
    const b = this.#buf;
    let p = start;
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (p >= this.#end) this.fail('unexpected end of data reading uvarint', this.#base + start);
      const c = b[p++] as number;
      result += (c & 0x7f) * mul;
      if (c < 0x80) {
        this.pos = p;
        if (result > Number.MAX_SAFE_INTEGER) return this.int64 ? this.#int64(start, p) : this.fail('uvarint exceeds 2^53', this.#base + start);
        return result;
      }
      mul *= 0x80;
    }
    return this.fail('uvarint overflow', this.#base + start);
  }

  /** The uvarint at [start, end) as Go's int64() of it, within ±2^53. */
  #int64(start: number, end: number): number {
    let v = 0n;
    for (let i = end - 1; i >= start; i--) v = (v << 7n) | BigInt((this.#buf[i] as number) & 0x7f);
    const n = BigInt.asIntN(64, v);
    if (n > BigInt(Number.MAX_SAFE_INTEGER) || n < BigInt(Number.MIN_SAFE_INTEGER)) this.fail('uvarint exceeds 2^53', this.#base + start);
    return Number(n);
  }

  /** ZigZag-decoded signed varint. */
  varint(): number {
    const u = this.uvarint();
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }
}

/**
 * Series entries decoded into columns (IndexReader.seriesColumns): entry `i` is series `ids[i]`, its
 * labels are the symbol refs `labelRefs[labelStart[i], labelStart[i + 1])`, name and value alternating
 * (IndexReader.symbols() gives the strings), and its chunk metas are rows `[chunkStart[i],
 * chunkStart[i + 1])` of `minTime`, `maxTime` and `ref`. The arrays grow as needed and are replaced
 * when they do: read them from the object each time, not from a copy taken before a decode.
 */
export class SeriesColumns {
  length = 0;
  ids: Uint32Array;
  labelStart: Uint32Array;
  labelRefs: Uint32Array;
  chunkStart: Uint32Array;
  minTime: Float64Array;
  maxTime: Float64Array;
  ref: Float64Array;

  /**
   * Sized for `series` entries of a typical shape (8 labels, 4 chunks), so that a query, which makes
   * columns for every block it reads, allocates each array once; they grow if that is not enough.
   */
  constructor(series: number) {
    const n = Math.max(1, series) + 1;
    this.ids = new Uint32Array(n);
    this.labelStart = new Uint32Array(n + 1);
    this.labelRefs = new Uint32Array(n * 16);
    this.chunkStart = new Uint32Array(n + 1);
    this.minTime = new Float64Array(n * 4);
    this.maxTime = new Float64Array(n * 4);
    this.ref = new Float64Array(n * 4);
  }

  clear(): void {
    this.length = 0;
  }

  /** The bytes its arrays hold. */
  get byteSize(): number {
    return this.ids.byteLength + this.labelStart.byteLength + this.labelRefs.byteLength + this.chunkStart.byteLength + this.minTime.byteLength + this.maxTime.byteLength + this.ref.byteLength;
  }

  /** Room for label refs up to `n`. */
  reserveLabels(n: number): void {
    if (n > this.labelRefs.length) this.labelRefs = grown(this.labelRefs, n);
  }

  /** Room for chunk rows up to `n`. */
  reserveChunks(n: number): void {
    if (n <= this.ref.length) return;
    this.minTime = grown(this.minTime, n);
    this.maxTime = grown(this.maxTime, n);
    this.ref = grown(this.ref, n);
  }

  /** Ends entry `length` (its label refs and chunk rows written up to `labelsEnd` and `chunksEnd`). */
  push(id: number, labelsEnd: number, chunksEnd: number): void {
    const i = this.length++;
    if (this.length === this.ids.length) {
      this.ids = grown(this.ids, i + 2);
      this.labelStart = grown(this.labelStart, i + 2);
      this.chunkStart = grown(this.chunkStart, i + 2);
    }
    this.ids[i] = id;
    this.labelStart[i + 1] = labelsEnd;
    this.chunkStart[i + 1] = chunksEnd;
  }
}

/**
 * The symbol table's bytes: symbol `i` is stored as `bytes[offsets[i], offsets[i + 1])`, its UTF-8 length
 * as a uvarint then its UTF-8 bytes, which is also how protobuf writes a string field after its tag.
 */
export interface SymbolTable {
  readonly bytes: Uint8Array;
  readonly offsets: Uint32Array;
}

/**
 * What seriesColumns fills for each read window: the columns (one window's entries: at most all of a
 * query's, seldom more than a thousand) and their entries, whose CRCs are checked together before the
 * columns go out.
 */
interface SeriesWindow {
  cols: SeriesColumns;
  unchecked: UncheckedEntries;
}

/**
 * Windows of finished seriesColumns calls, shared by every reader: a store gateway reads columns from
 * every block of every query (24 blocks a query over a day of two replicas), and their seven typed
 * arrays and three more were a tenth of its CPU for a query of a few series. Bounded in number, and a
 * window whose columns grew past MAX_SPARE_BYTES (many entries, or few with many labels or chunks, as
 * a long compacted block's series have) is not kept, so that idle blocks hold nothing and the pool at
 * most 16 MiB; its unchecked entries, 12 bytes an entry, stay smaller than its columns.
 */
const spareWindows: SeriesWindow[] = [];
const MAX_SPARE_WINDOWS = 16;
const MAX_SPARE_BYTES = 1024 * 1024;

function takeSeriesWindow(entries: number): SeriesWindow {
  const w = spareWindows.pop();
  if (w === undefined) return { cols: new SeriesColumns(entries), unchecked: new UncheckedEntries(entries) };
  w.cols.clear();
  w.unchecked.length = 0;
  return w;
}

function releaseSeriesWindow(w: SeriesWindow): void {
  if (spareWindows.length < MAX_SPARE_WINDOWS && w.cols.byteSize <= MAX_SPARE_BYTES) spareWindows.push(w);
}

/** Per buffer of series entries read, a bit per 16 bytes: set where an entry starting there has been checked. */
const checkedEntries = new WeakMap<Uint8Array, Uint8Array>();

/**
 * Series entries of one read window whose CRCs are still to be checked, each as its content `[start,
 * end)` (its CRC at `end`), in file order. Checked together: a pass of the native CRC over each run of
 * nearby entries (spanCrcsMatch) instead of a table-driven pass per entry of a few tens of bytes, and
 * entry by entry only where a run does not match, to name the corrupt one.
 */
class UncheckedEntries {
  length = 0;
  #ids: Uint32Array;
  #starts: Uint32Array;
  #ends: Uint32Array;

  constructor(capacity: number) {
    this.#ids = new Uint32Array(Math.max(1, capacity));
    this.#starts = new Uint32Array(Math.max(1, capacity));
    this.#ends = new Uint32Array(Math.max(1, capacity));
  }

  push(id: number, start: number, end: number): void {
    const i = this.length++;
    if (i === this.#ids.length) {
      this.#ids = grown(this.#ids, i + 1);
      this.#starts = grown(this.#starts, i + 1);
      this.#ends = grown(this.#ends, i + 1);
    }
    this.#ids[i] = id;
    this.#starts[i] = start;
    this.#ends[i] = end;
  }

  /**
   * Checks every entry in `buf` (at file offset `bufStart`) not checked in it before, and forgets them;
   * throws naming the first corrupt one. The index cache hands every query that reads a range the same
   * bytes, so a dashboard's repeated selection is checked once, not on every query (its entries' CRCs
   * had been ~5% of a store gateway's Series call).
   */
  check(buf: Uint8Array, bufStart: number, name: string): void {
    const ids = this.#ids;
    const starts = this.#starts;
    const ends = this.#ends;
    // An entry starts at its ID × 16, and so does every read of entries: bit (ID - firstId) is its own.
    const firstId = bufStart / 16;
    const aligned = Number.isInteger(firstId);
    let checked = aligned ? checkedEntries.get(buf) : undefined;
    let n = 0;
    for (let k = 0; k < this.length; k++) {
      const bit = (ids[k] as number) - firstId;
      if (checked !== undefined && ((checked[bit >>> 3] as number) & (1 << (bit & 7))) !== 0) continue;
      ids[n] = ids[k] as number;
      starts[n] = starts[k] as number;
      ends[n++] = ends[k] as number;
    }
    this.length = 0;
    for (let from = 0, i = 1; i <= n; i++) {
      if (i < n && (starts[i] as number) - (ends[i - 1] as number) <= MAX_SPAN_GAP) continue;
      const first = from;
      if (!spanCrcsMatch(buf, i - first, (k) => starts[first + k] as number, (k) => ends[first + k] as number)) {
        for (let k = first; k < i; k++) {
          const mismatch = crcMismatch(buf, (ends[k] as number) - (starts[k] as number), starts[k] as number);
          if (mismatch !== undefined) throw new CorruptionError(`${name}: series ${ids[k] as number}`, bufStart + (ends[k] as number), mismatch);
        }
      }
      from = i;
    }
    if (n === 0 || !aligned) return;
    if (checked === undefined) checkedEntries.set(buf, (checked = new Uint8Array(Math.ceil(buf.length / 128))));
    for (let k = 0; k < n; k++) {
      const bit = (ids[k] as number) - firstId;
      checked[bit >>> 3] = (checked[bit >>> 3] as number) | (1 << (bit & 7));
    }
  }
}

/** Symbol table: BE32 len | BE32 count | {uvarint n, bytes}×count | CRC32C. */
async function readSymbols(r: ByteRange, off: number, limit: number): Promise<{ symbols: string[]; table: SymbolTable; sorted: boolean }> {
  const what = `${r.name}: symbol table`;
  if (off + 8 > limit) throw new CorruptionError(what, off, 'table header past the end of the index');
  const len = new Decbuf(await r.read(off, 4), what, off).be32();
  if (off + 8 + len > limit) throw new CorruptionError(what, off, `table length ${len} runs past the end of the index (TOC at ${limit})`);
  const body = await r.read(off + 4, len + 4);
  checkCRC(body, len, what, off + 4 + len);
  const d = new Decbuf(body.subarray(0, len), what, off + 4);
  const count = d.be32();
  const out = new Array<string>(count);
  const offsets = new Uint32Array(count + 1);
  let sorted = true;
  for (let i = 0; i < count; i++) {
    offsets[i] = d.pos;
    out[i] = d.uvarintStr();
    if (i > 0 && sorted) sorted = compareStrings(out[i - 1] as string, out[i] as string) < 0;
  }
  offsets[count] = d.pos;
  if (d.remaining !== 0) d.fail(`${d.remaining} unexpected bytes after ${count} symbols`);
  return { symbols: out, table: { bytes: d.bytes, offsets }, sorted };
}

/** Twice the average series entry (aligned), from the all-postings list's length; 1 KiB if the table has none. */
function seriesSizeEstimate(table: PostingsTable, sectionBytes: number): number {
  const all = table.allPostingsBytes();
  // A list is BE32 len | BE32 n | BE32 id×n | CRC32C.
  const n = all === undefined ? 0 : Math.floor((all - 12) / 4);
  if (n <= 0) return 1024;
  return Math.max(2 * SERIES_ALIGNMENT, Math.ceil((2 * sectionBytes) / n / SERIES_ALIGNMENT) * SERIES_ALIGNMENT);
}

/** The smallest non-zero candidate after `start` (where a section ends), else `fallback`. */
function firstAfter(start: number, candidates: readonly number[], fallback: number): number {
  let end = fallback;
  for (const c of candidates) if (c > start && c < end) end = c;
  return end;
}
