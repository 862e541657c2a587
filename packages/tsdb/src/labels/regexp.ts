/**
 * Translation of Go RE2 syntax (what Prometheus accepts in `=~`, `!~` and label_replace) into an
 * equivalent JavaScript RegExp with the `u` flag.
 *
 * Prometheus anchors every regex: 3.x compiles `^(?s:re)$` (`.` matches a newline), 2.x `^(?:re)$`.
 * RE2's flags (`i`, `m`, `s`, `U`, set or cleared by `(?flags)` and `(?flags:re)` anywhere) are spelled
 * out where they apply, as JavaScript has no flags for part of a pattern: `.` as the characters it
 * matches, `^` and `$` as lookarounds under `m`, letters and classes with their other cases under `i`
 * (a pattern caseless throughout keeps JavaScript's `i` flag, which folds cases as RE2 does), and
 * repetitions' greediness swapped under `U` (label_replace's captures notice). Where a construct has
 * no identical JavaScript equivalent (lookaround and backreferences, which RE2 rejects; a class range of
 * more than MAX_FOLDED_RANGE characters in a caseless part of a pattern that is not caseless
 * throughout), translation fails with a clear error instead of matching differently.
 */

/** Go's regexp error: `detail` is its code and the expression at fault (`missing closing ): \`…\``). */
export class RegexpSyntaxError extends Error {
  constructor(detail: string) {
    super(`error parsing regexp: ${detail}`);
    this.name = 'RegexpSyntaxError';
  }
}

/** A pattern Go's regexp takes that Strata cannot express identically in JavaScript. */
export class RegexpUnsupportedError extends Error {
  constructor(detail: string) {
    super(`unsupported regexp: ${detail}`);
    this.name = 'RegexpUnsupportedError';
  }
}

export interface RegexpOptions {
  /** `.` matches `\n`, as in Prometheus 3.x. Default true. */
  dotMatchesNewline?: boolean;
  /** `(?<name>re)` names a group as `(?P<name>re)` does (Go 1.22's regexp, Prometheus 3.x); 2.x's Go refuses it. Default true. */
  angleNamedGroups?: boolean;
  /**
   * What Prometheus hands Go's regexp, which decides what a pattern that is not whole on its own means
   * and which error comes first (Go names the text it parsed in some):
   * - `anchored`: the pattern inside Prometheus' `^(?:…)$` (label_replace, relabelling): a stray `)`
   *   closes the `(?:` (`a)|(b` is `^(?:a)|(b)$`), a trailing `\` escapes its `)`, `\Q` without `\E` quotes it;
   * - `pattern`: the pattern alone, then anchored whole (3.x's matchers);
   * - `both`: anchored, then the pattern alone too, which must parse as well (2.42's matchers).
   * Default `anchored`.
   */
  parse?: 'anchored' | 'pattern' | 'both';
}

/** The label matchers' regexps of Prometheus 2.42 (`^(?:re)$`, Go 1.19's syntax) or 3.x (`^(?s:re)$`, Go 1.22's). */
export function prometheusRegexp(version: 2 | 3): RegexpOptions {
  return { dotMatchesNewline: version === 3, angleNamedGroups: version === 3, parse: version === 3 ? 'pattern' : 'both' };
}

/** Code point ranges [lo, hi], flattened. */
type Ranges = number[];

/** RE2's `\w`, and as a caseless scope folds it (with the long s and the Kelvin sign), as class text. */
const WORD: Ranges = [0x30, 0x39, 0x41, 0x5a, 0x5f, 0x5f, 0x61, 0x7a];
const FOLDED_WORD = '\\w\\u{17f}\\u{212a}';

