// prompb.Histogram and prompb.TimeSeries read from bytes written independently of prompb.ts: by the
// remote-write test client (from the field numbers) and by protobufjs compiling the shipped prompb.proto.
import { join } from 'node:path';
import { timeSeriesMessages, type WrittenSeries } from '@strata/testing/remotewrite';
import { CounterResetHint, CUSTOM_BUCKETS_SCHEMA, FloatHistogram, type Label, newHistogram, type TimedHistogram } from '@strata/tsdb';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { readTimedHistogram, readTimeSeries, withLabels } from './prompb.js';
import { PROTO_DIR } from './proto.js';
import { ProtoReader } from './wire/reader.js';

const root = new protobuf.Root();
root.resolvePath = (_origin, target) => (target.startsWith('/') ? target : join(PROTO_DIR, target));
await root.load(join(PROTO_DIR, 'thanos/prompb.proto'), { keepCase: true });
const HistogramType = root.lookupType('prometheus_copy.Histogram');
const TimeSeriesType = root.lookupType('prometheus_copy.TimeSeries');

/** One series' TimeSeries message, as the remote-write client writes it. */
function timeSeries(s: WrittenSeries): Buffer {
  const [m] = timeSeriesMessages([s]);
  if (m === undefined) throw new Error('no message');
  return Buffer.from(m);
}

/** The histograms of a TimeSeries message (field 4), each read as sent. */
function sentHistograms(message: Uint8Array): TimedHistogram[] {
  const r = new ProtoReader(message);
  const out: TimedHistogram[] = [];
  while (!r.done) {
    const t = r.tag();
    if (t === 34) out.push(readTimedHistogram(r.sub()));
    else r.skip(t & 7);
  }
  return out;
}

/** The only histogram of a TimeSeries message, read as sent. */
function sentHistogram(message: Uint8Array): TimedHistogram {
  const all = sentHistograms(message);
  expect(all).toHaveLength(1);
  return all[0] as TimedHistogram;
}

/** A prompb.Histogram message protobufjs writes from `fields` (proto field names). */
function protobufjsHistogram(fields: Record<string, unknown>): Uint8Array {
  return HistogramType.encode(HistogramType.fromObject(fields)).finish();
}


/** Integer counts, delta-encoded: positive 2, 5, 1 and negative 5, 3, with 4 in the zero bucket. */
const integerHistogram = newHistogram({
  counterResetHint: CounterResetHint.NotCounterReset,
  schema: 3,
  zeroThreshold: 0.001,
  zeroCount: 4,
  count: 20,
  sum: 42.5,
  positiveSpans: [
    { offset: -2, length: 2 },
    { offset: 3, length: 1 },
  ],
  positiveBuckets: [2, 3, -4],
  negativeSpans: [{ offset: 1, length: 2 }],
  negativeBuckets: [5, -2],
});

const floatHistogram = new FloatHistogram({
  counterResetHint: CounterResetHint.Gauge,
  schema: -1,
  zeroThreshold: 0.5,
  zeroCount: 1.5,
  count: 9.75,
  sum: -3.25,
  positiveSpans: [
    { offset: 0, length: 1 },
    { offset: 2, length: 2 },
  ],
  positiveBuckets: [2.5, 0.25, 4],
  negativeSpans: [{ offset: -3, length: 1 }],
  negativeBuckets: [1.5],
});

