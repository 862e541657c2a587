/** Prometheus' textual forms of sample values and timestamps (HTTP API, test scripts, count_values). */

/** A sample value as the HTTP API writes it: shortest round-trip, Go exponent form below 1e-6 and from 1e21. */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return goFloat(v);
  // JavaScript writes -0 as `0`; Go keeps the sign.
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  if (Number.isInteger(v) && v < MAX_SAFE_WHOLE && v > -MAX_SAFE_WHOLE) return wholeNumber(v);
  const s = String(v);
  const e = s.indexOf('e');
  if (e < 0) return s;
  // JavaScript writes `1e-7`; Go writes at least two exponent digits: `1e-07`.
  const sign = s[e + 1] === '-' ? '-' : '+';
  const digits = s.slice(e + 2).padStart(2, '0');
  return `${s.slice(0, e)}e${sign}${digits}`;
}

/** Whole numbers up to here are written by wholeNumber (all below 1e21, which String() writes without an exponent). */
const MAX_SAFE_WHOLE = 2 ** 53;
const INT32_LIMIT = 2 ** 31;

/**
 * A whole number's digits, as String() writes them. Past the int32 range (byte counts, counter totals)
 * V8 runs its shortest-digits algorithm on them; two int32 conversions are about twice as fast.
 */
function wholeNumber(v: number): string {
  const a = v < 0 ? -v : v;
  if (a < INT32_LIMIT) return String(v);
  const high = Math.floor(a / 1e9);
  const digits = `${high}${String(a - high * 1e9).padStart(9, '0')}`;
  return v < 0 ? `-${digits}` : digits;
}

/** Go's strconv.FormatFloat(v, 'f', -1, 64): shortest round-trip digits, never an exponent. */
export function formatFloatPlain(v: number): string {
  if (!Number.isFinite(v)) return goFloat(v);
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const s = String(v);
  const e = s.indexOf('e');
  if (e < 0) return s;
  const neg = s.startsWith('-');
  const mantissa = s.slice(neg ? 1 : 0, e);
  const exp = Number(s.slice(e + 1));
  const [intPart, frac = ''] = mantissa.split('.') as [string, string?];
  const digits = intPart + frac;
  const point = intPart.length + exp;
  let out: string;
  if (point <= 0) out = `0.${'0'.repeat(-point)}${digits}`;
  else if (point >= digits.length) out = digits + '0'.repeat(point - digits.length);
  else out = `${digits.slice(0, point)}.${digits.slice(point)}`;
  return neg ? `-${out}` : out;
}

/** A timestamp (ms) as the HTTP API writes it: seconds, with exactly three decimals when not whole. */
export function formatTimestamp(ms: number): string {
  const neg = ms < 0;
  const a = Math.abs(ms);
  const secs = Math.floor(a / 1000);
  const frac = a % 1000;
  const body = frac === 0 ? `${secs}` : `${secs}.${String(frac).padStart(3, '0')}`;
  return neg ? `-${body}` : body;
}

/** A float as Go's %v prints it in messages. */
export function goFloat(v: number): string {
  return Number.isNaN(v) ? 'NaN' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v);
}
