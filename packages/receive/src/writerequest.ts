/**
 * Remote write 1.0's request body, as Prometheus sends it: a prompb.WriteRequest, snappy-compressed in
 * the block format (not framed).
 *
 *   WriteRequest { repeated TimeSeries timeseries = 1; repeated MetricMetadata metadata = 3 }
 *   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; repeated Exemplar exemplars = 3;
 *                  repeated Histogram histograms = 4 }
 *
 * Native histograms are kept as they were sent, with integer or float counts; exemplars too
 * (Exemplar { repeated Label labels = 1; double value = 2; int64 timestamp = 3 }). Metadata is skipped.
 * A series' labels must be sorted by name, each name once, no name or value empty, as Thanos'
 * labelpb.ValidateLabels wants them; a series that breaks this is left out and counted (Thanos answers
 * it as a conflict).
 */
import type { Exemplar, SeriesSamples } from '@strata/localtsdb';
import { ProtoReader, type PromSample, readLabel, readSample, readTimedHistogram, readTimeSeries, withLabels } from '@strata/storeapi';
import { compareStrings, type Label, Labels, type TimedHistogram } from '@strata/tsdb';
import snappy from 'snappy';

/** A valid series of a write, with the bytes of its TimeSeries message as sent: forwarded as they are to the receivers of a hashring that own it. */
export interface ReceivedSeries extends SeriesSamples {
  readonly raw: Uint8Array;
}

export interface WriteRequest {
  /** The valid series with samples (floats or native histograms). */
  readonly series: ReceivedSeries[];
  /** Every series and sample (float or native histogram) the request held, valid or not (what request limits count). */
  readonly timeseries: number;
  readonly samples: number;
  /** Series left out for their labels, by Thanos' errors: out of order, a name twice, an empty name or value. */
  readonly labelsOutOfOrder: number;
  readonly labelsDuplicate: number;
  readonly labelsEmpty: number;
}

/** `s` under other labels (relabelled, or its tenant label taken off): encoded again with them, so that the receivers it is forwarded to store it so. */
export function withOtherLabels(s: ReceivedSeries, labels: Labels): ReceivedSeries {
  return { ...s, labels, raw: withLabels(s.raw, labels.toArray()) };
}

/** The body is not a snappy-compressed WriteRequest: the client's error (400). */
export class MalformedRequestError extends Error {}

/** A remote write's body uncompressed: the WriteRequest message. */
export function uncompressWriteRequest(body: Uint8Array): Buffer {
  try {
    return snappy.uncompressSync(Buffer.from(body.buffer, body.byteOffset, body.byteLength)) as Buffer;
  } catch (e) {
    throw new MalformedRequestError(`snappy decode error: ${(e as Error).message}`);
  }
}

export function decodeWriteRequest(raw: Buffer, cache?: SeriesLabelsCache): WriteRequest {
  const timeseries: Uint8Array[] = [];
  try {
    const r = new ProtoReader(raw);
    while (!r.done) {
      const tag = r.tag();
      if (tag === 10) timeseries.push(r.bytes());
      else r.skip(tag & 7);
    }
  } catch (e) {
    throw new MalformedRequestError(`unmarshal WriteRequest: ${(e as Error).message}`);
  }
  return decodeTimeSeries(timeseries, cache);
}

type LabelsProblem = 'labelsOutOfOrder' | 'labelsDuplicate' | 'labelsEmpty';

/**
 * The labels of the series a receiver has been sent, by the bytes of their label fields: a client sends
 * a series' labels as the same bytes in each write (Prometheus encodes them alike), so that a write of
 * known series decodes only its samples, and the series share one Labels object (and its key) with
 * the head that holds them. Emptied when it reaches `maxEntries`, to be filled again from the writes.
 */
export class SeriesLabelsCache {
  readonly #byBytes = new Map<string, Labels | LabelsProblem>();
  readonly #maxEntries: number;

  constructor(maxEntries = 1 << 20) {
    this.#maxEntries = maxEntries;
  }

  get(key: string): Labels | LabelsProblem | undefined {
    return this.#byBytes.get(key);
  }

