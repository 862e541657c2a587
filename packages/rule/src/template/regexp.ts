/**
 * Go's regexp as Prometheus' templates use it (match, reReplaceAll): unanchored RE2 patterns of Go 1.19
 * (`.` does not match a newline, no `(?<name>`), translated by @strata/tsdb, with Go's ReplaceAllString.
 */
import { compileAnchored } from '@strata/tsdb';
import { canBackquote, quote } from './strconv.js';

/** regexp.Compile: the pattern as a global JavaScript RegExp. Throws Go's "error parsing regexp: …". */
export function compile(pattern: string): RegExp {
  // The translation of the pattern alone, anchored as ^(?:…)$: take the anchors off.
  const anchored = compileAnchored(pattern, { parse: 'pattern', dotMatchesNewline: false, angleNamedGroups: false });
  return new RegExp(anchored.source.slice('^(?:'.length, -')$'.length), `${anchored.flags}g`);
}

/** regexp.MustCompile's panic text. */
export function mustCompile(pattern: string): RegExp {
  try {
    return compile(pattern);
  } catch (e) {
    const q = canBackquote(pattern) ? `\`${pattern}\`` : quote(pattern);
    throw new Error(`regexp: Compile(${q}): ${(e as Error).message}`);
  }
}

/**
 * Regexp.ReplaceAllString: every match replaced by repl with `$` expanded, except an empty match right
 * after a previous match; the search moves on by at least one character.
 */
export function replaceAll(re: RegExp, src: string, repl: string): string {
  let out = '';
  let lastMatchEnd = 0;
  let searchPos = 0;
  while (searchPos <= src.length) {
    re.lastIndex = searchPos;
    const m = re.exec(src);
    if (m === null) break;
    const start = m.index;
    const end = start + m[0].length;
    out += src.slice(lastMatchEnd, start);
    if (end > lastMatchEnd || start === 0) out += expand(repl, m);
    lastMatchEnd = end;
    const width = searchPos < src.length ? String.fromCodePoint(src.codePointAt(searchPos) as number).length : 1;
    searchPos = searchPos + width > end ? searchPos + width : end;
  }
  return out + src.slice(lastMatchEnd);
}

/**
 * Regexp.Expand: `$$` is `$`; `$name` and `${name}` a group by number or name, the name the longest run
 * of letters, digits and `_` (`$1x` is group "1x"); numbers with leading zeros are names; a malformed
 * reference stays as written.
 */
export function expand(template: string, m: RegExpExecArray): string {
  let out = '';
  let rest = template;
  for (;;) {
    const dollar = rest.indexOf('$');
    if (dollar < 0) break;
    out += rest.slice(0, dollar);
    rest = rest.slice(dollar + 1);
    if (rest.startsWith('$')) {
      out += '$';
      rest = rest.slice(1);
      continue;
    }
    const ref = /^(?:\{([\p{L}\p{Nd}_]+)\}|([\p{L}\p{Nd}_]+))/u.exec(rest);
    if (ref === null) {
      out += '$';
      continue;
    }
    rest = rest.slice(ref[0].length);
    const name = (ref[1] ?? ref[2]) as string;
    const num = /^(0|[1-9][0-9]{0,7})$/.test(name) ? Number(name) : -1;
    out += (num >= 0 ? m[num] : m.groups?.[name]) ?? '';
  }
  return out + rest;
}
