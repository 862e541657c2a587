/**
 * A remote-write client for tests: prompb.WriteRequest written from its field numbers (floats and native
 * histograms, integer or float), snappy-framed with literals only, POSTed to a Prometheus started with
 * `--web.enable-remote-write-receiver` (and `--enable-feature=native-histograms` for histograms).
 *
 *   WriteRequest { repeated TimeSeries timeseries = 1 }
 *   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; repeated Exemplar exemplars = 3;
 *                  repeated Histogram histograms = 4 }
 *   Exemplar     { repeated Label labels = 1; double value = 2; int64 timestamp = 3 }
 *   Sample       { double value = 1; int64 timestamp = 2 }
 *   Histogram    { count_int = 1 | count_float = 2; sum = 3; sint32 schema = 4; zero_threshold = 5;
 *                  zero_count_int = 6 | zero_count_float = 7; negative_spans = 8; sint64 negative_deltas = 9;
 *                  double negative_counts = 10; positive_spans = 11; positive_deltas = 12; positive_counts = 13;
 *                  reset_hint = 14; int64 timestamp = 15 }
 */
import type { FloatHistogram, Histogram, Span } from '@strata/tsdb';

export interface WrittenSeries {
  readonly labels: Readonly<Record<string, string>>;
  readonly samples?: readonly { t: number; v: number }[];
  /** Integer histograms (delta-encoded buckets) or float histograms (absolute counts), by `float`. */
  readonly histograms?: readonly { t: number; h: Histogram | FloatHistogram }[];
  readonly float?: boolean;
  readonly exemplars?: readonly { t: number; v: number; labels: Readonly<Record<string, string>> }[];
}

type Bytes = number[];

const uvarint = (x: bigint): Bytes => {
  const out: Bytes = [];
  let v = BigInt.asUintN(64, x);
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
};
const zigzag = (x: number): bigint => BigInt.asUintN(64, (BigInt(x) << 1n) ^ (BigInt(x) >> 63n));
const tag = (field: number, wire: number): Bytes => uvarint(BigInt((field << 3) | wire));
const varintField = (field: number, x: bigint): Bytes => [...tag(field, 0), ...uvarint(x)];
const lenField = (field: number, b: Bytes): Bytes => [...tag(field, 2), ...uvarint(BigInt(b.length)), ...b];
const double = (v: number): Bytes => {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(v);
  return [...b];
};
const doubleField = (field: number, v: number): Bytes => [...tag(field, 1), ...double(v)];
const spanField = (field: number, s: Span): Bytes => lenField(field, [...varintField(1, zigzag(s.offset)), ...varintField(2, BigInt(s.length))]);
const utf8 = (s: string): Bytes => [...Buffer.from(s)];
const labelField = (field: number, name: string, value: string): Bytes => lenField(field, [...lenField(1, utf8(name)), ...lenField(2, utf8(value))]);

function histogramMessage(t: number, h: Histogram | FloatHistogram, float: boolean): Bytes {
  const out: Bytes = [];
  out.push(...(float ? doubleField(2, h.count) : varintField(1, BigInt(h.count))));
  out.push(...doubleField(3, h.sum), ...varintField(4, zigzag(h.schema)), ...doubleField(5, h.zeroThreshold));
  out.push(...(float ? doubleField(7, h.zeroCount) : varintField(6, BigInt(h.zeroCount))));
  const buckets = (v: number): Bytes => (float ? double(v) : uvarint(zigzag(v)));
  for (const s of h.negativeSpans) out.push(...spanField(8, s));
  if (h.negativeBuckets.length > 0) out.push(...lenField(float ? 10 : 9, h.negativeBuckets.flatMap(buckets)));
  for (const s of h.positiveSpans) out.push(...spanField(11, s));
  if (h.positiveBuckets.length > 0) out.push(...lenField(float ? 13 : 12, h.positiveBuckets.flatMap(buckets)));
  out.push(...varintField(14, BigInt(h.counterResetHint)), ...varintField(15, BigInt(t)));
  return out;
}

/** The WriteRequest for `series`, unframed. */
export function writeRequest(series: readonly WrittenSeries[]): Uint8Array {
  const body: Bytes = [];
  for (const s of series) body.push(...lenField(1, timeSeries(s)));
  return Uint8Array.from(body);
}