const POSIX_CLASSES: Record<string, Ranges> = {
  alnum: [0x30, 0x39, 0x41, 0x5a, 0x61, 0x7a],
  alpha: [0x41, 0x5a, 0x61, 0x7a],
  ascii: [0x00, 0x7f],
  blank: [0x09, 0x09, 0x20, 0x20],
  cntrl: [0x00, 0x1f, 0x7f, 0x7f],
  digit: [0x30, 0x39],
  graph: [0x21, 0x7e],
  lower: [0x61, 0x7a],
  print: [0x20, 0x7e],
  punct: [0x21, 0x2f, 0x3a, 0x40, 0x5b, 0x60, 0x7b, 0x7e],
  space: [0x09, 0x0d, 0x20, 0x20],
  upper: [0x41, 0x5a],
  word: WORD,
  xdigit: [0x30, 0x39, 0x41, 0x46, 0x61, 0x66],
};
/** RE2's `\s`: [\t\n\f\r ] (JavaScript's also holds \v and Unicode spaces). */
const SPACE: Ranges = [0x09, 0x0a, 0x0c, 0x0d, 0x20, 0x20];

// Characters that must stay escaped in a `u`-mode JavaScript regex.
const JS_SYNTAX = new Set('^$\\.*+?()[]{}|/-'.split(''));
const RE2_MAX_REPEAT = 1000;
const TEXT_START = '(?<![\\s\\S])';
const TEXT_END = '(?![\\s\\S])';
/** The code points of ASCII. */
const ASCII = Array.from({ length: 0x80 }, (_, cp) => cp);
/** Ranges past this many code points are not case-folded one by one (see foldRanges). */
const MAX_FOLDED_RANGE = 0x3000;


/** Compiles an RE2 pattern into an anchored JavaScript RegExp that matches the whole input, as Prometheus compiles it. */
export function compileAnchored(pattern: string, opts: RegexpOptions = {}): RegExp {
  const dotAll = opts.dotMatchesNewline ?? true;
  const angleNames = opts.angleNamedGroups ?? true;
  const parse = opts.parse ?? 'anchored';
  let t: { source: string; flags: string };
  if (parse === 'pattern') {
    t = translate(pattern, { dotAll, angleNames }, pattern);
    t.source = `^(?:${t.source})$`;
  } else {
    // The pattern's `s` is in the anchoring group; its `(?i)` still starts everything that can match a letter.
    t = translate(goAnchored(pattern, dotAll), { dotAll: false, angleNames }, pattern);
    if (parse === 'both') translate(pattern, { dotAll, angleNames }, pattern);
  }
  try {
    return new RegExp(t.source, `u${t.flags}`);
  } catch (e) {
    throw new RegexpUnsupportedError(`${(e as Error).message.replace(/^Invalid regular expression: /, '')}: \`${pattern}\``);
  }
}

/** RE2's flags in a scope of a pattern. */
interface Flags {
  /** Case-insensitive. */
  i: boolean;
  /** `^` and `$` also match at line breaks. */
  m: boolean;
  /** `.` matches `\n`. */
  s: boolean;
  /** Repetitions are lazy, and lazy ones (`*?`) greedy. */
  U: boolean;
}

/**
 * Translates RE2 syntax into JavaScript `u`-mode source, and the JavaScript flags it needs: `i` where
 * the whole pattern is caseless (`caseless`, the user's pattern, starts with a `(?i)` never cleared), else none.
 */
function translate(pattern: string, syntax: Syntax, caseless: string): { source: string; flags: string } {
  // A leading `(?i)` (not `(?i:…)`, which ends) makes the whole pattern caseless unless a later group clears it.
  if (/^\(\?[msU]*i[imsU]*(-[msU]*)?\)/.test(caseless)) {
    const source = translateWith(pattern, syntax, true);
    if (source !== undefined) return { source, flags: 'i' };
  }
  return { source: translateWith(pattern, syntax, false) as string, flags: '' };
}

/** What a pattern translates under: the `s` flag it starts with, and whether `(?<name>` names a group. */
interface Syntax {
  dotAll: boolean;
  angleNames: boolean;
}

