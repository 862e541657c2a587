/**
 * Prometheus' words for a token where its parser stops: the lexer's item, as `unexpected <item>` names
 * it (lex.go's Item.desc), or the lexer's own error where it cannot read one there.
 */
import { closingQuote } from './literals.js';
import { numberItemAt } from './numberitems.js';

const KEYWORDS = new Set(['offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool']);
/** `@`'s `start` and `end`: items of their own, named by their text (not keywords, which print as `<by>`). */
const PREPROCESSORS = new Set(['start', 'end']);
const AGGREGATORS = new Set(['sum', 'avg', 'count', 'min', 'max', 'group', 'stddev', 'stdvar', 'topk', 'bottomk', 'count_values', 'quantile', 'limitk', 'limit_ratio']);
const WORD_OPERATORS = new Set(['and', 'or', 'unless', 'atan2']);
/** Items the lexer passes to the parser as they are: named by their text. */
const PUNCTUATION = new Set(['(', '[', '{', ',', '=', ':']);
/** Closing brackets with none open: the lexer's errors (a `}` is just an unexpected character to it). */
const CLOSING: Record<string, string> = { ')': 'right parenthesis', ']': 'right bracket' };

/** Whether the lexer reads `word` as an aggregation operator (in any case). */
export function isAggregator(word: string): boolean {
  return AGGREGATORS.has(word.toLowerCase());
}

/** How `unexpected` names the item `rest` starts with (undefined: the lexer fails there, see lexerError). */
export function describeItem(rest: string): string | undefined {
  const word = /^[A-Za-z_:][\w:]*/.exec(rest)?.[0];
  // Outside brackets a colon starts or continues a metric name (the caller reads one inside brackets).
  if (word?.includes(':')) return `metric identifier ${JSON.stringify(word)}`;
  if (word !== undefined) {
    // The lexer reads keywords in any case; the item keeps the text as written.
    const w = word.toLowerCase();
    if (w === 'inf' || w === 'nan') return `number ${JSON.stringify(word)}`;
    if (KEYWORDS.has(w)) return `<${word}>`;
    if (PREPROCESSORS.has(w)) return JSON.stringify(word);
    if (isAggregator(w)) return `<aggr:${word}>`;
    if (WORD_OPERATORS.has(w)) return `<op:${word}>`;
    return `identifier ${JSON.stringify(word)}`;
  }
  if (/^\.?\d/.test(rest)) {
    const item = numberItemAt(rest);
    return item === undefined ? undefined : `${item.kind} ${quoteItem(item.text)}`;
  }
  const quote = rest[0];
  if (quote === '"' || quote === "'" || quote === '`') {
    const end = closingQuote(rest, 0);
    return end < 0 ? undefined : `string ${quoteItem(rest.slice(0, end + 1))}`;
  }
  const op = /^(?:==|!=|>=|<=|[-+*/%^<>@])/.exec(rest)?.[0];
  if (op !== undefined) return `<op:${op}>`;
  const c = rest[0] as string;
  if (c === '=' && rest[1] === '~') return undefined;
  return PUNCTUATION.has(c) ? JSON.stringify(c) : undefined;
}

/** An item's text as Item.String quotes it: past 10 characters, the first 10 (`%.10q...`). */
function quoteItem(text: string): string {
  const chars = [...text];
  return chars.length > 10 ? `${JSON.stringify(chars.slice(0, 10).join(''))}...` : JSON.stringify(text);
}

/** Go's `%q` of the lexer's next character: at the end of the input, its EOF rune (-1), which prints as U+FFFD. */
export function quoteRune(c: string | undefined): string {
  return `'${c ?? '\ufffd'}'`;
}

/** The lexer's error for what `rest` starts with, where it reads no item (see describeItem). */
export function lexerError(rest: string): string {
  const c = rest[0] as string;
  if (c === '"' || c === "'") return 'unterminated quoted string';
  if (c === '`') return 'unterminated raw string';
  if (c === '=' || c === '!') return `unexpected character after '${c}': ${quoteRune(rest[1])}`;
  const closing = CLOSING[c];
  return closing !== undefined ? `unexpected ${closing} '${c}'` : `unexpected character: '${c}'`;
}

/** Prometheus' error where `rest` cannot go on, `context` (" in offset, expected duration") added to the parser's. */
export function unexpectedAt(rest: string, context = ''): string {
  if (rest === '') return `unexpected end of input${context}`;
  const item = describeItem(rest);
  return item === undefined ? lexerError(rest) : `unexpected ${item}${context}`;
}