  set(key: string, labels: Labels | LabelsProblem): void {
    if (this.#byBytes.size >= this.#maxEntries) this.#byBytes.clear();
    this.#byBytes.set(key, labels);
  }
}

/** Each TimeSeries message of a write (a remote write's, or a WriteRequest another receiver forwarded), checked and decoded. */
export function decodeTimeSeries(timeseries: readonly Uint8Array[], cache?: SeriesLabelsCache): WriteRequest {
  const out = { series: [] as ReceivedSeries[], timeseries: timeseries.length, samples: 0, labelsOutOfOrder: 0, labelsDuplicate: 0, labelsEmpty: 0 };
  try {
    for (const raw of timeseries) {
      const buf = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
      const r = new ProtoReader(buf);
      // The leading label fields, as one key.
      while (!r.done) {
        const at = r.pos;
        if (r.tag() !== 10) {
          r.pos = at;
          break;
        }
        r.skipBytes();
      }
      const labelsEnd = r.pos;
      const key = cache !== undefined ? buf.toString('latin1', 0, labelsEnd) : undefined;
      let labels = key !== undefined ? cache?.get(key) : undefined;
      const samples: PromSample[] = [];
      let histograms: TimedHistogram[] | undefined;
      let exemplars: Exemplar[] | undefined;
      let labelsLater = false;
      while (!r.done) {
        const tag = r.tag();
        if (tag === 18) samples.push(readSample(r.sub()));
        else if (tag === 34) (histograms ??= []).push(readTimedHistogram(r.sub()));
        else if (tag === 26) (exemplars ??= []).push(readExemplar(r.sub()));
        else {
          // A label after the samples (no client writes one so): the series is decoded whole.
          if (tag === 10) labelsLater = true;
          r.skip(tag & 7);
        }
      }
      if (labels === undefined || labelsLater) {
        labels = seriesLabels(labelsLater ? readTimeSeries(new ProtoReader(buf)).labels : leadingLabels(buf, labelsEnd));
        if (key !== undefined && !labelsLater) cache?.set(key, labels);
      }
      out.samples += samples.length + (histograms?.length ?? 0);
      // Prometheus' queue sends a series' exemplars in TimeSeries of their own, without samples.
      if (samples.length === 0 && histograms === undefined && exemplars === undefined) continue;
      if (typeof labels === 'string') out[labels]++;
      // Floats alone, as nearly every series comes, in one shape (no spread: V8's generic clone).
      else if (histograms === undefined && exemplars === undefined) out.series.push({ labels, samples, raw });
      else out.series.push({ labels, samples, raw, ...(histograms !== undefined ? { histograms } : {}), ...(exemplars !== undefined ? { exemplars } : {}) });
    }
  } catch (e) {
    throw new MalformedRequestError(`unmarshal WriteRequest: ${(e as Error).message}`);
  }
  return out;
}

/** An Exemplar message. */
function readExemplar(r: ProtoReader): Exemplar {
  const labels: Label[] = [];
  let value = 0;
  let ts = 0;
  while (!r.done) {
    const t = r.tag();
    if (t === 10) labels.push(readLabel(r.sub()));
    else if (t === 17) value = r.double();
    else if (t === 24) ts = r.int64();
    else r.skip(t & 7);
  }
  return { labels, value, ts };
}

/** The label fields in `buf[0, end)` (a series' leading ones): its samples, read already, are not read again. */
function leadingLabels(buf: Buffer, end: number): Label[] {
  const r = new ProtoReader(buf, 0, end);
  const labels: Label[] = [];
  while (!r.done) {
    r.tag();
    labels.push(readLabel(r.sub()));
  }
  return labels;
}

/** A series' labels as sent (sorted already: not sorted again), or what is wrong with them. */
function seriesLabels(labels: readonly Label[]): Labels | LabelsProblem {
  return labelsError(labels) ?? Labels.fromSorted(labels as Label[]);
}

/** What is wrong with a series' labels, if anything (Thanos' labelpb.ValidateLabels, checked in one pass). */
function labelsError(labels: readonly Label[]): LabelsProblem | undefined {
  if (labels.length === 0) return 'labelsEmpty';
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i] as Label;
    if (l.name === '' || l.value === '') return 'labelsEmpty';
    if (i === 0) continue;
    const prev = (labels[i - 1] as Label).name;
    if (l.name === prev) return 'labelsDuplicate';
    if (compareStrings(l.name, prev) < 0) return 'labelsOutOfOrder';
  }
  return undefined;
}
