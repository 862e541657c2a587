/**
 * The lexer of Go's text/template (Go 1.19, what Prometheus 2.42 is built with): text and actions
 * between `{{` and `}}`, trim markers (`{{- ` and ` -}}` eat the spaces beside them), comments
 * (`{{/* … *\/}}`, right next to the delimiters), and inside actions Go's literals, fields, variables and
 * keywords. Newlines may appear inside actions (Go 1.16+).
 */

export type ItemType =
  | 'error'
  | 'bool'
  | 'char' // a printable ASCII character not otherwise handled: `,`, `}` …
  | 'charConstant'
  | 'comment'
  | 'complex'
  | 'assign'
  | 'declare'
  | 'EOF'
  | 'field'
  | 'identifier'
  | 'leftDelim'
  | 'leftParen'
  | 'number'
  | 'pipe'
  | 'rawString'
  | 'rightDelim'
  | 'rightParen'
  | 'space'
  | 'string'
  | 'text'
  | 'variable'
  // Keywords:
  | 'block'
  | 'break'
  | 'continue'
  | 'dot'
  | 'define'
  | 'else'
  | 'end'
  | 'if'
  | 'nil'
  | 'range'
  | 'template'
  | 'with';

const KEYWORDS: ReadonlyMap<string, ItemType> = new Map([
  ['.', 'dot'],
  ['block', 'block'],
  ['break', 'break'],
  ['continue', 'continue'],
  ['define', 'define'],
  ['else', 'else'],
  ['end', 'end'],
  ['if', 'if'],
  ['range', 'range'],
  ['nil', 'nil'],
  ['template', 'template'],
  ['with', 'with'],
]);

const KEYWORD_TYPES: ReadonlySet<ItemType> = new Set(KEYWORDS.values());

export function isKeyword(t: ItemType): boolean {
  return KEYWORD_TYPES.has(t);
}

export interface Item {
  readonly type: ItemType;
  /** Offset in the input (UTF-16 code units). */
  readonly pos: number;
  readonly val: string;
  /** The line the item starts on, from 1. */
  readonly line: number;
}

const LEFT = '{{';
const RIGHT = '}}';
const LEFT_COMMENT = '/*';
const RIGHT_COMMENT = '*/';

function isSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\r' || c === '\n';
}

function isAlphaNumeric(c: string | undefined): boolean {
  return c !== undefined && /^[_\p{L}\p{Nd}]$/u.test(c);
}

/** `{{- ` (the marker needs a space after it). */
function hasLeftTrimMarker(s: string, at: number): boolean {
  return s[at] === '-' && isSpace(s[at + 1]);
}

/** ` -}}`. */
function hasRightTrimMarker(s: string, at: number): boolean {
  return isSpace(s[at]) && s[at + 1] === '-';
}

/** The length of the spaces at the start of s[at:]. */
function leftTrimLength(s: string, at: number): number {
  let i = at;
  while (isSpace(s[i])) i++;
  return i - at;
}

