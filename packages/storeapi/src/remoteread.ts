/**
 * Prometheus' remote read protocol (POST /api/v1/read), prompb messages written from their field numbers:
 * the sidecar reads Prometheus with it, and the querier serves it.
 *
 * Request: snappy block of ReadRequest { queries = 1; accepted_response_types = 2 }, each Query
 * { start_timestamp_ms = 1; end_timestamp_ms = 2; matchers = 3; hints = 4 }. Response by Content-Type:
 * STREAMED_XOR_CHUNKS frames (uvarint length | BE32 CRC32C of the payload | payload =
 * ChunkedReadResponse { chunked_series = 1; query_index = 2 }, a frame holding one series or part of
 * one), or SAMPLES (snappy block of ReadResponse { results = 1 }, a QueryResult { timeseries = 1 } per
 * query), which Prometheus before 2.13 and current Prometheus' own remote read client ask for.
 */
import { crc32c, type FloatHistogram, type Label } from '@strata/tsdb';
import snappy from 'snappy';
import { readLabel, readMatcher, writeLabels, writeMatchers } from './codec.js';
import type { LabelMatcher } from './messages.js';
import { writeHistogram } from './prompb.js';
import { ProtoReader } from './wire/reader.js';
import { int64FieldSize, ProtoWriter, putVarint32 } from './wire/writer.js';

export const ResponseType = { SAMPLES: 0, STREAMED_XOR_CHUNKS: 1 } as const;
export type ResponseType = (typeof ResponseType)[keyof typeof ResponseType];

export const STREAMED_CONTENT_TYPE = 'application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse';

/** Clients' default limit on one frame (Prometheus' DefaultChunkedReadLimit). */
export const MAX_FRAME_BYTES = 50_000_000;

export interface ReadQuery {
  startMs: number;
  endMs: number;
  /** prompb matcher types use the same numbers as the StoreAPI (EQ 0, NEQ 1, RE 2, NRE 3). */
  matchers: readonly LabelMatcher[];
  /** What the reader will do with the data (Prometheus' select hints), when it says. */
  hints?: ReadHints;
}

/** prompb.ReadHints. */
export interface ReadHints {
  stepMs: number;
  func: string;
  startMs: number;
  endMs: number;
  grouping: string[];
  by: boolean;
  rangeMs: number;
}

export interface ReadRequest {
  queries: ReadQuery[];
  /** ResponseType values, in the client's order of preference. */
  acceptedResponseTypes: number[];
}

/** A prompb chunk; `type` is the remote-read (= TSDB) encoding, XOR = 1. */
export interface PromChunk {
  minTime: number;
  maxTime: number;
  type: number;
  data: Uint8Array;
}

export interface ChunkedSeries {
  labels: Label[];
  chunks: PromChunk[];
}

export interface SampleSeries {
  labels: Label[];
  timestamps: number[];
  values: number[];
}

export function encodeReadRequest(q: ReadQuery, accepted: readonly ResponseType[]): Buffer {
  const w = new ProtoWriter();
  w.fork(1).int64(1, q.startMs).int64(2, q.endMs);
  writeMatchers(w, 3, q.matchers);
  const h = q.hints;
  if (h !== undefined) {
    w.fork(4).int64(1, h.stepMs).string(2, h.func).int64(3, h.startMs).int64(4, h.endMs);
    for (const g of h.grouping) w.string(5, g, true);
    w.bool(6, h.by).int64(7, h.rangeMs).ldelim();
  }
  w.ldelim();
  w.packedUint32(2, accepted);
  return snappy.compressSync(w.finish());
}

/** Reads the prompb.Chunk at `r.pos`, ending at `end`. */
function readPromChunk(r: ProtoReader, end: number): PromChunk {
  const c: PromChunk = { minTime: 0, maxTime: 0, type: 0, data: new Uint8Array(0) };
  while (r.pos < end) {
    const t = r.tag();
    if (t === 8) c.minTime = r.int64();
    else if (t === 16) c.maxTime = r.int64();
    else if (t === 24) c.type = r.uint32();
    else if (t === 34) c.data = r.bytes();
    else r.skip(t & 7);
  }
  return c;
}

