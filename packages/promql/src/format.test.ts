import { describe, expect, it } from 'vitest';
import { formatFloatPlain, formatTimestamp, formatValue } from './format.js';

describe('number formatting', () => {
  it('formats sample values as the HTTP API does', () => {
    expect(formatValue(1e-7)).toBe('1e-07');
    expect(formatValue(1.2345678901234569e23)).toBe('1.2345678901234569e+23');
    expect(formatValue(0.1)).toBe('0.1');
    expect(formatValue(NaN)).toBe('NaN');
    expect(formatValue(-Infinity)).toBe('-Inf');
    expect(formatValue(Infinity)).toBe('+Inf');
    // Prometheus 2.42 answers `vector(0) * -1` with "-0".
    expect(formatValue(-0)).toBe('-0');
    expect(formatValue(0)).toBe('0');
  });

  it('writes whole numbers as String() does, on both sides of the int32 and 2^53 limits', () => {
    const wholes = [2 ** 31 - 1, 2 ** 31, 2 ** 32 + 7, 3_600_000_000, 1e9, 1e9 + 1, 999_999_999_999, 1e15, 2 ** 53 - 1, 2 ** 53, 2 ** 60, 1e20, 1e21];
    // Spread over every magnitude (golden-ratio steps, the same each run); not 0, whose -0 Go writes as "-0" (above).
    for (let i = 1; i <= 2000; i++) wholes.push(1 + Math.floor(((i * 0.6180339887498949) % 1) * 2 ** (10 + (i % 44))));
    for (const v of wholes) {
      expect(formatValue(v)).toBe(String(v));
      expect(formatValue(-v)).toBe(String(-v));
    }
  });

  it('formats without exponent as strconv.FormatFloat(f, \'f\', -1, 64)', () => {
    expect(formatFloatPlain(1e21)).toBe('1000000000000000000000');
    expect(formatFloatPlain(1e-7)).toBe('0.0000001');
    expect(formatFloatPlain(-1.5e-7)).toBe('-0.00000015');
    expect(formatFloatPlain(1.5)).toBe('1.5');
    expect(formatFloatPlain(-0)).toBe('-0');
  });

  it('formats timestamps in seconds with millisecond precision', () => {
    expect(formatTimestamp(1700006500000)).toBe('1700006500');
    expect(formatTimestamp(1700006500500)).toBe('1700006500.500');
    expect(formatTimestamp(1700006400123)).toBe('1700006400.123');
    expect(formatTimestamp(-1500)).toBe('-1.500');
  });
});