/** Lexes the whole input; an error item ends the list. */
export function lex(input: string): Item[] {
  const items: Item[] = [];
  let pos = 0;
  let start = 0;
  let line = 1;
  let startLine = 1;
  let parenDepth = 0;

  const emit = (type: ItemType): void => {
    items.push({ type, pos: start, val: input.slice(start, pos), line: startLine });
    ignore();
  };
  const ignore = (): void => {
    line += countNewlines(input.slice(start, pos));
    start = pos;
    startLine = line;
  };
  const errorf = (msg: string): false => {
    items.push({ type: 'error', pos: start, val: msg, line: startLine });
    return false;
  };
  const next = (): string | undefined => {
    if (pos >= input.length) {
      pos++;
      return undefined;
    }
    const ch = String.fromCodePoint(input.codePointAt(pos) as number);
    pos += ch.length;
    return ch;
  };
  const backup = (ch: string | undefined): void => {
    pos -= ch === undefined ? 1 : ch.length;
  };
  const peek = (): string | undefined => (pos < input.length ? String.fromCodePoint(input.codePointAt(pos) as number) : undefined);
  const accept = (valid: string): boolean => {
    const c = next();
    if (c !== undefined && valid.includes(c)) return true;
    backup(c);
    return false;
  };
  const acceptRun = (valid: string): void => {
    while (accept(valid));
  };
  /** At `}}` or ` -}}`: [delim, trimSpace]. */
  const atRightDelim = (): [boolean, boolean] => {
    if (hasRightTrimMarker(input, pos) && input.startsWith(RIGHT, pos + 2)) return [true, true];
    return [input.startsWith(RIGHT, pos), false];
  };
  const atTerminator = (): boolean => {
    const r = peek();
    if (r === undefined || isSpace(r)) return true;
    return '.,|:()'.includes(r) || r === RIGHT[0];
  };

  /** Text up to the next action; returns false at the end of input. */
  const lexText = (): boolean => {
    const x = input.indexOf(LEFT, pos);
    if (x < 0) {
      pos = input.length;
      if (pos > start) emit('text');
      items.push({ type: 'EOF', pos, val: '', line });
      return false;
    }
    pos = x;
    const trimLength = hasLeftTrimMarker(input, x + LEFT.length) ? input.slice(start, x).length - input.slice(start, x).replace(/[ \t\r\n]+$/, '').length : 0;
    pos -= trimLength;
    if (pos > start) emit('text');
    pos += trimLength;
    ignore();
    return lexLeftDelim();
  };

  const lexLeftDelim = (): boolean => {
    pos += LEFT.length;
    const trimSpace = hasLeftTrimMarker(input, pos);
    const afterMarker = trimSpace ? 2 : 0;
    if (input.startsWith(LEFT_COMMENT, pos + afterMarker)) {
      pos += afterMarker;
      ignore();
      return lexComment();
    }
    emit('leftDelim');
    pos += afterMarker;
    ignore();
    parenDepth = 0;
    return lexInsideAction();
  };

  const lexComment = (): boolean => {
    pos += LEFT_COMMENT.length;
    const x = input.indexOf(RIGHT_COMMENT, pos);
    if (x < 0) return errorf('unclosed comment');
    pos = x + RIGHT_COMMENT.length;
    const [delim, trimSpace] = atRightDelim();
    if (!delim) return errorf('comment ends before closing delimiter');
    // Go drops comments unless asked to keep them (parse.ParseComments).
    if (trimSpace) pos += 2;
    pos += RIGHT.length;
    if (trimSpace) pos += leftTrimLength(input, pos);
    ignore();
    return true;
  };

  const lexRightDelim = (): boolean => {
    const [, trimSpace] = atRightDelim();
    if (trimSpace) {
      pos += 2;
      ignore();
    }
    pos += RIGHT.length;
    emit('rightDelim');
    if (trimSpace) {
      pos += leftTrimLength(input, pos);
      ignore();
    }
    return true;
  };

  /** One token inside an action; true while the lexer goes on. */
  const lexInsideAction = (): boolean => {
    for (;;) {
      const [delim] = atRightDelim();
      if (delim) {
        if (parenDepth === 0) return lexRightDelim();
        return errorf('unclosed left paren');
      }
      const r = next();
      if (r === undefined) return errorf('unclosed action');
      let ok = true;
      if (isSpace(r)) {
        backup(r);
        lexSpace();
      } else if (r === '=') emit('assign');
      else if (r === ':') {
        if (next() !== '=') return errorf('expected :=');
        emit('declare');
      } else if (r === '|') emit('pipe');
      else if (r === '"') ok = lexQuote();
      else if (r === '`') ok = lexRawQuote();
      else if (r === '$') ok = lexVariable();
      else if (r === "'") ok = lexChar();
      else if (r === '.' && !/[0-9]/.test(input[pos] ?? '') && pos < input.length) ok = lexFieldOrVariable('field');
      else if (r === '.' || r === '+' || r === '-' || (r >= '0' && r <= '9')) {
        backup(r);
        ok = lexNumber();
      } else if (isAlphaNumeric(r)) {
        backup(r);
        ok = lexIdentifier();
      } else if (r === '(') {
        emit('leftParen');
        parenDepth++;
      } else if (r === ')') {
        emit('rightParen');
        parenDepth--;
        if (parenDepth < 0) return errorf(`unexpected right paren ${goRune(r)}`);
      } else if ((r.codePointAt(0) as number) < 0x7f && (r.codePointAt(0) as number) >= 0x20) emit('char');
      else return errorf(`unrecognized character in action: ${goRune(r)}`);
      if (!ok) return false;
    }
  };

  const lexSpace = (): void => {
    let numSpaces = 0;
    while (isSpace(peek())) {
      next();
      numSpaces++;
    }
    // A space before `-}}` belongs to the trim marker.
    if (hasRightTrimMarker(input, pos - 1) && input.startsWith(RIGHT, pos - 1 + 2)) {
      pos--;
      if (numSpaces === 1) return;
    }
    emit('space');
  };

  /** Consumes a run of letters, digits and underscores; an error unless a terminator follows it. */
  const alphaNumericRun = (): boolean => {
    let r: string | undefined;
    for (;;) {
      r = next();
      if (!isAlphaNumeric(r)) {
        backup(r);
        break;
      }
    }
    return atTerminator() || errorf(`bad character ${goRune(r ?? '')}`);
  };

  const lexIdentifier = (): boolean => {
    if (!alphaNumericRun()) return false;
    const word = input.slice(start, pos);
    const keyword = KEYWORDS.get(word);
    if (keyword !== undefined) emit(keyword);
    else if (word === 'true' || word === 'false') emit('bool');
    else emit('identifier');
    return true;
  };

  const lexVariable = (): boolean => {
    if (atTerminator()) {
      emit('variable'); // `$` alone
      return true;
    }
    return lexFieldOrVariable('variable');
  };

  const lexFieldOrVariable = (type: 'field' | 'variable'): boolean => {
    if (atTerminator()) {
      emit(type === 'variable' ? 'variable' : 'dot');
      return true;
    }
    if (!alphaNumericRun()) return false;
    emit(type);
    return true;
  };

  const lexQuoted = (q: string, what: string): boolean => {
    for (;;) {
      let r = next();
      if (r === '\\') {
        r = next();
        if (r !== undefined && r !== '\n') continue;
      }
      if (r === undefined || r === '\n') return errorf(`unterminated ${what}`);
      if (r === q) break;
    }
    emit(q === '"' ? 'string' : 'charConstant');
    return true;
  };
  const lexQuote = (): boolean => lexQuoted('"', 'quoted string');
  const lexChar = (): boolean => lexQuoted("'", 'character constant');

  const lexRawQuote = (): boolean => {
    const end = input.indexOf('`', pos);
    if (end < 0) {
      pos = input.length;
      return errorf('unterminated raw quoted string');
    }
    pos = end + 1;
    emit('rawString');
    return true;
  };

  const scanNumber = (): boolean => {
    accept('+-');
    let digits = '0123456789_';
    if (accept('0')) {
      // A leading 0 does not mean octal in floats.
      if (accept('xX')) digits = '0123456789abcdefABCDEF_';
      else if (accept('oO')) digits = '01234567_';
      else if (accept('bB')) digits = '01_';
    }
    acceptRun(digits);
    if (accept('.')) acceptRun(digits);
    if (digits.length === 11 && accept('eE')) {
      accept('+-');
      acceptRun('0123456789_');
    }
    if (digits.length === 23 && accept('pP')) {
      accept('+-');
      acceptRun('0123456789_');
    }
    accept('i');
    if (isAlphaNumeric(peek())) {
      next();
      return false;
    }
    return true;
  };

  const lexNumber = (): boolean => {
    if (!scanNumber()) return errorf(`bad number syntax: ${JSON.stringify(input.slice(start, pos))}`);
    const sign = peek();
    if (sign === '+' || sign === '-') {
      // Complex: 1+2i, no spaces, ending in 'i'.
      if (!scanNumber() || input[pos - 1] !== 'i') return errorf(`bad number syntax: ${JSON.stringify(input.slice(start, pos))}`);
      emit('complex');
    } else emit('number');
    return true;
  };

  while (lexText());
  return items;
}

function countNewlines(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

/** Go's %#U of a rune: U+0041 'A'. */
export function goRune(r: string): string {
  const cp = r.codePointAt(0) ?? 0;
  const hex = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  return /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(r) || r === ' ' ? `${hex} '${r}'` : hex;
}
