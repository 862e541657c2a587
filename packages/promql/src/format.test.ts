import { describe, expect, it } from 'vitest';
import { formatFloatPlain, formatTimestamp, formatValue, formatValues, goFloat } from './format.js';

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

  it('formats many values at once exactly as formatValue formats each', () => {
    const values = [0, -0, -0, 0, 0, NaN, NaN, Infinity, -Infinity, 0.25, 0.25, 1e-7, 1e-7, 1e-6, 9.99e-7, -1e-6, 1e21, 9.999999999999999e20, -1e21, 5e-324, Number.MAX_VALUE, 0.1, -2.5, 1, 2 ** 31, 2 ** 53 + 2, 1 / 3];
    // Spread over every magnitude and sign (golden-ratio steps, the same each run), fractions and whole numbers.
    for (let i = 1; i <= 5000; i++) {
      const x = ((i * 0.6180339887498949) % 1) * 2 ** ((i % 160) - 80);
      values.push(i % 3 === 0 ? -x : i % 7 === 0 ? Math.round(x) : x);
    }
    const texts = formatValues(values, 0, values.length);
    expect(texts).toEqual(values.map(formatValue));
    expect(formatValues(values, 6, 9)).toEqual(['NaN', '+Inf', '-Inf']);
    expect(formatValues(values, 4, 4)).toEqual([]);
    expect(formatValues(new Float64Array([1.5, -0]), 0, 2)).toEqual(['1.5', '-0']);
  });

  it('formats without exponent as strconv.FormatFloat(f, \'f\', -1, 64)', () => {
    expect(formatFloatPlain(1e21)).toBe('1000000000000000000000');
    expect(formatFloatPlain(1e-7)).toBe('0.0000001');
    expect(formatFloatPlain(-1.5e-7)).toBe('-0.00000015');
    expect(formatFloatPlain(1.5)).toBe('1.5');
    expect(formatFloatPlain(-0)).toBe('-0');
  });

  it("formats floats as Go's %g does, in messages and the text exposition format", () => {
    const cases: [number, string][] = [
      [0, '0'], [-0, '-0'], [1, '1'], [-1.5, '-1.5'], [0.0001, '0.0001'], [0.00001234, '1.234e-05'], [123456, '123456'],
      [1e6, '1e+06'], [1234567, '1.234567e+06'], [1e21, '1e+21'], [5e-324, '5e-324'], [1.7976931348623157e308, '1.7976931348623157e+308'],
      [NaN, 'NaN'], [Infinity, '+Inf'], [-Infinity, '-Inf'],
    ];
    for (const [v, s] of cases) expect(goFloat(v), String(v)).toBe(s);
  });

  it('formats timestamps in seconds with millisecond precision', () => {
    expect(formatTimestamp(1700006500000)).toBe('1700006500');
    expect(formatTimestamp(1700006500500)).toBe('1700006500.500');
    expect(formatTimestamp(1700006400123)).toBe('1700006400.123');
    expect(formatTimestamp(-1500)).toBe('-1.500');
  });
});
