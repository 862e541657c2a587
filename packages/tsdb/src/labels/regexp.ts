/**
 * Translation of Go RE2 syntax (what Prometheus accepts in `=~`, `!~` and label_replace) into an
 * equivalent JavaScript RegExp with the `u` flag.
 *
 * Prometheus anchors every regex: 3.x compiles `^(?s:re)$` (`.` matches a newline), 2.x `^(?:re)$`.
 * Where a construct has no identical JavaScript equivalent (lookaround and backreferences, which RE2
 * rejects; inline flags after the start; negated POSIX classes), translation fails with a clear error
 * instead of matching differently.
 */

export class RegexpSyntaxError extends Error {
  constructor(pattern: string, reason: string) {
    super(`error parsing regexp: ${reason}: \`${pattern}\``);
    this.name = 'RegexpSyntaxError';
  }
}

export interface RegexpOptions {
  /** `.` matches `\n`, as in Prometheus 3.x. Default true. */
  dotMatchesNewline?: boolean;
}

const POSIX_CLASSES: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

// Characters that must stay escaped in a `u`-mode JavaScript regex.
const JS_SYNTAX = new Set('^$\\.*+?()[]{}|/-'.split(''));
const RE2_MAX_REPEAT = 1000;
const TEXT_START = '(?<![\\s\\S])';
const TEXT_END = '(?![\\s\\S])';

/** Compiles an RE2 pattern into an anchored JavaScript RegExp that matches the whole input. */
export function compileAnchored(pattern: string, opts: RegexpOptions = {}): RegExp {
  const { source, flags } = translate(pattern);
  const dotAll = opts.dotMatchesNewline ?? true;
  let f = `u${flags}`;
  if (dotAll && !f.includes('s')) f += 's';
  try {
    // Under (?m) JavaScript's ^ and $ would also match at line breaks; the outer anchors must not.
    const [start, end] = f.includes('m') ? [TEXT_START, TEXT_END] : ['^', '$'];
    return new RegExp(`${start}(?:${source})${end}`, f);
  } catch (e) {
    throw new RegexpSyntaxError(pattern, (e as Error).message.replace(/^Invalid regular expression: /, ''));
  }
}

