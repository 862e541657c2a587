/** Number, duration and string literals as Prometheus' lexer reads them. */

const UNIT_MS: Record<string, number> = { y: 365 * 86400000, w: 7 * 86400000, d: 86400000, h: 3600000, m: 60000, s: 1000, ms: 1 };
const UNIT_ORDER = ['y', 'w', 'd', 'h', 'm', 's', 'ms'];
const DURATION_PART = /(\d+)(ms|y|w|d|h|m|s)/gy;

/** Parses `1h30m` into ms; null if the text is not a duration. Units must appear largest first, once each. */
export function parseDuration(text: string): number | null {
  if (text === '0') return 0;
  DURATION_PART.lastIndex = 0;
  let ms = 0;
  let lastUnit = -1;
  let m: RegExpExecArray | null;
  while (DURATION_PART.lastIndex < text.length && (m = DURATION_PART.exec(text)) !== null) {
    const unit = UNIT_ORDER.indexOf(m[2] as string);
    if (unit <= lastUnit) return null;
    lastUnit = unit;
    ms += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
  }
  if (lastUnit < 0 || DURATION_PART.lastIndex !== text.length) return null;
  return ms;
}

/**
 * A duration as Prometheus writes one (common/model's Duration.String()): largest units first, years
 * and weeks only when they divide it exactly (`90d`, not `12w6d`), `0s` for none.
 */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const unit of UNIT_ORDER) {
    const mult = UNIT_MS[unit] as number;
    if ((unit === 'y' || unit === 'w') && rest % mult !== 0) continue;
    const n = Math.floor(rest / mult);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * mult;
    }
  }
  return out;
}

/** Why Go's strconv.ParseFloat refuses a text: the end of its error (`strconv.ParseFloat: parsing "1e": invalid syntax`). */
export type NumberSyntaxError = 'invalid syntax' | 'value out of range';

/** Go's digit runs: underscores only between digits (strconv's underscoreOK). */
const DEC = String.raw`\d(?:_?\d)*`;
const HEX = String.raw`[0-9a-fA-F](?:_?[0-9a-fA-F])*`;
/** strconv.ParseInt with base 0: a base prefix (0x, 0b, 0o, or a leading 0 for octal) may be followed by an underscore. */
const GO_INT = new RegExp(String.raw`^([+-]?)(?:0[xX]_?(${HEX})|0[bB]_?([01](?:_?[01])*)|0[oO]_?([0-7](?:_?[0-7])*)|0(_?[0-7](?:_?[0-7])*)|([1-9](?:_?\d)*|0))$`);
const GO_DECIMAL_FLOAT = new RegExp(String.raw`^[+-]?(?:${DEC}(?:\.(?:${DEC})?)?|\.${DEC})(?:[eE][+-]?${DEC})?$`);
/** A hexadecimal float needs its binary exponent (`0x1.8p1`). */
const GO_HEX_FLOAT = new RegExp(String.raw`^([+-]?)0[xX]_?(${HEX})?(?:\.(${HEX})?)?[pP]([+-]?${DEC})$`);
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * A PromQL number literal's value as Prometheus' parser reads it (its `number()`): Go's strconv.ParseInt
 * with base 0, so `0x1F` is hexadecimal and `010` octal (8); where that fails (not an integer, or past
 * int64), strconv.ParseFloat, whose error is the literal's.
 */
export function parseNumberLiteral(text: string): number | NumberSyntaxError {
  const m = GO_INT.exec(text);
  if (m !== null) {
    const [, sign, hex, bin, oct, leadingZeroOct, dec] = m;
    const digits = (hex ?? bin ?? oct ?? leadingZeroOct ?? dec ?? '').replace(/_/g, '');
    const prefix = hex !== undefined ? '0x' : bin !== undefined ? '0b' : oct !== undefined || leadingZeroOct !== undefined ? '0o' : '';
    const n = (sign === '-' ? -1n : 1n) * BigInt(prefix + digits);
    if (n >= INT64_MIN && n <= INT64_MAX) return Number(n);
  }
  return parseGoFloat(text);
}

/**
 * Go's strconv.ParseFloat(text, 64): decimal and hexadecimal floats with Go's underscores, `Inf`,
 * `Infinity` and `NaN` in any case; a value past the float64 range is an error, not ±Inf.
 */
export function parseGoFloat(text: string): number | NumberSyntaxError {
  const special = /^([+-]?)(inf|infinity|nan)$/i.exec(text);
  if (special !== null) return (special[2] as string).toLowerCase() === 'nan' ? NaN : special[1] === '-' ? -Infinity : Infinity;
  let v: number;
  if (GO_DECIMAL_FLOAT.test(text)) {
    v = Number(text.replace(/_/g, ''));
  } else {
    const h = GO_HEX_FLOAT.exec(text);
    if (h === null) return 'invalid syntax';
    const [, sign, whole = '', frac = '', exp] = h;
    const mantissa = (whole + frac).replace(/_/g, '');
    if (mantissa === '') return 'invalid syntax';
    v = (sign === '-' ? -1 : 1) * Number(BigInt(`0x${mantissa}`)) * 2 ** (Number((exp as string).replace(/_/g, '')) - 4 * frac.replace(/_/g, '').length);
  }
  return Number.isFinite(v) ? v : 'value out of range';
}

