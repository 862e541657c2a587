import { describe, expect, it } from 'vitest';
import { BadPatternError, matchPattern } from './glob.js';

describe('matchPattern, as Go filepath.Match', () => {
  it.each([
    ['abc', 'abc', true],
    ['*', 'abc', true],
    ['*', '.hidden', true],
    ['*c', 'abc', true],
    ['a*', 'a', true],
    ['a*/b', 'abc/b', true],
    ['a*b', 'a/b', false],
    ['a*b*c*d*e*/f', 'axbxcxdxe/f', true],
    ['a*b?c*x', 'abxbbxdbxebxczzx', true],
    ['a*b?c*x', 'abxbbxdbxebxczzy', false],
    ['ab[c]', 'abc', true],
    ['ab[b-d]', 'abc', true],
    ['ab[e-g]', 'abc', false],
    ['ab[^c]', 'abc', false],
    ['ab[^b-d]', 'abe', true],
    ['ab[!c]', 'ab!', true],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'ab', false],
    ['a?b', 'a☺b', true],
    ['a[^a]b', 'a☺b', true],
    ['[a-ζ]*', 'α', true],
    ['[\\]a]', ']', true],
    ['[\\-]', '-', true],
    ['[x\\-]', 'z', false],
    ['[z-a]', 'm', false],
    ['[^z-a]', 'm', true],
    ['a?', 'a/', false],
    ['*.yaml', 'rules.yaml', true],
    ['*.yaml', 'rules.yml', false],
    ['rules.(yaml)', 'rules.(yaml)', true],
  ])('%s %s', (pattern, name, matched) => {
    expect(matchPattern(pattern, name)).toBe(matched);
  });

  it.each(['[', '[^', '[^bc', 'a[', '[]a]', '[-]', '[x-]', '[-x]', 'a\\', '[a-b-c]', '[]', '*[', 'x[a'])('%s is malformed', (pattern) => {
    expect(() => matchPattern(pattern, 'a')).toThrow(BadPatternError);
  });
});