describe('readTimedHistogram', () => {
  it('keeps an integer histogram as sent: buckets as deltas, integer zero count, spans, hint', () => {
    const got = sentHistogram(timeSeries({ labels: { __name__: 'h' }, histograms: [{ t: 1_700_000_000_123, h: integerHistogram }] }));
    expect(got).toEqual({ timestamp: 1_700_000_000_123, histogram: integerHistogram });
    expect('floatHistogram' in got).toBe(false);
  });

  it('does not make deltas absolute, even when they go down', () => {
    const h = newHistogram({ count: 6, positiveSpans: [{ offset: 0, length: 4 }], positiveBuckets: [3, -3, 2, -1] });
    const got = sentHistogram(timeSeries({ labels: { __name__: 'h' }, histograms: [{ t: 1, h }] }));
    expect('histogram' in got && got.histogram.positiveBuckets).toEqual([3, -3, 2, -1]);
  });

  it('reads a float histogram with its absolute counts as a FloatHistogram', () => {
    const got = sentHistogram(timeSeries({ labels: { __name__: 'h' }, float: true, histograms: [{ t: 1_700_000_000_000, h: floatHistogram }] }));
    expect('histogram' in got).toBe(false);
    if (!('floatHistogram' in got)) throw new Error('expected a float histogram');
    expect(got.timestamp).toBe(1_700_000_000_000);
    expect(got.floatHistogram).toBeInstanceOf(FloatHistogram);
    expect(got.floatHistogram).toEqual(floatHistogram);
  });

  it('takes a histogram whose count_float is 0 for a float one', () => {
    const h = new FloatHistogram({ schema: 0, count: 0, sum: 0 });
    const got = sentHistogram(timeSeries({ labels: { __name__: 'h' }, float: true, histograms: [{ t: 5, h }] }));
    expect(got).toEqual({ timestamp: 5, floatHistogram: h });
  });

  it('takes a histogram whose count_int is 0 for an integer one', () => {
    const got = sentHistogram(timeSeries({ labels: { __name__: 'h' }, histograms: [{ t: 5, h: newHistogram() }] }));
    expect(got).toEqual({ timestamp: 5, histogram: newHistogram() });
  });

  it('takes a histogram with neither count field for an integer one', () => {
    const got = readTimedHistogram(new ProtoReader(protobufjsHistogram({ sum: 1, schema: 2, positive_spans: [{ offset: 0, length: 2 }], positive_deltas: [1, 1], timestamp: 7 })));
    expect(got).toEqual({ timestamp: 7, histogram: newHistogram({ sum: 1, schema: 2, positiveSpans: [{ offset: 0, length: 2 }], positiveBuckets: [1, 1] }) });
  });

  it('reads what protobufjs writes for an integer histogram with every field', () => {
    const bytes = protobufjsHistogram({
      count_int: 20,
      sum: 42.5,
      schema: 3,
      zero_threshold: 0.001,
      zero_count_int: 4,
      negative_spans: [{ offset: 1, length: 2 }],
      negative_deltas: [5, -2],
      positive_spans: [
        { offset: -2, length: 2 },
        { offset: 3, length: 1 },
      ],
      positive_deltas: [2, 3, -4],
      reset_hint: 'NO',
      timestamp: -1_700_000_000_000,
    });
    expect(readTimedHistogram(new ProtoReader(bytes))).toEqual({ timestamp: -1_700_000_000_000, histogram: integerHistogram });
  });

  it('reads what protobufjs writes for a float histogram with every field', () => {
    const bytes = protobufjsHistogram({
      count_float: 9.75,
      sum: -3.25,
      schema: -1,
      zero_threshold: 0.5,
      zero_count_float: 1.5,
      negative_spans: [{ offset: -3, length: 1 }],
      negative_counts: [1.5],
      positive_spans: [
        { offset: 0, length: 1 },
        { offset: 2, length: 2 },
      ],
      positive_counts: [2.5, 0.25, 4],
      reset_hint: 'GAUGE',
      timestamp: 1_700_000_000_000,
    });
    expect(readTimedHistogram(new ProtoReader(bytes))).toEqual({ timestamp: 1_700_000_000_000, floatHistogram });
  });

  it('reads custom_values into an integer custom-buckets histogram', () => {
    const bytes = protobufjsHistogram({ count_int: 6, sum: 3, schema: CUSTOM_BUCKETS_SCHEMA, positive_spans: [{ offset: 0, length: 4 }], positive_deltas: [1, 0, 2, -2], custom_values: [0.25, 1, 10], timestamp: 9 });
    expect(readTimedHistogram(new ProtoReader(bytes))).toEqual({
      timestamp: 9,
      histogram: newHistogram({ count: 6, sum: 3, schema: CUSTOM_BUCKETS_SCHEMA, positiveSpans: [{ offset: 0, length: 4 }], positiveBuckets: [1, 0, 2, -2], customValues: [0.25, 1, 10] }),
    });
  });

  it('reads custom_values into a float custom-buckets histogram', () => {
    const bytes = protobufjsHistogram({ count_float: 3.5, sum: 3, schema: CUSTOM_BUCKETS_SCHEMA, positive_spans: [{ offset: 1, length: 2 }], positive_counts: [1.5, 2], custom_values: [-5, 0, 5], timestamp: 9 });
    expect(readTimedHistogram(new ProtoReader(bytes))).toEqual({
      timestamp: 9,
      floatHistogram: new FloatHistogram({ count: 3.5, sum: 3, schema: CUSTOM_BUCKETS_SCHEMA, positiveSpans: [{ offset: 1, length: 2 }], positiveBuckets: [1.5, 2], customValues: [-5, 0, 5] }),
    });
  });

  it('reads each reset hint as the CounterResetHint of the same number', () => {
    for (const hint of [CounterResetHint.Unknown, CounterResetHint.CounterReset, CounterResetHint.NotCounterReset, CounterResetHint.Gauge]) {
      const got = sentHistogram(timeSeries({ labels: { __name__: 'h' }, histograms: [{ t: 1, h: newHistogram({ counterResetHint: hint }) }] }));
      expect('histogram' in got && got.histogram.counterResetHint).toBe(hint);
      const f = sentHistogram(timeSeries({ labels: { __name__: 'h' }, float: true, histograms: [{ t: 1, h: new FloatHistogram({ schema: 0, count: 0, sum: 0, counterResetHint: hint }) }] }));
      expect('floatHistogram' in f && f.floatHistogram.counterResetHint).toBe(hint);
    }
  });

  it('takes a reset hint it does not know for Unknown', () => {
    const bytes = HistogramType.encode({ count_int: 0, reset_hint: 7, timestamp: 1 }).finish();
    const got = readTimedHistogram(new ProtoReader(bytes));
    expect('histogram' in got && got.histogram.counterResetHint).toBe(CounterResetHint.Unknown);
  });

  it('reads timestamps before the epoch and beyond 32 bits exactly', () => {
    const times = [0, -1, -1_700_000_000_123, 2 ** 31, 2 ** 53 - 1];
    const got = sentHistograms(timeSeries({ labels: { __name__: 'h' }, histograms: times.map((t) => ({ t, h: newHistogram() })) }));
    expect(got.map((g) => g.timestamp)).toEqual(times);
  });

  it('reads integer counts beyond 32 bits exactly', () => {
    const h = newHistogram({ count: 2 ** 40 + 3, zeroCount: 2 ** 40, positiveSpans: [{ offset: 0, length: 2 }], positiveBuckets: [2 ** 33, -(2 ** 33) + 3] });
    expect(sentHistogram(timeSeries({ labels: { __name__: 'h' }, histograms: [{ t: 1, h }] }))).toEqual({ timestamp: 1, histogram: h });
  });

  it('reads repeated fields sent unpacked, one value per field', () => {
    const w = protobuf.Writer.create();
    w.uint32((1 << 3) | 0).uint64(3);
    w.uint32((11 << 3) | 2).fork().uint32((2 << 3) | 0).uint32(3).ldelim();
    for (const d of [1, 1, -2]) w.uint32((12 << 3) | 0).sint64(d);
    w.uint32((8 << 3) | 2).fork().uint32((2 << 3) | 0).uint32(1).ldelim();
    w.uint32((9 << 3) | 0).sint64(0);
    expect(readTimedHistogram(new ProtoReader(w.finish()))).toEqual({
      timestamp: 0,
      histogram: newHistogram({ count: 3, positiveSpans: [{ offset: 0, length: 3 }], positiveBuckets: [1, 1, -2], negativeSpans: [{ offset: 0, length: 1 }], negativeBuckets: [0] }),
    });
    const f = protobuf.Writer.create();
    f.uint32((2 << 3) | 1).double(3.5);
    f.uint32((4 << 3) | 0).sint32(CUSTOM_BUCKETS_SCHEMA);
    f.uint32((11 << 3) | 2).fork().uint32((2 << 3) | 0).uint32(2).ldelim();
    for (const c of [1.5, 2]) f.uint32((13 << 3) | 1).double(c);
    for (const b of [0.5, 1]) f.uint32((16 << 3) | 1).double(b);
    expect(readTimedHistogram(new ProtoReader(f.finish()))).toEqual({
      timestamp: 0,
      floatHistogram: new FloatHistogram({ count: 3.5, sum: 0, schema: CUSTOM_BUCKETS_SCHEMA, positiveSpans: [{ offset: 0, length: 2 }], positiveBuckets: [1.5, 2], customValues: [0.5, 1] }),
    });
  });

  it('skips fields it does not know', () => {
    const known = protobufjsHistogram({ count_int: 1, positive_spans: [{ offset: 0, length: 1 }], positive_deltas: [1], timestamp: 3 });
    const w = protobuf.Writer.create();
    w.uint32((99 << 3) | 0).uint64(12345);
    w.uint32((100 << 3) | 2).bytes(Uint8Array.from([1, 2, 3]));
    w.uint32((101 << 3) | 1).double(1);
    w.uint32((102 << 3) | 5).fixed32(7);
    const bytes = Buffer.concat([w.finish(), known]);
    expect(readTimedHistogram(new ProtoReader(bytes))).toEqual({ timestamp: 3, histogram: newHistogram({ count: 1, positiveSpans: [{ offset: 0, length: 1 }], positiveBuckets: [1] }) });
  });

  it('takes the count member that comes last, as protobuf merges a oneof', () => {
    const int = protobufjsHistogram({ count_int: 2 });
    const float = protobufjsHistogram({ count_float: 2.5 });
    const asFloat = readTimedHistogram(new ProtoReader(Buffer.concat([int, float])));
    expect('floatHistogram' in asFloat && asFloat.floatHistogram.count).toBe(2.5);
    const asInt = readTimedHistogram(new ProtoReader(Buffer.concat([float, int])));
    expect('histogram' in asInt && asInt.histogram.count).toBe(2);
  });
});

