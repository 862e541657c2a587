import { randomBytes } from 'node:crypto';

/**
 * ULIDs name blocks: 48-bit big-endian Unix milliseconds then 80 random bits, as 26 characters of
 * Crockford base32 (no I, L, O, U), 5 bits per character, most significant first.
 */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

export function newULID(timeMs: number = Date.now(), random: Uint8Array = randomBytes(10)): string {
  if (!Number.isInteger(timeMs) || timeMs < 0 || timeMs > 2 ** 48 - 1) throw new RangeError(`ULID time out of range: ${timeMs}`);
  // 128 bits as a BigInt: time in the top 48, randomness below.
  let v = BigInt(timeMs) << 80n;
  for (let i = 0; i < 10; i++) v |= BigInt(random[i] as number) << BigInt(8 * (9 - i));
  let out = '';
  for (let i = 25; i >= 0; i--) out += ALPHABET[Number((v >> BigInt(5 * i)) & 31n)];
  return out;
}

/** The creation time encoded in a ULID. */
export function ulidTime(ulid: string): number {
  let t = 0;
  for (let i = 0; i < 10; i++) {
    const d = ALPHABET.indexOf((ulid[i] ?? '').toUpperCase());
    if (d < 0) throw new Error(`invalid ULID ${JSON.stringify(ulid)}`);
    t = t * 32 + d;
  }
  return t;
}
