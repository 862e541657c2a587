/**
 * Number and duration items as Prometheus 2.x's lexer reads them (lex.go: lexNumberOrDuration,
 * lexDuration, scanNumber), and what its parser then makes of them.
 *
 * Strata's grammar tokenizes numbers and durations more leniently than that lexer: `1e`, `0x`, `5mm` or
 * `1_000` split into a number and a word there, where 2.x's lexer stops with an error of its own. With
 * `--query.promql-compat=2` the first such item is found here, walking the query as the lexer does
 * (strings, comments, braces and identifiers skipped; right after `[` a duration is due), and reported
 * as 2.42 reports it where it comes before the grammar's own error.
 */
import { closingBrace, closingQuote, numberError, parseDuration, parseNumberLiteral } from './literals.js';

/** An error 2.x reports at an item: its offset in the query and its reason (none: the grammar does not take the item there). */
export interface ItemError {
  pos: number;
  reason?: string;
}

const DECIMAL = '0123456789';
const HEX_DIGITS = '0123456789abcdefABCDEF';

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

/** lex.go's isAlphaNumeric: `_`, ASCII letters and digits. */
function isAlphaNumeric(c: string | undefined): boolean {
  return c !== undefined && /\w/.test(c);
}

/** The lexer's position over the query, with its accept/acceptRun. */
class Cursor {
  constructor(
    readonly input: string,
    public pos: number,
  ) {}

  accept(valid: string): boolean {
    const c = this.input[this.pos];
    if (c === undefined || !valid.includes(c)) return false;
    this.pos++;
    return true;
  }

  acceptRun(valid: string): void {
    while (this.accept(valid));
  }

  peek(): string | undefined {
    return this.input[this.pos];
  }

  /** scanNumber: digits (hex after `0x`), a fraction, an exponent; true if no letter or digit follows. */
  scanNumber(): boolean {
    let digits = DECIMAL;
    if (this.accept('0') && this.accept('xX')) digits = HEX_DIGITS;
    this.acceptRun(digits);
    if (this.accept('.')) this.acceptRun(digits);
    if (this.accept('eE')) {
      this.accept('+-');
      this.acceptRun(DECIMAL);
    }
    return !isAlphaNumeric(this.peek());
  }

  /** acceptRemainingDuration: units (y first only), each more digits and a unit; ends past a character that is no letter or digit. */
  acceptRemainingDuration(): boolean {
    if (!this.accept('smhdwy')) return false;
    this.accept('s');
    while (this.accept(DECIMAL)) {
      this.acceptRun(DECIMAL);
      if (!this.accept('smhdw')) return false;
      this.accept('s');
    }
    return !isAlphaNumeric(this.input[this.pos++]);
  }
}

/** A number or duration item, or the lexer's error where it reads neither. */
type Item = { kind: 'number' | 'duration'; text: string } | { kind: 'error'; reason: string };

/** lexNumberOrDuration, from `c.pos`. */
function numberOrDuration(c: Cursor): Item {
  const start = c.pos;
  if (c.scanNumber()) return { kind: 'number', text: c.input.slice(start, c.pos) };
  if (c.acceptRemainingDuration()) {
    c.pos--;
    return { kind: 'duration', text: c.input.slice(start, c.pos) };
  }
  return { kind: 'error', reason: `bad number or duration syntax: ${JSON.stringify(c.input.slice(start, c.pos))}` };
}

/** The number or duration item `rest` starts with, as the lexer reads it there; undefined where it fails. */
export function numberItemAt(rest: string): { kind: 'number' | 'duration'; text: string } | undefined {
  const item = numberOrDuration(new Cursor(rest, 0));
  return item.kind === 'error' ? undefined : item;
}

/** lexDuration, from `c.pos` (right after `[` and any blanks). */
function duration(c: Cursor): Item {
  const start = c.pos;
  if (c.scanNumber()) return { kind: 'error', reason: 'missing unit character in duration' };
  if (!c.acceptRemainingDuration()) return { kind: 'error', reason: `bad duration syntax: ${JSON.stringify(c.input.slice(start, c.pos))}` };
  c.pos--;
  return { kind: 'duration', text: c.input.slice(start, c.pos) };
}

