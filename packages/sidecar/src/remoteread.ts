/**
 * Prometheus remote read (POST /api/v1/read), prompb messages written from their field numbers.
 *
 * Request: snappy block of ReadRequest { queries = 1; accepted_response_types = 2 }. Response by
 * Content-Type: STREAMED_XOR_CHUNKS frames (uvarint length | BE32 CRC32C of the payload | payload =
 * ChunkedReadResponse), or SAMPLES (snappy block of ReadResponse) from Prometheus older than 2.13.
 */
import { crc32c } from '@node-rs/crc32';
import { delimitedFieldSize, type EncodedChunks, int64FieldSize, ProtoReader, ProtoWriter, readLabel, type LabelMatcher } from '@strata/storeapi';
import { Encoding, type Label } from '@strata/tsdb';
import snappy from 'snappy';

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
  for (const m of q.matchers) w.fork(3).uint32(1, m.type).string(2, m.name).string(3, m.value).ldelim();
  w.ldelim();
  w.packedUint32(2, accepted);
  return snappy.compressSync(w.finish());
}


function readPromChunk(r: ProtoReader): PromChunk {
  const c: PromChunk = { minTime: 0, maxTime: 0, type: 0, data: new Uint8Array(0) };
  while (!r.done) {
    const t = r.tag();
    if (t === 8) c.minTime = r.int64();
    else if (t === 16) c.maxTime = r.int64();
    else if (t === 24) c.type = r.uint32();
    else if (t === 34) c.data = r.bytes();
    else r.skip(t & 7);
  }
  return c;
}

/**
 * Walks one ChunkedReadResponse payload (chunked_series 1: ChunkedSeries { labels 1, chunks 2 }):
 * each series' labels, and its chunks as `addChunk` gathers them from a reader over each prompb.Chunk.
 */
function readChunkedSeries<C>(payload: Uint8Array, newChunks: () => C, addChunk: (chunks: C, r: ProtoReader) => void): { labels: Label[]; chunks: C }[] {
  const r = new ProtoReader(payload);
  const out: { labels: Label[]; chunks: C }[] = [];
  while (!r.done) {
    const t = r.tag();
    if (t !== 10) {
      r.skip(t & 7);
      continue;
    }
    const s = r.sub();
    const series = { labels: [] as Label[], chunks: newChunks() };
    while (!s.done) {
      const u = s.tag();
      if (u === 10) series.labels.push(readLabel(s.sub()));
      else if (u === 18) addChunk(series.chunks, s.sub());
      else s.skip(u & 7);
    }
    out.push(series);
  }
  return out;
}

/** Decodes one ChunkedReadResponse payload; chunk data are views into `payload`. */
export function decodeChunkedReadResponse(payload: Uint8Array): ChunkedSeries[] {
  return readChunkedSeries(payload, (): PromChunk[] => [], (chunks, r) => chunks.push(readPromChunk(r)));
}

/** A series of a ChunkedReadResponse, its chunks to be written as StoreAPI raw chunks. */
export interface TranscodedSeries {
  labels: Label[];
  chunks: TranscodedChunks;
}

/** Numbers kept per chunk: min time, max time, StoreAPI encoding, data start, data end, raw size, AggrChunk size. */
const STRIDE = 7;

/**
 * Remote-read chunks of one series (from one or more payloads) that write themselves as StoreAPI raw
 * chunks (unhashed) straight from the payload into the gRPC frame: no object per chunk, no
 * intermediate buffer, one copy of the chunk bytes.
 */
export class TranscodedChunks implements EncodedChunks {
  size = 0;
  readonly #sources: Buffer[] = [];
  readonly #nums: number[] = [];

