import type { Labels } from './labels.js';
import { quoteGo } from './labels.js';
import { compileAnchored, type RegexpOptions } from './regexp.js';

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

  constructor(type: MatchType, name: string, value: string, opts: RegexpOptions = {}) {
    this.type = type;
    this.name = name;
    this.value = value;
    this.#re = type === '=~' || type === '!~' ? compileAnchored(value, opts) : undefined;
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
        return (this.#re as RegExp).test(s);
      case '!~':
        return !(this.#re as RegExp).test(s);
    }
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
