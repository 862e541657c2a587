import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeSnappyStream, encodeSnappyStream, SNAPPY_STREAM_IDENTIFIER, snappyMaskedCrc } from './snappystream.js';

const identifier = Buffer.concat([Buffer.from([0xff, 6, 0, 0]), SNAPPY_STREAM_IDENTIFIER]);

function chunk(type: number, data: Uint8Array): Buffer {
  const header = Buffer.alloc(4);
  header[0] = type;
  header.writeUIntLE(data.length, 1, 3);
  return Buffer.concat([header, data]);
}

function uncompressed(data: Buffer): Buffer {
  const crc = Buffer.alloc(4);
  crc.writeUInt32LE(snappyMaskedCrc(data));
  return chunk(0x01, Buffer.concat([crc, data]));
}

describe('snappy stream format', () => {
  it('round-trips messages across the 64 KiB chunk size, and the empty message', () => {
    for (const size of [0, 1, 65_535, 65_536, 65_537, 300_000]) {
      const data = Buffer.concat([randomBytes(size >> 1), Buffer.alloc(size - (size >> 1), 7)]);
      expect(decodeSnappyStream(encodeSnappyStream(data)).equals(data)).toBe(true);
    }
  });

  it('masks the CRC-32C as the framing format says: rotate right by 15, add 0xa282ead8', () => {
    // CRC-32C("a") = 0xc1d04330; the masked value computed by hand from it.
    expect(snappyMaskedCrc(Buffer.from('a'))).toBe(0x28e46e78);
  });

  it('reads uncompressed chunks, padding and skippable chunks', () => {
    const stream = Buffer.concat([identifier, uncompressed(Buffer.from('hello ')), chunk(0xfe, Buffer.alloc(3)), chunk(0x80, Buffer.from('skip')), uncompressed(Buffer.from('world'))]);
    expect(decodeSnappyStream(stream).toString()).toBe('hello world');
  });

  it('rejects corrupt streams with a message that says what is wrong', () => {
    const good = encodeSnappyStream(Buffer.from('some message bytes'));
    const flipped = Buffer.from(good);
    flipped[14] = (flipped[14] as number) ^ 0xff; // inside the first chunk's checksum
    expect(() => decodeSnappyStream(flipped)).toThrow(/checksum mismatch/);
    expect(() => decodeSnappyStream(good.subarray(10))).toThrow(/before the stream identifier/);
    expect(() => decodeSnappyStream(good.subarray(0, good.length - 2))).toThrow(/runs past the end/);
    expect(() => decodeSnappyStream(Buffer.concat([identifier, chunk(0x02, Buffer.alloc(4))]))).toThrow(/reserved unskippable/);
    expect(() => decodeSnappyStream(Buffer.concat([chunk(0xff, Buffer.from('snappy'))]))).toThrow(/bad stream identifier/);
  });

  it('stops at the receiver’s size limit', () => {
    expect(() => decodeSnappyStream(encodeSnappyStream(Buffer.alloc(100_000)), 99_999)).toThrow(/more than 99999 bytes/);
  });
});
