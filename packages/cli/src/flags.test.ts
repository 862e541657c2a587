import { describe, expect, it } from 'vitest';
import { parseTimeBound, parseUrlPath } from './flags.js';

describe('parseUrlPath', () => {
  it('writes a path prefix with one leading slash and none trailing, as Thanos accepts it either way', () => {
    expect(parseUrlPath('thanos')).toBe('/thanos');
    expect(parseUrlPath('/thanos/')).toBe('/thanos');
    expect(parseUrlPath('//a/b//')).toBe('/a/b');
    expect(parseUrlPath('/')).toBe('');
    expect(parseUrlPath('')).toBe('');
  });
});

describe('parseTimeBound', () => {
  it('keeps RFC3339 and Unix seconds fixed, and reads now and relative durations again at every use, as Thanos', () => {
    expect(parseTimeBound('2026-01-02T03:04:05Z').ms(0)).toBe(Date.parse('2026-01-02T03:04:05Z'));
    expect(parseTimeBound('1700000000.5').ms(0)).toBe(1_700_000_000_500);
    expect(parseTimeBound('-5').ms(0)).toBe(-5000);
    const twoWeeksAgo = parseTimeBound('-2w');
    expect([twoWeeksAgo.ms(20 * 86_400_000), twoWeeksAgo.ms(30 * 86_400_000)]).toEqual([6 * 86_400_000, 16 * 86_400_000]);
    expect(parseTimeBound('+1h30m').ms(1000)).toBe(1000 + 5_400_000);
    expect(parseTimeBound('now').ms(42)).toBe(42);
    expect(() => parseTimeBound('yesterday')).toThrow(/invalid time "yesterday"/);
  });
});
