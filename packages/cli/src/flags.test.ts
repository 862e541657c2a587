import { describe, expect, it } from 'vitest';
import { parseUrlPath } from './flags.js';

describe('parseUrlPath', () => {
  it('writes a path prefix with one leading slash and none trailing, as Thanos accepts it either way', () => {
    expect(parseUrlPath('thanos')).toBe('/thanos');
    expect(parseUrlPath('/thanos/')).toBe('/thanos');
    expect(parseUrlPath('//a/b//')).toBe('/a/b');
    expect(parseUrlPath('/')).toBe('');
    expect(parseUrlPath('')).toBe('');
  });
});
