import { crc32c } from '../encoding/crc32c.js';
import { Encbuf } from '../encoding/encbuf.js';
import { compareStrings, Labels } from '../labels/labels.js';
import { BufferedFileWriter } from './file-writer.js';
import { encodeTOC, type TOC } from './toc.js';

/**
 * Writes an index file in format v2, byte for byte as Prometheus 2.42 lays it out:
 *
 *   BE32 magic 0xBAAAD700 | byte version 2
 *   symbol table        BE32 len | BE32 count | {uvarint n, n bytes}×count | BE32 CRC32C      (at 5)
 *   series              one entry per series, each 16-byte aligned; series ID = offset / 16
 *       entry    := uvarint len | content | BE32 CRC32C(content)
 *       content  := uvarint #labels, {uvarint nameRef, uvarint valueRef}…, uvarint #chunks, chunk metas
 *       chunk 0  := varint mint | uvarint (maxt − mint) | uvarint ref
 *       chunk i  := uvarint (mint − previous maxt) | uvarint (maxt − mint) | varint (ref − previous ref)
 *   label indices       per label name, 4-byte aligned: BE32 len | BE32 1 | BE32 #values | BE32 valueRef… | CRC
 *   postings            4-byte aligned lists: BE32 len | BE32 #ids | BE32 seriesID… | CRC;
 *                       first the all-postings list (key "",""), then one list per (name, value) in order
 *   label offset table  BE32 len | BE32 #entries | {byte 1, uvarint n, name, uvarint offset}… | CRC
 *   postings offset table BE32 len | BE32 #entries | {byte 2, name, value (uvarint-prefixed), uvarint offset}… | CRC
 *   TOC                 52 bytes, see toc.ts
 *
 * Symbol refs are ordinals in the sorted symbol table, so sorting keys by ref sorts them by string; the
 * writer keeps postings keyed by refs. Series must be added in label-set order (compareStrings).
 */

export const INDEX_MAGIC = 0xbaaad700;
export const INDEX_VERSION = 2;
export const INDEX_FILENAME = 'index';

/** Where a chunk lives (segment ref) and its inclusive time bounds, as the index stores it. */
export interface ChunkRef {
  readonly minTime: number;
  readonly maxTime: number;
  readonly ref: number;
}

export class IndexWriter {
  readonly #f: BufferedFileWriter;
  /** The symbol table, by ref. */
  readonly #symbols: readonly string[];
  /** Symbol → ref, built when the first series comes as Labels (series added by refs never need it). */
  #refOf: Map<string, number> | undefined;
  readonly #toc: TOC = { symbols: 0, series: 0, labelIndices: 0, labelIndicesTable: 0, postings: 0, postingsTable: 0 };
  /** Every (name ref, value ref, series ID) of the series added, in order: postings are sorted out of it on close. */
  readonly #pairs = new PairList();
  #numSeries = 0;
  readonly #entry = new Encbuf(1024);
  /** A whole series entry as written. */
  readonly #out = new Encbuf(1024);
  /** The last series' label refs (name, value, …), to check the order of series added by refs. */
  #lastRefs = new Uint32Array(16);
  #lastNumRefs = -1;
  /** The last series added by Labels, for error messages. */
  #last: Labels | undefined;
  /** Label refs of a series added by Labels. */
  #refs = new Uint32Array(16);

  private constructor(f: BufferedFileWriter, symbols: readonly string[]) {
    this.#f = f;
    this.#symbols = symbols;
  }

