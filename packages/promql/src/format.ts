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

/**
 * formatValue of `values[from, to)`, in order: one JSON.stringify of them all. JSON writes a finite number
 * as String() does (the spec's ToString), but V8's JSON writer skips String()'s number-to-string cache,
 * which costs about as much as the digits, and one call for many values spares a call per value: a range
 * query's answer, thousands of values a series, is written in about 0.7× the time. A value equal to the
 * one before it (a flat line) shares its text. What JSON writes differently (NaN and ±Inf as null, -0 as
 * 0, JavaScript's exponent form) is left to formatValue.
 */
export function formatValues(values: ArrayLike<number>, from: number, to: number): string[] {
  const texts = new Array<string>(Math.max(0, to - from));
  const changed: number[] = [];
  let last = Number.NaN;
  for (let i = from; i < to; i++) {
    const v = values[i] as number;
    if (!sameValue(v, last)) changed.push((last = v));
  }
  if (changed.length === 0) return texts;
  // Numbers in JSON hold no comma: the array's text splits into the values' texts.
  const changedTexts = JSON.stringify(changed).slice(1, -1).split(',');
  let k = -1;
  let text = '';
  last = Number.NaN;
  for (let i = from; i < to; i++) {
    const v = values[i] as number;
    if (!sameValue(v, last)) {
      last = v;
      k++;
      const a = v < 0 ? -v : v;
      // In [1e-6, 1e21) Go and JavaScript both write digits without an exponent, the same ones; 0 (for -0),
      // NaN and the exponent forms go through formatValue.
      text = a >= 1e-6 && a < 1e21 ? (changedTexts[k] as string) : formatValue(v);
    }
    texts[i - from] = text;
  }
  return texts;
}

/** Whether `a` and `b` have the same text: equal, and 0 and -0 told apart (NaN is never the same). */
function sameValue(a: number, b: number): boolean {
  return a === b && (a !== 0 || 1 / a === 1 / b);
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

/**
 * A float as Go's %v and %g print it (strconv.FormatFloat(v, 'g', -1, 64)), in messages and in the text
 * exposition format: shortest digits, the exponent form below 1e-4 and from 1e6 (`1e+06`, `1.5e-05`).
 */
export function goFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const [mantissa, exponent] = v.toExponential().split('e') as [string, string];
  const exp = Number(exponent);
  // JavaScript's plain form reaches from 1e-6 to 1e21, wider than Go's.
  if (exp >= -4 && exp < 6) return String(v);
  return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}
