/**
 * The snappy framing format ("snappy stream"), the `snappy` gRPC message encoding of Thanos
 * (pkg/extgrpc/snappy: klauspost/compress snappy.NewBufferedWriter / NewReader), which a Thanos
 * querier sends with `--grpc-compression=snappy`.
 *
 * A stream is a sequence of chunks: type (1 byte), length (3 bytes LE), data.
 *   0xff        stream identifier, data "sNaPpY"
 *   0x00        compressed: masked CRC-32C of the uncompressed data (4 bytes LE), snappy block
 *   0x01        uncompressed: masked CRC-32C (4 bytes LE), the data
 *   0x80..0xfe  skippable (0xfe is padding)
 *   0x02..0x7f  reserved, unskippable: an error
 * Masked CRC: ((crc >>> 15) | (crc << 17)) + 0xa282ead8. Each chunk holds at most 64 KiB uncompressed.
 */
import snappy from 'snappy';
import { crc32c } from '@strata/tsdb';

export const SNAPPY_STREAM_IDENTIFIER = Buffer.from('sNaPpY', 'latin1');
export const SNAPPY_STREAM_MAX_CHUNK = 65_536;

export class SnappyStreamError extends Error {}

/** The masked CRC-32C of the framing format (a CRC of data holding CRCs would be weak). */
export function snappyMaskedCrc(data: Uint8Array): number {
  const c = crc32c(data);
  return (((c >>> 15) | (c << 17)) + 0xa282ead8) >>> 0;
}

/** Decodes a whole snappy stream; `maxLength` bounds the decoded size (gRPC's max receive message size, -1 = none). */
export function decodeSnappyStream(stream: Uint8Array, maxLength = -1): Buffer {
  const parts: Uint8Array[] = [];
  let total = 0;
  let sawIdentifier = false;
  const view = Buffer.from(stream.buffer, stream.byteOffset, stream.byteLength);
  for (let i = 0; i < view.length; ) {
    if (i + 4 > view.length) throw new SnappyStreamError(`snappy stream: truncated chunk header at byte ${i}`);
    const type = view[i] as number;
    const length = view.readUIntLE(i + 1, 3);
    const start = i + 4;
    const end = start + length;
    if (end > view.length) throw new SnappyStreamError(`snappy stream: chunk at byte ${i} runs past the end (${length} bytes)`);
    i = end;
    if (type === 0xff) {
      if (!view.subarray(start, end).equals(SNAPPY_STREAM_IDENTIFIER)) throw new SnappyStreamError('snappy stream: bad stream identifier');
      sawIdentifier = true;
      continue;
    }
    if (!sawIdentifier) throw new SnappyStreamError('snappy stream: data before the stream identifier');
    if (type >= 0x80) continue;
    if (type > 0x01) throw new SnappyStreamError(`snappy stream: reserved unskippable chunk type 0x${type.toString(16)}`);
    if (length < 4) throw new SnappyStreamError(`snappy stream: chunk at byte ${start - 4} too short for its checksum`);
    const body = view.subarray(start + 4, end);
    const data = type === 0x00 ? (snappy.uncompressSync(body) as Buffer) : body;
    if (data.length > SNAPPY_STREAM_MAX_CHUNK) throw new SnappyStreamError(`snappy stream: chunk of ${data.length} bytes exceeds ${SNAPPY_STREAM_MAX_CHUNK}`);
    if (snappyMaskedCrc(data) !== view.readUInt32LE(start)) throw new SnappyStreamError(`snappy stream: checksum mismatch in chunk at byte ${start - 4}`);
    total += data.length;
    if (maxLength >= 0 && total > maxLength) throw new SnappyStreamError(`snappy stream: decodes to more than ${maxLength} bytes`);
    parts.push(data);
  }
  return Buffer.concat(parts, total);
}

/** Encodes `data` as a snappy stream the way grpc-go's snappy compressor writes a message: compressed chunks of at most 64 KiB. */
export function encodeSnappyStream(data: Uint8Array): Buffer {
  const out: Buffer[] = [Buffer.from([0xff, SNAPPY_STREAM_IDENTIFIER.length, 0, 0]), SNAPPY_STREAM_IDENTIFIER];
  for (let off = 0; off < data.length; off += SNAPPY_STREAM_MAX_CHUNK) {
    const piece = data.subarray(off, Math.min(off + SNAPPY_STREAM_MAX_CHUNK, data.length));
    const compressed = snappy.compressSync(Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength));
    const header = Buffer.alloc(8);
    header.writeUIntLE(compressed.length + 4, 1, 3); // type 0x00: compressed
    header.writeUInt32LE(snappyMaskedCrc(piece), 4);
    out.push(header, compressed);
  }
  return Buffer.concat(out);
}
