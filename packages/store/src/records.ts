import { grown, recordLength, spanCrcsMatch } from '@strata/tsdb';
import { hashStagedRecords } from './wasmchunks.js';

/** Fields per record in `ReadRecords.fields`. */
const FIELDS = 6;

/**
 * The chunk records of one read of a segment file, all found intact and hashed: what readChunks finds
 * parsing, checking and hashing them. The chunk cache keeps them with a read it can make again of the
 * same cached pieces (VerifiedReads), so that a dashboard's next refresh reads its chunks from them
 * instead of staging, parsing and hashing every read of every block again.
 *
 * One Uint32Array of FIELDS per record, in the order they are in the read: the record's offset in the
 * read (its length field), its data's start and end there, its xxhash64 as two halves, and its first two
 * data bytes (`ReadChunks.head`) above its encoding byte. One array, not a column each: a table lives as
 * long as its read is cached, and every typed array is an object of its own for the heap to hold.
 */
export class ReadRecords {
  constructor(
    readonly fields: Uint32Array,
    /** Where the read's whole records end: a record starting at or past this runs past the read. */
    readonly wholeEnd: number,
  ) {}

  get count(): number {
    return this.fields.length / FIELDS;
  }

  /** Memory held (what the chunk cache bounds). */
  get bytes(): number {
    return this.fields.byteLength + TABLE_OVERHEAD;
  }

  /** The index of the first record at or after `offset`, searching from record `from` on. */
  seek(offset: number, from: number): number {
    const f = this.fields;
    let r = from;
    while (r * FIELDS < f.length && (f[r * FIELDS] as number) < offset) r++;
    return r;
  }

  offset(r: number): number {
    return this.fields[r * FIELDS] as number;
  }

  dataStart(r: number): number {
    return this.fields[r * FIELDS + 1] as number;
  }

  dataEnd(r: number): number {
    return this.fields[r * FIELDS + 2] as number;
  }

  hashLo(r: number): number {
    return this.fields[r * FIELDS + 3] as number;
  }

  hashHi(r: number): number {
    return this.fields[r * FIELDS + 4] as number;
  }

  /** The record's first two data bytes, big-endian (0 if its data is shorter). */
  head(r: number): number {
    return (this.fields[r * FIELDS + 5] as number) >>> 8;
  }

  encoding(r: number): number {
    return (this.fields[r * FIELDS + 5] as number) & 0xff;
  }
}

/** The object, its array and the array's buffer. */
const TABLE_OVERHEAD = 200;

/** Columns the records of a read are gathered and hashed in, reused from read to read. */
const scratch = {
  at: new Uint32Array(1024),
  start: new Uint32Array(1024),
  end: new Uint32Array(1024),
  hashLo: new Uint32Array(1024),
  hashHi: new Uint32Array(1024),
};

/**
 * The chunk records of `staged` (records back to back from its start, as a segment file holds them; a
 * last one cut short by the end of the read left out), if every one matches its CRC32C; undefined if
 * one does not. `staged` is the read as `stage` left it: the records are hashed there, and `staged` is
 * not to be read afterwards (see hashStagedRecords).
 */
export function intactRecords(staged: Uint8Array): ReadRecords | undefined {
  const s = scratch;
  let count = 0;
  let pos = 0;
  while (pos < staged.length) {
    const length = recordLength(staged, pos);
    if (length === 0 || pos + length > staged.length) break;
    let fieldBytes = 1;
    while ((staged[pos + fieldBytes - 1] as number) >= 0x80) fieldBytes++;
    if (count === s.at.length) {
      for (const column of ['at', 'start', 'end', 'hashLo', 'hashHi'] as const) s[column] = grown(s[column], count + 1);
    }
    s.at[count] = pos;
    s.start[count] = pos + fieldBytes + 1;
    s.end[count] = pos + length - 4;
    count++;
    pos += length;
  }
  if (!spanCrcsMatch(staged, count, (i) => (s.start[i] as number) - 1, (i) => s.end[i] as number)) return undefined;
  const fields = new Uint32Array(count * FIELDS);
  for (let r = 0, f = 0; r < count; r++, f += FIELDS) {
    const start = s.start[r] as number;
    const end = s.end[r] as number;
    const head = end - start >= 2 ? ((staged[start] as number) << 8) | (staged[start + 1] as number) : 0;
    fields[f] = s.at[r] as number;
    fields[f + 1] = start;
    fields[f + 2] = end;
    fields[f + 5] = (head << 8) | (staged[start - 1] as number);
  }
  // Last: hashing may grow the module's memory, which leaves `staged` a detached view.
  hashStagedRecords(s, count);
  for (let r = 0, f = 0; r < count; r++, f += FIELDS) {
    fields[f + 3] = s.hashLo[r] as number;
    fields[f + 4] = s.hashHi[r] as number;
  }
  return new ReadRecords(fields, pos);
}
