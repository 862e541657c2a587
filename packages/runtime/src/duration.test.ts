import { describe, expect, it } from 'vitest';
import { formatGoDuration } from './duration.js';

describe('formatGoDuration', () => {
  it("prints as Go's time.Duration.String", () => {
    const cases: [number, string][] = [
      [0, '0s'],
      [1, '1ns'],
      [999, '999ns'],
      [1_000, '1µs'],
      [1_500, '1.5µs'],
      [12_345_678, '12.345678ms'],
      [500e6, '500ms'],
      [1e9, '1s'],
      [1.5e9, '1.5s'],
      [90e9, '1m30s'],
      [3600e9, '1h0m0s'],
      [721 * 3600e9, '721h0m0s'],
      [3723.000000001e9, '1h2m3.000000001s'],
      [-500e6, '-500ms'],
      [0.4, '0s'],
    ];
    for (const [ns, s] of cases) expect(formatGoDuration(ns), String(ns)).toBe(s);
  });
});
