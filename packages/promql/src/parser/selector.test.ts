import { describe, expect, it } from 'vitest';
import { parseMetricSelector } from './selector.js';

const matchers = (s: string) => parseMetricSelector(s).map((m) => `${m.name}${m.type}${JSON.stringify(m.value)}`);
const errorOf = (s: string) => {
  try {
    parseMetricSelector(s);
  } catch (e) {
    return (e as Error).message;
  }
  return undefined;
};

describe('parseMetricSelector', () => {
  it('reads a metric name, braces or both, keywords as names, matching the empty string allowed', () => {
    expect(matchers('up')).toEqual(['__name__="up"']);
    expect(matchers(' up { job = "a", x=~"b.*" } # comment')).toEqual(['job="a"', 'x=~"b.*"', '__name__="up"']);
    expect(matchers('sum')).toEqual(['__name__="sum"']);
    expect(matchers('offset{a="b"}')).toEqual(['a="b"', '__name__="offset"']);
    expect(matchers('{}')).toEqual([]);
    expect(matchers('{job=~".*"}')).toEqual(['job=~".*"']);
    expect(matchers('{a="}"}')).toEqual(['a="}"']);
    // Named twice: allowed here (the expression parser's check), and nothing matches.
    expect(matchers('up{__name__="x"}')).toEqual(['__name__="x"', '__name__="up"']);
  });

  // Prometheus 2.42's own messages for these (its series API, `invalid parameter "match[]": ` dropped).
  it("rejects anything else with Prometheus' errors", () => {
    const cases: [string, string][] = [
      ['', '1:1: parse error: unexpected end of input'],
      ['sum(', '1:4: parse error: unexpected "("'],
      ['up[5m]', '1:3: parse error: unexpected "["'],
      ['rate(up[5m])', '1:5: parse error: unexpected "("'],
      ['up offset 5m', '1:4: parse error: unexpected <offset>'],
      ['up by', '1:4: parse error: unexpected <by>'],
      ['up and x', '1:4: parse error: unexpected <op:and>'],
      ['up sum', '1:4: parse error: unexpected <aggr:sum>'],
      ['up 1', '1:4: parse error: unexpected number "1"'],
      ['up 5m', '1:4: parse error: unexpected duration "5m"'],
      ['up "a"', '1:4: parse error: unexpected string "\\"a\\""'],
      ['up + 1', '1:4: parse error: unexpected <op:+>'],
      ['up == 1', '1:4: parse error: unexpected <op:==>'],
      ['(up)', '1:1: parse error: unexpected "("'],
      ['1', '1:1: parse error: unexpected number "1"'],
      ['up{}{}', '1:5: parse error: unexpected "{"'],
      ['up)', "1:4: parse error: unexpected right parenthesis ')'"],
      ['up]', "1:3: parse error: unexpected right bracket ']'"],
      ['up ! x', "1:4: parse error: unexpected character after '!': ' '"],
      ['up =~ x', "1:4: parse error: unexpected character after '=': '~'"],
      ['up .', "1:4: parse error: unexpected character: '.'"],
      // 3.x's Go parses the pattern alone (2.42's anchored first: see below).
      ['up{a=~"("}', '1:4: parse error: error parsing regexp: missing closing ): `(`'],
      ['up{a="b"', '1:9: parse error: unexpected end of input inside braces'],
    ];
    for (const [input, error] of cases) expect(errorOf(input), input).toBe(error);
  });

  it("words regexp errors as Prometheus 2.42, which compiles the pattern anchored, then parses it alone", () => {
    // Each checked against Prometheus 2.42's /api/v1/series.
    const cases: [string, string][] = [
      ['up{a=~"("}', 'missing closing ): `^(?:()$`'],
      ['up{a=~"[a"}', 'missing closing ]: `[a)$`'],
      ['up{a=~"a\\\\"}', 'missing closing ): `^(?:a\\)$`'],
      ['up{a=~"(?i"}', 'missing closing ): `^(?:(?i)$`'],
      ['up{a=~"\\\\Qa."}', 'missing closing ): `^(?:\\Qa.)$`'],
      // Anchored, `a)|(b` is `^(?:a)|(b)$`; alone it is not whole.
      ['up{a=~"a)|(b"}', 'unexpected ): `a)|(b`'],
      ['up{a=~"(?<n>a)"}', 'invalid or unsupported Perl syntax: `(?<`'],
      ['up{a=~"[\\\\Qa\\\\E]"}', 'invalid escape sequence: `\\Q`'],
      ['up{a=~"\\\\x{2,1}"}', 'invalid escape sequence: `\\x{2,`'],
      ['up{a=~"(?i\\\\PL)"}', 'invalid or unsupported Perl syntax: `(?i\\`'],
    ];
    for (const [input, error] of cases) {
      expect(() => parseMetricSelector(input, { compat: 2 }), input).toThrow(`1:4: parse error: error parsing regexp: ${error}`);
    }
    // A `(?)` sets no flag, and `(?<name>…)` names a group in 3.x.
    expect(parseMetricSelector('up{a=~"(?)b"}', { compat: 2 })).toHaveLength(2);
    expect(parseMetricSelector('up{a=~"(?<n>a)"}')).toHaveLength(2);
  });
});
