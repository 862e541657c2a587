/**
 * Remote write 1.0's request body, as Prometheus sends it: a prompb.WriteRequest, snappy-compressed in
 * the block format (not framed).
 *
 *   WriteRequest { repeated TimeSeries timeseries = 1; repeated MetricMetadata metadata = 3 }
 *   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; repeated Exemplar exemplars = 3;
 *                  repeated Histogram histograms = 4 }
 *
 * Metadata and exemplars are skipped. A series' labels must be sorted by name, each name once, no name or
 * value empty, as Thanos' labelpb.ValidateLabels wants them; a series that breaks this is left out and
 * counted (Thanos answers it as a conflict).
 */
import type { SeriesSamples } from '@strata/localtsdb';
import { ProtoReader, readTimeSeries } from '@strata/storeapi';
import { compareStrings, type Label, Labels } from '@strata/tsdb';
import snappy from 'snappy';

/** A valid series of a write, with the bytes of its TimeSeries message as sent: forwarded as they are to the receivers of a hashring that own it. */
export interface ReceivedSeries extends SeriesSamples {
  readonly raw: Uint8Array;
}

export interface WriteRequest {
  /** The valid series with float samples. */
  readonly series: ReceivedSeries[];
  /** Every series and float sample the request held, valid or not (what request limits count). */
  readonly timeseries: number;
  readonly samples: number;
  /** Native histogram samples, which Strata's TSDB does not store. */
  readonly histograms: number;
  /** Series left out for their labels, by Thanos' errors: out of order, a name twice, an empty name or value. */
  readonly labelsOutOfOrder: number;
  readonly labelsDuplicate: number;
  readonly labelsEmpty: number;
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

export function decodeWriteRequest(raw: Buffer): WriteRequest {
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
  return decodeTimeSeries(timeseries);
}

/** Each TimeSeries message of a write (a remote write's, or a WriteRequest another receiver forwarded), checked and decoded. */
export function decodeTimeSeries(timeseries: readonly Uint8Array[]): WriteRequest {
  const out = { series: [] as ReceivedSeries[], timeseries: timeseries.length, samples: 0, histograms: 0, labelsOutOfOrder: 0, labelsDuplicate: 0, labelsEmpty: 0 };
  try {
    for (const raw of timeseries) {
      const ts = readTimeSeries(new ProtoReader(raw));
      out.samples += ts.samples.length;
      out.histograms += ts.histograms.length;
      if (ts.samples.length === 0) continue;
      const invalid = labelsError(ts.labels);
      if (invalid !== undefined) out[invalid]++;
      // Sorted already: taken as they are, not sorted again.
      else out.series.push({ labels: Labels.fromSorted(ts.labels as Label[]), samples: ts.samples, raw });
    }
  } catch (e) {
    throw new MalformedRequestError(`unmarshal WriteRequest: ${(e as Error).message}`);
  }
  return out;
}
/** What is wrong with a series' labels, if anything (Thanos' labelpb.ValidateLabels, checked in one pass). */
function labelsError(labels: readonly Label[]): 'labelsOutOfOrder' | 'labelsDuplicate' | 'labelsEmpty' | undefined {
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
