/**
 * Parses PromQL with the lezer grammar of the Prometheus UI, then builds the typed AST and
 * type-checks it as Prometheus' parser does (see check.ts).
 */
import type { SyntaxNode } from '@lezer/common';
import { parser as lezer } from '@prometheus-io/lezer-promql';
import { METRIC_NAME, Matcher, prometheusRegexp, type MatchType } from '@strata/tsdb';
import { exprType, isSetOp } from './ast.js';
import type {
  AggregateExpr, AggregateOp, DurationFn, FillValues, QueryParams, BinaryExpr, BinaryOp, Cardinality, Expr, PosRange, RangeExtension, SubqueryExpr,
  VectorMatching, VectorSelector,
} from './ast.js';
import { checkAggregate, checkBinary, checkCall, checkSubquery, checkUnary, checkVectorSelector } from './check.js';
import { ParseError, UnsupportedError } from './errors.js';
import { describeItem, isAggregator, lexerError, quoteRune, unexpectedAt } from './items.js';
import { FUNCTIONS } from './functions.js';
import { closingParen, closingQuote, numberError, parseDuration, parseNumberLiteral, unquoteString } from './literals.js';
import { firstItemError, type ItemError } from './numberitems.js';

export interface ParseOptions {
  /** Prometheus major version whose syntax to accept (2: holt_winters, regex `.` excludes newlines). Default 3. */
  compat?: 2 | 3;
  /** Accept experimental functions (as Prometheus' test suite does), and with compat 2 all of 3.x's newer ones. Default: with compat 3. */
  experimentalFunctions?: boolean;
  /** Accept `anchored`/`smoothed` (Prometheus' promql-extended-range-selectors). Default false. */
  extendedRangeSelectors?: boolean;
  /** Accept `fill`/`fill_left`/`fill_right` (Prometheus' promql-binop-fill-modifiers). Default false. */
  binopFillModifiers?: boolean;
  /** Know Thanos' `xrate`, `xincrease` and `xdelta` (its engine's EnableXFunctions). Default false. */
  xFunctions?: boolean;
}

const BINARY_OPS: Record<string, BinaryOp> = {
  Pow: '^', Mul: '*', Div: '/', Mod: '%', Atan2: 'atan2', Add: '+', Sub: '-', Eql: '==', Neq: '!=', Gte: '>=',
  Gtr: '>', Lte: '<=', Lss: '<', And: 'and', Or: 'or', Unless: 'unless', TrimUpper: '</', TrimLower: '>/',
};
/** How tightly each binary operator binds (Prometheus' grammar; the trim operators at the comparisons', as lezer's). */
const PRECEDENCE: Record<BinaryOp, number> = {
  or: 1, and: 2, unless: 2, '==': 3, '!=': 3, '>=': 3, '>': 3, '<=': 3, '<': 3, '</': 3, '>/': 3,
  '+': 4, '-': 4, '*': 5, '/': 5, '%': 5, atan2: 5, '^': 6,
};
/** Nodes that lezer writes around the whole operation before them, where Prometheus binds them to its last operand. */
const POSTFIX_NODES = new Set(['OffsetExpr', 'StepInvariantExpr', 'AnchoredExpr', 'SmoothedExpr', 'MatrixSelector', 'SubqueryExpr']);

/** A piece of an operation as written: an operand, a sign before one, a postfix after one, or a binary operator (its BinaryExpr node). */
interface OperationPiece {
  kind: 'operand' | 'prefix' | 'postfix' | 'op';
  node: SyntaxNode;
}

const MATCH_OPS: Record<string, MatchType> = { EqlSingle: '=', Neq: '!=', EqlRegex: '=~', NeqRegex: '!~' };

/** Parses a PromQL expression; throws ParseError (or UnsupportedError for unimplemented syntax). */
export function parseExpr(input: string, opts: ParseOptions = {}): Expr {
  return new Builder(input, opts).build();
}

/** Parses a lone vector selector that may match the empty string everywhere (parseMetricSelector's braces). */
export function parseUncheckedSelector(input: string, opts: ParseOptions): VectorSelector {
  const e = new Builder(input, opts, false).build();
  if (e.kind !== 'vectorSelector') throw new ParseError(input, e.pos.start, `expected a vector selector, got ${exprType(e)}`);
  return e;
}

/** `offset` after what an expression follows: an operator, `(`, `,`, a vector matching clause. */
const OFFSET_NAME_HEAD = String.raw`[(,+\-*/%^=<>]|\b(?:and|or|unless|atan2|bool)|\b(?:on|ignoring|group_left|group_right)\s*\([^()]*\)|\b(?:group_left|group_right)`;
const OFFSET_NAME = new RegExp(String.raw`(^|${OFFSET_NAME_HEAD})(\s*)offset\b`, 'gi');
/** Text that ends in `offset` as a metric's name. */
const ENDS_IN_OFFSET_NAME = new RegExp(String.raw`(?:^|${OFFSET_NAME_HEAD})\s*offset$`, 'i');

/**
 * The query as handed to the lezer grammar: the same length, with what the grammar lacks but Prometheus
 * accepts rewritten in place (`2.` → `2 `; `0X1F` → `0x1F`; `offset` as a metric name; case-insensitive `STEP()`; 2.x's `holt_winters` and the scalar
 * `min_of`/`max_of` outside durations → same-length known names). Node texts are always read from the
 * original query.
 */