  /** Adds one prompb.Chunk (min_time 1, max_time 2, type 3, data 4) read from `r`. */
  add(r: ProtoReader): void {
    let minTime = 0;
    let maxTime = 0;
    let type = 0;
    let start = 0;
    let end = 0;
    while (!r.done) {
      const t = r.tag();
      if (t === 8) minTime = r.int64();
      else if (t === 16) maxTime = r.int64();
      else if (t === 24) type = r.uint32();
      else if (t === 34) [start, end] = r.delimited();
      else r.skip(t & 7);
    }
    if (type < Encoding.XOR || type > Encoding.FloatHistogram) throw new Error(`remote read: unknown chunk encoding ${type}`);
    const storeType = type - 1; // the StoreAPI numbers encodings from XOR = 0
    const raw = (storeType === 0 ? 0 : 2) + (end === start ? 0 : delimitedFieldSize(end - start));
    const aggr = int64FieldSize(minTime) + int64FieldSize(maxTime) + delimitedFieldSize(raw);
    this.#sources.push(r.source);
    this.#nums.push(minTime, maxTime, storeType, start, end, raw, aggr);
    this.size += delimitedFieldSize(aggr);
  }

  /** Appends the chunks of the same series from a later payload. */
  append(other: TranscodedChunks): void {
    for (const s of other.#sources) this.#sources.push(s);
    for (const n of other.#nums) this.#nums.push(n);
    this.size += other.size;
  }

  /** Writes AggrChunk { min_time 1, max_time 2, raw 3: Chunk { type 1, data 2 } } per chunk. */
  write(w: ProtoWriter): void {
    const n = this.#nums;
    for (let i = 0, k = 0; k < n.length; i++, k += STRIDE) {
      w.header(2, n[k + 6]!).int64(1, n[k]!).int64(2, n[k + 1]!).header(3, n[k + 5]!).uint32(1, n[k + 2]!);
      w.bytesRange(2, this.#sources[i]!, n[k + 3]!, n[k + 4]!);
    }
  }
}

/** Reads one ChunkedReadResponse payload for transcoding; the chunks keep referring to `payload`. */
export function transcodeChunkedReadResponse(payload: Uint8Array): TranscodedSeries[] {
  return readChunkedSeries(payload, () => new TranscodedChunks(), (chunks, r) => chunks.add(r));
}

/**
 * Splits a streamed remote-read body into frame payloads, checking each frame's CRC32C. A frame may
 * arrive split across many network chunks: they are collected and joined once the frame is complete
 * (joining on every chunk would copy a large frame over and over). Payload views stay valid.
 */
export async function* readFrames(body: AsyncIterable<Uint8Array>, maxFrameBytes = MAX_FRAME_BYTES): AsyncGenerator<Uint8Array> {
  let pieces: Buffer[] = [];
  let total = 0;
  /** Bytes needed before the next frame can be parsed (0: try with what there is). */
  let need = 0;
  let offset = 0;
  for await (const piece of body) {
    pieces.push(Buffer.isBuffer(piece) ? piece : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength));
    total += piece.byteLength;
    if (total < need) continue;
    const buf = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, total);
    let pos = 0;
    need = 0;
    for (;;) {
      let len = 0;
      let shift = 0;
      let p = pos;
      let complete = false;
      while (p < buf.length) {
        const b = buf[p++]!;
        len += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if (b < 0x80) {
          complete = true;
          break;
        }
        if (shift > 35) throw new Error(`remote read: bad frame length varint at byte ${offset}`);
      }
      if (!complete) break;
      if (len > maxFrameBytes) throw new Error(`remote read: frame of ${len} bytes at byte ${offset} exceeds the ${maxFrameBytes}-byte limit`);
      if (buf.length - p < 4 + len) {
        need = p + 4 + len - pos;
        break;
      }
      const want = buf.readUInt32BE(p);
      const payload = buf.subarray(p + 4, p + 4 + len);
      // Native (SSE4.2) CRC32C: every byte of every response is checked, ~8× faster than a JS table.
      const got = crc32c(payload) >>> 0;
      if (got !== want) {
        throw new Error(`remote read: CRC32C mismatch in frame at byte ${offset}: header ${want.toString(16)}, payload ${got.toString(16)}`);
      }
      yield payload;
      offset += p + 4 + len - pos;
      pos = p + 4 + len;
    }
    const rest = buf.subarray(pos);
    pieces = rest.length > 0 ? [rest] : [];
    total = rest.length;
  }
  if (total > 0) throw new Error(`remote read: stream ended inside a frame at byte ${offset} (${total} bytes left over)`);
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
