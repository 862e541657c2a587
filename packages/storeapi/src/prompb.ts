/**
 * Prometheus' prompb.TimeSeries (proto/thanos/prompb.proto, Thanos' prometheus_copy package): a series
 * of a PromQL answer with its float samples and native histograms, as the Query API streams them.
 *
 * Histograms are written with float counts (count_float, zero_count_float, positive/negative_counts),
 * as Prometheus' FromFloatHistogram writes a PromQL result's. The count and zero count are oneof members
 * and so are written even when zero: a reader that finds neither takes the histogram for an integer one.
 * Both forms are read: as they were sent (readTimedHistogram, what a receiver stores), or as float
 * histograms (a PromQL result's).
 */
import { CounterResetHint, FloatHistogram, histogramToFloat, type Label, type Span, type TimedHistogram } from '@strata/tsdb';
import { readLabel, writeLabels } from './codec.js';
import { ProtoReader } from './wire/reader.js';
import { ProtoWriter } from './wire/writer.js';

export interface PromSample {
  value: number;
  /** Milliseconds since the epoch. */
  timestamp: number;
}

export interface PromHistogram {
  timestamp: number;
  h: FloatHistogram;
}

export interface PromTimeSeries {
  labels: readonly Label[];
  samples: PromSample[];
  histograms: PromHistogram[];
}

export function writeTimeSeries(w: ProtoWriter, field: number, ts: PromTimeSeries): void {
  w.fork(field);
  writeTimeSeriesFields(w, ts);
  w.ldelim();
}

/** A TimeSeries message on its own (a remote write's series, as a receiver forwards it). */
export function encodeTimeSeries(ts: PromTimeSeries): Buffer {
  const w = new ProtoWriter();
  writeTimeSeriesFields(w, ts);
  return w.finish();
}

/** A TimeSeries message's bytes with other labels: its other fields (samples, histograms, exemplars) kept byte for byte. */
export function withLabels(raw: Uint8Array, labels: readonly Label[]): Buffer {
  const w = new ProtoWriter();
  writeLabels(w, 1, labels);
  const parts: Uint8Array[] = [w.finish()];
  const r = new ProtoReader(raw);
  while (!r.done) {
    const at = r.pos;
    const tag = r.tag();
    r.skip(tag & 7);
    if (tag !== 10) parts.push(raw.subarray(at, r.pos));
  }
  return Buffer.concat(parts);
}

function writeTimeSeriesFields(w: ProtoWriter, ts: PromTimeSeries): void {
  writeLabels(w, 1, ts.labels);
  for (const s of ts.samples) w.fork(2).double(1, s.value).int64(2, s.timestamp).ldelim();
  for (const h of ts.histograms) writeHistogram(w, 4, h);
}

/** A prompb.Histogram with float counts, as a PromQL result's and a remote read's are written. */
export function writeHistogram(w: ProtoWriter, field: number, { timestamp, h }: PromHistogram): void {
  w.fork(field).double(2, h.count, true).double(3, h.sum).sint32(4, h.schema).double(5, h.zeroThreshold).double(7, h.zeroCount, true);
  writeSpans(w, 8, h.negativeSpans);
  w.packedDouble(10, h.negativeBuckets);
  writeSpans(w, 11, h.positiveSpans);
  w.packedDouble(13, h.positiveBuckets).uint32(14, h.counterResetHint).int64(15, timestamp).packedDouble(16, h.customValues);
  w.ldelim();
}

/** Bucket spans (offset 1 as sint32, length 2), as prompb's and client_model's histograms both write them. */
export function writeSpans(w: ProtoWriter, field: number, spans: readonly Span[]): void {
  for (const s of spans) w.fork(field).sint32(1, s.offset).uint32(2, s.length).ldelim();
}

export function readTimeSeries(r: ProtoReader): PromTimeSeries {
  const labels: Label[] = [];
  const samples: PromSample[] = [];
  const histograms: PromHistogram[] = [];
  while (!r.done) {
    const t = r.tag();
    if (t === 10) labels.push(readLabel(r.sub()));
    else if (t === 18) samples.push(readSample(r.sub()));
    else if (t === 34) histograms.push(readHistogram(r.sub()));
    else r.skip(t & 7);
  }
  return { labels, samples, histograms };
}

