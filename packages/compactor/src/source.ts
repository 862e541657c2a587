import { isAscii } from 'node:buffer';
import { open, readdir, readFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import {
  checkChunkCrc,
  chunkFromBytes,
  compareStrings,
  CorruptionError,
  crc32c,
  Decbuf,
  decodeTOC,
  INDEX_FILENAME,
  INDEX_MAGIC,
  isSegmentFileName,
  MAX_CHUNK_LENGTH_FIELD_SIZE,
  META_FILENAME,
  parseMeta,
  readTombstonesFile,
  recordLength,
  refFileIndex,
  refOffset,
  TOC_LEN,
  TOMBSTONES_FILENAME,
  type BlockMeta,
  type Chunk,
  type Interval,
  type TOC,
  type Tombstones,
} from '@strata/tsdb';
import { lengthFieldSize } from './records.js';

const utf8 = new TextDecoder();

/** Bytes of the index's series section read at once. */
const SERIES_WINDOW = 256 << 10;
/** Bytes of a segment file read at once. */
const CHUNK_WINDOW = 1 << 20;

/**
 * One source block of a compaction, read front to back: series entries straight from the index's
 * series section and chunk records from the segment files, each in large sequential reads. Nothing is
 * decoded that a compaction only copies: a series is its label refs — already translated into the
 * output block's symbol table — and its chunks are the records as stored, CRC included.
 *
 * Segment records are not checksummed here: copied unchanged, a damaged one fails the verification
 * of the new block, which reads every chunk's CRC. Chunks that are decoded (to merge overlapping ones)
 * are checked first, by chunkOf.
 */
export class SourceBlock {
  readonly meta: BlockMeta;
  readonly dir: string;
  /** The source's symbol table, sorted; released once setOutputRefs has translated it. */
  symbols: readonly string[];
  /** Whether the block has tombstones (its deleted samples must be dropped, which needs decoding). */
  readonly hasTombstones: boolean;
  readonly #tombstones: Tombstones;
  /** The current series: name, value, … refs in [0, numRefs), in the output's symbol table. */
  labelRefs = new Uint32Array(32);
  numRefs = 0;
  /** The current series' chunk references and bounds, in [0, numChunks). */
  numChunks = 0;
  minTimes = new Float64Array(16);
  maxTimes = new Float64Array(16);
  chunkRefs = new Float64Array(16);

  readonly #index: FileHandle;
  readonly #segments: readonly FileHandle[];
  readonly #segmentSizes: readonly number[];
  #outRefs: Uint32Array = new Uint32Array(0);
  /** The current series entry's file offset (its ID × 16). */
  #entry = 0;
  /** Next series entry's file offset (before its 16-byte alignment) and where the section ends. */
  #next: number;
  readonly #seriesEnd: number;
  #sbuf: Uint8Array = new Uint8Array(0);
  #sbufStart = 0;
  /** The window of a segment file last read. */
  #cbuf: Uint8Array = new Uint8Array(0);
  /** The buffer of the window before, reused for the next one. */
  #cspare: Uint8Array = new Uint8Array(0);
  #cFile = -1;
  #cStart = 0;

  private constructor(dir: string, meta: BlockMeta, symbols: readonly string[], tombstones: Tombstones, index: FileHandle, seriesStart: number, seriesEnd: number, segments: FileHandle[], sizes: number[]) {
    this.dir = dir;
    this.meta = meta;
    this.symbols = symbols;
    this.hasTombstones = tombstones.size > 0;
    this.#tombstones = tombstones;
    this.#index = index;
    this.#next = seriesStart;
    this.#seriesEnd = seriesEnd;
    this.#segments = segments;
    this.#segmentSizes = sizes;
  }

  static async open(dir: string): Promise<SourceBlock> {
    const meta = parseMeta(await readFile(join(dir, META_FILENAME), 'utf8'), join(dir, META_FILENAME));
    const tombstones = await readTombstonesFile(join(dir, TOMBSTONES_FILENAME));
    const indexPath = join(dir, INDEX_FILENAME);
    const index = await open(indexPath, 'r');
    let toc: TOC;
    let symbols: string[];
    try {
      ({ toc, symbols } = await readHead(index, indexPath));
    } catch (e) {
      await index.close();
      throw e;
    }
    const tocStart = (await index.stat()).size - TOC_LEN;
    let seriesEnd = tocStart;
    for (const c of [toc.labelIndices, toc.postings, toc.labelIndicesTable, toc.postingsTable]) if (c > toc.series && c < seriesEnd) seriesEnd = c;
    const handles: FileHandle[] = [index];
    try {
      const names = (await readdir(join(dir, 'chunks'))).filter(isSegmentFileName).sort((a, b) => Number(a) - Number(b));
      const sizes: number[] = [];
      for (const n of names) {
        const fh = await open(join(dir, 'chunks', n), 'r');
        handles.push(fh);
        sizes.push((await fh.stat()).size);
      }
      return new SourceBlock(dir, meta, symbols, tombstones, handles[0]!, toc.series, seriesEnd, handles.slice(1), sizes);
    } catch (e) {
      await Promise.all(handles.map((h) => h.close()));
      throw e;
    }
  }

  /** Sets where each of the source's symbols is in the output's symbol table (by the source's ref). */
  setOutputRefs(refs: Uint32Array): void {
    this.#outRefs = refs;
    this.symbols = [];
  }

  /**
   * Moves to the next series; false after the last. Synchronous while the buffered part of the series
   * section holds the entry, so that most calls cost no promise.
   */
  next(): boolean | Promise<boolean> {
    const at = align16(this.#next);
    if (at >= this.#seriesEnd) return false;
    return this.#parseEntry(at) || this.#loadEntry(at);
  }

  async #loadEntry(at: number): Promise<boolean> {
    await this.#loadSeries(at);
    if (!this.#parseEntry(at)) throw new CorruptionError(this.#entryName(at), at, `series entry runs past the end of the series section at ${this.#seriesEnd}`);
    return true;
  }

  /**
   * The records of the current series' chunks, in order: views of the read buffers, not copies, valid
   * until records() is called again. Synchronous while the current window of the segment file holds them.
   */
  records(): Uint8Array[] | Promise<Uint8Array[]> {
    const out = new Array<Uint8Array>(this.numChunks);
    for (let i = 0; i < this.numChunks; i++) {
      const rec = this.#recordInWindow(this.chunkRefs[i]!);
      if (rec === undefined) return this.#loadRecords(out, i);
      out[i] = rec;
    }
    return out;
  }

  async #loadRecords(out: Uint8Array[], from: number): Promise<Uint8Array[]> {
    let loads = 0;
    for (let i = from; i < this.numChunks; i++) {
      const ref = this.chunkRefs[i]!;
      let rec = this.#recordInWindow(ref);
      if (rec === undefined) {
        // The first window read goes into the spare buffer; a series spanning more windows than that
        // gets fresh buffers, so that its earlier records stay intact.
        await this.#loadChunks(ref, loads++ > 0);
        rec = this.#recordInWindow(ref);
        if (rec === undefined) throw new CorruptionError(this.#segmentName(ref), refOffset(ref), 'chunk record runs past the end of the segment file');
      }
      out[i] = rec;
    }
    return out;
  }

  /** The current series' deleted intervals, if any. */
  deleted(): readonly Interval[] | undefined {
    return this.hasTombstones ? this.#tombstones.get(this.#entry / 16) : undefined;
  }

  /** The decoded chunk of a record, after checking its CRC (for chunks that are merged, not copied). */
  chunkOf(record: Uint8Array, ref: number): Chunk {
    const dataAt = lengthFieldSize(record);
    const crcAt = record.length - 4;
    checkChunkCrc(record, dataAt, crcAt, this.#segmentName(ref), ref);
    return chunkFromBytes(record[dataAt]!, record.subarray(dataAt + 1, crcAt));
  }

  async close(): Promise<void> {
    await Promise.all([this.#index, ...this.#segments].map((h) => h.close()));
  }

  /** Decodes the series entry at file offset `at` if the buffer holds all of it. */
  #parseEntry(at: number): boolean {
    const b = this.#sbuf;
    let p = at - this.#sbufStart;
    if (p < 0 || p >= b.length) return false;
    let len = 0;
    for (let shift = 1; ; shift *= 128) {
      if (p >= b.length) return false;
      const x = b[p++]!;
      len += (x & 0x7f) * shift;
      if (x < 0x80) break;
      if (shift > 2 ** 28) throw new CorruptionError(this.#entryName(at), at, 'entry length varint longer than 5 bytes');
    }
    const end = p + len;
    if (end + 4 > b.length) return false;
    const stored = ((b[end]! << 24) | (b[end + 1]! << 16) | (b[end + 2]! << 8) | b[end + 3]!) >>> 0;
    if (crc32c(b, 0, p, end) !== stored) throw new CorruptionError(this.#entryName(at), at, 'series entry checksum mismatch');
    const d = new EntryDecoder(b, p, end, () => this.#entryName(at), this.#sbufStart);
    const numLabels = d.uvarint();
    if (this.labelRefs.length < numLabels * 2) this.labelRefs = new Uint32Array(numLabels * 4);
    for (let i = 0; i < numLabels * 2; i++) {
      const ref = d.uvarint();
      if (ref >= this.#outRefs.length) d.fail(`symbol ref ${ref} out of range (${this.#outRefs.length} symbols)`);
      this.labelRefs[i] = this.#outRefs[ref]!;
    }
    this.numRefs = numLabels * 2;
    const n = d.uvarint();
    if (this.minTimes.length < n) {
      this.minTimes = new Float64Array(n * 2);
      this.maxTimes = new Float64Array(n * 2);
      this.chunkRefs = new Float64Array(n * 2);
    }
    let maxTime = 0;
    let ref = 0;
    for (let i = 0; i < n; i++) {
      const minTime = i === 0 ? d.varint() : maxTime + d.timeDelta();
      maxTime = minTime + d.timeDelta();
      ref = i === 0 ? d.uvarint() : ref + d.varint();
      this.minTimes[i] = minTime;
      this.maxTimes[i] = maxTime;
      this.chunkRefs[i] = ref;
    }
    if (d.pos !== end) d.fail(`${end - d.pos} unexpected bytes after ${n} chunk metas`);
    this.numChunks = n;
    this.#entry = at;
    this.#next = this.#sbufStart + end + 4;
    return true;
  }

  /** Reads the series section from `at` on, at least one window or up to its end (entries are decoded before the next read). */
  async #loadSeries(at: number): Promise<void> {
    const want = Math.max(SERIES_WINDOW, 2 * (this.#sbufStart + this.#sbuf.length - at));
    const len = Math.min(want, this.#seriesEnd - at);
    const buf = this.#sbuf.buffer.byteLength >= len ? new Uint8Array(this.#sbuf.buffer) : new Uint8Array(Math.max(len, SERIES_WINDOW));
    this.#sbuf = await readAt(this.#index, at, buf, len);
    this.#sbufStart = at;
  }

  /** The record at `ref` if the current window holds all of it. */
  #recordInWindow(ref: number): Uint8Array | undefined {
    if (refFileIndex(ref) !== this.#cFile) return undefined;
    const b = this.#cbuf;
    const p = refOffset(ref) - this.#cStart;
    if (p < 0 || p >= b.length) return undefined;
    const rest = b.subarray(p);
    const len = recordLength(rest);
    if (len === 0) {
      if (rest.length >= MAX_CHUNK_LENGTH_FIELD_SIZE) throw new CorruptionError(this.#segmentName(ref), refOffset(ref), 'chunk length varint longer than 5 bytes');
      return undefined;
    }
    return len <= rest.length ? rest.subarray(0, len) : undefined;
  }

  /** Reads a window of the segment file from `ref` on, into the spare buffer or a `fresh` one. */
  async #loadChunks(ref: number, fresh: boolean): Promise<void> {
    const file = refFileIndex(ref);
    const off = refOffset(ref);
    const size = this.#segmentSizes[file];
    if (size === undefined || off >= size) throw new CorruptionError(this.#segmentName(ref), off, `chunk ref points past the segment files (${this.#segments.length} files)`);
    const len = Math.min(CHUNK_WINDOW, size - off);
    const spare = fresh || this.#cspare.length < len ? new Uint8Array(CHUNK_WINDOW) : this.#cspare;
    this.#cspare = this.#cbuf.buffer.byteLength >= CHUNK_WINDOW ? new Uint8Array(this.#cbuf.buffer) : this.#cspare;
    this.#cbuf = await readAt(this.#segments[file]!, off, spare, len);
    // A record longer than a window (never written by Prometheus) is read again whole, on its own.
    const record = recordLength(this.#cbuf);
    if (record > this.#cbuf.length && off + record <= size) this.#cbuf = await readAt(this.#segments[file]!, off, new Uint8Array(record), record);
    this.#cFile = file;
    this.#cStart = off;
  }

  #entryName(at: number): string {
    return `${this.dir}/index: series ${at / 16}`;
  }

  #segmentName(ref: number): string {
    return `${this.dir}/chunks/${String(refFileIndex(ref) + 1).padStart(6, '0')}`;
  }
}

/**
 * The union of the sources' symbol tables in order (a k-way merge of sorted lists), without "" (no
 * label has an empty name or value); each source is told where its symbols went.
 */
export function mergeSymbolTables(sources: readonly SourceBlock[]): string[] {
  const out: string[] = [];
  const pos = sources.map(() => 0);
  const maps = sources.map((s) => new Uint32Array(s.symbols.length).fill(0xffffffff));
  for (;;) {
    let min: string | undefined;
    for (let i = 0; i < sources.length; i++) {
      const s = sources[i]!.symbols[pos[i]!];
      if (s !== undefined && (min === undefined || compareStrings(s, min) < 0)) min = s;
    }
    if (min === undefined) break;
    if (min !== '') out.push(min);
    for (let i = 0; i < sources.length; i++) {
      if (sources[i]!.symbols[pos[i]!] !== min) continue;
      if (min !== '') maps[i]![pos[i]!] = out.length - 1;
      pos[i]!++;
    }
  }
  sources.forEach((s, i) => s.setOutputRefs(maps[i]!));
  return out;
}

/** Checks the index header and reads the TOC and the symbol table. */
async function readHead(index: FileHandle, path: string): Promise<{ toc: TOC; symbols: string[] }> {
  const size = (await index.stat()).size;
  if (size < 5 + TOC_LEN) throw new CorruptionError(path, 0, `index too short: ${size} bytes`);
  const head = await readAt(index, 0, new Uint8Array(5), 5);
  const magic = ((head[0]! << 24) | (head[1]! << 16) | (head[2]! << 8) | head[3]!) >>> 0;
  if (magic !== INDEX_MAGIC || (head[4] !== 2 && head[4] !== 3)) throw new CorruptionError(path, 0, `not an index file of version 2 (magic 0x${magic.toString(16)}, version ${head[4]})`);
  const toc = decodeTOC(await readAt(index, size - TOC_LEN, new Uint8Array(TOC_LEN), TOC_LEN), `${path}: TOC`, size - TOC_LEN, size);
  const what = `${path}: symbol table`;
  const lenBytes = await readAt(index, toc.symbols, new Uint8Array(4), 4);
  const len = new Decbuf(lenBytes, what, toc.symbols).be32();
  if (toc.symbols + 8 + len > size) throw new CorruptionError(what, toc.symbols, `table length ${len} runs past the end of the index`);
  const body = await readAt(index, toc.symbols + 4, new Uint8Array(len + 4), len + 4);
  const d = new Decbuf(body, what, toc.symbols + 4);
  d.skip(len);
  if (crc32c(body, 0, 0, len) !== d.be32()) throw new CorruptionError(what, toc.symbols + 4 + len, 'symbol table checksum mismatch');
  return { toc, symbols: decodeSymbols(body.subarray(0, len), what, toc.symbols + 4) };
}

/**
 * The symbols of a table body (BE32 count, then uvarint-prefixed UTF-8 strings). A table of ASCII
 * only after its count (the common case: ASCII symbols shorter than 128 bytes) is turned into one
 * string and sliced, instead of one decoder call a symbol.
 */
function decodeSymbols(body: Uint8Array, what: string, base: number): string[] {
  const d = new Decbuf(body, what, base);
  const count = d.be32();
  const out = new Array<string>(count);
  // The count's bytes may be anything; checked natively, as a callback per byte costs more than the decoding.
  const ascii = isAscii(body.subarray(4));
  const text = ascii ? Buffer.from(body.buffer, body.byteOffset, body.length).toString('latin1') : '';
  for (let i = 0; i < count; i++) {
    const n = d.uvarint();
    if (ascii) {
      d.skip(n);
      out[i] = text.slice(d.pos - n, d.pos);
    } else {
      out[i] = utf8.decode(d.bytesN(n));
    }
  }
  if (d.remaining !== 0) d.fail(`${d.remaining} unexpected bytes after ${count} symbols`);
  return out;
}

function align16(n: number): number {
  return Math.ceil(n / 16) * 16;
}

/** Reads up to `len` bytes at `at` into the start of `buf`; a view of what was read (short at the end of the file). */
async function readAt(fh: FileHandle, at: number, buf: Uint8Array, len: number): Promise<Uint8Array> {
  for (let done = 0; done < len; ) {
    const { bytesRead } = await fh.read(buf, done, len - done, at + done);
    if (bytesRead === 0) return buf.subarray(0, done);
    done += bytesRead;
  }
  return buf.subarray(0, len);
}

/** Varints of one series entry, bounds-checked against the entry's end, without an object per field. */
class EntryDecoder {
  constructor(
    private readonly b: Uint8Array,
    public pos: number,
    private readonly end: number,
    private readonly what: () => string,
    private readonly base: number,
  ) {}

  uvarint(): number {
    return this.#uvarint(false);
  }

  /**
   * A chunk time delta, which Go's reader takes as int64(uvarint): one of 2^63 or more (ten bytes) is
   * negative, where a chunk starts before the one before it ends (out of order or overlapping).
   */
  timeDelta(): number {
    return this.#uvarint(true);
  }

  #uvarint(int64: boolean): number {
    const start = this.pos;
    let v = 0;
    for (let shift = 1; shift <= 2 ** 49; shift *= 128) {
      if (this.pos >= this.end) this.fail('unexpected end of the entry reading a uvarint');
      const x = this.b[this.pos++]!;
      v += (x & 0x7f) * shift;
      if (x < 0x80) return v;
    }
    return int64 ? this.#int64(start) : this.fail('uvarint overflow');
  }

  /** The uvarint from `start` as Go's int64() of it, within ±2^53. */
  #int64(start: number): number {
    let v = 0n;
    this.pos = start;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.pos >= this.end) this.fail('unexpected end of the entry reading a uvarint');
      const x = this.b[this.pos++]!;
      v |= BigInt(x & 0x7f) << shift;
      if (x < 0x80) {
        const n = BigInt.asIntN(64, v);
        if (n > BigInt(Number.MAX_SAFE_INTEGER) || n < BigInt(Number.MIN_SAFE_INTEGER)) this.fail('uvarint exceeds 2^53');
        return Number(n);
      }
    }
    return this.fail('uvarint overflow');
  }

  varint(): number {
    const u = this.uvarint();
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }

  fail(reason: string): never {
    throw new CorruptionError(this.what(), this.base + this.pos, reason);
  }
}
