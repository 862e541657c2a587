/**
 * Reference decoder for bench/xor.bench.ts: the XOR format decoded the obvious way, with a BigInt bit
 * buffer and BigInt value bits. It returns the sum of timestamps and values so the work is not elided.
 */
const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);

export function decodeBigInt(bytes: Uint8Array): number {
  const n = (bytes[0]! << 8) | bytes[1]!;
  let pos = 16;
  const bit = (): bigint => {
    const b = BigInt((bytes[pos >>> 3]! >>> (7 - (pos & 7))) & 1);
    pos++;
    return b;
  };
  const bits = (k: number): bigint => {
    let x = 0n;
    for (let i = 0; i < k; i++) x = (x << 1n) | bit();
    return x;
  };
  const uvarint = (): bigint => {
    let x = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const b = bits(8);
      x |= (b & 0x7fn) << shift;
      if (b < 0x80n) return x;
    }
  };
  let sum = 0;
  let t = 0n;
  let delta = 0n;
  let v = 0n;
  let leading = 0n;
  let trailing = 0n;
  for (let i = 0; i < n; i++) {
    if (i === 0) {
      const z = uvarint();
      t = z & 1n ? -(z >> 1n) - 1n : z >> 1n;
      v = bits(64);
    } else {
      if (i === 1) {
        delta = BigInt.asIntN(64, uvarint());
      } else if (bit() === 1n) {
        let size = 64;
        if (bit() === 0n) size = 14;
        else if (bit() === 0n) size = 17;
        else if (bit() === 0n) size = 20;
        let dod = bits(size);
        if (size < 64 && dod > 1n << BigInt(size - 1)) dod -= 1n << BigInt(size);
        delta += BigInt.asIntN(64, dod);
      }
      t += delta;
      if (bit() === 1n) {
        if (bit() === 1n) {
          leading = bits(5);
          const sig = bits(6) || 64n;
          trailing = 64n - leading - sig;
        }
        v ^= bits(Number(64n - leading - trailing)) << trailing;
      }
    }
    u64[0] = v;
    sum += Number(t) + f64[0]!;
  }
  return sum;
}
