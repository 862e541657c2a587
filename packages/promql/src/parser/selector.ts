/**
 * Prometheus' ParseMetricSelector, which reads the HTTP API's `match[]`: a vector selector alone (a
 * metric name, label matchers in braces, or both) with nothing before or after it. Its grammar takes
 * any keyword as a metric name (`sum`, `offset`), and it lets a selector match the empty string
 * everywhere (`{}`): the API rejects that in words of its own. Errors are the parser's: what follows
 * the selector is "unexpected", named as Prometheus' lexer names its items.
 */
import { METRIC_NAME, Matcher } from '@strata/tsdb';
import { ParseError } from './errors.js';
import { unexpectedAt } from './items.js';
import { closingBrace } from './literals.js';
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
    // A `)` (none is open here) the lexer reports past it: it emits it before it counts.
    throw new ParseError(input, input[next] === ')' ? next + 1 : next, unexpectedAt(input.slice(next)));
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