/** The pattern as Prometheus anchors it. */
function goAnchored(pattern: string, dotAll: boolean): string {
  return `${dotAll ? '^(?s:' : '^(?:'}${pattern})$`;
}

/**
 * What an escape sequence stands for: a character, characters (`\Q…\E`), a class as JavaScript text, a
 * Unicode property class (text for inside a class), an assertion (no repetition may follow), or, inside a
 * class, the complement of an ASCII set (which JavaScript cannot write inside a class).
 */
type Escaped = { char: number } | { chars: number[] } | { text: string } | { property: string } | { assertion: string } | { negated: Ranges };

/**
 * The translation with case folding left to JavaScript's `i` flag (`jsCaseless`: undefined if some
 * scope turns `i` off), or spelled out.
 */
function translateWith(pattern: string, syntax: Syntax, jsCaseless: boolean): string | undefined {
  let i = 0;
  const n = pattern.length;
  let flags: Flags = { i: false, m: false, s: syntax.dotAll, U: false };
  // Each open group's flags outside it, restored at its `)`.
  const outer: Flags[] = [];
  let out = '';
  // The last piece written, which a repetition repeats: where it starts in `out` and what it is; null
  // where RE2 finds nothing to repeat (at the start, after `(` or `|`).
  let last: { at: number; kind: 'atom' | 'assertion' | 'repetition' } | null = null;
  // Where each open group starts in `out` (a group is the piece its `)` ends).
  const groupAt: number[] = [];
  // Where in `pattern` the token just read starts when it is a repetition (Go's lastRepeat), else -1.
  let repeatAt = -1;
  const fail = (detail: string): never => {
    throw new RegexpSyntaxError(detail);
  };
  /** Letters written with their other cases (under `i` where JavaScript does not fold). */
  const spelled = () => flags.i && !jsCaseless;

  const escape = (inClass: boolean): Escaped => {
    // pattern[i] is the character after the backslash.
    if (i >= n) fail('trailing backslash at end of expression: ``');
    const c = pattern[i] as string;
    i++;
    switch (c) {
      case 'd':
      case 'D':
        return { text: `\\${c}` };
      case 'w':
      case 'W':
        if (!spelled()) return { text: `\\${c}` };
        // Caseless, RE2's word characters also hold the two non-ASCII letters that fold onto ASCII ones.
        if (c === 'w') return { text: inClass ? FOLDED_WORD : `[${FOLDED_WORD}]` };
        return inClass ? { negated: WORD } : { text: `[^${FOLDED_WORD}]` };
      case 'f':
        return { char: 0x0c };
      case 't':
        return { char: 0x09 };
      case 'n':
        return { char: 0x0a };
      case 'r':
        return { char: 0x0d };
      case 'v':
        return { char: 0x0b };
      case 'a':
        return { char: 0x07 };
      case 'b':
      case 'B':
        if (inClass) fail(`invalid escape sequence: \`\\${c}\``);
        return { assertion: `\\${c}` };
      case 's':
        return inClass ? { chars: rangeChars(SPACE) } : { text: '[\\t\\n\\f\\r ]' };
      case 'S':
        return inClass ? { negated: SPACE } : { text: '[^\\t\\n\\f\\r ]' };
      case 'A':
        if (inClass) fail('invalid escape sequence: `\\A`');
        return { assertion: TEXT_START };
      case 'z':
        if (inClass) fail('invalid escape sequence: `\\z`');
        return { assertion: TEXT_END };
      case 'Q': {
        const end = pattern.indexOf('\\E', i);
        if (inClass) fail('invalid escape sequence: `\\Q`');
        const lit = end < 0 ? pattern.slice(i) : pattern.slice(i, end);
        i = end < 0 ? n : end + 2;
        return { chars: [...lit].map((ch) => ch.codePointAt(0) as number) };
      }
      case 'x': {
        // Go names the escape up to the character it failed at.
        const invalid = (end: number): never => fail(`invalid escape sequence: \`\\x${pattern.slice(i, end)}\``);
        if (pattern[i] === '{') {
          let cp = 0;
          let j = i + 1;
          for (; pattern[j] !== '}'; j++) {
            const digit = parseInt(pattern[j] ?? '', 16);
            if (Number.isNaN(digit) || (cp = cp * 16 + digit) > 0x10ffff) invalid(Math.min(j + 1, n));
          }
          if (j === i + 1) invalid(j + 1);
          i = j + 1;
          return { char: cp };
        }
        const hex = pattern.slice(i, i + 2);
        if (!/^[0-9A-Fa-f]{2}$/.test(hex)) invalid(Math.min(i + 2, n));
        i += 2;
        return { char: parseInt(hex, 16) };
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
        const text = `\\${negate ? 'P' : 'p'}{${prop}}`;
        // Under a caseless scope spelled out, with the other cases of its characters that it lacks.
        return { property: spelled() ? `${text}${foldedExtras(text)}` : text };
      }
      default:
        break;
    }
    if (c >= '0' && c <= '7') {
      // RE2: a lone \1-\7 is a backreference (unsupported); otherwise up to three octal digits.
      if (c !== '0' && !/[0-7]/.test(pattern[i] ?? '')) fail(`invalid escape sequence: \`\\${c}\``);
      let digits = c;
      while (digits.length < 3 && /[0-7]/.test(pattern[i] ?? '')) digits += pattern[i++];
      return { char: parseInt(digits, 8) };
    }
    if (c.charCodeAt(0) < 0x80 && !/[0-9A-Za-z]/.test(c)) return { char: c.charCodeAt(0) };
    return fail(`invalid escape sequence: \`\\${c}\``);
  };

  /** A character outside a class, with its other cases where they are spelled out. */
  const char = (cp: number): string => {
    if (spelled()) {
      const orbit = caseOrbit(cp);
      if (orbit.length > 1) return `[${orbit.map(classChar).join('')}]`;
    }
    // As inside a class, but `-`, which `u` mode escapes only inside one.
    return cp === 0x2d ? '-' : classChar(cp);
  };

  /**
   * A repetition just read (`*`, `+`, `?` or `{…}`, from `start`): lazy if a `?` follows, the other way round
   * under `U`. Go's errors name the operator with its `?`, and a repetition of a repetition both.
   */
  const repetition = (op: string, start: number): void => {
    let lazy = flags.U;
    if (pattern[i] === '?') {
      i++;
      lazy = !lazy;
    }
    if (repeatAt >= 0) fail(`invalid nested repetition operator: \`${pattern.slice(repeatAt, i)}\``);
    const piece = last;
    if (piece === null) return fail(`missing argument to repetition operator: \`${pattern.slice(start, i)}\``);
    // RE2 repeats an assertion (`\b+` is `\b`, `^*` nothing) and, past a `(?flags)`, a repetition;
    // JavaScript only as a group.
    if (piece.kind !== 'atom') out = `${out.slice(0, piece.at)}(?:${out.slice(piece.at)})`;
    out += lazy ? `${op}?` : op;
    last = { at: piece.at, kind: 'repetition' };
    repeatAt = start;
  };

  while (i < n) {
    const c = pattern[i] as string;
    const at = out.length;
    const start = i;
    const lastRepeat = repeatAt;
    repeatAt = -1;
    if (c === '\\') {
      i++;
      const e = escape(false);
      if ('char' in e) out += char(e.char);
      else if ('chars' in e) out += e.chars.map(char).join('');
      else if ('text' in e) out += e.text;
      else if ('property' in e) out += `[${e.property}]`;
      else if ('assertion' in e) out += e.assertion;
      // An empty `\Q\E` is no piece: a repetition after it repeats the one before.
      if (out.length > at) last = { at, kind: 'assertion' in e ? 'assertion' : 'atom' };
    } else if (c === '[') {
      out += charClass();
      last = { at, kind: 'atom' };
    } else if (c === '(') {
      i++;
      outer.push(flags);
      if (pattern[i] !== '?') {
        out += '(';
        groupAt.push(at);
        last = null;
        continue;
      }
      const rest = pattern.slice(i);
      const named = (syntax.angleNames ? /^\?P?<([A-Za-z0-9_]+)>/ : /^\?P<([A-Za-z0-9_]+)>/).exec(rest);
      const flagGroup = /^\?([imsU]*)(?:-([imsU]*))?([:)])/.exec(rest);
      if (named) {
        out += `(?<${named[1]}>`;
        i += named[0].length;
      } else if (flagGroup && flagGroup[2] !== '') {
        const set = flagGroup[1] as string;
        const clear = flagGroup[2] ?? '';
        const next = { ...flags };
        for (const f of set) next[f as keyof Flags] = true;
        for (const f of clear) next[f as keyof Flags] = false;
        if (jsCaseless && !next.i) return undefined;
        i += flagGroup[0].length;
        flags = next;
        // `(?flags)` opens no group and is no piece: its flags apply to the rest of the enclosing group,
        // and a repetition after it repeats what came before (RE2's `a(?i)*` is `a*`).
        if (flagGroup[3] === ')') {
          outer.pop();
          continue;
        }
        out += '(?:';
      } else if (rest.startsWith('?:')) {
        out += '(?:';
        i += 2;
      } else {
        // Go names the flags read and the character that ended them.
        const flagsEnd = /^\?[imsU-]*/.exec(rest)?.[0].length as number;
        fail(`invalid or unsupported Perl syntax: \`(${rest.slice(0, flagsEnd + 1)}\``);
      }
      groupAt.push(at);
      last = null;
    } else if (c === ')') {
      if (outer.length === 0) fail(`unexpected ): \`${pattern}\``);
      flags = outer.pop() as Flags;
      out += ')';
      last = { at: groupAt.pop() as number, kind: 'atom' };
      i++;
    } else if (c === '{') {
      const rep = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i));
      if (rep) {
        const lo = Number(rep[1]);
        const hi = rep[3] ? Number(rep[3]) : lo;
        if (lo > RE2_MAX_REPEAT || hi > RE2_MAX_REPEAT) fail(`invalid repeat count: \`${rep[0]}\``);
        if (rep[3] && hi < lo) fail(`invalid repeat count: \`${rep[0]}\``);
        i += rep[0].length;
        repeatAt = lastRepeat;
        repetition(rep[0], start);
      } else {
        // Not a repetition: a literal brace, as in RE2.
        out += '\\{';
        last = { at, kind: 'atom' };
        i++;
      }
    } else if (c === '*' || c === '+' || c === '?') {
      i++;
      repeatAt = lastRepeat;
      repetition(c, start);
    } else if (c === '.') {
      out += flags.s ? '[\\s\\S]' : '[^\\n]';
      last = { at, kind: 'atom' };
      i++;
    } else if (c === '^' || c === '$') {
      // JavaScript's own ^ and $ match at the text's ends only, as RE2's do without `m`.
      out += flags.m ? (c === '^' ? '(?<![^\\n])' : '(?![^\\n])') : c;
      last = { at, kind: 'assertion' };
      i++;
    } else if (c === '|') {
      out += '|';
      last = null;
      i++;
    } else {
      const cp = pattern.codePointAt(i) as number;
      out += char(cp);
      last = { at, kind: 'atom' };
      i += cp > 0xffff ? 2 : 1;
    }
  }
  if (outer.length > 0) fail(`missing closing ): \`${pattern}\``);
  return out;

  /** A bracketed class at pattern[i] === '['. */
  function charClass(): string {
    const open = i++;
    let negate = false;
    if (pattern[i] === '^') {
      negate = true;
      i++;
    }
    const ranges: Ranges = [];
    const texts: string[] = [];
    const negated: Ranges[] = [];
    let first = true;
    for (;;) {
      if (i >= n) fail(`missing closing ]: \`${pattern.slice(open)}\``);
      const c = pattern[i] as string;
      if (c === ']' && !first) {
        i++;
        break;
      }
      first = false;
      if (c === '[' && pattern[i + 1] === ':') {
        const end = pattern.indexOf(':]', i + 2);
        let name = end < 0 ? '' : pattern.slice(i + 2, end);
        const not = name.startsWith('^');
        if (not) name = name.slice(1);
        const set = POSIX_CLASSES[name];
        if (set === undefined) fail(`invalid character class range: \`[:${not ? '^' : ''}${name}:]\``);
        if (not) negated.push(set);
        else ranges.push(...set);
        i = end + 2;
        continue;
      }
      let lo: number;
      if (c === '\\') {
        i++;
        const e = escape(true);
        if ('text' in e || 'property' in e) {
          texts.push('text' in e ? e.text : e.property);
          continue;
        }
        if ('negated' in e) {
          negated.push(e.negated);
          continue;
        }
        if ('chars' in e) {
          for (const ch of e.chars) ranges.push(ch, ch);
          continue;
        }
        // An assertion inside a class was refused by escape.
        lo = 'char' in e ? e.char : fail(`invalid escape sequence in a character class: \`${pattern}\``);
      } else {
        lo = pattern.codePointAt(i) as number;
        i += lo > 0xffff ? 2 : 1;
      }
      // A range lo-hi, unless the `-` is the class's last character.
      let hi = lo;
      if (pattern[i] === '-' && pattern[i + 1] !== ']' && i + 1 < n) {
        i++;
        if (pattern[i] === '\\') {
          i++;
          const e = escape(true);
          hi = 'char' in e ? e.char : fail(`invalid character class range: \`${String.fromCodePoint(lo)}-\``);
        } else {
          hi = pattern.codePointAt(i) as number;
          i += hi > 0xffff ? 2 : 1;
        }
        if (hi < lo) fail(`invalid character class range: \`${String.fromCodePoint(lo)}-${String.fromCodePoint(hi)}\``);
      }
      ranges.push(lo, hi);
    }
    const folded = spelled() ? foldRanges(ranges) : ranges;
    const body = rangesText(folded) + texts.join('');
    if (negated.length === 0) return `[${negate ? '^' : ''}${body}]`;
    // A class that holds complements of ASCII sets S1…Sk besides the rest P is the complement of
    // T = (S1 ∩ … ∩ Sk) − P, found character by character. Under `i`, as RE2 folds each item before
    // the class is negated: each Sj and P with their other cases (which adds two non-ASCII letters).
    const sets = flags.i ? negated.map((set) => foldRanges(set)) : negated;
    const rest = body === '' ? undefined : new RegExp(`[${body}]`, flags.i ? 'iu' : 'u');
    const outside: number[] = [];
    for (const cp of flags.i ? complementCandidates() : ASCII) {
      if (!sets.every((set) => inRanges(set, cp))) continue;
      if (rest?.test(String.fromCodePoint(cp))) continue;
      outside.push(cp);
    }
    const text = outside.map(classChar).join('');
    return negate ? `[${text}]` : `[^${text}]`;
  }
}

