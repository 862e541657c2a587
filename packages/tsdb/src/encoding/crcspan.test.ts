import { XORChunk } from '../chunkenc/xor.js';
import { encodeChunkRecord } from '../chunks/writer.js';
import { describe, expect, it } from 'vitest';
import { spanCrcsMatch } from './crc32c.js';

/** Records of XOR chunks of various sizes back to back, with where each one's CRC-covered bytes are. */
function records(n: number, seed: number, samplesOf = (i: number) => 1 + ((i * 37 + seed) % 400)): { bytes: Uint8Array; enc: number[]; crc: number[] } {
  const parts: Uint8Array[] = [];
  const enc: number[] = [];
  const crc: number[] = [];
  let off = 8;
  for (let i = 0; i < n; i++) {
    const c = new XORChunk();
    const app = c.appender();
    // By default from one sample (a few bytes) to thousands of bytes (a two-byte length field).
    const samples = samplesOf(i);
    for (let s = 0; s < samples; s++) app.append(s * 15_000 + (s % 3), Math.sin(seed + i + s) * 1e3);
    const r = encodeChunkRecord(c);
    let lenBytes = 1;
    while ((r[lenBytes - 1] as number) >= 0x80) lenBytes++;
    enc.push(off + lenBytes);
    crc.push(off + r.length - 4);
    parts.push(r);
    off += r.length;
  }
  const bytes = new Uint8Array(off + 8);
  let p = 8;
  for (const r of parts) {
    bytes.set(r, p);
    p += r.length;
  }
  return { bytes, enc, crc };
}

describe('spanCrcsMatch', () => {
  it('accepts records whose CRCs match, back to back or with bytes between them', () => {
    for (const seed of [1, 2, 3]) {
      const { bytes, enc, crc } = records(60, seed);
      expect(spanCrcsMatch(bytes, enc.length, (i) => enc[i]!, (i) => crc[i]!)).toBe(true);
      // Every other record: the skipped ones are bytes between records.
      const pick = enc.map((_, i) => i).filter((i) => i % 2 === 0);
      expect(spanCrcsMatch(bytes, pick.length, (i) => enc[pick[i]!]!, (i) => crc[pick[i]!]!)).toBe(true);
      expect(spanCrcsMatch(bytes, 1, () => enc[5]!, () => crc[5]!)).toBe(true);
    }
  });

  it('rejects any single flipped bit in a record, its encoding byte or its stored CRC', () => {
    const { bytes, enc, crc } = records(20, 9);
    let flips = 0;
    for (let r = 0; r < enc.length; r++) {
      for (const at of [enc[r]!, enc[r]! + 1, Math.floor((enc[r]! + crc[r]!) / 2), crc[r]! - 1, crc[r]!, crc[r]! + 3]) {
        for (const bit of [0, 3, 7]) {
          bytes[at]! ^= 1 << bit;
          expect(spanCrcsMatch(bytes, enc.length, (i) => enc[i]!, (i) => crc[i]!)).toBe(false);
          bytes[at]! ^= 1 << bit;
          flips++;
        }
      }
    }
    expect(flips).toBe(20 * 6 * 3);
    expect(spanCrcsMatch(bytes, enc.length, (i) => enc[i]!, (i) => crc[i]!)).toBe(true);
  });

  it('checks records of 64 KiB and more (a shift by their size is a multiplication, not table lookups)', () => {
    const { bytes, enc, crc } = records(4, 5, (i) => (i % 2 === 0 ? 100 : 20_000));
    expect(crc.some((c, i) => c - enc[i]! >= 0x10000)).toBe(true);
    expect(spanCrcsMatch(bytes, enc.length, (i) => enc[i]!, (i) => crc[i]!)).toBe(true);
    const big = crc.findIndex((c, i) => c - enc[i]! >= 0x10000);
    bytes[enc[big]! + 40_000]! ^= 0x10;
    expect(spanCrcsMatch(bytes, enc.length, (i) => enc[i]!, (i) => crc[i]!)).toBe(false);
  });
});
