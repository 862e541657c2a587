/**
 * Prometheus' ParseMetricSelector, which reads the HTTP API's `match[]`: a vector selector alone (a
 * metric name, label matchers in braces, or both) with nothing before or after it. Its grammar takes
 * any keyword as a metric name (`sum`, `offset`), and it lets a selector match the empty string
 * everywhere (`{}`): the API rejects that in words of its own. Errors are the parser's: what follows
 * the selector is "unexpected", named as Prometheus' lexer names its items.
 */
import { METRIC_NAME, Matcher } from '@strata/tsdb';
import { ParseError } from './errors.js';
import { parseUncheckedSelector, type ParseOptions } from './parse.js';

export function parseMetricSelector(input: string, opts: ParseOptions = {}): Matcher[] {
  const start = skipBlanks(input, 0);
  const name = /^[A-Za-z_:][\w:]*/.exec(input.slice(start))?.[0] ?? '';
  let end = start + name.length;
  const braceAt = skipBlanks(input, end);
  const matchers: Matcher[] = [];
  if (input[braceAt] === '{') {
    const close = closingBrace(input, braceAt);
    // The braces alone, where they stand in the input (blanked before them: a keyword there is a name
    // here, which the expression grammar would not take); unclosed, the expression parser names what
    // is wrong inside them.
    const braces = input.slice(0, braceAt).replace(/[^\n]/g, ' ') + input.slice(braceAt, close < 0 ? input.length : close + 1);
    matchers.push(...parseUncheckedSelector(braces, opts).matchers);
    end = close < 0 ? input.length : close + 1;
  }
  const next = skipBlanks(input, end);
  if (end === start || next < input.length) {
    const { at, reason } = unexpected(input, next);
    throw new ParseError(input, at, reason);
  }
  // Unlike an expression's selector, one may name its metric twice (`up{__name__="x"}`: nothing matches).
  if (name !== '') matchers.push(Matcher.equal(METRIC_NAME, name));
  return matchers;
}

/** Past blanks and `#` comments, which Prometheus' lexer skips. */
function skipBlanks(input: string, at: number): number {
  for (;;) {
    while (at < input.length && /\s/.test(input[at] as string)) at++;
    if (input[at] !== '#') return at;
    while (at < input.length && input[at] !== '\n') at++;
  }
}

/** The index of the `}` closing the brace at `open`, past quoted strings; -1 if none does. */
function closingBrace(input: string, open: number): number {
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

/** The index of the quote closing the one at `open` (backquoted strings have no escapes); -1 if none does. */
function closingQuote(input: string, open: number): number {
  const q = input[open];
  for (let i = open + 1; i < input.length; i++) {
    if (input[i] === q) return i;
    if (q !== '`' && input[i] === '\\') i++;
  }
  return -1;
}

const KEYWORDS = new Set(['offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'start', 'end']);
const AGGREGATORS = new Set(['sum', 'avg', 'count', 'min', 'max', 'group', 'stddev', 'stdvar', 'topk', 'bottomk', 'count_values', 'quantile', 'limitk', 'limit_ratio']);
const WORD_OPERATORS = new Set(['and', 'or', 'unless', 'atan2']);
const PUNCTUATION = new Set(['(', '[', '{', ',', '=', ':']);

/**
 * Prometheus' error for the item at `at` where the selector must end: the parser's, or the lexer's for
 * what it cannot read (a `)` with none open reported past it: the lexer emits it before it counts).
 */
function unexpected(input: string, at: number): { at: number; reason: string } {
  return { at: input[at] === ')' ? at + 1 : at, reason: unexpectedItem(input, at) };
}

const CLOSING: Record<string, string> = { ')': 'right parenthesis', ']': 'right bracket', '}': 'right brace' };

function unexpectedItem(input: string, at: number): string {
  if (at >= input.length) return 'unexpected end of input';
  const rest = input.slice(at);
  const word = /^[A-Za-z_][\w:]*/.exec(rest)?.[0];
  if (word !== undefined) {
    const w = word.toLowerCase();
    if (KEYWORDS.has(w)) return `unexpected <${word}>`;
    if (AGGREGATORS.has(w)) return `unexpected <aggr:${word}>`;
    if (WORD_OPERATORS.has(w)) return `unexpected <op:${word}>`;
    return `unexpected identifier ${JSON.stringify(word)}`;
  }
  const number = /^(?:\d|\.\d)[\w.]*/.exec(rest)?.[0];
  if (number !== undefined) return `unexpected ${/^\d+(?:ms|[smhdwy])/.test(number) ? 'duration' : 'number'} ${JSON.stringify(number)}`;
  const quote = rest[0] as string;
  if (quote === '"' || quote === "'" || quote === '`') {
    const end = closingQuote(rest, 0);
    return end < 0 ? 'unterminated quoted string' : `unexpected string ${JSON.stringify(rest.slice(0, end + 1))}`;
  }
  const op = /^(?:==|!=|>=|<=|[-+*/%^<>@])/.exec(rest)?.[0];
  if (op !== undefined) return `unexpected <op:${op}>`;
  const c = rest[0] as string;
  if (c === '=' || c === '!') {
    const after = rest[1];
    if (c === '!' || after === '~') return `unexpected character after '${c}': ${after === undefined ? 'EOF' : `'${after}'`}`;
  }
  if (PUNCTUATION.has(c)) return `unexpected ${JSON.stringify(c)}`;
  const closing = CLOSING[c];
  return closing !== undefined ? `unexpected ${closing} '${c}'` : `unexpected character: '${c}'`;
}