/** Prometheus' error for a number literal ParseFloat refuses. */
export function numberError(text: string, reason: NumberSyntaxError): string {
  return `error parsing number: strconv.ParseFloat: parsing ${JSON.stringify(text)}: ${reason}`;
}

/** The index of the quote closing the one at `open` (raw strings have no escapes); -1 if none does. */
export function closingQuote(input: string, open: number): number {
  const q = input[open];
  for (let i = open + 1; i < input.length; i++) {
    if (input[i] === q) return i;
    if (q === '`') continue;
    if (input[i] === '\\') i++;
    // Prometheus' lexer ends a quoted string at a line break, unterminated (a raw string goes on).
    else if (input[i] === '\n') return -1;
  }
  return -1;
}

const CLOSING: Record<string, string> = { '(': ')', '[': ']', '{': '}' };

/**
 * The index of the `)` closing the parenthesis at `open`, past quoted strings and brackets of any kind
 * nested in it; -1 if none does (a bracket closed by the wrong kind ends the search).
 */
export function closingParen(input: string, open: number): number {
  const expected: string[] = [];
  for (let i = open; i < input.length; i++) {
    const c = input[i] as string;
    const closing = CLOSING[c];
    if (closing !== undefined) expected.push(closing);
    else if (c === ')' || c === ']' || c === '}') {
      if (expected.pop() !== c) return -1;
      if (expected.length === 0) return i;
    } else if (c === '"' || c === "'" || c === '`') {
      i = closingQuote(input, i);
      if (i < 0) return -1;
    }
  }
  return -1;
}

/** The index of the `}` closing the brace at `open`, past quoted strings; -1 if none does. */
export function closingBrace(input: string, open: number): number {
  for (let i = open + 1; i < input.length; i++) {
    const c = input[i] as string;
    if (c === '}') return i;
    if (c === '"' || c === "'" || c === '`') {
      i = closingQuote(input, i);
      if (i < 0) return -1;
    }
  }
  return -1;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', "'": "'", '"': '"',
};

/**
 * Unquotes a string literal with Go's rules; throws a message (without position) when malformed. As in
 * Go, `\x` and octal escapes are bytes and the result is their UTF-8 decoding ("\xc3\xa9" is "é"); a
 * byte that is not part of valid UTF-8 becomes a lone surrogate (U+DC80 + byte, as Python's
 * surrogateescape), so that the string is not well-formed and label name checks can reject it as
 * Prometheus rejects invalid UTF-8.
 */
export function unquoteString(text: string): string {
  const q = text[0];
  if (q === '`') {
    if (text.length < 2 || !text.endsWith('`')) throw new Error('unterminated raw string');
    return text.slice(1, -1);
  }
  if (text.length < 2 || text[text.length - 1] !== q) throw new Error('unterminated quoted string');
  const body = text.slice(1, -1);
  let out = '';
  /** Bytes of \x and octal escapes not yet decoded. */
  let bytes: number[] = [];
  const flush = (): void => {
    if (bytes.length > 0) out += decodeBytes(bytes);
    bytes = [];
  };
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c !== '\\') {
      if (c === q) throw new Error('unterminated quoted string');
      flush();
      out += c;
      continue;
    }
    const e = body[++i];
    if (e === undefined) throw new Error('unterminated quoted string');
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) {
      if ((e === "'" && q !== "'") || (e === '"' && q !== '"')) throw new Error(`unknown escape sequence`);
      flush();
      out += simple;
      continue;
    }
    const hexLen = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
    if (hexLen > 0) {
      const h = body.slice(i + 1, i + 1 + hexLen);
      if (!new RegExp(`^[0-9a-fA-F]{${hexLen}}$`).test(h)) throw new Error('invalid escape sequence');
      const code = parseInt(h, 16);
      if (e === 'x') {
        bytes.push(code);
      } else {
        flush();
        out += String.fromCodePoint(code);
      }
      i += hexLen;
      continue;
    }
    if (e >= '0' && e <= '7') {
      const o = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(o)) throw new Error('invalid escape sequence');
      const code = parseInt(o, 8);
      if (code > 0xff) throw new Error('invalid escape sequence');
      bytes.push(code);
      i += 2;
      continue;
    }
    throw new Error(`unknown escape sequence U+${e.codePointAt(0)?.toString(16).toUpperCase().padStart(4, '0')} '${e}'`);
  }
  flush();
  return out;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Escaped bytes as text: their UTF-8 decoding, each byte of an invalid sequence as U+DC80 + byte. */
function decodeBytes(bytes: readonly number[]): string {
  try {
    return UTF8.decode(Uint8Array.from(bytes));
  } catch {
    // Decode what is valid, byte by byte where it is not.
    let out = '';
    for (let i = 0; i < bytes.length; ) {
      let n = 1;
      for (let len = 4; len >= 1; len--) {
        if (i + len > bytes.length) continue;
        try {
          out += UTF8.decode(Uint8Array.from(bytes.slice(i, i + len)));
          n = len;
          break;
        } catch {
          if (len === 1) out += String.fromCharCode(0xdc80 + (bytes[i] as number));
        }
      }
      i += n;
    }
    return out;
  }
}
