import { readFile, rename, writeFile } from 'node:fs/promises';
import type { ByteRange } from '../encoding/byterange.js';
import { crc32c } from '../encoding/crc32c.js';
import { CorruptionError, Decbuf } from '../encoding/decbuf.js';
import { Encbuf } from '../encoding/encbuf.js';

/**
 * The `tombstones` file of a block: deleted time ranges per series.
 *
 *   BE32 magic 0x0130BA30 | byte version 1 | entry… | BE32 CRC32C(entries only, not magic or version)
 *   entry := uvarint seriesID | varint mint | varint maxt        (closed interval [mint, maxt])
 *
 * An empty file is exactly 01 30 BA 30 01 00 00 00 00; a missing file means no tombstones. Entries come in
 * any order and may overlap; they are merged per series on read.
 */

export const TOMBSTONES_FILENAME = 'tombstones';
const MAGIC = 0x0130ba30;
const VERSION = 1;

/** A closed interval of deleted timestamps. */
export interface Interval {
  readonly mint: number;
  readonly maxt: number;
}

/** Deleted intervals by series ID, each list sorted, non-overlapping and non-adjacent. */
export class Tombstones {
  readonly #bySeries = new Map<number, Interval[]>();

  get size(): number {
    return this.#bySeries.size;
  }

  /** Number of intervals (meta.json's numTombstones). */
  numIntervals(): number {
    let n = 0;
    for (const l of this.#bySeries.values()) n += l.length;
    return n;
  }

  /** The deleted intervals of a series, or undefined. */
  get(seriesID: number): readonly Interval[] | undefined {
    return this.#bySeries.get(seriesID);
  }

  /** Adds an interval, merging it with overlapping or adjacent ones. */
  add(seriesID: number, iv: Interval): void {
    if (iv.maxt < iv.mint) throw new RangeError(`tombstone interval [${iv.mint}, ${iv.maxt}] is empty`);
    const list = this.#bySeries.get(seriesID) ?? [];
    const merged: Interval[] = [];
    let cur = iv;
    for (const x of list) {
      if (x.maxt + 1 < cur.mint || cur.maxt + 1 < x.mint) merged.push(x);
      else cur = { mint: Math.min(x.mint, cur.mint), maxt: Math.max(x.maxt, cur.maxt) };
    }
    merged.push(cur);
    merged.sort((a, b) => a.mint - b.mint);
    this.#bySeries.set(seriesID, merged);
  }

  *entries(): IterableIterator<[number, readonly Interval[]]> {
    const ids = [...this.#bySeries.keys()].sort((a, b) => a - b);
    for (const id of ids) yield [id, this.#bySeries.get(id) as Interval[]];
  }
}

export function encodeTombstones(t: Tombstones): Uint8Array {
  const e = new Encbuf(64);
  e.putBE32(MAGIC);
  e.putByte(VERSION);
  for (const [id, ivs] of t.entries()) {
    for (const iv of ivs) {
      e.putUvarint(id);
      e.putVarint(iv.mint);
      e.putVarint(iv.maxt);
    }
  }
  e.putBE32(crc32c(e.get(), 0, 5));
  return e.get();
}

export function decodeTombstones(b: Uint8Array, what: string): Tombstones {
  const d = new Decbuf(b, what);
  if (b.length < 9) d.fail(`file too short: ${b.length} bytes, want at least 9`, 0);
  const magic = d.be32();
  if (magic !== MAGIC) d.fail(`invalid magic 0x${magic.toString(16)}, want 0x130ba30`, 0);
  const version = d.byte();
  if (version !== VERSION) d.fail(`unsupported version ${version}, want 1`, 4);
  const end = b.length - 4;
  const want = new DataView(b.buffer, b.byteOffset + end, 4).getUint32(0);
  const got = crc32c(b, 0, 5, end);
  if (want !== got) throw new CorruptionError(what, end, `checksum mismatch: stored 0x${want.toString(16)}, computed 0x${got.toString(16)}`);
  const entries = new Decbuf(b.subarray(0, end), what);
  entries.pos = 5;
  const t = new Tombstones();
  while (entries.remaining > 0) {
    const at = entries.pos;
    const id = entries.uvarint();
    const mint = entries.varint();
    const maxt = entries.varint();
    if (maxt < mint) entries.fail(`interval [${mint}, ${maxt}] of series ${id} is empty`, at);
    t.add(id, { mint, maxt });
  }
  return t;
}

/** Reads a block's tombstones through a ByteRange. */
export async function readTombstones(r: ByteRange): Promise<Tombstones> {
  return decodeTombstones(await r.read(0, await r.size()), r.name);
}

/** Reads `<dir>/tombstones`; a missing file means none. */
export async function readTombstonesFile(path: string): Promise<Tombstones> {
  let b: Uint8Array;
  try {
    b = await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Tombstones();
    throw e;
  }
  return decodeTombstones(b, path);
}

/** Writes the file atomically (temporary name, then rename). */
export async function writeTombstonesFile(path: string, t: Tombstones): Promise<void> {
  await writeFile(`${path}.tmp`, encodeTombstones(t));
  await rename(`${path}.tmp`, path);
}

/** True when `t` lies in one of the (sorted) intervals. */
export function isDeleted(ivs: readonly Interval[], t: number): boolean {
  for (const iv of ivs) {
    if (t < iv.mint) return false;
    if (t <= iv.maxt) return true;
  }
  return false;
}
