/**
 * Go's strconv as templates see it: float64 formatting ('e', 'f', 'g' with a precision or shortest),
 * ParseFloat, Quote and Unquote.
 */

/** A decimal 0.d × 10^dp of a float's magnitude: digits without trailing zeros ("" for zero). */
interface Decimal {
  d: string;
  dp: number;
}

/** The exact decimal value of a finite non-negative float (every binary fraction is a finite decimal). */
function exactDecimal(abs: number): Decimal {
  if (abs === 0) return { d: '', dp: 0 };
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, abs);
  const bits = view.getBigUint64(0);
  const biased = Number(bits >> 52n);
  let mant = bits & ((1n << 52n) - 1n);
  let exp = biased - 1075;
  if (biased === 0) exp = -1074;
  else mant |= 1n << 52n;
  let digits: string;
  let dp: number;
  if (exp >= 0) {
    digits = (mant << BigInt(exp)).toString();
    dp = digits.length;
  } else {
    // mant / 2^-exp = mant·5^-exp / 10^-exp.
    digits = (mant * 5n ** BigInt(-exp)).toString();
    dp = digits.length + exp;
  }
  return trim({ d: digits, dp });
}

/** The shortest decimal that reads back as the float: JavaScript's and Go's shortest round-trip digits agree. */
function shortestDecimal(abs: number): Decimal {
  if (abs === 0) return { d: '', dp: 0 };
  const [mant, e] = abs.toExponential().split('e') as [string, string];
  return trim({ d: mant.replace('.', ''), dp: Number(e) + 1 });
}

function trim(x: Decimal): Decimal {
  const d = x.d.replace(/0+$/, '');
  return d === '' ? { d: '', dp: 0 } : { d, dp: x.dp };
}

/** Go's decimal.Round: to nd digits, a tie (exactly 5 then nothing) to even. */
function round(x: Decimal, nd: number): Decimal {
  if (nd < 0 || nd >= x.d.length) return x;
  const halfway = x.d[nd] === '5' && nd + 1 === x.d.length;
  const up = halfway ? nd > 0 && Number(x.d[nd - 1]) % 2 === 1 : (x.d[nd] as string) >= '5';
  if (!up) return trim({ d: x.d.slice(0, nd), dp: x.dp });
  for (let i = nd - 1; i >= 0; i--) {
    if (x.d[i] !== '9') return { d: x.d.slice(0, i) + String(Number(x.d[i]) + 1), dp: x.dp };
  }
  // All nines: 1 with the decimal point one further.
  return { d: '1', dp: x.dp + 1 };
}

/** %e: d.ddde±dd, at least two exponent digits. */
function fmtE(neg: boolean, x: Decimal, prec: number, e: 'e' | 'E'): string {
  let out = (neg ? '-' : '') + (x.d[0] ?? '0');
  if (prec > 0) out += '.' + x.d.slice(1, prec + 1).padEnd(prec, '0');
  const exp = x.d === '' ? 0 : x.dp - 1;
  return `${out}${e}${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}

/** %f: ddd.ddd. */
function fmtF(neg: boolean, x: Decimal, prec: number): string {
  let out = neg ? '-' : '';
  out += x.dp > 0 ? x.d.slice(0, x.dp).padEnd(x.dp, '0') : '0';
  if (prec > 0) {
    out += '.';
    for (let i = 0; i < prec; i++) {
      const j = x.dp + i;
      out += j >= 0 && j < x.d.length ? x.d[j] : '0';
    }
  }
  return out;
}

export type FloatVerb = 'e' | 'E' | 'f' | 'g' | 'G';

/**
 * strconv.FormatFloat(v, verb, prec, 64); prec -1 is the shortest representation, where 'g' switches
 * to an exponent below 1e-4 and from 1e+06 on (Go's "use precision 6 for this decision"), so `%v` of
 * 1e6 is `1e+06` and of 100000 is `100000`. Infinities are `+Inf` and `-Inf`, and -0 keeps its sign.
 */
export function formatFloat(v: number, verb: FloatVerb, prec: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  const neg = v < 0 || Object.is(v, -0);
  const abs = Math.abs(v);
  const shortest = prec < 0;
  let x: Decimal;
  if (shortest) {
    x = shortestDecimal(abs);
    prec = verb === 'f' ? Math.max(x.d.length - x.dp, 0) : verb === 'g' || verb === 'G' ? x.d.length : x.d.length - 1;
  } else {
    x = exactDecimal(abs);
    if (verb === 'e' || verb === 'E') x = round(x, prec + 1);
    else if (verb === 'f') x = round(x, x.dp + prec);
    else {
      if (prec === 0) prec = 1;
      x = round(x, prec);
    }
  }
  if (verb === 'e' || verb === 'E') return fmtE(neg, x, Math.max(prec, 0), verb);
  if (verb === 'f') return fmtF(neg, x, prec);
  let eprec = prec;
  if (eprec > x.d.length && x.d.length >= x.dp) eprec = x.d.length;
  if (shortest) eprec = 6;
  const exp = x.dp - 1;
  if (exp < -4 || exp >= eprec) {
    if (prec > x.d.length) prec = x.d.length;
    return fmtE(neg, x, prec - 1, verb === 'g' ? 'e' : 'E');
  }
  if (prec > x.dp) prec = x.d.length;
  return fmtF(neg, x, Math.max(prec - x.dp, 0));
}

/** Go's strconv.NumError text. */
export class NumError extends Error {
  constructor(func: string, input: string, reason: 'invalid syntax' | 'value out of range') {
    super(`strconv.${func}: parsing ${quote(input)}: ${reason}`);
  }
}

const DECIMAL_FLOAT = /^[+-]?(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?$/;
const HEX_FLOAT = /^([+-]?)0[xX]_?([0-9a-fA-F_]*)(?:\.([0-9a-fA-F_]*))?[pP]([+-]?\d+)$/;

/**
 * strconv.ParseFloat(s, 64): decimal or hex (0x1.8p3) syntax, `inf`, `infinity` and `nan` in any case
 * with an optional sign. Underscores count only with a base prefix (Go's rule), so "1_000" is invalid.
 */
export function parseFloat64(s: string): number {
  const special = /^([+-]?)(inf|infinity|nan)$/i.exec(s);
  if (special) {
    if ((special[2] as string).toLowerCase() === 'nan') return special[1] === '' ? NaN : fail();
    return special[1] === '-' ? -Infinity : Infinity;
  }
  const hex = HEX_FLOAT.exec(s);
  if (hex) {
    const int = (hex[2] ?? '').replace(/_/g, '');
    const frac = (hex[3] ?? '').replace(/_/g, '');
    if (int === '' && frac === '') return fail();
    const mant = Number.parseInt(int + frac || '0', 16);
    const v = mant * 2 ** (Number(hex[4]) - 4 * frac.length);
    return range(hex[1] === '-' ? -v : v);
  }
  if (!DECIMAL_FLOAT.test(s) || s.includes('_')) return fail();
  return range(Number(s));

  function fail(): never {
    throw new NumError('ParseFloat', s, 'invalid syntax');
  }
  function range(v: number): number {
    if (!Number.isFinite(v)) throw new NumError('ParseFloat', s, 'value out of range');
    return v;
  }
}

/** Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space. */
export function isPrint(ch: string): boolean {
  return ch === ' ' || /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(ch);
}

const QUOTE_ESCAPES: Record<string, string> = { '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v' };

/** strconv.Quote (ASCII-only with `ascii`, as QuoteToASCII); `quoteChar` is `"` or `'` (QuoteRune). */
export function quote(s: string, ascii = false, quoteChar = '"'): string {
  let out = quoteChar;
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number;
    if (ch === quoteChar || ch === '\\') out += `\\${ch}`;
    else if (QUOTE_ESCAPES[ch] !== undefined) out += QUOTE_ESCAPES[ch];
    else if (cp < 0x80 ? cp >= 0x20 && cp !== 0x7f : !ascii && isPrint(ch)) out += ch;
    else if (cp < 0x80) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += `\\U${cp.toString(16).padStart(8, '0')}`;
  }
  return out + quoteChar;
}