/** The characters of `ranges`, one by one. */
function rangeChars(ranges: Ranges): number[] {
  const out: number[] = [];
  for (let k = 0; k < ranges.length; k += 2) for (let cp = ranges[k] as number; cp <= (ranges[k + 1] as number); cp++) out.push(cp);
  return out;
}

function inRanges(ranges: Ranges, cp: number): boolean {
  for (let k = 0; k < ranges.length; k += 2) if (cp >= (ranges[k] as number) && cp <= (ranges[k + 1] as number)) return true;
  return false;
}

function rangesText(ranges: Ranges): string {
  let out = '';
  for (let k = 0; k < ranges.length; k += 2) {
    const lo = ranges[k] as number;
    const hi = ranges[k + 1] as number;
    out += lo === hi ? classChar(lo) : `${classChar(lo)}-${classChar(hi)}`;
  }
  return out;
}

/** A character inside a JavaScript `u`-mode class. */
function classChar(cp: number): string {
  const ch = String.fromCodePoint(cp);
  if (JS_SYNTAX.has(ch)) return `\\${ch}`;
  return cp < 0x20 || cp === 0x7f ? `\\u{${cp.toString(16)}}` : ch;
}

/**
 * The characters that match `cp` case-insensitively, itself first: its orbit under Unicode's simple case
 * folding, which RE2 folds by, as JavaScript's `i` and `u` flags do (`k` with the Kelvin sign, `σ` with
 * `ς`, `ǆ` with the titlecase `ǅ`). Candidates come from an index of characters by the upper case of
 * their lower case, built on first use; JavaScript's own folding decides among them.
 */
