import type { Labels } from './labels.js';
import { quoteGo } from './labels.js';
import { compileAnchored, type RegexpOptions } from './regexp.js';
import { literalAlternatives, literalShape } from './setmatches.js';

export type MatchType = '=' | '!=' | '=~' | '!~';

/**
 * A label matcher. A missing label has the value "", so `{a=""}` selects series without `a` and
 * `{a!~".+"}` likewise. Regexes are fully anchored, as in Prometheus.
 */
export class Matcher {
  readonly type: MatchType;
  readonly name: string;
  readonly value: string;
  readonly #re: RegExp | undefined;
  /** The values a regex that is an alternation of literals matches (setmatches.ts). */
  readonly #set: ReadonlySet<string> | undefined;
  readonly #setMatches: readonly string[] | undefined;
  /** A prefix, suffix or substring test standing for the regex (literalShape). */
  readonly #test: ((s: string) => boolean) | undefined;
  readonly #prefix: string | undefined;

  constructor(type: MatchType, name: string, value: string, opts: RegexpOptions = {}) {
    this.type = type;
    this.name = name;
    this.value = value;
    const isRegex = type === '=~' || type === '!~';
    // Compiled even when it is a set: a malformed pattern must fail the same way either way.
    this.#re = isRegex ? compileAnchored(value, opts) : undefined;
    const set = isRegex ? literalAlternatives(value) : undefined;
    this.#set = set !== undefined ? new Set(set) : undefined;
    this.#setMatches = type === '=' ? [value] : type === '=~' ? set : undefined;
    const shape = isRegex && set === undefined ? literalShape(value, opts.dotMatchesNewline ?? true) : undefined;
    this.#test = shape?.test;
    this.#prefix = type === '=~' ? shape?.prefix : undefined;
  }

  static equal(name: string, value: string): Matcher {
    return new Matcher('=', name, value);
  }

  matches(s: string): boolean {
    switch (this.type) {
      case '=':
        return s === this.value;
      case '!=':
        return s !== this.value;
      case '=~':
        return this.#regexMatches(s);
      case '!~':
        return !this.#regexMatches(s);
    }
  }

  #regexMatches(s: string): boolean {
    if (this.#set !== undefined) return this.#set.has(s);
    return this.#test !== undefined ? this.#test(s) : (this.#re as RegExp).test(s);
  }

  /**
   * For `=` and for a `=~` whose regex is an alternation of literals (`a|b|c`), the only values it
   * matches: an index reads those values' postings instead of testing every value of the label.
   */
  setMatches(): readonly string[] | undefined {
    return this.#setMatches;
  }

  /** For a `=~` of the shape `lit.*`, `lit`: every value it matches starts with it (an index reads only those). */
  literalPrefix(): string | undefined {
    return this.#prefix;
  }

  /** True when the matcher selects series that lack the label. */
  matchesEmpty(): boolean {
    return this.matches('');
  }

  /** The compiled, anchored regex of a `=~`/`!~` matcher. */
  regexp(): RegExp | undefined {
    return this.#re;
  }

  toString(): string {
    return `${this.name}${this.type}${quoteGo(this.value)}`;
  }
}

/** True when every matcher accepts the series' value for its label. */
export function matchLabels(matchers: readonly Matcher[], labels: Labels): boolean {
  for (const m of matchers) if (!m.matches(labels.get(m.name))) return false;
  return true;
}

/** `{a="1", b=~"x"}` as Prometheus prints a selector. */
export function formatMatchers(matchers: readonly Matcher[]): string {
  return `{${matchers.map((m) => m.toString()).join(',')}}`;
}