  /** Creates the file and writes the header and symbol table. `symbols` must be sorted and unique. */
  static async create(path: string, symbols: Iterable<string>): Promise<IndexWriter> {
    const f = await BufferedFileWriter.create(path);
    try {
      const head = new Encbuf(8);
      head.putBE32(INDEX_MAGIC);
      head.putByte(INDEX_VERSION);
      await f.write(head.get());

      const table = new Encbuf(1 << 16);
      table.putBE32(0);
      table.putBE32(0);
      const refs: string[] = [];
      let prev: string | undefined;
      for (const s of symbols) {
        if (prev !== undefined && compareStrings(prev, s) >= 0) throw new Error(`index symbols out of order: ${JSON.stringify(prev)} before ${JSON.stringify(s)}`);
        refs.push(s);
        table.putUvarintStr(s);
        prev = s;
      }
      table.setBE32(0, table.length - 4);
      table.setBE32(4, refs.length);
      table.putBE32(crc32c(table.get(), 0, 4));
      const w = new IndexWriter(f, refs);
      w.#toc.symbols = f.pos;
      await f.write(table.get());
      w.#toc.series = f.pos;
      return w;
    } catch (e) {
      await f.abort();
      throw e;
    }
  }

  /** Appends one series; label sets must strictly increase. */
  async addSeries(labels: Labels, chunks: readonly ChunkRef[]): Promise<void> {
    const n = labels.size * 2;
    if (this.#refs.length < n) this.#refs = new Uint32Array(n * 2);
    const refs = this.#refs;
    let i = 0;
    for (const l of labels) {
      refs[i++] = this.#ref(l.name);
      refs[i++] = this.#ref(l.value);
    }
    if (this.#lastNumRefs >= 0 && compareRefs(this.#lastRefs, this.#lastNumRefs, refs, n) >= 0) {
      throw new Error(`index: series ${labels.toString()} added out of order (after ${this.#last?.toString() ?? `series ${this.#numSeries - 1}`})`);
    }
    await this.#write(refs, n, chunks, labels);
    this.#last = labels;
  }

  /**
   * Appends one series given by symbol refs — the positions in the sorted symbol table passed to
   * create() — as name, value, name, value, … in `labelRefs[0, numRefs)`. Comparing refs compares the
   * strings, so series must strictly increase in that order as in addSeries. For writers that already
   * hold their series as refs (the compactor), this saves building and looking up label strings.
   */
  async addSeriesRefs(labelRefs: ArrayLike<number>, numRefs: number, chunks: readonly ChunkRef[]): Promise<void> {
    for (let i = 0; i < numRefs; i++) {
      if (labelRefs[i]! >= this.#symbols.length) throw new Error(`index: symbol ref ${labelRefs[i]} not in the symbol table of ${this.#symbols.length}`);
    }
    if (this.#lastNumRefs >= 0 && compareRefs(this.#lastRefs, this.#lastNumRefs, labelRefs, numRefs) >= 0) {
      throw new Error(`index: series added out of order (series ${this.#numSeries})`);
    }
    await this.#write(labelRefs, numRefs, chunks, undefined);
  }

  async #write(labelRefs: ArrayLike<number>, numRefs: number, chunks: readonly ChunkRef[], labels: Labels | undefined): Promise<void> {
    // The entry goes out in one write: padding to the 16-byte boundary, length, content, CRC.
    const pad = (16 - (this.#f.pos % 16)) % 16;
    const id = (this.#f.pos + pad) / 16;
    if (id > 0xffffffff) throw new Error('index: series section exceeds 64 GiB (series IDs are 32-bit)');

    const e = this.#entry;
    e.reset();
    e.putUvarint(numRefs / 2);
    for (let i = 0; i < numRefs; i += 2) {
      const n = labelRefs[i]!;
      const v = labelRefs[i + 1]!;
      e.putUvarint(n);
      e.putUvarint(v);
      this.#pairs.push(n, v, id);
    }
    e.putUvarint(chunks.length);
    let prevMax = 0;
    let prevRef = 0;
    for (let i = 0; i < chunks.length; i++) {
      const c = chunks[i]!;
      if (i === 0) {
        e.putVarint(c.minTime);
        e.putUvarint(c.maxTime - c.minTime);
        e.putUvarint(c.ref);
      } else {
        if (c.minTime <= prevMax) throw new Error(`index: chunks of ${labels?.toString() ?? `series ${this.#numSeries}`} overlap or are out of order at ${c.minTime}`);
        e.putUvarint(c.minTime - prevMax);
        e.putUvarint(c.maxTime - c.minTime);
        e.putVarint(c.ref - prevRef);
      }
      prevMax = c.maxTime;
      prevRef = c.ref;
    }
    const out = this.#out;
    out.reset();
    for (let i = 0; i < pad; i++) out.putByte(0);
    out.putUvarint(e.length);
    e.putBE32(crc32c(e.get()));
    out.putBytes(e.get());
    await this.#f.write(out.get());
    this.#pairs.addSeries(id);
    if (this.#lastRefs.length < numRefs) this.#lastRefs = new Uint32Array(numRefs * 2);
    for (let i = 0; i < numRefs; i++) this.#lastRefs[i] = labelRefs[i]!;
    this.#lastNumRefs = numRefs;
    this.#numSeries++;
  }

  #ref(s: string): number {
    this.#refOf ??= new Map(this.#symbols.map((sym, i) => [sym, i]));
    const r = this.#refOf.get(s);
    if (r === undefined) throw new Error(`index: symbol ${JSON.stringify(s)} not in the symbol table`);
    return r;
  }

  /** Writes label indices, postings, both offset tables and the TOC, then closes the file. */
  async close(): Promise<void> {
    try {
      const f = this.#f;
      const symbolByRef = this.#symbols;
      const { names, values, ids } = this.#pairs.sorted(symbolByRef.length);

      // Label indices (read only by v1 readers; 2.42 writes them and sizes should match it): per name,
      // its distinct values.
      this.#toc.labelIndices = f.pos;
      const labelIndexOffsets: number[] = [];
      const t = new Encbuf(1 << 16);
      for (let i = 0; i < names.length; ) {
        const n = names[i]!;
        let end = i;
        while (end < names.length && names[end] === n) end++;
        await f.padTo(4);
        labelIndexOffsets.push(f.pos);
        t.reset();
        t.putBE32(0);
        t.putBE32(1);
        t.putBE32(0);
        let count = 0;
        for (let j = i; j < end; j++) {
          if (j > i && values[j] === values[j - 1]) continue;
          t.putBE32(values[j]!);
          count++;
        }
        t.setBE32(0, 4 + 4 + 4 * count);
        t.setBE32(8, count);
        t.putBE32(crc32c(t.get(), 0, 4));
        await f.write(t.get());
        i = end;
      }

      // Postings lists; the offset table entries are collected as they are written.
      this.#toc.postings = f.pos;
      const offsets = new Encbuf(1 << 16);
      let numOffsets = 0;
      const writePostings = async (name: string, value: string, list: Uint32Array): Promise<void> => {
        await f.padTo(4);
        offsets.putByte(2);
        offsets.putUvarintStr(name);
        offsets.putUvarintStr(value);
        offsets.putUvarint(f.pos);
        numOffsets++;
        t.reset();
        t.putBE32(4 + 4 * list.length);
        t.putBE32(list.length);
        for (let k = 0; k < list.length; k++) t.putBE32(list[k]!);
        t.putBE32(crc32c(t.get(), 0, 4));
        await f.write(t.get());
      };
      await writePostings('', '', this.#pairs.seriesIDs());
      for (let i = 0; i < names.length; ) {
        let end = i + 1;
        while (end < names.length && names[end] === names[i] && values[end] === values[i]) end++;
        await writePostings(symbolByRef[names[i]!]!, symbolByRef[values[i]!]!, ids.subarray(i, end));
        i = end;
      }

      this.#toc.labelIndicesTable = f.pos;
      t.reset();
      t.putBE32(0);
      t.putBE32(labelIndexOffsets.length);
      let k = 0;
      for (let i = 0; i < names.length; i++) {
        if (i > 0 && names[i] === names[i - 1]) continue;
        t.putByte(1);
        t.putUvarintStr(symbolByRef[names[i]!]!);
        t.putUvarint(labelIndexOffsets[k++]!);
      }
      await f.write(finishTable(t));

      this.#toc.postingsTable = f.pos;
      t.reset();
      t.putBE32(0);
      t.putBE32(numOffsets);
      t.putBytes(offsets.get());
      await f.write(finishTable(t));

      await f.write(encodeTOC(this.#toc));
      await f.close();
    } catch (e) {
      await this.#f.abort();
      throw e;
    }
  }

  async abort(): Promise<void> {
    await this.#f.abort();
  }
}

/** Lexicographic order of two label-ref sequences (name, value, …), as Labels.compare orders label sets. */
function compareRefs(a: ArrayLike<number>, na: number, b: ArrayLike<number>, nb: number): number {
  const n = Math.min(na, nb);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return na - nb;
}

/**
 * The (name ref, value ref, series ID) triples of an index, in three growable typed arrays: a few
 * bytes per label of each series where per-value JavaScript arrays would cost tens.
 */
class PairList {
  #names: Uint32Array = new Uint32Array(1024);
  #values: Uint32Array = new Uint32Array(1024);
  #ids: Uint32Array = new Uint32Array(1024);
  #n = 0;
  #series: Uint32Array = new Uint32Array(1024);
  #numSeries = 0;

  push(name: number, value: number, id: number): void {
    if (this.#n === this.#names.length) {
      this.#names = grow(this.#names);
      this.#values = grow(this.#values);
      this.#ids = grow(this.#ids);
    }
    this.#names[this.#n] = name;
    this.#values[this.#n] = value;
    this.#ids[this.#n++] = id;
  }

  /** Records a series (with or without labels) for the all-postings list; IDs ascend. */
  addSeries(id: number): void {
    if (this.#numSeries === this.#series.length) this.#series = grow(this.#series);
    this.#series[this.#numSeries++] = id;
  }

  /** Every series ID, ascending. */
  seriesIDs(): Uint32Array {
    return this.#series.subarray(0, this.#numSeries);
  }

  /**
   * The triples sorted by name, value, then series ID: two stable counting sorts over the symbol refs
   * (by value, then by name) of triples already in series ID order.
   */
  sorted(numSymbols: number): { names: Uint32Array; values: Uint32Array; ids: Uint32Array } {
    const n = this.#n;
    const byValue = countingOrder(this.#values, n, numSymbols, undefined);
    const order = countingOrder(this.#names, n, numSymbols, byValue);
    const names = new Uint32Array(n);
    const values = new Uint32Array(n);
    const ids = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const k = order[i]!;
      names[i] = this.#names[k]!;
      values[i] = this.#values[k]!;
      ids[i] = this.#ids[k]!;
    }
    return { names, values, ids };
  }
}

/** Indices [0, n) (or those of `prior`, in its order) stably sorted by key[i] < numKeys. */
function countingOrder(key: Uint32Array, n: number, numKeys: number, prior: Uint32Array | undefined): Uint32Array {
  const start = new Uint32Array(numKeys + 1);
  for (let i = 0; i < n; i++) start[key[i]! + 1]!++;
  for (let k = 0; k < numKeys; k++) start[k + 1]! += start[k]!;
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const idx = prior === undefined ? i : prior[i]!;
    out[start[key[idx]!]!++] = idx;
  }
  return out;
}

function grow(a: Uint32Array): Uint32Array {
  const b = new Uint32Array(a.length * 2);
  b.set(a);
  return b;
}

/** Fills in the BE32 length at 0 and appends the CRC of everything after it. */
function finishTable(t: Encbuf): Uint8Array {
  t.setBE32(0, t.length - 4);
  t.putBE32(crc32c(t.get(), 0, 4));
  return t.get();
}