/** Decodes one ChunkedReadResponse payload (chunked_series 1: ChunkedSeries { labels 1, chunks 2 }); chunk data are views into `payload`. */
export function decodeChunkedReadResponse(payload: Uint8Array): ChunkedSeries[] {
  const r = new ProtoReader(payload);
  const out: ChunkedSeries[] = [];
  while (!r.done) {
    const t = r.tag();
    if (t !== 10) {
      r.skip(t & 7);
      continue;
    }
    const s = r.sub();
    const series: ChunkedSeries = { labels: [], chunks: [] };
    while (!s.done) {
      const u = s.tag();
      if (u === 10) series.labels.push(readLabel(s.sub()));
      else if (u === 18) {
        const end = s.enter();
        series.chunks.push(readPromChunk(s, end));
        s.leave(end);
      } else s.skip(u & 7);
    }
    out.push(series);
  }
  return out;
}


/** Decodes a SAMPLES response body (snappy block of ReadResponse) for the single query we send. */
export function decodeReadResponse(body: Uint8Array): SampleSeries[] {
  const r = new ProtoReader(snappy.uncompressSync(body) as Buffer);
  const out: SampleSeries[] = [];
  while (!r.done) {
    const t = r.tag();
    if (t !== 10) {
      r.skip(t & 7);
      continue;
    }
    const result = r.sub();
    while (!result.done) {
      const u = result.tag();
      if (u !== 10) {
        result.skip(u & 7);
        continue;
      }
      const ts = result.sub();
      const s: SampleSeries = { labels: [], timestamps: [], values: [] };
      while (!ts.done) {
        const v = ts.tag();
        if (v === 10) s.labels.push(readLabel(ts.sub()));
        else if (v === 18) {
          const sample = ts.sub();
          let value = 0;
          let t = 0;
          while (!sample.done) {
            const x = sample.tag();
            if (x === 9) value = sample.double();
            else if (x === 16) t = sample.int64();
            else sample.skip(x & 7);
          }
          s.timestamps.push(t);
          s.values.push(value);
        } else ts.skip(v & 7);
      }
      out.push(s);
    }
  }
  return out;
}

export const SAMPLES_CONTENT_TYPE = 'application/x-protobuf';

/** A ReadRequest from a request body (a snappy block). */
export function decodeReadRequest(body: Uint8Array): ReadRequest {
  const r = new ProtoReader(snappy.uncompressSync(body) as Buffer);
  const req: ReadRequest = { queries: [], acceptedResponseTypes: [] };
  while (!r.done) {
    const t = r.tag();
    if (t === 10) req.queries.push(readQuery(r.sub()));
    else if (t === 16) req.acceptedResponseTypes.push(r.uint32());
    else if (t === 18) {
      const packed = r.sub();
      while (!packed.done) req.acceptedResponseTypes.push(packed.uint32());
    } else r.skip(t & 7);
  }
  return req;
}

function readQuery(r: ProtoReader): ReadQuery {
  const q: ReadQuery = { startMs: 0, endMs: 0, matchers: [] };
  const matchers: LabelMatcher[] = [];
  while (!r.done) {
    const t = r.tag();
    if (t === 8) q.startMs = r.int64();
    else if (t === 16) q.endMs = r.int64();
    else if (t === 26) matchers.push(readMatcher(r.sub()));
    else if (t === 34) q.hints = readHints(r.sub());
    else r.skip(t & 7);
  }
  q.matchers = matchers;
  return q;
}

function readHints(r: ProtoReader): ReadHints {
  const h: ReadHints = { stepMs: 0, func: '', startMs: 0, endMs: 0, grouping: [], by: false, rangeMs: 0 };
  while (!r.done) {
    const t = r.tag();
    if (t === 8) h.stepMs = r.int64();
    else if (t === 18) h.func = r.string();
    else if (t === 24) h.startMs = r.int64();
    else if (t === 32) h.endMs = r.int64();
    else if (t === 42) h.grouping.push(r.string());
    else if (t === 48) h.by = r.bool();
    else if (t === 56) h.rangeMs = r.int64();
    else r.skip(t & 7);
  }
  return h;
}

/**
 * The response type a server answers with (Prometheus' NegotiateResponseType): the first of the
 * client's it supports, SAMPLES when the client names none; an Error with Prometheus' wording otherwise.
 */
