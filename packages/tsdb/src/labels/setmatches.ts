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

/**
 * A regex of one of the shapes dashboards write most after alternations, `lit.*`, `.*lit`, `.*lit.*`,
 * `.*` and `.+`, as a plain string test, as Prometheus' FastRegexMatcher shortcuts them: a prefix,
 * suffix or substring test costs a fraction of running the regex against each of a label's values.
 * `dotAll`: whether `.` matches a newline (Prometheus 3.x); otherwise what `.*` spans must hold none.
 * For `lit.*` also `prefix`: every value it matches starts with it. Anything else: undefined.
 */
export function literalShape(pattern: string, dotAll: boolean): { test: (s: string) => boolean; prefix?: string } | undefined {
  const head = pattern.startsWith('.*');
  const tail = pattern.length >= (head ? 4 : 2) && pattern.endsWith('.*') && !endsEscaped(pattern.slice(0, -2));
  if (pattern === '.*') return { test: dotAll ? () => true : (s) => !s.includes('\n') };
  if (pattern === '.+') return { test: dotAll ? (s) => s !== '' : (s) => s !== '' && !s.includes('\n') };
  if (!head && !tail) return undefined;
  const inner = pattern.slice(head ? 2 : 0, tail ? -2 : undefined);
  // One literal (perhaps in a group), not an alternation of several.
  const values = inner === '' ? undefined : literalAlternatives(inner);
  if (values === undefined || values.length !== 1) return undefined;
  const lit = values[0] as string;
  const clean = (part: string) => dotAll || !part.includes('\n');
  if (head && tail) {
    return {
      test: (s) => {
        if (dotAll) return s.includes(lit);
        // Without dotAll the literal must sit inside one line.
        for (let i = s.indexOf(lit); i >= 0; i = s.indexOf(lit, i + 1)) if (clean(s.slice(0, i)) && clean(s.slice(i + lit.length))) return true;
        return false;
      },
    };
  }
  if (head) return { test: (s) => s.endsWith(lit) && clean(s.slice(0, s.length - lit.length)) };
  return { test: (s) => s.startsWith(lit) && clean(s.slice(lit.length)), ...(lit !== '' ? { prefix: lit } : {}) };
}

/** Whether `s` ends in a backslash that escapes what follows (an odd run of them). */
function endsEscaped(s: string): boolean {
  let n = 0;
  while (n < s.length && s[s.length - 1 - n] === '\\') n++;
  return n % 2 === 1;
}
