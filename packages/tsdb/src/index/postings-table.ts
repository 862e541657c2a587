import type { ByteRange } from '../encoding/byterange.js';
import { crc32c } from '../encoding/crc32c.js';
import { CorruptionError, Decbuf } from '../encoding/decbuf.js';
import { compareStrings } from '../labels/labels.js';
import { hex } from './toc.js';

/**
 * The reader's view of the postings offset table
 *
 *   BE32 len | BE32 #entries | entry… | BE32 CRC32C(#entries and entries)
 *   entry := uvarint 2 (key count) | uvarint n, name | uvarint m, value | uvarint offset of the postings list
 *
 * sorted by (name, value) with ("","") first. Like Prometheus, only the first, every 32nd and the last
 * entry of each name stay in memory; a lookup binary-searches those samples and reads the few entries
 * between two of them back through the ByteRange. Postings lists are contiguous and in table order,
 * so an entry's list ends where the next entry's begins: lookups return [start, end) ranges that can be
 * read in one request each.
 */

const SAMPLE_EVERY = 32;

interface Sample {
  value: string;
  /** Absolute offset of the table entry. */
  entryOff: number;
  postingsOff: number;
}

interface NameEntries {
  samples: Sample[];
  /** Absolute offset just after this name's last table entry. */
  entriesEnd: number;
  /** Where the postings list after this name's last one starts (or the postings section ends). */
  postingsEnd: number;
}

/** A postings list's byte range in the index file (may include trailing padding). */
export interface PostingsRange {
  value: string;
  start: number;
  end: number;
}

export class PostingsTable {
  readonly #r: ByteRange;
  readonly #names = new Map<string, NameEntries>();
  readonly #sortedNames: string[] = [];

  private constructor(r: ByteRange) {
    this.#r = r;
  }

  /** Reads and checks the table at `off`; `postingsEnd` is where the postings section ends. */
  static async read(r: ByteRange, off: number, postingsEnd: number, fileSize: number): Promise<PostingsTable> {
    const what = `${r.name}: postings offset table`;
    const t = new PostingsTable(r);
    if (off + 4 > fileSize) throw new CorruptionError(what, off, `table header past the end of the file (size ${fileSize})`);
    const len = new Decbuf(await r.read(off, 4), what, off).be32();
    if (off + 8 + len > fileSize) throw new CorruptionError(what, off, `table length ${len} runs past the end of the file (size ${fileSize})`);
    const body = await r.read(off + 4, len + 4);
    const d = new Decbuf(body.subarray(0, len), what, off + 4);
    checkCRC(body, len, what, off + 4 + len);

    const count = d.be32();
    let cur: NameEntries | undefined;
    let curName = '';
    let prevValue = '';
    let idx = 0;
    let last: Sample | undefined;
    for (let i = 0; i < count; i++) {
      const entryOff = off + 4 + d.pos;
      const keys = d.uvarint();
      if (keys !== 2) d.fail(`unexpected key count ${keys} in entry ${i}, want 2`, entryOff - off - 4);
      const name = d.uvarintStr();
      const value = d.uvarintStr();
      const postingsOff = d.uvarint();
      if (postingsOff >= postingsEnd) d.fail(`postings offset ${postingsOff} of ${name}=${JSON.stringify(value)} outside the postings section`, entryOff - off - 4);
      const sample = { value, entryOff, postingsOff };
      if (cur === undefined || name !== curName) {
        if (cur !== undefined) {
          if (compareStrings(curName, name) > 0) d.fail(`label name ${JSON.stringify(name)} out of order`, entryOff - off - 4);
          t.#closeName(cur, last as Sample, idx, entryOff, postingsOff);
        }
        cur = { samples: [sample], entriesEnd: 0, postingsEnd: 0 };
        t.#names.set(name, cur);
        t.#sortedNames.push(name);
        curName = name;
        idx = 0;
      } else {
        if (compareStrings(prevValue, value) >= 0) d.fail(`label value ${JSON.stringify(value)} of ${name} out of order`, entryOff - off - 4);
        if (idx % SAMPLE_EVERY === 0) cur.samples.push(sample);
      }
      prevValue = value;
      last = sample;
      idx++;
    }
    if (cur !== undefined) t.#closeName(cur, last as Sample, idx, off + 4 + d.pos, postingsEnd);
    if (d.remaining !== 0) d.fail(`${d.remaining} unexpected bytes after ${count} entries`);
    return t;
  }