export function negotiateResponseType(accepted: readonly number[]): ResponseType {
  if (accepted.length === 0) return ResponseType.SAMPLES;
  for (const t of accepted) if (t === ResponseType.SAMPLES || t === ResponseType.STREAMED_XOR_CHUNKS) return t;
  const names = accepted.map((t) => String(t));
  throw new Error(`server does not support any of the requested response types: [${names.join(' ')}]; supported: map[SAMPLES:{} STREAMED_XOR_CHUNKS:{}]`);
}

/**
 * A SAMPLES response body, written as the series come (no object per sample): a ReadResponse of a
 * QueryResult per query, each a TimeSeries (labels 1, samples 2: value 1, timestamp 2; histograms 4) per
 * series; `finish` gives it as a snappy block. Float samples, most of a body, are written straight into
 * a buffer of their own, then into the message 64 KiB at a time.
 */
export class SamplesResponseWriter {
  readonly #w = new ProtoWriter(1 << 16);
  readonly #samples = Buffer.allocUnsafe(1 << 16);
  readonly #view = new DataView(this.#samples.buffer, this.#samples.byteOffset, this.#samples.length);
  #pos = 0;

  beginQuery(): void {
    this.#w.fork(1);
  }

  endQuery(): void {
    this.#w.ldelim();
  }

  beginSeries(labels: Iterable<Label>): void {
    writeLabels(this.#w.fork(1), 1, labels);
  }

  /** A Sample: 0x12, its length, the value (0x09, 8 bytes; left out when +0), the timestamp (0x10, varint; left out when 0). */
  float(t: number, v: number): void {
    if (t < 0 || !Number.isSafeInteger(t)) {
      // Before 1970 (a 10-byte varint) or past 2^53: through the general writer.
      this.#flush();
      this.#w.header(2, (v === 0 && !Object.is(v, -0) ? 0 : 9) + int64FieldSize(t)).double(1, v).int64(2, t);
      return;
    }
    if (this.#pos + 21 > this.#samples.length) this.#flush();
    const b = this.#samples;
    let p = this.#pos;
    const withValue = v !== 0 || Object.is(v, -0);
    b[p++] = 0x12;
    const sizeAt = p++;
    if (withValue) {
      b[p++] = 0x09;
      this.#view.setFloat64(p, v, true);
      p += 8;
    }
    if (t !== 0) {
      b[p++] = 0x10;
      // The varint from 32-bit halves: division and remainder of doubles past 2^31 are slow in V8.
      let hi = Math.floor(t / 0x100000000);
      let lo = (t - hi * 0x100000000) >>> 0;
      while (hi > 0 || lo > 0x7f) {
        b[p++] = (lo & 0x7f) | 0x80;
        lo = ((lo >>> 7) | (hi << 25)) >>> 0;
        hi >>>= 7;
      }
      b[p++] = lo;
    }
    b[sizeAt] = p - sizeAt - 1;
    this.#pos = p;
  }

  histogram(t: number, h: FloatHistogram): void {
    this.#flush();
    writeHistogram(this.#w, 4, { timestamp: t, h });
  }

  endSeries(): void {
    this.#flush();
    this.#w.ldelim();
  }

  finish(): Buffer {
    return snappy.compressSync(this.#w.finish());
  }

  #flush(): void {
    if (this.#pos === 0) return;
    this.#w.raw(this.#samples, 0, this.#pos);
    this.#pos = 0;
  }
}

/** One STREAMED_XOR_CHUNKS frame: a ChunkedReadResponse of one series (or part of one) of query `queryIndex`. */
export function chunkedReadFrame(labels: readonly Label[], chunks: readonly PromChunk[], queryIndex: number): Buffer {
  const w = new ProtoWriter();
  w.fork(1);
  writeLabels(w, 1, labels);
  for (const c of chunks) w.fork(2).int64(1, c.minTime).int64(2, c.maxTime).uint32(3, c.type).bytes(4, c.data).ldelim();
  w.ldelim();
  w.int64(2, queryIndex);
  const payload = w.finish();
  const head = Buffer.allocUnsafe(9);
  const at = putVarint32(head, 0, payload.length);
  head.writeUInt32BE(crc32c(payload), at);
  return Buffer.concat([head.subarray(0, at + 4), payload]);
}
