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
