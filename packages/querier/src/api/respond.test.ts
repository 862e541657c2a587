import { formatTimestamp, formatValue, PackedSeriesPoints, type QueryValue, type SeriesPoints } from '@strata/promql';
import { FloatHistogram, Labels } from '@strata/tsdb';
import { describe, expect, it } from 'vitest';
import { histogramJson, queryDataPieces } from './respond.js';
import { goJson } from '@strata/runtime';

/** The matrix JSON built the plain way, from JSON.stringify and the point formatters. */
function reference(series: SeriesPoints[]): string {
  const result = series.map((s) => `{"metric":${JSON.stringify(Object.fromEntries([...s.labels].map((l) => [l.name, l.value])))},"values":[${s.floats.map((p) => `[${formatTimestamp(p.t)},"${formatValue(p.f)}"]`).join(',')}]}`);
  return `{"resultType":"matrix","result":[${result.join(',')}]}`;
}

describe('query answers as JSON', () => {
  const values = [0, -0, 0, 1.5, 1.5, NaN, NaN, Infinity, -Infinity, 3_600_000_123, 3_600_000_123, 1e-7, 2 ** 53, -0, -0, 0];
  const series: SeriesPoints[] = [
    new PackedSeriesPoints(Labels.from({ __name__: 'a', le: '+Inf', path: '/ü"\\' }), Float64Array.from(values, (_, i) => 1_700_000_000_000 + i * 15_500), Float64Array.from(values)),
    // Series whose points are objects, and steps the first series does not share.
    { labels: Labels.from({ x: '1' }), floats: values.map((f, i) => ({ t: 1_700_000_000_000 + i * 60_000, f })), histograms: [] },
  ];

  it('writes every point as the formatters do, repeated values, -0 after 0 and shared steps included', () => {
    const got = [...queryDataPieces({ type: 'matrix', series })].join('');
    expect(got).toBe(reference(series));
    expect(JSON.parse(got).result[0].values.slice(0, 3)).toEqual([[1_700_000_000, '0'], [1_700_000_015.5, '-0'], [1_700_000_031, '0']]);
  });

  it('splits large answers into pieces that join into the same JSON, fields after the result', () => {
    const n = 20_000;
    // Every value of `values` in turn around each multiple of 512, so that they straddle the ends of the runs the writer formats at once.
    const value = (i: number): number => ((i + 8) % 512 < 16 ? (values[(i + 8) % 512] as number) : Math.floor(i / 3) / 7);
    const big: QueryValue = {
      type: 'matrix',
      series: [new PackedSeriesPoints(Labels.from({ job: 'x' }), Float64Array.from({ length: n }, (_, i) => i * 1000), Float64Array.from({ length: n }, (_, i) => value(i)))],
    };
    const pieces = [...queryDataPieces(big, ',"stats":{}')];
    expect(pieces.length).toBeGreaterThan(5);
    const whole = pieces.join('');
    expect(whole).toBe(`${reference((big as { series: SeriesPoints[] }).series).slice(0, -1)},"stats":{}}`);
  });
});

describe("Go's escapes in query answers", () => {
  it('are applied to label names and values, strings and extra fields, as in an escaped whole', () => {
    const series = [new PackedSeriesPoints(Labels.from({ __name__: 'a', 'q': 'x<y && z>w', sep: '\u2028' }), Float64Array.of(1000, 2000), Float64Array.of(1, 2))];
    const got = [...queryDataPieces({ type: 'matrix', series }, ',"note":"<&>"')].join('');
    expect(got).toBe(goJson(`${reference(series).slice(0, -1)},"note":"<&>"}`));
    expect(got).not.toMatch(/[<>&\u2028]/);
    expect(JSON.parse(got).result[0].metric.q).toBe('x<y && z>w');
    const vector = [...queryDataPieces({ type: 'vector', samples: [{ labels: Labels.from({ a: '<' }), t: 1000, f: 1 }] })].join('');
    expect(vector).toBe('{"resultType":"vector","result":[{"metric":{"a":"\\u003c"},"value":[1,"1"]}]}');
    expect([...queryDataPieces({ type: 'string', t: 1000, v: 'a&b' })].join('')).toBe('{"resultType":"string","result":[1,"a\\u0026b"]}');
  });
});

describe('native histograms as JSON', () => {
  // Schema 0: positive buckets 0 and 1 are (0.5,1] and (1,2], negative bucket 0 is [-1,-0.5).
  const h = new FloatHistogram({
    schema: 0, zeroThreshold: 0.001, zeroCount: 2, count: 10, sum: 5,
    positiveSpans: [{ offset: 0, length: 3 }], positiveBuckets: [3, 0, 4],
    negativeSpans: [{ offset: 0, length: 1 }], negativeBuckets: [1],
  });
  const json = '{"count":"10","sum":"5","buckets":[[1,"-1","-0.5","1"],[3,"-0.001","0.001","2"],[0,"0.5","1","3"],[0,"2","4","4"]]}';

  it('writes the populated buckets in ascending order with their boundary rule, as Prometheus', () => {
    expect(histogramJson(h)).toBe(json);
    expect(histogramJson(new FloatHistogram({ schema: 3, count: 0, sum: 0 }))).toBe('{"count":"0","sum":"0"}');
  });

  it('puts a vector sample under "histogram" and a series\' histogram points under "histograms", after its floats', () => {
    const labels = Labels.from({ __name__: 'h' });
    const vector = [...queryDataPieces({ type: 'vector', samples: [{ labels, t: 1000, f: 0, h }] })].join('');
    expect(vector).toBe(`{"resultType":"vector","result":[{"metric":{"__name__":"h"},"histogram":[1,${json}]}]}`);
    const mixed = new PackedSeriesPoints(labels, Float64Array.of(1000, 2000, 3000), Float64Array.of(7, 0, 0), [undefined, h, h]);
    const onlyHistograms = new PackedSeriesPoints(labels, Float64Array.of(1000), Float64Array.of(0), [h]);
    expect([...queryDataPieces({ type: 'matrix', series: [mixed, onlyHistograms] })].join('')).toBe(
      `{"resultType":"matrix","result":[{"metric":{"__name__":"h"},"values":[[1,"7"]],"histograms":[[2,${json}],[3,${json}]]},` +
        `{"metric":{"__name__":"h"},"histograms":[[1,${json}]]}]}`,
    );
  });
});
