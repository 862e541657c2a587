/**
 * The literal values a regex matches, when it is an alternation of literals: `a|b|c`, `(a|b)`,
 * `(?:api\.example\.com|web)`. Grafana writes multi-value template variables this way, and selectors
 * like `{instance=~"host1|host2"}` are common enough that Prometheus turns them into set lookups
 * (FastRegexMatcher's setMatches): a label's postings are then read for those values only, instead
 * of testing the regex against every value the label has.
 *
 * Anything else (classes, repetition, `.`, flags, nested groups) is not a set: `undefined`.
 */

/** Regex syntax characters; a backslash before one of these (or any ASCII punctuation) makes it literal. */
const META = new Set('\\.+*?()|[]{}^$'.split(''));

/** Alternatives at most; beyond it a single regex is as cheap as the set. */
const MAX_SET_MATCHES = 256;

export function literalAlternatives(pattern: string): string[] | undefined {
  const inner = withoutOuterGroup(pattern);
  const values = new Set<string>();
  let current = '';
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i] as string;
    if (c === '|') {
      values.add(current);
      current = '';
    } else if (c === '\\') {
      const next = inner[++i];
      // Only escaped punctuation is a literal; `\d`, `\x41`, `\Q…\E` and the like are left to the regex.
      if (next === undefined || !/^[!-/:-@[-`{-~]$/.test(next)) return undefined;
      current += next;
    } else if (META.has(c)) {
      return undefined;
    } else {
      current += c;
    }
    if (values.size > MAX_SET_MATCHES) return undefined;
  }
  values.add(current);
  return [...values];
}

/** The regex matching exactly `values` (Go's regexp.QuoteMeta of each, alternated): a set again for literalAlternatives. */
export function alternationOf(values: readonly string[]): string {
  return values.map((v) => v.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&')).join('|');
}

/** The inside of `(…)` or `(?:…)` around the whole pattern. */
function withoutOuterGroup(pattern: string): string {
  const open = pattern.startsWith('(?:') ? 3 : pattern.startsWith('(') && pattern[1] !== '?' ? 1 : 0;
  // `(a)|(b)` starts and ends with parentheses too: its inside, `a)|(b`, is then no set.
  return open > 0 && pattern.endsWith(')') ? pattern.slice(open, -1) : pattern;
}