/** Translates RE2 syntax into JavaScript `u`-mode source plus the flags set by a leading `(?flags)`. */
export function translate(pattern: string): { source: string; flags: string } {
  let i = 0;
  let flags = '';
  const lead = /^\(\?([imsU]+)\)/.exec(pattern);
  if (lead) {
    const f = lead[1] as string;
    if (f.includes('U')) throw new RegexpSyntaxError(pattern, 'ungreedy flag (?U) is not supported');
    flags = [...new Set(f)].join('');
    i = lead[0].length;
  }
  let out = '';
  const n = pattern.length;
  // Case-insensitive scopes opened mid-pattern by `(?i:…)` or `(?i)`: letters become [xX] pairs.
  let caseless = false;
  const groupCaseless: boolean[] = [];
  const fail = (reason: string): never => {
    throw new RegexpSyntaxError(pattern, reason);
  };

  const escape = (inClass: boolean): string => {
    // pattern[i] is the character after the backslash.
    if (i >= n) fail('trailing backslash at end of expression');
    const c = pattern[i] as string;
    i++;
    switch (c) {
      case 'd':
      case 'D':
      case 'w':
      case 'W':
      case 'f':
      case 't':
      case 'n':
      case 'r':
      case 'v':
        return `\\${c}`;
      case 'b':
      case 'B':
        if (inClass) fail(`invalid escape sequence: \`\\${c}\``);
        return `\\${c}`;
      case 'a':
        return '\\x07';
      case 's':
        return inClass ? '\\t\\n\\f\\r ' : '[\\t\\n\\f\\r ]';
      case 'S':
        if (inClass) fail('\\S inside a character class is not supported');
        return '[^\\t\\n\\f\\r ]';
      case 'A':
        if (inClass) fail('invalid escape sequence: `\\A`');
        return TEXT_START;
      case 'z':
        if (inClass) fail('invalid escape sequence: `\\z`');
        return TEXT_END;
      case 'Q': {
        const end = pattern.indexOf('\\E', i);
        const lit = end < 0 ? pattern.slice(i) : pattern.slice(i, end);
        i = end < 0 ? n : end + 2;
        return [...lit].map((ch) => literal(ch, inClass)).join('');
      }
      case 'x': {
        if (pattern[i] === '{') {
          const end = pattern.indexOf('}', i);
          const hex = end < 0 ? '' : pattern.slice(i + 1, end);
          if (!/^[0-9A-Fa-f]{1,8}$/.test(hex) || parseInt(hex, 16) > 0x10ffff) fail('invalid escape sequence: `\\x{`');
          i = end + 1;
          return `\\u{${hex}}`;
        }
        const hex = pattern.slice(i, i + 2);
        if (!/^[0-9A-Fa-f]{2}$/.test(hex)) fail('invalid escape sequence: `\\x`');
        i += 2;
        return `\\x${hex}`;
      }
      case 'p':
      case 'P': {
        let name: string;
        if (pattern[i] === '{') {
          const end = pattern.indexOf('}', i);
          if (end < 0) fail('invalid character class range: `\\p{`');
          name = pattern.slice(i + 1, end);
          i = end + 1;
        } else {
          name = pattern[i] ?? '';
          i++;
        }
        let negate = c === 'P';
        if (name.startsWith('^')) {
          negate = !negate;
          name = name.slice(1);
        }
        const prop = unicodeProperty(name);
        if (prop === undefined) fail(`invalid character class range: \`\\${c}{${name}}\``);
        return `\\${negate ? 'P' : 'p'}{${prop}}`;
      }
      default:
        break;
    }
    if (c >= '0' && c <= '7') {
      // RE2: a lone \1-\7 is a backreference (unsupported); otherwise up to three octal digits.
      if (c !== '0' && !/[0-7]/.test(pattern[i] ?? '')) fail(`invalid escape sequence: \`\\${c}\``);
      let digits = c;
      while (digits.length < 3 && /[0-7]/.test(pattern[i] ?? '')) digits += pattern[i++];
      return `\\u{${parseInt(digits, 8).toString(16)}}`;
    }
    if (c.charCodeAt(0) < 0x80 && !/[0-9A-Za-z]/.test(c)) return literal(c, inClass);
    return fail(`invalid escape sequence: \`\\${c}\``);
  };

  while (i < n) {
    const c = pattern[i] as string;
    if (c === '\\') {
      i++;
      out += escape(false);
    } else if (c === '[') {
      out += charClass();
    } else if (c === '(') {
      i++;
      groupCaseless.push(caseless);
      if (pattern[i] !== '?') {
        out += '(';
        continue;
      }
      const rest = pattern.slice(i);
      const inline = /^\?i(:|\))/.exec(rest);
      if (inline) {
        caseless = true;
        i += inline[0].length;
        if (inline[1] === ':') {
          out += '(?:';
        } else {
          // `(?i)` applies to the rest of the enclosing group.
          groupCaseless.pop();
        }
        continue;
      }
      const named = /^\?P?<([A-Za-z0-9_]+)>/.exec(rest);
      if (named) {
        out += `(?<${named[1]}>`;
        i += named[0].length;
      } else if (rest.startsWith('?:')) {
        out += '(?:';
        i += 2;
      } else if (/^\?(=|!|<=|<!)/.test(rest)) {
        fail(`invalid or unsupported Perl syntax: \`(${rest.slice(0, 3)}\``);
      } else {
        fail(`inline flags are only supported at the start of the expression: \`(${rest.slice(0, 4)}\``);
      }
    } else if (c === '{') {
      const rep = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i));
      if (rep && out.length > 0) {
        const lo = Number(rep[1]);
        const hi = rep[3] ? Number(rep[3]) : lo;
        if (lo > RE2_MAX_REPEAT || hi > RE2_MAX_REPEAT) fail(`invalid repeat count: \`${rep[0]}\``);
        if (rep[3] && hi < lo) fail(`invalid repeat count: \`${rep[0]}\``);
        out += rep[0];
        i += rep[0].length;
      } else {
        out += '\\{';
        i++;
      }
    } else if (c === '}' || c === ']') {
      out += `\\${c}`;
      i++;
    } else if (c === ')') {
      caseless = groupCaseless.pop() ?? caseless;
      out += ')';
      i++;
    } else {
      const cp = pattern.codePointAt(i) as number;
      const ch = String.fromCodePoint(cp);
      const lower = ch.toLowerCase();
      const upper = ch.toUpperCase();
      if (caseless && lower !== upper) out += `[${lower}${upper}]`;
      else out += ch === '/' ? '\\/' : ch;
      i += ch.length;
    }
  }
  return { source: out, flags };

  function charClass(): string {
    // pattern[i] === '['
    if (caseless) fail('character classes inside a mid-pattern (?i) group are not supported');
    i++;
    let cls = '[';
    if (pattern[i] === '^') {
      cls += '^';
      i++;
    }
    let first = true;
    for (;;) {
      if (i >= n) fail(`missing closing ]: \`${pattern.slice(pattern.lastIndexOf('['))}\``);
      const c = pattern[i] as string;
      if (c === ']' && !first) {
        i++;
        break;
      }
      first = false;
      if (c === '[' && pattern[i + 1] === ':') {
        const end = pattern.indexOf(':]', i + 2);
        const name = end < 0 ? '' : pattern.slice(i + 2, end);
        if (name.startsWith('^')) fail(`negated POSIX class [:${name}:] is not supported`);
        const ranges = POSIX_CLASSES[name];
        if (ranges === undefined) fail(`invalid character class range: \`[:${name}:]\``);
        cls += ranges;
        i = end + 2;
      } else if (c === '\\') {
        i++;
        cls += escape(true);
      } else if (c === '[' || c === ']') {
        cls += `\\${c}`;
        i++;
      } else {
        const cp = pattern.codePointAt(i) as number;
        const ch = String.fromCodePoint(cp);
        cls += ch === '/' ? '\\/' : ch;
        i += ch.length;
      }
    }
    return `${cls}]`;
  }
}

function literal(ch: string, inClass: boolean): string {
  if (JS_SYNTAX.has(ch)) return ch === '-' && !inClass ? '-' : `\\${ch}`;
  return ch;
}

/** Maps an RE2 Unicode class name (category or script) to a JavaScript property expression. */
function unicodeProperty(name: string): string | undefined {
  if (name === 'Any') return 'Any';
  for (const candidate of [name, `Script=${name}`]) {
    try {
      new RegExp(`\\p{${candidate}}`, 'u');
      return candidate;
    } catch {
      // not this kind of property
    }
  }
  return undefined;
}