function lezerInput(input: string): string {
  let out = '';
  let i = 0;
  while (i < input.length) {
    const q = /["'`#]/.exec(input.slice(i));
    const codeEnd = q === null ? input.length : i + q.index;
    out += input
      .slice(i, codeEnd)
      // `offset` where an expression starts is a metric's name, as in Prometheus' grammar (`x + offset`).
      // (A piece of code after a string or comment does not start the query.)
      .replace(OFFSET_NAME, (m, head: string, blank: string, at: number) => (head === '' && at + i > 0 ? m : `${head}${blank}offse_`))
      .replace(/(?<![\w.])(\d+)\.(?!\w)/g, '$1 ')
      .replace(/(?<![\w.])0X(?=[0-9a-fA-F])/g, '0x')
      .replace(/\bholt_winters(?=\s*\()/g, 'day_of_month')
      // Thanos' x-functions, which lezer does not know, as functions of the same length it does.
      .replace(/(?<![\w:])x(rate|increase|delta)(?=\s*\()/g, (_m, f: string) => ({ rate: 'irate', increase: 'timestamp', delta: 'idelta' })[f] as string)
      .replace(/\b(step|range|min_of|max_of)(?=\s*\()/gi, (m) => m.toLowerCase());
    if (codeEnd >= input.length) break;
    const c = input[codeEnd] as string;
    let end: number;
    if (c === '#') {
      end = input.indexOf('\n', codeEnd);
    } else {
      end = codeEnd + 1;
      while (end < input.length && input[end] !== c) end += c !== '`' && input[end] === '\\' ? 2 : 1;
    }
    end = end < 0 ? input.length : Math.min(end + 1, input.length);
    out += input.slice(codeEnd, end);
    i = end;
  }
  return scalarMinMaxOf(out);
}

/** `min_of(…)`/`max_of(…)` as scalar functions (outside `[…]` and `offset`), spelled as same-length calls the grammar knows. */
function scalarMinMaxOf(query: string): string {
  // Calls after `offset` are durations, and so is everything inside their parentheses.
  let durationUntil = -1;
  return query.replace(/\b(min_of|max_of)(?=\s*\()/g, (m, _name: string, at: number) => {
    const before = query.slice(0, at);
    const insideBrackets = before.lastIndexOf('[') > before.lastIndexOf(']');
    if (at < durationUntil || insideBrackets) return m;
    if (/\boffset[\s(+-]*$/i.test(before)) {
      const close = closingParen(query, query.indexOf('(', at));
      durationUntil = close < 0 ? query.length : close;
      return m;
    }
    return m === 'min_of' ? 'vector' : 'scalar';
  });
}

/** What the grammar expects where it stopped inside `[…]`: after a subquery's step only its `]`. */
function bracketContext(before: string): string {
  return /:\s*[\w.]+\s*$/.test(before) ? ' in subquery selector, expected "]"' : ' in subquery or range, expected ":" or "]"';
}

/** Whether the text before the parser stopped is an aggregation's operator and grouping, its arguments still due (`sum by (a)`). */
function groupedAggregation(before: string): boolean {
  const m = /([A-Za-z_]\w*)\s*(?:by|without)\s*\([^()]*\)$/i.exec(before);
  return m !== null && isAggregator(m[1] as string);
}

/**
 * Whether the text before the parser stopped ends in a grouping keyword that must be followed by
 * labels in parentheses: `by`/`without` of an aggregation (`sum by`, `sum(x) by`), `on`/`ignoring`
 * after a binary operator. Elsewhere these words are metric names (`by(a)` is `by` called).
 */
function groupingExpected(before: string): boolean {
  if (/(?:[-+*/%^<>=]|\b(?:and|or|unless|atan2|bool))\s*(?:on|ignoring)$/i.test(before)) return true;
  const keyword = /\b(?:by|without)$/i.exec(before);
  if (keyword === null) return false;
  let head = before.slice(0, keyword.index).trimEnd();
  if (head.endsWith(')')) {
    // Past the aggregation's arguments, to its name.
    for (let i = head.length - 1, depth = 0; i >= 0; i--) {
      if (head[i] === ')') depth++;
      else if (head[i] === '(' && --depth === 0) {
        head = head.slice(0, i).trimEnd();
        break;
      }
    }
  }
  const word = /\w+$/.exec(head)?.[0];
  return word !== undefined && isAggregator(word);
}

/** What a parenthesis opens: an aggregation's argument, a call's, grouping labels, or an expression. */
type Paren = 'aggregation' | 'call' | 'grouping' | 'parentheses';

/** The kind of the parenthesis that follows `before`. */
function parenKind(before: string): Paren {
  const head = before.trimEnd();
  const word = /[A-Za-z_][\w:]*$/.exec(head)?.[0];
  if (word !== undefined) {
    if (isAggregator(word)) return 'aggregation';
    return /^(?:by|without|on|ignoring|group_left|group_right)$/i.test(word) ? 'grouping' : 'call';
  }
  // `sum by (a) (…)`: the aggregation's argument after its grouping.
  const grouped = /([A-Za-z_]\w*)\s*(?:by|without)\s*\([^()]*\)$/i.exec(head);
  return grouped !== null && isAggregator(grouped[1] as string) ? 'aggregation' : 'parentheses';
}

/** Whether an open bracket is a parenthesis (of any kind). */
function isParen(open: 'braces' | 'brackets' | Paren): boolean {
  return open !== 'braces' && open !== 'brackets';
}

/** The error of the two that comes first in the query. */
function firstOf(a: ItemError | undefined, b: ItemError | undefined): ItemError | undefined {
  return a === undefined || (b !== undefined && b.pos < a.pos) ? b : a;
}

/** Go's `%f` of a float that is not finite or is an integer (past 2^53, as an out-of-bounds @ time is). */
function goFixed(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  return Number.isInteger(v) ? `${BigInt(v)}.000000` : v.toFixed(6);
}

class Builder {
  readonly #input: string;
  readonly #opts: Required<ParseOptions>;
  /** Where info()'s second arguments start: selectors exempt from the non-empty matcher rule. */
  readonly #labelSelectorsAt = new Set<number>();

  /** Whether a vector selector must have a matcher that does not match the empty string. */
  readonly #checkSelectors: boolean;

  constructor(input: string, opts: ParseOptions, checkSelectors = true) {
    this.#input = input;
    this.#checkSelectors = checkSelectors;
    this.#opts = {
      compat: opts.compat ?? 3,
      experimentalFunctions: opts.experimentalFunctions ?? (opts.compat ?? 3) === 3,
      extendedRangeSelectors: opts.extendedRangeSelectors ?? false,
      binopFillModifiers: opts.binopFillModifiers ?? false,
      xFunctions: opts.xFunctions ?? false,
    };
  }

  build(): Expr {
    // Only blanks and comments: Prometheus' lexer finds no token at all.
    if (/^(?:\s|#[^\n]*)*$/.test(this.#input)) throw this.#error(0, 'no expression found in input');
    const tree = this.#checkedSyntax();
    const top = this.#children(tree.topNode)[0];
    if (top === undefined) throw this.#error(0, 'no expression found in input');
    return this.#expr(top);
  }

  /** The query's syntax tree, once it has no error of Prometheus' lexer or grammar (else the first, as Prometheus reports it). */
  #checkedSyntax(): ReturnType<typeof lezer.parse> {
    const tree = lezer.parse(lezerInput(this.#input));
    // 2.x stops at the first number or duration it cannot read, unless its grammar failed before it;
    // what is checked once a construct is read (here: as the tree is built) comes after.
    const itemError = this.#opts.compat === 2 ? firstOf(firstItemError(this.#input), this.#quotedLabelName(tree.topNode)) : undefined;
    try {
      this.#reportSyntaxError(tree.topNode);
    } catch (e) {
      if (itemError === undefined || !(e instanceof ParseError) || e.position < itemError.pos) throw e;
    }
    if (itemError !== undefined) {
      if (itemError.reason === undefined) this.#unexpected(itemError.pos);
      throw this.#error(itemError.pos, itemError.reason);
    }
    return tree;
  }

  /**
   * The error of a call of `name` (at `nameAt`) that names no function. Prometheus' grammar adds it once
   * the call is read, at its `)`: a syntax error inside the call comes first (read with a function
   * of that name's length in its place), one after it later.
   */
  #unknownFunction(nameAt: number, name: string, parenAt: number): never {
    const close = closingParen(this.#input, parenAt);
    const known = name.length >= 2 ? `ln${' '.repeat(name.length - 2)}` : ' ';
    const standIn = new Builder(`${this.#input.slice(0, nameAt)}${known}${this.#input.slice(nameAt + name.length)}`, this.#opts, this.#checkSelectors);
    try {
      standIn.#checkedSyntax();
    } catch (e) {
      if (e instanceof ParseError && (close < 0 || e.position <= close)) throw this.#error(e.position, e.reason);
    }
    throw this.#error(nameAt, `unknown function with name ${JSON.stringify(name)}`);
  }

  /**
   * The first quoted (UTF-8) label name, in a selector or a grouping: they came with Prometheus 3, and
   * 2.x's parser finds a string out of place there.
   */
  #quotedLabelName(top: SyntaxNode): ItemError | undefined {
    let found: ItemError | undefined;
    top.cursor().iterate((n) => {
      if (found !== undefined) return false;
      if (n.name !== 'QuotedLabelName') return undefined;
      // Only where a label name goes (a string after a name is another error: `a"b"`).
      if (!/[{(,]$/.test(this.#input.slice(0, n.from).trimEnd())) return undefined;
      const where = n.node.parent?.name === 'GroupingLabels' ? 'grouping opts, expected label' : 'label matching, expected identifier or "}"';
      found = { pos: n.from, reason: `unexpected string ${JSON.stringify(this.#input.slice(n.from, n.to))} in ${where}` };
      return false;
    });
    return found;
  }

  #text(n: SyntaxNode): string {
    return this.#input.slice(n.from, n.to);
  }

  #pos(n: SyntaxNode): PosRange {
    return { start: n.from, end: n.to };
  }

  #error(pos: number, reason: string): ParseError {
    return new ParseError(this.#input, pos, reason);
  }

  #reportSyntaxError(top: SyntaxNode): void {
    let bad: SyntaxNode | null = null;
    top.cursor().iterate((n) => {
      if (bad !== null) return false;
      if (n.type.isError) bad = n.node;
      return undefined;
    });
    if (bad === null) return;
    this.#unexpected((bad as SyntaxNode).from);
  }

  /** Prometheus' error for the first token from `at` on, where its parser cannot go on. */
  #unexpected(at: number): never {
    let rest = this.#input.slice(at).trimStart();
    let tokenAt = at + (this.#input.slice(at).length - rest.length);
    const open = this.#openAt(tokenAt);
    const innermost = open.at(-1);
    // Outside brackets the lexer reads a name with a colon in it (`a:b`) as one metric identifier, from its start.
    const word = /[A-Za-z_:][\w:]*$/.exec(this.#input.slice(0, tokenAt))?.[0];
    if (word !== undefined && /^[\w:]/.test(rest) && `${word}${/^[\w:]*/.exec(rest)?.[0]}`.includes(':') && !open.includes('brackets')) {
      tokenAt -= word.length;
      rest = this.#input.slice(tokenAt);
    }
    // Prometheus' lexer fails at a string that never ends before its parser gets past it.
    const unterminated = this.#unterminatedQuote();
    if (unterminated !== null && unterminated <= tokenAt) throw this.#error(unterminated, lexerError(this.#input.slice(unterminated)));
    const before = this.#input.slice(0, tokenAt).trimEnd();
    // At the end with a bracket open, the lexer's error comes before the parser's; inside braces the braces lexer's.
    if (rest === '' && innermost !== undefined) this.#endOfInput(at);
    if (innermost === 'braces') this.#labelMatchingError(tokenAt, rest);
    // (`offset` where an expression starts is a metric's name, see lezerInput.)
    const context = /\boffset\s*-?$/i.test(before) && !ENDS_IN_OFFSET_NAME.test(before.replace(/-$/, '').trimEnd())
      ? ' in offset, expected duration'
      : /@\s*(?:[-+]|(?:start|end)(?:\s*\()?)?$/i.test(before)
        ? ' in @, expected timestamp'
        : groupingExpected(before)
          ? ' in grouping opts, expected "("'
          : groupedAggregation(before)
            ? ' in aggregation'
            : '';
    if (context !== '' && rest.startsWith(')')) this.#strayParenthesis(tokenAt, context);
    if (context !== '') throw this.#error(tokenAt, unexpectedAt(rest, context));
    if (rest === '') this.#endOfInput(at);
    if (innermost === 'grouping') throw this.#error(tokenAt, unexpectedAt(rest, /[(,]$/.test(before) ? ' in grouping opts, expected label' : ' in grouping opts, expected "," or ")"'));
    if (innermost === 'brackets') {
      if (rest.startsWith(':')) throw this.#error(tokenAt, "unexpected colon ':'");
      // 2.x's lexer takes a letter inside brackets for a colon, and after the colon names it so.
      if (/^[A-Za-z_]/.test(rest) && /\[[^\]]*:[^\]]*$/.test(before)) throw this.#error(tokenAt, `unexpected colon '${rest[0]}'`);
      if (rest.startsWith('[')) throw this.#error(tokenAt, "unexpected left bracket '['");
      // After a range's duration a colon for a subquery or its end, after a step the end (a `)` is worded below).
      if (/[[:]\s*[\w.]+$/.test(before) && !rest.startsWith(')')) throw this.#error(tokenAt, unexpectedAt(rest, bracketContext(before)));
      if (before.endsWith(':')) throw this.#error(tokenAt, unexpectedAt(rest, ' in subquery selector, expected duration or "]"'));
    }
    // An identifier directly followed by "(" that the grammar did not take as a call names no function,
    // once the lexer has read to the end without finding a bracket left open.
    const call = /([A-Za-z_:][\w:]*)\s*$/.exec(this.#input.slice(0, tokenAt));
    // (A name with a colon is a metric name to the lexer, never a function's.)
    if (rest.startsWith('(') && call !== null && !(call[1] as string).includes(':') && !/^(by|without|on|ignoring|group_left|group_right|bool|offset)$/i.test(call[1] as string)) {
      this.#unknownFunction(tokenAt - (call[0] as string).length, call[1] as string, tokenAt);
    }
    // After a call's or an aggregation's comma the parser has taken the comma as the arguments' last.
    if (before.endsWith(',') && (innermost === 'call' || innermost === 'aggregation')) {
      throw this.#error(before.length - 1, 'trailing commas not allowed in function call args');
    }
    // Inside an aggregation, at any depth, the parser recovers at the aggregation and names it.
    const recovered = open.includes('aggregation') ? ' in aggregation' : '';
    if (rest.startsWith(')')) this.#strayParenthesis(tokenAt, recovered);
    throw this.#error(tokenAt, unexpectedAt(rest, recovered));
  }

  /**
   * A `)` the grammar did not expect at `at` (not inside braces): with nothing open the lexer's error,
   * reported past it (the lexer emits it before it counts); else the parser's.
   */
  #strayParenthesis(at: number, context: string): never {
    const open = this.#openAt(at);
    // With no parenthesis open (brackets do not count) the lexer's error replaces the `)` it read.
    if (!open.some(isParen)) throw this.#error(at + 1, lexerError(')'));
    throw this.#error(at, `unexpected ")"${open.at(-1) === 'brackets' ? bracketContext(this.#input.slice(0, at)) : context}`);
  }

  /**
   * An error at `at` inside braces: the braces lexer's for a character it cannot read there, else the
   * parser's in label matching, expecting what the token before calls for.
   */
  #labelMatchingError(at: number, rest: string): never {
    const c = rest[0] as string;
    if (c === '!' && rest[1] !== '=' && rest[1] !== '~') {
      throw this.#error(at, `unexpected character after '!' inside braces: ${quoteRune(rest[1])}`);
    }
    if (c === '{') throw this.#error(at, "unexpected left brace '{'");
    if (!/[A-Za-z_"'`=!,}]/.test(c)) throw this.#error(at, `unexpected character inside braces: '${c}'`);
    // The braces lexer reads words as identifiers, keywords too, and `=~`/`!~` as operators.
    const word = /^[A-Za-z_]\w*/.exec(rest)?.[0];
    const before = this.#input.slice(0, at).trimEnd();
    // A label name where one goes, then a character the braces lexer cannot read (`a:b`): its error.
    if (word !== undefined && /[{,]$/.test(before) && rest[word.length] !== undefined && !/[\s=!,}"'`#]/.test(rest[word.length] as string)) {
      throw this.#error(at + word.length, `unexpected character inside braces: '${rest[word.length]}'`);
    }
    // The braces lexer reads `=~`, `!=` and `!~` as operators and `=` as itself (so `==` is `=` twice).
    const op = /^(?:=~|!~|!=)/.exec(rest)?.[0];
    const item = word !== undefined ? `identifier ${JSON.stringify(word)}` : op !== undefined ? `<op:${op}>` : c === '=' ? '"="' : (describeItem(rest) ?? JSON.stringify(c));
    const expected = /[{,]$/.test(before) ? 'identifier or "}"' : /(?:=|~)$/.test(before) ? 'string' : /["'`]$/.test(before) ? '"," or "}"' : 'label matching operator';
    throw this.#error(at, `unexpected ${item} in label matching, expected ${expected}`);
  }

  /** The lexer's error for the input ending at `at`, as the innermost bracket still open there has it. */
  #endOfInput(at: number): never {
    // Prometheus' lexer at the end: inside braces their own error, else any parenthesis open before a bracket.
    const open = this.#openAt(at);
    if (open.at(-1) === 'braces') throw this.#error(at, 'unexpected end of input inside braces');
    if (open.some(isParen)) throw this.#error(at, 'unclosed left parenthesis');
    if (open.includes('brackets')) throw this.#error(at, 'unclosed left bracket');
    throw this.#error(at, 'unexpected end of input');
  }

  /** Where a quoted string starts that does not end in the query (comments skipped), or null. */
  #unterminatedQuote(): number | null {
    const s = this.#input;
    for (let i = 0; i < s.length; i++) {
      const c = s[i] as string;
      if (c === '#') {
        const eol = s.indexOf('\n', i);
        if (eol < 0) return null;
        i = eol;
      } else if (c === '"' || c === "'" || c === '`') {
        const end = closingQuote(s, i);
        if (end < 0) return i;
        i = end;
      }
    }
    return null;
  }

  /** The brackets open at `pos`, outermost first, each a parenthesis told apart by what it opens. */
  #openAt(pos: number): ('braces' | 'brackets' | Paren)[] {
    const stack: ('braces' | 'brackets' | Paren)[] = [];
    const s = this.#input.slice(0, pos);
    for (let i = 0; i < s.length; i++) {
      const c = s[i] as string;
      if (c === '"' || c === "'" || c === '`') {
        const end = closingQuote(s, i);
        i = end < 0 ? s.length : end;
      } else if (c === '#') {
        const eol = s.indexOf('\n', i);
        i = eol < 0 ? s.length : eol;
      } else if (c === '{') stack.push('braces');
      else if (c === '[') stack.push('brackets');
      else if (c === '(') stack.push(parenKind(s.slice(0, i)));
      else if (c === '}' || c === ')' || c === ']') stack.pop();
    }
    return stack;
  }

  /** A node's children, the comments the grammar keeps among them (`x{a#c\n="b"}`) left out. */
  #children(n: SyntaxNode): SyntaxNode[] {
    const out: SyntaxNode[] = [];
    for (let c = n.firstChild; c !== null; c = c.nextSibling) if (c.type.name !== 'LineComment') out.push(c);
    return out;
  }

  #exprChildren(n: SyntaxNode): SyntaxNode[] {
    return this.#children(n).filter((c) => c.type.is('Expr'));
  }

  #expr(n: SyntaxNode): Expr {
    switch (n.type.name) {
      case 'NumberDurationLiteral':
        return { kind: 'number', value: this.#numberOrDuration(n, this.#text(n).replace(/\s+/g, '')), pos: this.#pos(n) };
      case 'StringLiteral':
        return { kind: 'string', value: this.#string(n), pos: this.#pos(n) };
      case 'ParenExpr':
        return { kind: 'paren', expr: this.#expr(this.#exprChildren(n)[0] as SyntaxNode), pos: this.#pos(n) };
      case 'VectorSelector':
        return this.#vectorSelector(n);
      case 'FunctionCall':
        return this.#call(n);
      case 'AggregateExpr':
        return this.#aggregate(n);
      case 'BinaryExpr':
      case 'UnaryExpr':
      case 'MatrixSelector':
      case 'SubqueryExpr':
      case 'OffsetExpr':
      case 'StepInvariantExpr':
      case 'AnchoredExpr':
      case 'SmoothedExpr':
        return this.#operation(n);
      default:
        throw this.#error(n.from, `unexpected ${n.type.name}`);
    }
  }

  #string(n: SyntaxNode): string {
    try {
      return unquoteString(this.#text(n));
    } catch (e) {
      throw this.#error(n.from, (e as Error).message);
    }
  }

  /** A number literal; in 3.x a duration literal where a number is expected reads as seconds. */
  #numberOrDuration(n: SyntaxNode, text: string): number {
    const num = parseNumberLiteral(text);
    if (typeof num === 'number') return num;
    const unsigned = text.replace(/^[-+]/, '');
    const d = parseDuration(unsigned);
    if (d !== null) return (text.startsWith('-') ? -d : d) / 1000;
    // A sign is an operator of its own to Prometheus: the number it quotes and places starts after it.
    if (num === 'value out of range') throw this.#error(n.from + text.length - unsigned.length, numberError(unsigned, num));
    throw this.#error(n.from, `bad number or duration syntax: ${JSON.stringify(text)}`);
  }

  #vectorSelector(n: SyntaxNode): VectorSelector {
    const ident = n.getChild('Identifier');
    const name = ident === null ? null : this.#text(ident);
    const matchers: Matcher[] = [];
    const regexOpts = prometheusRegexp(this.#opts.compat);
    let quotedName: string | null = null;
    const lm = n.getChild('LabelMatchers');
    if (lm !== null) {
      for (const m of this.#children(lm)) {
        if (m.type.name === 'QuotedLabelName') {
          quotedName = this.#string(m.firstChild as SyntaxNode);
          continue;
        }
        if (m.type.name !== 'UnquotedLabelMatcher' && m.type.name !== 'QuotedLabelMatcher') continue;
        const [labelNode, opNode, valueNode] = this.#children(m) as [SyntaxNode, SyntaxNode, SyntaxNode];
        const label = labelNode.type.name === 'LabelName' ? this.#text(labelNode) : this.#string(labelNode.firstChild as SyntaxNode);
        const op = MATCH_OPS[(opNode.firstChild as SyntaxNode).type.name] as MatchType;
        const value = this.#string(valueNode);
        try {
          matchers.push(new Matcher(op, label, value, regexOpts));
        } catch (e) {
          throw this.#error(m.from, (e as Error).message);
        }
      }
    }
    let metricName = name;
    if (quotedName !== null) {
      if (metricName !== null) throw this.#error(n.from, `metric name must not be set twice: ${JSON.stringify(metricName)} or ${JSON.stringify(quotedName)}`);
      metricName = quotedName;
    }
    if (metricName !== null) {
      for (const m of matchers) {
        if (m.name === METRIC_NAME) {
          throw this.#error(n.from, `metric name must not be set twice: ${JSON.stringify(metricName)} or ${JSON.stringify(m.value)}`);
        }
      }
      matchers.push(Matcher.equal(METRIC_NAME, metricName));
    }
    const vs: VectorSelector = {
      kind: 'vectorSelector', name: metricName, matchers, offset: 0, timestamp: null, atAnchor: null, pos: this.#pos(n),
    };
    // info()'s label selector may match the empty string everywhere: it only filters info series.
    if (this.#checkSelectors && !this.#labelSelectorsAt.has(n.from)) checkVectorSelector(vs, this.#input);
    return vs;
  }

  /**
   * An operation as Prometheus' grammar binds it. The lezer grammar attaches a postfix (`offset`, `@`,
   * `anchored`, `smoothed`, `[…]`, `[…:…]`) to the whole unparenthesized operation before it, so that
   * `a + b offset 1d * 2` reads as `((a + b) offset 1d) * 2`; in Prometheus' grammar the postfix binds
   * tighter than any operator, to the operand just before it: `a + ((b offset 1d) * 2)`. So the tree is
   * taken apart into operands, prefix signs, postfixes and binary operators in written order, and put
   * together again by precedence.
   */
  #operation(n: SyntaxNode): Expr {
    const pieces: OperationPiece[] = [];
    this.#operationPieces(n, pieces);
    let next = 0;
    // Each built expression with where its text ends (a selector's pos leaves out its modifiers).
    const operand = (): { e: Expr; end: number } => {
      const piece = pieces[next++] as OperationPiece;
      if (piece.kind === 'prefix') {
        const inner = binary(PRECEDENCE['^']);
        return { e: this.#unary(piece.node, inner.e, inner.end), end: inner.end };
      }
      let e = this.#expr(piece.node);
      let end = piece.node.to;
      while (pieces[next]?.kind === 'postfix') {
        const post = (pieces[next++] as OperationPiece).node;
        e = this.#postfix(post, e);
        end = post.to;
      }
      return { e, end };
    };
    // Precedence climbing: operators at least as tight as `min`, `^` to the right, the others to the left.
    const binary = (min: number): { e: Expr; end: number } => {
      let lhs = operand();
      for (;;) {
        const piece = pieces[next];
        if (piece?.kind !== 'op') return lhs;
        const op = this.#binaryOp(piece.node);
        const prec = PRECEDENCE[op];
        if (prec < min) return lhs;
        next++;
        const rhs = binary(op === '^' ? prec : prec + 1);
        lhs = { e: this.#binary(piece.node, op, lhs.e, rhs.e, rhs.end), end: rhs.end };
      }
    };
    return binary(0).e;
  }

  /** `n` in written order: its operands, the signs before and the postfixes after them, and the operators between. */
  #operationPieces(n: SyntaxNode, out: OperationPiece[]): void {
    const name = n.type.name;
    if (name === 'BinaryExpr') {
      const [lhs, rhs] = this.#exprChildren(n) as [SyntaxNode, SyntaxNode];
      this.#operationPieces(lhs, out);
      out.push({ kind: 'op', node: n });
      this.#operationPieces(rhs, out);
    } else if (name === 'UnaryExpr') {
      out.push({ kind: 'prefix', node: n });
      this.#operationPieces(this.#exprChildren(n)[0] as SyntaxNode, out);
    } else if (POSTFIX_NODES.has(name)) {
      this.#operationPieces(this.#exprChildren(n)[0] as SyntaxNode, out);
      out.push({ kind: 'postfix', node: n });
    } else {
      out.push({ kind: 'operand', node: n });
    }
  }

  #postfix(n: SyntaxNode, e: Expr): Expr {
    switch (n.type.name) {
      case 'MatrixSelector':
        return this.#rangeOf(n, e, n.getChild('DurationExpr') as SyntaxNode);
      case 'SubqueryExpr':
        return this.#subqueryOf(n, e, this.#children(n));
      case 'OffsetExpr':
        return this.#offset(n, e);
      case 'StepInvariantExpr':
        return this.#at(n, e);
      default:
        return this.#extended(e, n.type.name === 'AnchoredExpr' ? 'anchored' : 'smoothed');
    }
  }

  #unary(n: SyntaxNode, inner: Expr, end: number): Expr {
    const op = this.#text(n.firstChild as SyntaxNode) as '-' | '+';
    const e = { kind: 'unary', op, expr: inner, pos: { start: n.from, end } } as const;
    checkUnary(e, this.#input);
    // Prometheus folds a sign into a number literal.
    if (inner.kind === 'number') return { kind: 'number', value: op === '-' ? -inner.value : inner.value, pos: e.pos };
    return e;
  }

  #rangeOf(n: SyntaxNode, vs: Expr, durNode: SyntaxNode): Expr {
    // Reported at the range's bracket, as Prometheus' grammar does.
    const bracket = this.#input.lastIndexOf('[', durNode.from);
    if (vs.kind !== 'vectorSelector') throw this.#error(bracket, 'ranges only allowed for vector selectors');
    if (vs.offset !== 0 || vs.offsetFn !== undefined) throw this.#error(bracket, 'no offset modifiers allowed before range');
    // Only a time: Prometheus' grammar takes `x @ start() [5m]` (its preprocessor sets the time later).
    if (vs.timestamp !== null) throw this.#error(bracket, 'no @ modifiers allowed before range');
    const range = this.#duration(durNode);
    const pos = { start: vs.pos.start, end: n.to };
    if (typeof range === 'function') return { kind: 'matrixSelector', vs, range: 0, rangeFn: range, pos };
    if (range <= 0) throw this.#error(durNode.from, 'duration must be greater than 0');
    return { kind: 'matrixSelector', vs, range, pos };
  }

  #subqueryOf(n: SyntaxNode, expr: Expr, parts: SyntaxNode[]): SubqueryExpr {
    const durs = parts.filter((c) => c.type.name === 'DurationExpr');
    const range = this.#duration(durs[0] as SyntaxNode);
    const step = durs[1] === undefined ? 0 : this.#duration(durs[1]);
    for (const [d, node] of [[range, durs[0]], [step, durs[1]]] as const) {
      if (node !== undefined && typeof d === 'number' && d <= 0) throw this.#error(node.from, 'duration must be greater than 0');
    }
    const sq: SubqueryExpr = {
      kind: 'subquery', expr, range: typeof range === 'number' ? range : 0, step: typeof step === 'number' ? step : 0,
      offset: 0, timestamp: null, atAnchor: null, pos: { start: expr.pos.start, end: n.to },
    };
    if (typeof range === 'function') sq.rangeFn = range;
    if (typeof step === 'function') sq.stepFn = step;
    checkSubquery(sq, this.#input);
    return sq;
  }

  /** The target of `offset`/`@`: a selector, the selector of a range, or a subquery; errors name `e`'s position, as Prometheus'. */
  #modifierTarget(e: Expr, what: string): VectorSelector | SubqueryExpr {
    if (e.kind === 'vectorSelector' || e.kind === 'subquery') return e;
    if (e.kind === 'matrixSelector') return e.vs;
    throw this.#error(e.pos.start, `${what} modifier must be preceded by an instant vector selector or range vector selector or a subquery`);
  }

  /** `… anchored` / `… smoothed` on a selector, as Prometheus' setAnchored/setSmoothed. */
  #extended(target: Expr, ext: RangeExtension): Expr {
    const at = target.pos.start;
    if (!this.#opts.extendedRangeSelectors) throw this.#error(at, `${ext} modifier is experimental and not enabled`);
    if (target.kind === 'subquery') throw this.#error(at, `${ext} modifier is not supported for subqueries`);
    // Prometheus' own wording (setAnchored/setSmoothed) for a modifier on anything but a selector: a parse error, as there.
    if (target.kind !== 'vectorSelector' && target.kind !== 'matrixSelector') throw this.#error(at, `${ext} modifier not implemented`);
    const vs = target.kind === 'vectorSelector' ? target : target.vs;
    if (vs.extension !== undefined && vs.extension !== ext) throw this.#error(at, 'anchored and smoothed modifiers cannot be used together');
    vs.extension = ext;
    return target;
  }

  #offset(n: SyntaxNode, inner: Expr): Expr {
    const durNode = n.getChild('OffsetDurationExpr') as SyntaxNode;
    const target = this.#modifierTarget(inner, 'offset');
    if (target.offset !== 0) throw this.#error(inner.pos.start, 'offset may not be set multiple times');
    const offset = this.#duration(durNode);
    if (typeof offset === 'function') target.offsetFn = offset;
    else target.offset = offset;
    return inner;
  }

  #at(n: SyntaxNode, inner: Expr): Expr {
    const target = this.#modifierTarget(inner, '@');
    if (target.timestamp !== null || target.atAnchor !== null) throw this.#error(inner.pos.start, '@ <timestamp> may not be set multiple times');
    const pre = n.getChild('AtModifierPreprocessors');
    if (pre !== null) {
      target.atAnchor = pre.getChild('AtStart') !== null ? 'start' : 'end';
      return inner;
    }
    const lit = n.getChild('NumberDurationLiteral') as SyntaxNode;
    const secs = this.#numberOrDuration(lit, this.#text(lit));
    // Prometheus' setTimestamp: seconds past int64 are refused (at the expression the modifier is on),
    // in Go's %f; milliseconds past it wrap, as Go's conversion does on amd64, to the lowest int64.
    if (!(secs < 2 ** 63 && secs > -(2 ** 63))) throw this.#error(target.pos.start, `timestamp out of bounds for @ modifier: ${goFixed(secs)}`);
    // Go's math.Round (halves away from zero); + 0 makes -0 the 0 an int64 holds.
    const ms = (secs < 0 ? -Math.round(-secs * 1000) : Math.round(secs * 1000)) + 0;
    target.timestamp = ms < 2 ** 63 && ms >= -(2 ** 63) ? ms : -(2 ** 63);
    return inner;
  }

  /**
   * A duration in ms from a DurationExpr/OffsetDurationExpr (constant arithmetic allowed, as in 3.x), or a
   * function of the query parameters when it uses `step()`/`range()`.
   */
  #duration(n: SyntaxNode): number | DurationFn {
    const source = this.#text(n);
    if (/\b(step|range)\s*\(/i.test(source)) return Object.assign((q: QueryParams) => Math.round(this.#durationSeconds(n, q) * 1000), { source });
    return Math.round(this.#durationSeconds(n, null) * 1000);
  }

  #durationSeconds(n: SyntaxNode, q: QueryParams | null): number {
    const parts = this.#children(n);
    const first = parts[0] as SyntaxNode;
    switch (first.type.name) {
      case 'NumberDurationLiteralInDurationContext': {
        const text = this.#text(first);
        const d = parseDuration(text);
        if (d !== null) return d / 1000;
        const num = parseNumberLiteral(text);
        if (typeof num !== 'number' || !Number.isFinite(num)) throw this.#error(first.from, `bad duration syntax: ${JSON.stringify(text)}`);
        if (this.#opts.compat === 2) throw this.#error(first.from, 'missing unit character in duration');
        return num;
      }
      case 'UnaryOp': {
        const v = this.#durationSeconds(parts[1] as SyntaxNode, q);
        return this.#text(first) === '-' ? -v : v;
      }
      case 'DurationExpr': {
        if (parts.length === 1) return this.#durationSeconds(first, q);
        const a = this.#durationSeconds(first, q);
        const b = this.#durationSeconds(parts[2] as SyntaxNode, q);
        switch ((parts[1] as SyntaxNode).type.name) {
          case 'Add': return a + b;
          case 'Sub': return a - b;
          case 'Mul': return a * b;
          case 'Div': return a / b;
          case 'Mod': return a % b;
          default: return a ** b;
        }
      }
      case 'DurationMinOf':
      case 'DurationMaxOf': {
        const args = parts.filter((p) => p.type.name === 'DurationExpr').map((p) => this.#durationSeconds(p, q));
        return first.type.name === 'DurationMinOf' ? Math.min(...args) : Math.max(...args);
      }
      case 'DurationStep':
      case 'DurationRange':
        if (q === null) throw this.#error(first.from, `${this.#text(first)}() needs the query's parameters`);
        return (first.type.name === 'DurationStep' ? q.step : q.end - q.start) / 1000;
      default:
        // "(" DurationExpr ")"
        return this.#durationSeconds(parts.find((p) => p.type.name === 'DurationExpr') as SyntaxNode, q);
    }
  }

  #call(n: SyntaxNode): Expr {
    const ident = n.getChild('FunctionIdentifier') as SyntaxNode;
    const name = this.#text(ident);
    const func = FUNCTIONS.get(name);
    const body = n.getChild('FunctionCallBody') as SyntaxNode;
    // 3.x's functions with 2.x's language only where experimental functions are asked for (2.42 has none of them).
    const absent = func === undefined || (func.only === (this.#opts.compat === 2 ? 3 : 2) && !(func.only === 3 && this.#opts.experimentalFunctions)) ||
      (func.thanos === true && !this.#opts.xFunctions);
    if (absent) {
      if (name === 'start_timestamp') throw new UnsupportedError(`function ${name}()`);
      // To 2.x's lexer `start` and `end` are `@`'s words, read as a metric's name here: the call's `(` is out of place.
      if (this.#opts.compat === 2 && (name === 'start' || name === 'end')) throw this.#error(body.from, 'unexpected "("');
      // What is wrong inside the call comes first: Prometheus' grammar finds the name unknown once the call is read.
      for (const c of this.#exprChildren(body)) this.#expr(c);
      throw this.#error(n.from, `unknown function with name ${JSON.stringify(name)}`);
    }
    if (func.experimental === true && !this.#opts.experimentalFunctions) {
      throw this.#error(n.from, `function ${JSON.stringify(name)} is not enabled`);
    }
    const argNodes = this.#exprChildren(body);
    const labelSelector = name === 'info' && argNodes[1] !== undefined ? this.#selectorNode(argNodes[1]) : null;
    if (labelSelector !== null) this.#labelSelectorsAt.add(labelSelector.from);
    const args = argNodes.map((c) => this.#expr(c));
    const call = { kind: 'call', func, args, pos: this.#pos(n) } as const;
    checkCall(call, this.#input);
    return call;
  }

  /** The selector an argument is, through any `offset`/`@` on it, or null when it is something else. */
  #selectorNode(n: SyntaxNode): SyntaxNode | null {
    while (n.type.name === 'OffsetExpr' || n.type.name === 'StepInvariantExpr') n = this.#exprChildren(n)[0] as SyntaxNode;
    return n.type.name === 'VectorSelector' ? n : null;
  }

  #aggregate(n: SyntaxNode): AggregateExpr {
    const opNode = (n.getChild('AggregateOp') as SyntaxNode).firstChild as SyntaxNode;
    const op = this.#text(opNode).toLowerCase() as AggregateOp;
    const body = n.getChild('FunctionCallBody') as SyntaxNode;
    const args = this.#exprChildren(body).map((c) => this.#expr(c));
    // 2.x has no limitk or limit_ratio: a call of a function it does not know.
    if (this.#opts.compat === 2 && (op === 'limitk' || op === 'limit_ratio')) throw this.#error(n.from, `unknown function with name ${JSON.stringify(this.#text(opNode))}`);
    const mod = n.getChild('AggregateModifier');
    const grouping = mod === null ? [] : this.#groupingLabels(mod.getChild('GroupingLabels') as SyntaxNode);
    const without = mod !== null && mod.getChild('Without') !== null;
    const wantsParam = op === 'topk' || op === 'bottomk' || op === 'quantile' || op === 'count_values' || op === 'limitk' || op === 'limit_ratio';
    const want = wantsParam ? 2 : 1;
    if (args.length === 0) throw this.#error(n.from, 'no arguments for aggregate expression provided');
    if (args.length !== want) {
      throw this.#error(n.from, `wrong number of arguments for aggregate expression provided, expected ${want}, got ${args.length}`);
    }
    const agg: AggregateExpr = {
      kind: 'aggregate', op, expr: args[want - 1] as Expr, param: wantsParam ? (args[0] as Expr) : null, grouping, without, pos: this.#pos(n),
    };
    checkAggregate(agg, this.#input);
    return agg;
  }

  #groupingLabels(n: SyntaxNode): string[] {
    return this.#children(n)
      .filter((c) => c.type.name === 'LabelName' || c.type.name === 'QuotedLabelName')
      .map((c) => (c.type.name === 'LabelName' ? this.#text(c) : this.#string(c.firstChild as SyntaxNode)));
  }

  /** The operator of a BinaryExpr node. */
  #binaryOp(n: SyntaxNode): BinaryOp {
    const opNode = this.#children(n)[1] as SyntaxNode;
    const op = BINARY_OPS[opNode.type.name];
    if (op === undefined) throw new UnsupportedError(`binary operator ${this.#text(opNode)}`);
    return op;
  }

  /** `lhs op rhs` with the modifiers (bool, matching, fill) of the BinaryExpr node `n` that wrote `op`; its text ends at `end`. */
  #binary(n: SyntaxNode, op: BinaryOp, lhs: Expr, rhs: Expr, end: number): Expr {
    const start = lhs.pos.start;
    const returnBool = n.getChild('BoolModifier') !== null;
    const clause = this.#matchingClause(n, op);
    const bothVectors = exprType(lhs) === 'instant vector' && exprType(rhs) === 'instant vector';
    // Between anything but two vectors Prometheus drops the matching (once checked).
    let matching: VectorMatching | null = bothVectors ? clause ?? { card: isSetOp(op) ? 'many-to-many' : 'one-to-one', matchingLabels: [], on: false, include: [] } : null;
    const fill = this.#fill(n, start, op, bothVectors);
    if (fill !== null && matching !== null) matching = { ...matching, fill };
    const b: BinaryExpr = { kind: 'binary', op, lhs, rhs, returnBool, matching, pos: { start, end } };
    checkBinary(b, this.#input, clause, (this.#children(n)[1] as SyntaxNode).from);
    // lezer lexes the sign of `-1 ^ 2` into the number, giving (-1)^2; in Prometheus' grammar `^` binds
    // tighter than a unary sign, so it is -(1^2).
    const sign = this.#input[start];
    if (op !== '^' || lhs.kind !== 'number' || (sign !== '-' && sign !== '+')) return b;
    const power: BinaryExpr = { ...b, lhs: { ...lhs, value: sign === '-' ? -lhs.value : lhs.value } };
    const e = { kind: 'unary', op: sign, expr: power, pos: b.pos } as const;
    checkUnary(e, this.#input);
    return e;
  }

  /** The `on`/`ignoring` clause of a BinaryExpr node with its `group_left`/`group_right`, or null without one. */
  #matchingClause(n: SyntaxNode, op: BinaryOp): VectorMatching | null {
    const clause = n.getChild('MatchingModifierClause');
    if (clause === null) return null;
    const groups = clause.getChildren('GroupingLabels');
    let card: Cardinality = isSetOp(op) ? 'many-to-many' : 'one-to-one';
    if (clause.getChild('GroupLeft') !== null) card = 'many-to-one';
    if (clause.getChild('GroupRight') !== null) card = 'one-to-many';
    return {
      card,
      matchingLabels: this.#groupingLabels(groups[0] as SyntaxNode),
      on: clause.getChild('On') !== null,
      include: groups[1] === undefined ? [] : this.#groupingLabels(groups[1]),
    };
  }

  /** The values of `fill(v)`, `fill_left(v)`, `fill_right(v)`, or null without them. */
  #fill(n: SyntaxNode, start: number, op: BinaryOp, bothVectors: boolean): FillValues | null {
    const mod = n.getChild('FillModifier');
    if (mod === null) return null;
    if (!this.#opts.binopFillModifiers) throw this.#error(start, 'binop fill modifiers are experimental and not enabled');
    if (!bothVectors) throw this.#error(start, 'filling in missing series only allowed between instant vectors');
    if (isSetOp(op)) throw this.#error(start, 'filling in missing series not allowed for set operators');
    let lhs: number | null = null;
    let rhs: number | null = null;
    for (const c of this.#children(mod)) {
      const lit = c.getChild('NumberDurationLiteral') as SyntaxNode;
      const v = this.#numberOrDuration(lit, this.#text(lit));
      if (c.type.name !== 'FillRightClause') lhs = v;
      if (c.type.name !== 'FillLeftClause') rhs = v;
    }
    return { lhs, rhs };
  }
}