/** The error of 2.x's parseDuration (common/model's ParseDuration into an int64 of nanoseconds, then none of 0) for a duration item; none if it reads. */
function durationError(text: string): string | undefined {
  const ms = parseDuration(text);
  if (ms === null) return `not a valid duration string: ${JSON.stringify(text)}`;
  if (ms * 1e6 >= 2 ** 63) return 'duration out of range';
  return ms === 0 ? 'duration must be greater than 0' : undefined;
}

/**
 * The first error 2.x reports at a number or duration item of `input`: the lexer's (`bad number or
 * duration syntax`, `missing unit character in duration`, `bad duration syntax`), a number ParseFloat
 * refuses, a duration ParseDuration refuses (or 0), or, without a reason, an item its grammar does not
 * take there: a number where `offset` or a subquery's step needs a duration, a duration anywhere but
 * a range, a step or an offset (3.x reads one as seconds). Undefined when every such item reads.
 */
export function firstItemError(input: string): ItemError | undefined {
  const c = new Cursor(input, 0);
  let bracketOpen = false;
  /** Where the next item stands: after `offset` (and its sign), a subquery's colon, or elsewhere. */
  let context: 'offset' | 'step' | '' = '';
  while (c.pos < input.length) {
    const ch = input[c.pos] as string;
    const at = c.pos;
    if (/\s/.test(ch)) {
      c.pos++;
      continue;
    }
    let item: Item;
    if (ch === '#') {
      const eol = input.indexOf('\n', at);
      c.pos = eol < 0 ? input.length : eol;
      continue;
    } else if (ch === '"' || ch === "'" || ch === '`' || ch === '{') {
      c.pos = skipQuotedOrBraces(input, at);
      if (c.pos < 0) return undefined;
      context = '';
      continue;
    } else if (ch === '[') {
      bracketOpen = true;
      c.pos++;
      while (/[ \t\r\n]/.test(c.peek() ?? '')) c.pos++;
      const durationAt = c.pos;
      item = duration(c);
      const error = item.kind === 'error' ? item.reason : durationError(item.text);
      if (error !== undefined) return { pos: durationAt, reason: error };
      context = '';
      continue;
    } else if (isDigit(ch) || (ch === '.' && isDigit(input[at + 1]))) {
      item = numberOrDuration(c);
    } else if (/[A-Za-z_]/.test(ch)) {
      while (isAlphaNumeric(c.peek()) || c.peek() === ':') c.pos++;
      const word = input.slice(at, c.pos).toLowerCase();
      if (word !== 'inf' && word !== 'nan') {
        context = word === 'offset' ? 'offset' : '';
        continue;
      }
      item = { kind: 'number', text: input.slice(at, c.pos) };
    } else {
      // A subquery's step is a duration or nothing; an offset a duration (2.x has no duration expressions).
      if (context === 'step' && ch !== ']' && ch !== ':') return { pos: at };
      if (context === 'offset' && ch === '(') return { pos: at };
      c.pos++;
      if (ch === ']') bracketOpen = false;
      // An offset may be negative.
      context = ch === ':' && bracketOpen ? 'step' : ch === '-' && context === 'offset' ? 'offset' : '';
      continue;
    }
    if (item.kind === 'error') return { pos: at, reason: item.reason };
    const text = item.text;
    if (item.kind === 'number') {
      if (context === 'offset' || context === 'step') return { pos: at };
      const value = parseNumberLiteral(text);
      if (typeof value !== 'number') return { pos: at, reason: numberError(text, value) };
    } else {
      // Durations are for ranges, steps and offsets only (3.x reads one elsewhere as seconds).
      if (context !== 'offset' && context !== 'step') return { pos: at };
      const error = durationError(text);
      if (error !== undefined) return { pos: at, reason: error };
    }
    context = '';
  }
  return undefined;
}

/** The offset past the string or braces starting at `open` (strings inside braces skipped whole); -1 if unclosed. */
function skipQuotedOrBraces(input: string, open: number): number {
  const end = input[open] === '{' ? closingBrace(input, open) : closingQuote(input, open);
  return end < 0 ? -1 : end + 1;
}