  #closeName(n: NameEntries, last: Sample, count: number, entriesEnd: number, postingsEnd: number): void {
    if ((count - 1) % SAMPLE_EVERY !== 0) n.samples.push(last);
    n.entriesEnd = entriesEnd;
    n.postingsEnd = postingsEnd;
  }

  /** Label names in the table, sorted, including "" (the all-postings key). */
  names(): readonly string[] {
    return this.#sortedNames;
  }

  /** Bytes of the all-postings list (the ("", "") entry) with any padding after it, known without a read. */
  allPostingsBytes(): number | undefined {
    const n = this.#names.get('');
    if (n === undefined || n.samples.length !== 1) return undefined;
    return n.postingsEnd - (n.samples[0] as Sample).postingsOff;
  }

  /** Every value of `name` with its postings range, sorted by value. */
  async values(name: string): Promise<PostingsRange[]> {
    const n = this.#names.get(name);
    if (n === undefined) return [];
    const first = n.samples[0] as Sample;
    return this.#decodeEntries(name, first.entryOff, n.entriesEnd, n.postingsEnd);
  }

  /**
   * The values of `name` that start with `prefix`, with their postings ranges: only the entries between
   * the samples around them are read, as for a lookup.
   */
  async valuesWithPrefix(name: string, prefix: string): Promise<PostingsRange[]> {
    const n = this.#names.get(name);
    if (n === undefined) return [];
    const s = n.samples;
    // The first sample not below the prefix: entries from the one before it on may start with it.
    const lo = samplesBefore(s, prefix, false);
    // Values with the prefix sort together: the first sample past them ends the read.
    let end = lo;
    while (end < s.length && (s[end] as Sample).value.startsWith(prefix)) end++;
    const from = s[Math.max(0, lo - 1)] as Sample;
    const next = s[end];
    const entries = await this.#decodeEntries(name, from.entryOff, next?.entryOff ?? n.entriesEnd, next?.postingsOff ?? n.postingsEnd);
    return entries.filter((e) => e.value.startsWith(prefix));
  }

  /** The postings range of each of `values` (sorted, unique) that exists. */
  async lookup(name: string, values: readonly string[]): Promise<PostingsRange[]> {
    const n = this.#names.get(name);
    if (n === undefined || values.length === 0) return [];
    if (values.length > n.samples.length) {
      // Many values: one read of the whole name is cheaper than a read per value.
      const want = new Set(values);
      return (await this.values(name)).filter((p) => want.has(p.value));
    }
    const out: PostingsRange[] = [];
    for (const v of values) {
      const s = n.samples;
      // The last sample with value ≤ v is the one before lo.
      const lo = samplesBefore(s, v, true);
      if (lo === 0) continue;
      const from = s[lo - 1] as Sample;
      const next = s[lo];
      const entries = await this.#decodeEntries(name, from.entryOff, next?.entryOff ?? n.entriesEnd, next?.postingsOff ?? n.postingsEnd);
      const hit = entries.find((e) => e.value === v);
      if (hit !== undefined) out.push(hit);
    }
    return out;
  }

  async #decodeEntries(name: string, start: number, end: number, postingsEnd: number): Promise<PostingsRange[]> {
    const what = `${this.#r.name}: postings offset table`;
    const d = new Decbuf(await this.#r.read(start, end - start), what, start);
    const out: PostingsRange[] = [];
    while (d.remaining > 0) {
      const at = d.pos;
      if (d.uvarint() !== 2) d.fail('unexpected key count, want 2', at);
      const n = d.uvarintStr();
      if (n !== name) d.fail(`entry for label ${JSON.stringify(n)}, want ${JSON.stringify(name)}`, at);
      const value = d.uvarintStr();
      const off = d.uvarint();
      const prev = out[out.length - 1];
      if (prev !== undefined) prev.end = off;
      out.push({ value, start: off, end: postingsEnd });
    }
    return out;
  }
}

/** How many of the (sorted) samples have values below `v`, or with `orEqual` at most `v`. */
function samplesBefore(samples: readonly Sample[], v: string, orEqual: boolean): number {
  let lo = 0;
  let hi = samples.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareStrings((samples[mid] as Sample).value, v);
    if (c < 0 || (orEqual && c === 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Checks the BE32 CRC32C stored right after `body[start, start + len)` against those bytes. */
export function checkCRC(body: Uint8Array, len: number, what: string, crcOffset: number, start = 0): void {
  const mismatch = crcMismatch(body, len, start);
  if (mismatch !== undefined) throw new CorruptionError(what, crcOffset, mismatch);
}

/**
 * How the BE32 CRC32C stored right after `body[start, start + len)` differs from those bytes' (for the
 * error), or undefined if it does not: for callers that check many small entries and name one only
 * when it is corrupt.
 */
export function crcMismatch(body: Uint8Array, len: number, start = 0): string | undefined {
  const end = start + len;
  const want = ((body[end] as number) * 0x1000000 + (((body[end + 1] as number) << 16) | ((body[end + 2] as number) << 8) | (body[end + 3] as number))) >>> 0;
  const got = crc32c(body, 0, start, end);
  return want === got ? undefined : `checksum mismatch: stored 0x${hex(want)}, computed 0x${hex(got)}`;
}