/** Each series' TimeSeries message, as a WriteRequest holds it (without its field tag and length). */
export function timeSeriesMessages(series: readonly WrittenSeries[]): Uint8Array[] {
  return series.map((s) => Uint8Array.from(timeSeries(s)));
}

function timeSeries(s: WrittenSeries): Bytes {
  const ts: Bytes = [];
  for (const name of Object.keys(s.labels).sort()) ts.push(...labelField(1, name, s.labels[name] as string));
  for (const p of s.samples ?? []) ts.push(...lenField(2, [...doubleField(1, p.v), ...varintField(2, BigInt(p.t))]));
  for (const e of s.exemplars ?? []) {
    const labels = Object.keys(e.labels).sort().flatMap((name) => labelField(1, name, e.labels[name] as string));
    ts.push(...lenField(3, [...labels, ...doubleField(2, e.v), ...varintField(3, BigInt(e.t))]));
  }
  for (const p of s.histograms ?? []) ts.push(...lenField(4, histogramMessage(p.t, p.h, s.float === true)));
  return ts;
}

/** Snappy's block format with literals only: valid for any reader, no compression needed in tests. */
export function snappyLiterals(data: Uint8Array): Buffer {
  const out: Bytes = [...uvarint(BigInt(data.length))];
  for (let i = 0; i < data.length; i += 65536) {
    const n = Math.min(65536, data.length - i) - 1;
    if (n < 60) out.push(n << 2);
    else if (n < 256) out.push(60 << 2, n);
    else out.push(61 << 2, n & 0xff, n >> 8);
    for (let k = 0; k <= n; k++) out.push(data[i + k] as number);
  }
  return Buffer.from(out);
}

/** A Prometheus remote_write entry for a receiver (`strata receive`) at `address`, sending within a fraction of a second and resending quickly: a test's pace. */
export function remoteWriteTo(address: string): { url: string; queue_config: Record<string, string> } {
  return { url: `http://${address}/api/v1/receive`, queue_config: { batch_send_deadline: '200ms', min_backoff: '100ms', max_backoff: '500ms' } };
}

/** POSTs the series to Prometheus' remote-write receiver at `url`; throws unless it answers 204. */
export async function remoteWrite(url: string, series: readonly WrittenSeries[]): Promise<void> {
  const res = await fetch(`${url}/api/v1/write`, {
    method: 'POST',
    headers: { 'Content-Encoding': 'snappy', 'Content-Type': 'application/x-protobuf', 'X-Prometheus-Remote-Write-Version': '0.1.0' },
    body: snappyLiterals(writeRequest(series)),
  });
  if (res.status !== 204) throw new Error(`remote write: ${res.status} ${await res.text()}`);
}

/** A float or histogram sample of a series written by `remoteWriteInOrder`. */
export type WrittenPoint = { readonly t: number; readonly v: number } | { readonly t: number; readonly h: Histogram | FloatHistogram };

/**
 * Writes series whose samples switch between floats and histograms, all in time order across series (so
 * a head compaction Prometheus starts meanwhile never leaves a later request out of bounds). A request
 * ends where a series switches kind: Prometheus' head commits a request's floats before its histograms.
 */
export async function remoteWriteInOrder(url: string, series: readonly { labels: Readonly<Record<string, string>>; points: readonly WrittenPoint[]; float?: boolean }[]): Promise<void> {
  const all = series.flatMap((s, i) => s.points.map((p) => ({ i, p }))).sort((a, b) => a.p.t - b.p.t);
  let batch = new Map<number, WrittenPoint[]>();
  const flush = async () => {
    if (batch.size === 0) return;
    const out: WrittenSeries[] = [];
    for (const [i, ps] of batch) {
      const s = series[i]!;
      out.push({ labels: s.labels, float: s.float, samples: ps.flatMap((p) => ('v' in p ? [p] : [])), histograms: ps.flatMap((p) => ('h' in p ? [p] : [])) });
    }
    batch = new Map();
    await remoteWrite(url, out);
  };
  for (const { i, p } of all) {
    const pending = batch.get(i);
    if (pending !== undefined && 'v' in pending[0]! !== 'v' in p) await flush();
    const ps = batch.get(i);
    if (ps === undefined) batch.set(i, [p]);
    else ps.push(p);
  }
  await flush();
}