describe('withLabels', () => {
  const samples = [
    { t: 1_700_000_000_000, v: 1.5 },
    { t: 1_700_000_015_000, v: Number.NaN },
  ];
  /** Many buckets, so the histogram field's length takes more than one byte. */
  const wide = newHistogram({ count: 100, positiveSpans: [{ offset: 0, length: 100 }], positiveBuckets: [1, ...Array<number>(99).fill(0)] });
  const histograms = [
    { t: 1_700_000_000_000, h: integerHistogram },
    { t: 1_700_000_030_000, h: wide },
  ];
  const oldLabels = { __name__: 'http_requests', instance: 'a:9090', job: 'api' };
  /** Sorted by name, as the remote-write client writes them. */
  const newLabels: Label[] = [
    { name: '__name__', value: 'http_requests' },
    { name: 'cluster', value: 'eu-1' },
    { name: 'job', value: 'api' },
  ];
  const newRecord = Object.fromEntries(newLabels.map((l) => [l.name, l.value]));

  it('gives the message the new labels would have been written with', () => {
    const out = withLabels(timeSeries({ labels: oldLabels, samples, histograms }), newLabels);
    expect(out.equals(timeSeries({ labels: newRecord, samples, histograms }))).toBe(true);
  });

  it('keeps the fields after the labels byte for byte', () => {
    const out = withLabels(timeSeries({ labels: oldLabels, samples, histograms }), newLabels);
    const tail = timeSeries({ labels: {}, samples, histograms });
    expect(out.length).toBeGreaterThan(tail.length);
    expect(out.subarray(out.length - tail.length).equals(tail)).toBe(true);
  });

  it('decodes to the new labels and the same samples and histograms', () => {
    const raw = timeSeries({ labels: oldLabels, samples, histograms });
    const before = readTimeSeries(new ProtoReader(raw));
    const after = readTimeSeries(new ProtoReader(withLabels(raw, newLabels)));
    expect(after.labels).toEqual(newLabels);
    expect(after.samples).toEqual(before.samples);
    expect(after.histograms).toEqual(before.histograms);
    expect(after.samples).toHaveLength(2);
    expect(after.histograms).toHaveLength(2);
    // And as sent: integer histograms, deltas kept.
    expect(sentHistograms(withLabels(raw, newLabels))).toEqual(histograms.map(({ t, h }) => ({ timestamp: t, histogram: h })));
  });

  it('keeps float histograms as sent', () => {
    const raw = timeSeries({ labels: oldLabels, float: true, histograms: [{ t: 10, h: floatHistogram }] });
    const out = withLabels(raw, newLabels);
    expect(out.equals(timeSeries({ labels: newRecord, float: true, histograms: [{ t: 10, h: floatHistogram }] }))).toBe(true);
    expect(sentHistograms(out)).toEqual([{ timestamp: 10, floatHistogram }]);
  });

  it('keeps exemplars, and what protobufjs decodes is the message with the new labels', () => {
    const message = {
      samples: [{ value: 3, timestamp: 1000 }],
      exemplars: [{ labels: [{ name: 'trace_id', value: 'abc123' }], value: 0.25, timestamp: 999 }],
      histograms: [{ count_int: 1, sum: 0.5, positive_spans: [{ offset: 0, length: 1 }], positive_deltas: [1], timestamp: 1000 }],
    };
    const raw = TimeSeriesType.encode(TimeSeriesType.fromObject({ labels: [{ name: '__name__', value: 'old' }], ...message })).finish();
    const out = withLabels(raw, newLabels);
    const expected = TimeSeriesType.fromObject({ labels: newLabels, ...message });
    expect(out.equals(TimeSeriesType.encode(expected).finish())).toBe(true);
    const toObject = (m: protobuf.Message) => TimeSeriesType.toObject(m, { longs: Number, enums: Number, defaults: false });
    expect(toObject(TimeSeriesType.decode(out))).toEqual(toObject(expected));
  });

  it('removes labels wherever they are in the message, keeping the other fields in order', () => {
    // Two TimeSeries messages one after the other are one message (protobuf merges them): labels twice.
    const first = timeSeries({ labels: { a: '1' }, samples: [samples[0]!] });
    const second = timeSeries({ labels: { b: '2' }, samples: [samples[1]!], histograms: [histograms[0]!] });
    const out = withLabels(Buffer.concat([first, second]), newLabels);
    expect(out.equals(timeSeries({ labels: newRecord, samples, histograms: [histograms[0]!] }))).toBe(true);
  });

  it('gives only the other fields when the new labels are none', () => {
    const out = withLabels(timeSeries({ labels: oldLabels, samples, histograms }), []);
    expect(out.equals(timeSeries({ labels: {}, samples, histograms }))).toBe(true);
  });

  it('gives only the labels for a message of labels only', () => {
    expect(withLabels(timeSeries({ labels: oldLabels }), newLabels).equals(timeSeries({ labels: newRecord }))).toBe(true);
    expect(withLabels(new Uint8Array(0), newLabels).equals(timeSeries({ labels: newRecord }))).toBe(true);
  });

  it('reads a message that is a slice of a larger buffer (a WriteRequest\'s)', () => {
    const one = timeSeries({ labels: { x: 'y' }, samples: [samples[0]!] });
    const raw = timeSeries({ labels: oldLabels, samples, histograms });
    const request = Buffer.concat([lenPrefixed(one), lenPrefixed(raw)]);
    const slice = request.subarray(request.length - raw.length);
    expect(slice.byteOffset).toBeGreaterThan(0);
    expect(Buffer.from(slice).equals(raw)).toBe(true);
    expect(withLabels(slice, newLabels).equals(timeSeries({ labels: newRecord, samples, histograms }))).toBe(true);
    // A plain Uint8Array view, not a Buffer, over the same bytes.
    const view = new Uint8Array(request.buffer, request.byteOffset + request.length - raw.length, raw.length);
    expect(withLabels(view, newLabels).equals(timeSeries({ labels: newRecord, samples, histograms }))).toBe(true);
  });
});

/** `message` as a WriteRequest's timeseries field (1): tag, length, bytes. */
function lenPrefixed(message: Uint8Array): Buffer {
  return Buffer.from(protobuf.Writer.create().uint32((1 << 3) | 2).bytes(message).finish());
}