/** A Sample { double value = 1; int64 timestamp = 2 }. */
export function readSample(r: ProtoReader): PromSample {
  const s: PromSample = { value: 0, timestamp: 0 };
  while (!r.done) {
    const t = r.tag();
    if (t === 9) s.value = r.double();
    else if (t === 16) s.timestamp = r.int64();
    else r.skip(t & 7);
  }
  return s;
}

/** A prompb.Histogram as sent: integer counts (count_int; delta-encoded buckets) or float counts (count_float), as Prometheus' IsFloatHistogram tells them. */
export function readTimedHistogram(r: ProtoReader): TimedHistogram {
  let timestamp = 0;
  let isFloat = false;
  let count = 0;
  let zeroCount = 0;
  let sum = 0;
  let schema = 0;
  let zeroThreshold = 0;
  let hint = 0;
  const negativeSpans: Span[] = [];
  const positiveSpans: Span[] = [];
  const negativeDeltas: number[] = [];
  const positiveDeltas: number[] = [];
  const negativeCounts: number[] = [];
  const positiveCounts: number[] = [];
  const customValues: number[] = [];
  while (!r.done) {
    const t = r.tag();
    const wire = t & 7;
    switch (t >>> 3) {
      case 1:
        count = r.uint64Number();
        isFloat = false;
        break;
      case 2:
        count = r.double();
        isFloat = true;
        break;
      case 3:
        sum = r.double();
        break;
      case 4:
        schema = r.sint32();
        break;
      case 5:
        zeroThreshold = r.double();
        break;
      case 6:
        zeroCount = r.uint64Number();
        break;
      case 7:
        zeroCount = r.double();
        break;
      case 8:
        negativeSpans.push(readSpan(r));
        break;
      case 9:
        r.packedSint64(wire, negativeDeltas);
        break;
      case 10:
        r.packedDouble(wire, negativeCounts);
        break;
      case 11:
        positiveSpans.push(readSpan(r));
        break;
      case 12:
        r.packedSint64(wire, positiveDeltas);
        break;
      case 13:
        r.packedDouble(wire, positiveCounts);
        break;
      case 14:
        hint = r.uint32();
        break;
      case 15:
        timestamp = r.int64();
        break;
      case 16:
        r.packedDouble(wire, customValues);
        break;
      default:
        r.skip(wire);
    }
  }
  // prompb's ResetHint (UNKNOWN, YES, NO, GAUGE) numbers Prometheus' CounterResetHint alike.
  const counterResetHint = hint <= CounterResetHint.Gauge ? (hint as CounterResetHint) : CounterResetHint.Unknown;
  const common = { counterResetHint, schema, zeroThreshold, zeroCount, count, sum, negativeSpans, positiveSpans, customValues };
  if (isFloat) return { timestamp, floatHistogram: new FloatHistogram({ ...common, negativeBuckets: negativeCounts, positiveBuckets: positiveCounts }) };
  return { timestamp, histogram: { ...common, negativeBuckets: negativeDeltas, positiveBuckets: positiveDeltas } };
}

/** A prompb.Histogram with float counts, whichever it was sent with (a PromQL result's). */
function readHistogram(r: ProtoReader): PromHistogram {
  const s = readTimedHistogram(r);
  return { timestamp: s.timestamp, h: 'floatHistogram' in s ? s.floatHistogram : histogramToFloat(s.histogram) };
}

/** A BucketSpan message at `r`'s position, read in place (no reader per span: histograms have several). */
function readSpan(r: ProtoReader): Span {
  const s: Span = { offset: 0, length: 0 };
  const end = r.enter();
  while (r.pos < end) {
    const t = r.tag();
    if (t === 8) s.offset = r.sint32();
    else if (t === 16) s.length = r.uint32();
    else r.skip(t & 7);
  }
  r.leave(end);
  return s;
}
