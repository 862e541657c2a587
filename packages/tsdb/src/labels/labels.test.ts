import { describe, expect, it } from 'vitest';
import { compareStrings, Labels, quoteGo } from './labels.js';
import { Matcher } from './matcher.js';
import { RegexpSyntaxError } from './regexp.js';

describe('Labels', () => {
  it('sorts by name, drops empty values, last duplicate wins', () => {
    const l = Labels.from([
      { name: 'b', value: '2' },
      { name: '__name__', value: 'up' },
      { name: 'a', value: '' },
      { name: 'b', value: '3' },
    ]);
    expect(l.toString()).toBe('{__name__="up", b="3"}');
    expect(l.get('a')).toBe('');
  });

  it('orders strings by UTF-8 bytes, not UTF-16 code units', () => {
    // U+FF5E (EF BD 9E) sorts before U+1F600 (F0 9F 98 80) in UTF-8, after it in UTF-16.
    expect(compareStrings('\uff5e', '\u{1f600}')).toBeLessThan(0);
    expect(compareStrings('a', 'ab')).toBeLessThan(0);
    expect(compareStrings('B', '_')).toBeLessThan(0);
    const words = ['\u{1f600}', '\uff5e', 'z', 'é', 'A'];
    const byBytes = [...words].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect([...words].sort(compareStrings)).toEqual(byBytes);
  });

  it('compares label sets pair by pair with a prefix first', () => {
    const a = Labels.from({ a: '1' });
    const ab = Labels.from({ a: '1', b: '1' });
    const b = Labels.from({ b: '0' });
    expect(Labels.compare(a, ab)).toBeLessThan(0);
    expect(Labels.compare(ab, b)).toBeLessThan(0);
    expect(Labels.compare(ab, Labels.from({ b: '1', a: '1' }))).toBe(0);
  });

  it('edits immutably', () => {
    const l = Labels.from({ a: '1', c: '3' });
    expect(l.with('b', '2').toString()).toBe('{a="1", b="2", c="3"}');
    expect(l.with('a', '').toString()).toBe('{c="3"}');
    expect(l.without(['a']).toString()).toBe('{c="3"}');
    expect(l.without([]).toString()).toBe('{a="1", c="3"}');
    expect(l.without(['b']).equals(l)).toBe(true);
    expect(l.keep(['a']).toString()).toBe('{a="1"}');
    expect(l.merge(Labels.from({ a: 'x', z: '9' })).toString()).toBe('{a="x", c="3", z="9"}');
    expect(l.toString()).toBe('{a="1", c="3"}');
  });

  it('quotes as Go does', () => {
    expect(quoteGo('a"b\\c\nd\u00e9\u{1f600}\x01\u200b')).toBe('"a\\"b\\\\c\\nd\u00e9\u{1f600}\\x01\\u200b"');
    // An invalid byte, kept by the PromQL parser as U+DC80 + byte, as Go quotes it.
    expect(quoteGo('a\udd45z')).toBe('"a\\xc5z"');
  });
});

describe('Matcher', () => {
  it('treats a missing label as empty', () => {
    expect(new Matcher('=', 'a', '').matches('')).toBe(true);
    expect(new Matcher('!~', 'a', '.+').matches('')).toBe(true);
    expect(new Matcher('!=', 'a', 'x').matches('')).toBe(true);
  });

  it('anchors regexes fully', () => {
    const m = new Matcher('=~', 'job', 'api|web');
    expect(m.matches('api')).toBe(true);
    expect(m.matches('xapi')).toBe(false);
    expect(m.matches('apix')).toBe(false);
    expect(new Matcher('=~', 'x', 'a.*').matches('a\nb')).toBe(true);
    expect(new Matcher('=~', 'x', 'a.*', { dotMatchesNewline: false }).matches('a\nb')).toBe(false);
  });

  it('translates RE2 syntax', () => {
    const cases: [string, string, boolean][] = [
      ['(?i)foo', 'FoO', true],
      ['[[:digit:]]+', '123', true],
      ['[[:alpha:]]+', 'a1', false],
      ['\\d{2,3}', '1234', false],
      ['a{,2}', 'a{,2}', true],
      ['\\Qa.b\\E', 'a.b', true],
      ['\\Qa.b\\E', 'axb', false],
      ['\\pL+', 'héllo', true],
      ['\\p{Greek}+', 'αβγ', true],
      ['\\x{41}', 'A', true],
      ['\\-\\"\\:', '-":', true],
      ['(?P<x>a)b', 'ab', true],
      ['\\s', '\u00a0', false],
      ['.', '\u{1f600}', true],
      ['a\\z', 'a', true],
      ['(?m)^a$', 'a\nb', false],
      ['[]a]+', ']a', true],
      ['\\101', 'A', true],
      ['a(?i)b', 'aB', true],
      ['a(?i)b', 'AB', false],
      ['(?i:pro)d', 'PROd', true],
      ['(?i:pro)d', 'PROD', false],
      // RE2's flags and classes that JavaScript has no equivalent for (test/tsdb/regexp.test.ts checks many more against Go's regexp).
      ['[[:^alpha:]]+', '1-', true],
      ['(?i:[a-z])', 'Q', true],
      ['[^\\S]', '\v', false],
      ['a(?-i:b)', 'aB', false],
      ['(?i)a(?-i:b)', 'Ab', true],
      ['(?i)a(?-i:b)', 'AB', false],
      ['(?s:.)', '\n', true],
      ['(?-s:.)', '\n', false],
    ];
    for (const [re, s, want] of cases) expect(new Matcher('=~', 'x', re).matches(s), `${re} ~ ${JSON.stringify(s)}`).toBe(want);
  });

  it('rejects what RE2 rejects or JavaScript cannot express identically', () => {
    for (const re of ['a(?=b)', '(a)\\1', 'a{1001}', '(', 'a)', '\\q', 'a**', 'a{2}{3}', '*a', '(?z)', '(?i-)', '[[:nope:]]', '[z-a]']) {
      expect(() => new Matcher('=~', 'x', re), re).toThrow(RegexpSyntaxError);
    }
  });

  it("words repetition errors as Go's regexp: the operator with its `?`, a repetition of a repetition both", () => {
    // Each checked against Prometheus 2.42's /api/v1/series.
    const cases: [string, string][] = [
      ['a{1,3}+?', 'invalid nested repetition operator: `{1,3}+?`'],
      ['a+?{0,}', 'invalid nested repetition operator: `+?{0,}`'],
      ['.*{2}', 'invalid nested repetition operator: `*{2}`'],
      ['a**', 'invalid nested repetition operator: `**`'],
      ['*?a', 'missing argument to repetition operator: `*?`'],
      ['a|{2}', 'missing argument to repetition operator: `{2}`'],
    ];
    for (const [re, want] of cases) expect(() => new Matcher('=~', 'x', re), re).toThrow(`error parsing regexp: ${want}`);
  });

  it('repeats assertions as RE2 does, and past a (?flags) what came before it', () => {
    const cases: [string, string, boolean][] = [
      ['\\b+a', 'a', true],
      ['a\\b*b', 'ab', true],
      ['\\A{1,3}a\\z+', 'a', true],
      ['a$?', 'a', true],
      ['(?m)^*a', 'a', true],
      ['a\\B+b', 'ab', true],
      ['a\\b+b', 'ab', false],
      ['a(?i)*', 'aa', true],
      ['a(?i)*', 'A', false],
      ['x*(?i)*', 'xx', true],
    ];
    for (const [re, s, want] of cases) expect(new Matcher('=~', 'x', re).matches(s), `${re} ~ ${JSON.stringify(s)}`).toBe(want);
  });
});
