import { readFile, writeFile } from 'node:fs/promises';
import { crc32c, Encbuf, FileByteRange, IndexReader } from '@strata/tsdb';

/**
 * A byte of chunk data in a TSDB chunk segment file: not a record's length, encoding or CRC, whose damage
 * reads as other errors than a checksum mismatch. It is in the first chunk record that ends past
 * `offset`. A record is: uvarint data length, encoding byte, data, CRC-32C. Records follow the 8-byte
 * segment header.
 */
export function chunkDataByteNear(segment: Uint8Array, offset: number): number {
  let pos = 8;
  for (;;) {
    let len = 0;
    let shift = 0;
    let b: number;
    do {
      b = segment[pos++] as number;
      len += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b >= 0x80);
    const data = pos + 1;
    if (data + len > offset) return data + Math.floor(len / 2);
    pos = data + len + 4;
  }
}

/**
 * Rewrites the first series entry of the index at `path` with its chunk metas in the order `order`
 * gives, as Go's index writer writes chunks out of order (a negative time delta as the uvarint of its
 * 64-bit two's complement, which Strata's writer refuses to write). The entry must still end before
 * the next one, in the padding that aligns entries to 16 bytes.
 */
export async function reorderFirstSeriesChunks(path: string, order: (n: number) => number[]): Promise<void> {
  const index = await readFile(path);
  // The series section's offset in the TOC; its entries start on 16-byte boundaries.
  const seriesStart = Math.ceil(Number(index.readBigUInt64BE(index.length - 52 + 8)) / 16) * 16;
  let p = seriesStart;
  const uvarint = () => {
    let v = 0;
    let mul = 1;
    for (;;) {
      const c = index[p++] as number;
      v += (c & 0x7f) * mul;
      if (c < 0x80) return v;
      mul *= 128;
    }
  };
  const length = uvarint();
  const contentStart = p;
  const nLabels = uvarint();
  for (let i = 0; i < 2 * nLabels; i++) uvarint();
  const labelsEnd = p;
  const reader = await IndexReader.open(await FileByteRange.open(path));
  let first: { chunks: { minTime: number; maxTime: number; ref: number }[] } | undefined;
  for await (const s of reader.series(await reader.allPostings())) first ??= { chunks: [...s.chunks] };
  await reader.close();
  const chunks = order(first!.chunks.length).map((i) => first!.chunks[i]!);
  const e = new Encbuf();
  e.putBytes(index.subarray(contentStart, labelsEnd));
  e.putUvarint(chunks.length);
  const putInt64Delta = (d: number) => {
    let v = BigInt.asUintN(64, BigInt(d));
    do {
      const b = Number(v & 0x7fn);
      v >>= 7n;
      e.putByte(v > 0n ? b | 0x80 : b);
    } while (v > 0n);
  };
  chunks.forEach((c, i) => {
    if (i === 0) {
      e.putVarint(c.minTime);
      e.putUvarint(c.maxTime - c.minTime);
      e.putUvarint(c.ref);
    } else {
      putInt64Delta(c.minTime - chunks[i - 1]!.maxTime);
      putInt64Delta(c.maxTime - c.minTime);
      e.putVarint(c.ref - chunks[i - 1]!.ref);
    }
  });
  const content = Buffer.from(e.get());
  const entry = new Encbuf();
  entry.putUvarint(content.length);
  entry.putBytes(content);
  entry.putBE32(crc32c(content));
  const next = seriesStart + Math.ceil((contentStart - seriesStart + length + 4) / 16) * 16;
  if (seriesStart + entry.length > next) throw new Error(`the reordered entry (${entry.length} bytes) does not fit before the next one at ${next}`);
  Buffer.from(entry.get()).copy(index, seriesStart);
  index.fill(0, seriesStart + entry.length, next);
  await writeFile(path, index);
}
