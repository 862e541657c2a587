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
  readonly #symbols: Map<string, number>;
  readonly #toc: TOC = { symbols: 0, series: 0, labelIndices: 0, labelIndicesTable: 0, postings: 0, postingsTable: 0 };
  /** nameRef → valueRef → series IDs (ascending, as series are added in order). */
  readonly #postings = new Map<number, Map<number, number[]>>();
  readonly #allIDs: number[] = [];
  readonly #entry = new Encbuf(1024);
  readonly #head = new Encbuf(16);
  #last: Labels | undefined;

  private constructor(f: BufferedFileWriter, symbols: Map<string, number>) {
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
      const refs = new Map<string, number>();
      let prev: string | undefined;
      for (const s of symbols) {
        if (prev !== undefined && compareStrings(prev, s) >= 0) throw new Error(`index symbols out of order: ${JSON.stringify(prev)} before ${JSON.stringify(s)}`);
        refs.set(s, refs.size);
        table.putUvarintStr(s);
        prev = s;
      }
      table.setBE32(0, table.length - 4);
      table.setBE32(4, refs.size);
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
    if (this.#last !== undefined && Labels.compare(this.#last, labels) >= 0) {
      throw new Error(`index: series ${labels.toString()} added out of order (after ${this.#last.toString()})`);
    }
    await this.#f.padTo(16);
    const id = this.#f.pos / 16;
    if (id > 0xffffffff) throw new Error('index: series section exceeds 64 GiB (series IDs are 32-bit)');

    const e = this.#entry;
    e.reset();
    e.putUvarint(labels.size);
    for (const l of labels) {
      const n = this.#ref(l.name);
      const v = this.#ref(l.value);
      e.putUvarint(n);
      e.putUvarint(v);
      let byValue = this.#postings.get(n);
      if (byValue === undefined) this.#postings.set(n, (byValue = new Map()));
      const ids = byValue.get(v);
      if (ids === undefined) byValue.set(v, [id]);
      else ids.push(id);
    }
    e.putUvarint(chunks.length);
    let prevMax = 0;
    let prevRef = 0;
    chunks.forEach((c, i) => {
      if (i === 0) {
        e.putVarint(c.minTime);
        e.putUvarint(c.maxTime - c.minTime);
        e.putUvarint(c.ref);
      } else {
        if (c.minTime <= prevMax) throw new Error(`index: chunks of ${labels.toString()} overlap or are out of order at ${c.minTime}`);
        e.putUvarint(c.minTime - prevMax);
        e.putUvarint(c.maxTime - c.minTime);
        e.putVarint(c.ref - prevRef);
      }
      prevMax = c.maxTime;
      prevRef = c.ref;
    });
    const h = this.#head;
    h.reset();
    h.putUvarint(e.length);
    e.putBE32(crc32c(e.get()));
    await this.#f.write(h.get());
    await this.#f.write(e.get());
    this.#allIDs.push(id);
    this.#last = labels;
  }

  #ref(s: string): number {
    const r = this.#symbols.get(s);
    if (r === undefined) throw new Error(`index: symbol ${JSON.stringify(s)} not in the symbol table`);
    return r;
  }

  /** Writes label indices, postings, both offset tables and the TOC, then closes the file. */
  async close(): Promise<void> {
    try {
      const f = this.#f;
      const names = [...this.#postings.keys()].sort((a, b) => a - b);
      const symbolByRef = [...this.#symbols.keys()];
      const sortedValues = new Map(names.map((n) => [n, [...(this.#postings.get(n) as Map<number, number[]>).keys()].sort((a, b) => a - b)]));

      // Label indices (read only by v1 readers; 2.42 writes them and sizes should match it).
      this.#toc.labelIndices = f.pos;
      const labelIndexOffsets: number[] = [];
      const t = new Encbuf(1 << 16);
      for (const n of names) {
        await f.padTo(4);
        labelIndexOffsets.push(f.pos);
        const values = sortedValues.get(n) as number[];
        t.reset();
        t.putBE32(4 + 4 + 4 * values.length);
        t.putBE32(1);
        t.putBE32(values.length);
        for (const v of values) t.putBE32(v);
        t.putBE32(crc32c(t.get(), 0, 4));
        await f.write(t.get());
      }

      // Postings lists; the offset table entries are collected as they are written.
      this.#toc.postings = f.pos;
      const offsets = new Encbuf(1 << 16);
      let numOffsets = 0;
      const writePostings = async (name: string, value: string, ids: readonly number[]): Promise<void> => {
        await f.padTo(4);
        offsets.putByte(2);
        offsets.putUvarintStr(name);
        offsets.putUvarintStr(value);
        offsets.putUvarint(f.pos);
        numOffsets++;
        t.reset();
        t.putBE32(4 + 4 * ids.length);
        t.putBE32(ids.length);
        for (const id of ids) t.putBE32(id);
        t.putBE32(crc32c(t.get(), 0, 4));
        await f.write(t.get());
      };
      await writePostings('', '', this.#allIDs);
      for (const n of names) {
        const byValue = this.#postings.get(n) as Map<number, number[]>;
        for (const v of sortedValues.get(n) as number[]) await writePostings(symbolByRef[n] as string, symbolByRef[v] as string, byValue.get(v) as number[]);
      }

      this.#toc.labelIndicesTable = f.pos;
      t.reset();
      t.putBE32(0);
      t.putBE32(names.length);
      names.forEach((n, i) => {
        t.putByte(1);
        t.putUvarintStr(symbolByRef[n] as string);
        t.putUvarint(labelIndexOffsets[i] as number);
      });
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

/** Fills in the BE32 length at 0 and appends the CRC of everything after it. */
function finishTable(t: Encbuf): Uint8Array {
  t.setBE32(0, t.length - 4);
  t.putBE32(crc32c(t.get(), 0, 4));
  return t.get();
}
