/**
 * Chunk segment files, `<block>/chunks/000001 …` (Prometheus' tsdb/chunks, format docs/format/chunks.md):
 *
 *   segment := BE32 magic 0x85BD40DD | byte version 1 | 3 zero bytes     (8-byte header)
 *              chunk*
 *   chunk   := uvarint len | byte encoding | data[len] | BE32 CRC32C(encoding ++ data)
 *
 * A chunk reference is the uint64 `fileIndex << 32 | offset`, with fileIndex the 0-based position of
 * the file in the sorted list of segment files (`000001` → 0) and offset the position of `len`.
 * References are kept as JavaScript numbers (`fileIndex * 2^32 + offset`), exact up to 2^21 files.
 */

import { crc32c } from '../encoding/crc32c.js';
import { CorruptionError } from '../encoding/decbuf.js';

export const SEGMENT_MAGIC = 0x85bd40dd;
export const SEGMENT_VERSION = 1;
export const SEGMENT_HEADER_SIZE = 8;
/** Prometheus' default maximum segment size (512 MiB). */
export const DEFAULT_MAX_SEGMENT_SIZE = 512 * 1024 * 1024;
/** The longest `len` field readers accept (a uvarint of a uint32). */
export const MAX_CHUNK_LENGTH_FIELD_SIZE = 5;
/** Bytes of a chunk besides its data: the longest `len`, the encoding byte, the CRC. */
export const CHUNK_OVERHEAD = MAX_CHUNK_LENGTH_FIELD_SIZE + 1 + 4;

const TWO_32 = 2 ** 32;

/** Bytes of the whole chunk record at `record[at]`; 0 if its length field is cut off or too long. */
export function recordLength(record: Uint8Array, at = 0): number {
  let len = 0;
  for (let p = 0; p < MAX_CHUNK_LENGTH_FIELD_SIZE && at + p < record.length; p++) {
    const b = record[at + p]!;
    len += (b & 0x7f) * 2 ** (7 * p);
    if (b < 0x80) return p + 1 + 1 + len + 4;
  }
  return 0;
}

/**
 * Checks the CRC32C of a chunk record held in `bytes`, its encoding byte at `encodingAt` and its CRC at
 * `crcAt`; a mismatch is a CorruptionError naming the file, the chunk and its offset.
 */
export function checkChunkCrc(bytes: Uint8Array, encodingAt: number, crcAt: number, fileName: string, ref: number): void {
  const stored = ((bytes[crcAt]! << 24) | (bytes[crcAt + 1]! << 16) | (bytes[crcAt + 2]! << 8) | bytes[crcAt + 3]!) >>> 0;
  const actual = crc32c(bytes, 0, encodingAt, crcAt);
  if (stored !== actual) {
    throw new CorruptionError(
      fileName,
      refOffset(ref),
      `chunk ${formatRef(ref)}: checksum mismatch: stored CRC32C 0x${stored.toString(16).padStart(8, '0')}, computed 0x${actual.toString(16).padStart(8, '0')}`,
    );
  }
}

/** The `len` (data bytes) of the chunk record at the start of `record`; 0 if the field is cut off. */
export function recordDataLength(record: Uint8Array): number {
  let len = 0;
  for (let p = 0; p < MAX_CHUNK_LENGTH_FIELD_SIZE && p < record.length; p++) {
    const b = record[p]!;
    len += (b & 0x7f) * 2 ** (7 * p);
    if (b < 0x80) return len;
  }
  return 0;
}

export function chunkRef(fileIndex: number, offset: number): number {
  return fileIndex * TWO_32 + offset;
}

export function refFileIndex(ref: number): number {
  return Math.floor(ref / TWO_32);
}

export function refOffset(ref: number): number {
  return ref % TWO_32;
}

/** File name of the segment at `fileIndex` (0-based): `000001` for 0. */
export function segmentFileName(fileIndex: number): string {
  return String(fileIndex + 1).padStart(6, '0');
}

/** Whether `name` is a segment file name (all digits), as Prometheus selects them. */
export function isSegmentFileName(name: string): boolean {
  return /^\d+$/.test(name);
}

/** `0x…` form of a reference, for messages. */
export function formatRef(ref: number): string {
  return `0x${ref.toString(16)}`;
}