function caseOrbit(cp: number): number[] {
  let orbit = orbits.get(cp);
  if (orbit === undefined) {
    caseCandidates ??= indexCases();
    const same = new RegExp(`^\\u{${cp.toString(16)}}$`, 'iu');
    orbit = [cp, ...(caseCandidates.get(caseKey(cp)) ?? []).filter((o) => o !== cp && same.test(String.fromCodePoint(o)))];
    orbits.set(cp, orbit);
  }
  return orbit;
}
const orbits = new Map<number, number[]>();
let caseCandidates: Map<number, number[]> | undefined;

/** The upper case of `cp`'s lower case, where each is one character. */
function caseKey(cp: number): number {
  const ch = String.fromCodePoint(cp);
  const lower = ch.toLowerCase();
  const l = lower.length === ch.length || [...lower].length === 1 ? lower : ch;
  const upper = l.toUpperCase();
  return ([...upper].length === 1 ? upper : l).codePointAt(0) as number;
}

/** Characters with another case, by caseKey (the planes that hold cased letters). */
function indexCases(): Map<number, number[]> {
  const index = new Map<number, number[]>();
  for (let cp = 0; cp < 0x20000; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const key = caseKey(cp);
    const list = index.get(key);
    if (list === undefined) index.set(key, [cp]);
    else list.push(cp);
  }
  for (const [key, list] of index) if (list.length < 2) index.delete(key);
  return index;
}

