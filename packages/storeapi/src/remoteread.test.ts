import { FloatHistogram } from '@strata/tsdb';
import snappy from 'snappy';
import { describe, expect, it } from 'vitest';
import { MatcherType } from './messages.js';
import { readTimeSeries } from './prompb.js';
import { decodeReadRequest, decodeReadResponse, encodeReadRequest, negotiateResponseType, ResponseType, SamplesResponseWriter } from './remoteread.js';
import { ProtoReader } from './wire/reader.js';

describe('remote read messages', () => {
  it('reads a request as written, hints included, and its response types packed or not', () => {
    const q = {
      startMs: 1_000,
      endMs: 2_000,
      matchers: [{ type: MatcherType.RE, name: 'job', value: 'a|b' }],
      hints: { stepMs: 15_000, func: 'rate', startMs: 700, endMs: 2_000, grouping: ['job', 'path'], by: true, rangeMs: 300 },
    };
    expect(decodeReadRequest(encodeReadRequest(q, [ResponseType.STREAMED_XOR_CHUNKS, ResponseType.SAMPLES]))).toEqual({ queries: [q], acceptedResponseTypes: [1, 0] });
    // accepted_response_types one varint field at a time (unpacked), as a proto2 writer may send them.
    const unpacked = snappy.compressSync(Buffer.from([0x10, 0x01, 0x10, 0x00]));
    expect(decodeReadRequest(unpacked)).toEqual({ queries: [], acceptedResponseTypes: [1, 0] });
  });

  it("negotiates the response type as Prometheus' NegotiateResponseType", () => {
    expect(negotiateResponseType([])).toBe(ResponseType.SAMPLES);
    expect(negotiateResponseType([7, ResponseType.STREAMED_XOR_CHUNKS, ResponseType.SAMPLES])).toBe(ResponseType.STREAMED_XOR_CHUNKS);
    expect(() => negotiateResponseType([7])).toThrow('server does not support any of the requested response types: [7]; supported: map[SAMPLES:{} STREAMED_XOR_CHUNKS:{}]');
  });

  it('writes samples as prompb.Sample messages, the zero value and time left out, every other int64 time exact', () => {
    const w = new SamplesResponseWriter();
    const times = [0, 1, 127, 128, 1_796_644_233_000, 2 ** 53 - 1, -1, -1_796_644_233_000];
    const values = [0, -0, 1.5, Number.NaN, Number.POSITIVE_INFINITY, -2.25, 1e-300, 42];
    w.beginQuery();
    w.beginSeries([{ name: '__name__', value: 'a' }]);
    times.forEach((t, i) => w.float(t, values[i] as number));
    w.endSeries();
    w.beginSeries([{ name: '__name__', value: 'b' }]);
    // Enough samples to go through the writer in more than one piece.
    for (let i = 0; i < 10_000; i++) w.float(1_700_000_000_000 + i * 15_000, i / 3);
    w.endSeries();
    w.endQuery();
    const [a, b] = decodeReadResponse(w.finish());
    expect(a?.timestamps).toEqual(times);
    expect(a?.values.map((v) => (Object.is(v, -0) ? '-0' : String(v)))).toEqual(['0', '-0', '1.5', 'NaN', 'Infinity', '-2.25', '1e-300', '42']);
    expect(b?.timestamps).toHaveLength(10_000);
    expect(b?.timestamps[9_999]).toBe(1_700_000_000_000 + 9_999 * 15_000);
    expect(b?.values[9_999]).toBe(9_999 / 3);
  });

  it('writes histograms after the floats written before them, in one TimeSeries', () => {
    const w = new SamplesResponseWriter();
    const h = new FloatHistogram({ schema: 0, count: 3.5, sum: 7, zeroCount: 0.5, positiveSpans: [{ offset: 0, length: 2 }], positiveBuckets: [1, 2] });
    w.beginQuery();
    w.beginSeries([{ name: '__name__', value: 'h' }]);
    w.float(1_000, 1);
    w.histogram(2_000, h);
    w.endSeries();
    w.endQuery();
    const body = new ProtoReader(snappy.uncompressSync(w.finish()) as Buffer);
    expect(body.tag()).toBe(10);
    const result = body.sub();
    expect(result.tag()).toBe(10);
    const series = readTimeSeries(result.sub());
    expect(series.samples).toEqual([{ timestamp: 1_000, value: 1 }]);
    expect(series.histograms.map((x) => [x.timestamp, x.h.count, x.h.sum, x.h.positiveBuckets])).toEqual([[2_000, 3.5, 7, [1, 2]]]);
  });
});
