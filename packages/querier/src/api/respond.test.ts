import { formatTimestamp, formatValue, PackedSeriesPoints, type QueryValue, type SeriesPoints } from '@strata/promql';
import { Labels } from '@strata/tsdb';
import { describe, expect, it } from 'vitest';
import { goJson, queryDataPieces } from './respond.js';

/** The matrix JSON built the plain way, from JSON.stringify and the point formatters. */
function reference(series: SeriesPoints[]): string {
  const result = series.map((s) => `{"metric":${JSON.stringify(Object.fromEntries([...s.labels].map((l) => [l.name, l.value])))},"values":[${s.floats.map((p) => `[${formatTimestamp(p.t)},"${formatValue(p.f)}"]`).join(',')}]}`);
  return `{"resultType":"matrix","result":[${result.join(',')}]}`;
}

describe('goJson', () => {
  it('escapes what Go escapes in strings, and nothing else', () => {
    const text = JSON.stringify({ q: 'a > b && c < d', sep: '\u2028\u2029', plain: 'é"\\' });
    expect(goJson(text)).toBe('{"q":"a \\u003e b \\u0026\\u0026 c \\u003c d","sep":"\\u2028\\u2029","plain":"é\\"\\\\"}');
    expect(JSON.parse(goJson(text))).toEqual(JSON.parse(text));
    expect(goJson('{"a":1}')).toBe('{"a":1}');
  });
});

describe('query answers as JSON', () => {
  const values = [0, -0, 0, 1.5, 1.5, NaN, NaN, Infinity, -Infinity, 3_600_000_123, 3_600_000_123, 1e-7, 2 ** 53, -0, -0, 0];
  const series: SeriesPoints[] = [
    new PackedSeriesPoints(Labels.from({ __name__: 'a', le: '+Inf', path: '/ü"\\' }), Float64Array.from(values, (_, i) => 1_700_000_000_000 + i * 15_500), Float64Array.from(values)),
    // Series whose points are objects, and steps the first series does not share.
    { labels: Labels.from({ x: '1' }), floats: values.map((f, i) => ({ t: 1_700_000_000_000 + i * 60_000, f })) },
  ];

  it('writes every point as the formatters do, repeated values, -0 after 0 and shared steps included', () => {
    const got = [...queryDataPieces({ type: 'matrix', series })].join('');
    expect(got).toBe(reference(series));
    expect(JSON.parse(got).result[0].values.slice(0, 3)).toEqual([[1_700_000_000, '0'], [1_700_000_015.5, '-0'], [1_700_000_031, '0']]);
  });

  it('splits large answers into pieces that join into the same JSON, fields after the result', () => {
    const n = 20_000;
    const big: QueryValue = {
      type: 'matrix',
      series: [new PackedSeriesPoints(Labels.from({ job: 'x' }), Float64Array.from({ length: n }, (_, i) => i * 1000), Float64Array.from({ length: n }, (_, i) => Math.floor(i / 3) / 7))],
    };
    const pieces = [...queryDataPieces(big, ',"stats":{}')];
    expect(pieces.length).toBeGreaterThan(5);
    const whole = pieces.join('');
    expect(whole).toBe(`${reference((big as { series: SeriesPoints[] }).series).slice(0, -1)},"stats":{}}`);
  });
});
