import { describe, expect, it } from 'vitest';
import { Matcher } from './matcher.js';
import { compileAnchored } from './regexp.js';
import { alternationOf, literalAlternatives, literalShape } from './setmatches.js';

describe('literalAlternatives', () => {
  it('finds the values of alternations of literals', () => {
    expect(literalAlternatives('a|b|c')).toEqual(['a', 'b', 'c']);
    expect(literalAlternatives('(api|web)')).toEqual(['api', 'web']);
    expect(literalAlternatives('(?:host\\.example\\.com:9100|db-1)')).toEqual(['host.example.com:9100', 'db-1']);
    expect(literalAlternatives('foo')).toEqual(['foo']);
    expect(literalAlternatives('a|a|')).toEqual(['a', '']);
    expect(literalAlternatives('')).toEqual(['']);
    expect(literalAlternatives('ünï|😀')).toEqual(['ünï', '😀']);
  });

  it('leaves everything else to the regex', () => {
    for (const re of ['a.b', 'a+', 'a|b*', '[ab]', '(?i)a|b', '(a)|(b)', '((a|b))', '\\d', '\\x41', '\\Qa\\E', 'a{2}', '^a', 'a$', '(?s:a)']) {
      expect(literalAlternatives(re), re).toBeUndefined();
    }
  });

  it('matches exactly what the anchored regex matches', () => {
    const patterns = ['a|b|c', '(api|web)', '(?:x\\.y|x-y)', 'a||b', '(a\\|b)', '\\(\\)|\\[', 'a b|c,d', '(?:)', 'ab'];
    const inputs = ['', 'a', 'b', 'c', 'ab', 'abc', 'api', 'web', 'apiweb', 'x.y', 'xzy', 'x-y', 'a|b', '()', '[', 'a b', 'c,d', 'A', 'a\n'];
    for (const p of patterns) {
      const re = compileAnchored(p);
      const m = new Matcher('=~', 'x', p);
      const n = new Matcher('!~', 'x', p);
      expect(m.setMatches(), p).toBeDefined();
      for (const s of inputs) {
        expect(m.matches(s), `${p} =~ ${JSON.stringify(s)}`).toBe(re.test(s));
        expect(n.matches(s), `${p} !~ ${JSON.stringify(s)}`).toBe(!re.test(s));
      }
      for (const v of m.setMatches() ?? []) expect(re.test(v), `${p}: ${v}`).toBe(true);
    }
  });

  it('offers set lookups to =~ and = only', () => {
    expect(new Matcher('=', 'a', 'x').setMatches()).toEqual(['x']);
    expect(new Matcher('!~', 'a', 'x|y').setMatches()).toBeUndefined();
    expect(new Matcher('!=', 'a', 'x').setMatches()).toBeUndefined();
    expect(new Matcher('=~', 'a', 'x.*').setMatches()).toBeUndefined();
  });
});

describe('alternationOf', () => {
  it('writes a regex that is the set of its values again, metacharacters and UTF-8 included', () => {
    const values = ['demo_disk_usage_bytes', 'a.b', 'x|y', '(g)', '$^', 'back\\slash', 'q?*+', '[c]{2}', 'ünïcode.métric', ''];
    const pattern = alternationOf(values);
    expect(literalAlternatives(pattern)).toEqual(values);
    const m = new Matcher('=~', '__name__', pattern);
    const re = compileAnchored(pattern);
    for (const v of values) expect([m.matches(v), re.test(v)]).toEqual([true, true]);
    for (const v of ['aXb', 'x', 'g', 'demo_disk_usage_bytesX', 'back\\\\slash']) expect([m.matches(v), re.test(v)]).toEqual([false, false]);
  });
});

describe('literalShape', () => {
  it('answers as the anchored regex does, with and without . matching a newline', () => {
    const patterns = ['.*', '.+', '(foo).*', 'foo.*', '.*foo', '.*foo.*', 'a\\.b.*', '.*x\\|y', 'api-.*', '.*-prod.*', 'ü.*', '.*\\.com', 'a\\\\.*', 'a\\.*', 'x\n.*'];
    const inputs = ['', 'foo', 'foobar', 'barfoo', 'barfoobaz', 'fo', 'FOO', 'a.b', 'a.bc', 'axb', 'x|y', 'zx|y', 'api-1', 'api', 'web-prod-1', 'prod', 'über', 'example.com', 'examplecom', 'a\\', 'a\\zz', 'a', 'a...', 'foo\nbar', 'bar\nfoo', '\n', 'x\nq', 'x\n', 'web\n-prod-', 'ab\nc'];
    for (const dotAll of [true, false]) {
      for (const p of patterns) {
        const test = literalShape(p, dotAll)?.test;
        const re = compileAnchored(p, { dotMatchesNewline: dotAll });
        // `a\.*` is `a` then any number of dots: a repetition, left to the regex.
        if (p === 'a\\.*') {
          expect(test, p).toBeUndefined();
          continue;
        }
        expect(test, p).toBeDefined();
        for (const s of inputs) expect(test?.(s), `${p} ${dotAll} ${JSON.stringify(s)}`).toBe(re.test(s));
        const m = new Matcher('=~', 'x', p, { dotMatchesNewline: dotAll });
        const n = new Matcher('!~', 'x', p, { dotMatchesNewline: dotAll });
        for (const s of inputs) expect([m.matches(s), n.matches(s)]).toEqual([re.test(s), !re.test(s)]);
      }
    }
  });

  it('leaves other regexes alone', () => {
    for (const p of ['foo', 'a|b.*', '(a|b).*', '(?i)foo.*', 'foo.+', '.*[0-9]', 'f.o.*', '.*.*', '^foo.*', '.*a|b.*']) expect(literalShape(p, true), p).toBeUndefined();
  });
});

describe('literalShape prefix', () => {
  it('is the literal before a trailing .*, for the index to read only the values that start with it', () => {
    expect(literalShape('foo.*', true)?.prefix).toBe('foo');
    expect(literalShape('(?:x\\.y).*', true)?.prefix).toBe('x.y');
    for (const p of ['.*foo', '.*foo.*', '.*', '(a|b).*', 'a\\.*', 'a.+', 'a[0-9].*', '.*.*']) expect(literalShape(p, true)?.prefix, p).toBeUndefined();
  });
});
