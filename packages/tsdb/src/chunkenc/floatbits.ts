/**
 * Reinterpreting float64 values as their IEEE-754 bits, as two unsigned 32-bit halves, through one
 * shared Float64Array/Uint32Array pair (no allocation, no BigInt).
 *
 * NaN payloads matter: Prometheus' stale marker is the NaN with bits 0x7ff0000000000002. V8 keeps
 * payloads through typed arrays, object properties and locals, but quiets signalling NaNs (sets bit 51)
 * when a value is stored in a plain JS array or Map, so the stale marker turns into 0x7ff8000000000002
 * there. Keep values that may be stale markers in typed arrays or pass them straight through.
 */

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
// Index of the high and low word of the float in u32, by platform endianness.
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;
const LO = 1 - HI;

/** High 32 bits of the float64 bits of `v`. */
export function floatHi(v: number): number {
  f64[0] = v;
  return u32[HI] as number;
}

/** Low 32 bits of the float64 bits of `v`. */
export function floatLo(v: number): number {
  f64[0] = v;
  return u32[LO] as number;
}

/** The float64 whose bits are `hi:lo`. */
export function floatFromBits(hi: number, lo: number): number {
  u32[HI] = hi;
  u32[LO] = lo;
  return f64[0] as number;
}

/** Bits of Prometheus' stale marker (value.StaleNaN). */
export const STALE_NAN_HI = 0x7ff00000;
export const STALE_NAN_LO = 0x00000002;

/** Prometheus' stale marker, a NaN with payload 2. */
export const STALE_NAN: number = floatFromBits(STALE_NAN_HI, STALE_NAN_LO);

/** Whether `v` is the stale marker (compared bit for bit; other NaNs are not stale). */
export function isStaleNaN(v: number): boolean {
  f64[0] = v;
  return u32[HI] === STALE_NAN_HI && u32[LO] === STALE_NAN_LO;
}