/** strconv.CanBackquote: a raw string can hold s (no backquote, no control characters but tab). */
export function canBackquote(s: string): boolean {
  return !/[`\x00-\x08\x0a-\x1f\x7f\ufeff]/.test(s);
}

const UNQUOTE_SIMPLE: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };

/**
 * strconv.UnquoteChar on s at i (after the opening quote `q`): the character and where the next starts.
 * Throws SyntaxError (Go's ErrSyntax, "invalid syntax").
 */
export function unquoteChar(s: string, i: number, q: string): [string, number] {
  const c = s[i];
  if (c === undefined) throw new SyntaxError('invalid syntax');
  if (c === q) throw new SyntaxError('invalid syntax');
  if (c !== '\\') {
    const ch = String.fromCodePoint(s.codePointAt(i) as number);
    return [ch, i + ch.length];
  }
  const e = s[i + 1];
  if (e === undefined) throw new SyntaxError('invalid syntax');
  if (UNQUOTE_SIMPLE[e] !== undefined) return [UNQUOTE_SIMPLE[e] as string, i + 2];
  if (e === "'" || e === '"') {
    if (e !== q) throw new SyntaxError('invalid syntax');
    return [e, i + 2];
  }
  const hexLen = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
  if (hexLen > 0) {
    const hex = s.slice(i + 2, i + 2 + hexLen);
    if (!new RegExp(`^[0-9a-fA-F]{${hexLen}}$`).test(hex)) throw new SyntaxError('invalid syntax');
    const cp = parseInt(hex, 16);
    // A \x byte above 0x7f is part of a UTF-8 sequence in Go; JavaScript strings hold it as that code point.
    if (cp > 0x10ffff || (e !== 'x' && cp >= 0xd800 && cp < 0xe000)) throw new SyntaxError('invalid syntax');
    return [String.fromCodePoint(cp), i + 2 + hexLen];
  }
  if (e >= '0' && e <= '7') {
    const oct = s.slice(i + 1, i + 4);
    if (!/^[0-7]{3}$/.test(oct) || parseInt(oct, 8) > 255) throw new SyntaxError('invalid syntax');
    return [String.fromCodePoint(parseInt(oct, 8)), i + 4];
  }
  throw new SyntaxError('invalid syntax');
}

/** strconv.Unquote of a "…" or `…` literal (raw strings lose their carriage returns). */
export function unquote(lit: string): string {
  const q = lit[0] as string;
  if (lit.length < 2 || lit[lit.length - 1] !== q) throw new SyntaxError('invalid syntax');
  const body = lit.slice(1, -1);
  if (q === '`') {
    if (body.includes('`')) throw new SyntaxError('invalid syntax');
    return body.replace(/\r/g, '');
  }
  if (q !== '"') throw new SyntaxError('invalid syntax');
  let out = '';
  for (let i = 0; i < body.length; ) {
    if (body[i] === '\n') throw new SyntaxError('invalid syntax');
    const [ch, next] = unquoteChar(body, i, q);
    out += ch;
    i = next;
  }
  return out;
}
