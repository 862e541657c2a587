import { crc32c } from '../encoding/crc32c.js';
import { CorruptionError, Decbuf } from '../encoding/decbuf.js';
import { Encbuf } from '../encoding/encbuf.js';

/**
 * The table of contents, the last 52 bytes of an index file:
 *
 *   BE64 symbols | BE64 series | BE64 label indices | BE64 label offset table |
 *   BE64 postings | BE64 postings offset table | BE32 CRC32C(the 48 bytes before)
 *
 * Positions are absolute and taken before the writer pads a section, so `series` may point at the zero
 * padding in front of the first 16-byte aligned entry. 0 means "absent". Readers never use the two
 * label-index entries (Prometheus ≥ 3.7 makes them alias other sections).
 */
export interface TOC {
  symbols: number;
  series: number;
  labelIndices: number;
  labelIndicesTable: number;
  postings: number;
  postingsTable: number;
}

export const TOC_LEN = 6 * 8 + 4;

export function encodeTOC(toc: TOC): Uint8Array {
  const e = new Encbuf(TOC_LEN);
  for (const v of [toc.symbols, toc.series, toc.labelIndices, toc.labelIndicesTable, toc.postings, toc.postingsTable]) e.putBE64(BigInt(v));
  e.putBE32(crc32c(e.get()));
  return e.get();
}

/** Decodes the TOC from the last 52 bytes; `base` is their offset in the file, `size` the file size. */
export function decodeTOC(b: Uint8Array, what: string, base: number, size: number): TOC {
  const d = new Decbuf(b, what, base);
  const fields: number[] = [];
  for (let i = 0; i < 6; i++) {
    const v = d.be64();
    if (v > BigInt(size)) d.fail(`TOC entry ${i} points to ${v}, past the end of the file (size ${size})`, d.pos - 8);
    fields.push(Number(v));
  }
  const want = d.be32();
  const got = crc32c(b, 0, 0, 48);
  if (got !== want) throw new CorruptionError(what, base + 48, `TOC checksum mismatch: stored 0x${hex(want)}, computed 0x${hex(got)}`);
  const [symbols, series, labelIndices, labelIndicesTable, postings, postingsTable] = fields as [number, number, number, number, number, number];
  return { symbols, series, labelIndices, labelIndicesTable, postings, postingsTable };
}

export function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