/**
 * The characters outside the class `text` (a property escape) that fold onto one inside it, as class
 * characters: what it lacks to match case-insensitively. Only characters with another case can.
 */
function foldedExtras(text: string): string {
  caseCandidates ??= indexCases();
  const inside = new RegExp(`^[${text}]$`, 'u');
  let extras = '';
  for (const list of caseCandidates.values()) {
    for (const cp of list) {
      if (inside.test(String.fromCodePoint(cp))) continue;
      if (caseOrbit(cp).some((o) => inside.test(String.fromCodePoint(o)))) extras += classChar(cp);
    }
  }
  return extras;
}

/** The characters a folded set of ASCII characters can hold: ASCII and the other cases of its letters. */
function complementCandidates(): number[] {
  complementChars ??= [...new Set([...ASCII, ...rangeChars([0x41, 0x5a, 0x61, 0x7a]).flatMap(caseOrbit)])];
  return complementChars;
}
let complementChars: number[] | undefined;

/** `ranges` with every character's other cases added. */
function foldRanges(ranges: Ranges): Ranges {
  const out = [...ranges];
  for (let k = 0; k < ranges.length; k += 2) {
    const lo = ranges[k] as number;
    const hi = ranges[k + 1] as number;
    if (hi - lo > MAX_FOLDED_RANGE) throw new RegexpUnsupportedError(`a character class range of more than ${MAX_FOLDED_RANGE} characters in a case-insensitive part of a pattern`);
    for (let cp = lo; cp <= hi; cp++) for (const o of caseOrbit(cp)) if (o !== cp) out.push(o, o);
  }
  return out;
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
