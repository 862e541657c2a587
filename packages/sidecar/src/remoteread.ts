/**
 * Prometheus remote read (POST /api/v1/read), prompb messages written from their field numbers.
 *
 * Request: snappy block of ReadRequest { queries = 1; accepted_response_types = 2 }. Response by
 * Content-Type: STREAMED_XOR_CHUNKS frames (uvarint length | BE32 CRC32C of the payload | payload =
 * ChunkedReadResponse), or SAMPLES (snappy block of ReadResponse) from Prometheus older than 2.13.
 */
import { crc32c } from '@node-rs/crc32';
import { delimitedFieldSize, type EncodedChunks, ProtoReader, ProtoWriter, readLabel, type LabelMatcher, WireType } from '@strata/storeapi';
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

/**
 * Walks one ChunkedReadResponse payload (chunked_series 1: ChunkedSeries { labels 1, chunks 2 }):
 * each series' labels, and its chunks as `addChunk` gathers them, given the series' reader at the start
 * of each prompb.Chunk and the chunk's end (no reader per chunk).
 */
function readChunkedSeries<C>(payload: Uint8Array, newChunks: () => C, addChunk: (chunks: C, r: ProtoReader, end: number) => void): { labels: Label[]; chunks: C }[] {
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
      else if (u === 18) {
        const end = s.enter();
        addChunk(series.chunks, s, end);
        s.leave(end);
      } else s.skip(u & 7);
    }
    out.push(series);
  }
  return out;
}

/** Decodes one ChunkedReadResponse payload; chunk data are views into `payload`. */
export function decodeChunkedReadResponse(payload: Uint8Array): ChunkedSeries[] {
  return readChunkedSeries(payload, (): PromChunk[] => [], (chunks, r, end) => chunks.push(readPromChunk(r, end)));
}

/** A series of a ChunkedReadResponse, its chunks to be written as StoreAPI raw chunks. */
export interface TranscodedSeries {
  labels: Label[];
  chunks: TranscodedChunks;
}

/**
 * Numbers kept per chunk, all offsets into its payload: the min_time and max_time fields (tag and
 * varint, copied as they are: both protos carry them as int64 fields 1 and 2), the StoreAPI encoding,
 * the data range, and the sizes of the Chunk and AggrChunk messages.
 */
const MIN_START = 0;
const MIN_END = 1;
const MAX_START = 2;
const MAX_END = 3;
const STORE_TYPE = 4;
const DATA_START = 5;
const DATA_END = 6;
const RAW_SIZE = 7;
const AGGR_SIZE = 8;
const STRIDE = 9;

/**
 * Remote-read chunks of one series (from one or more payloads) that write themselves as StoreAPI raw
 * chunks (unhashed) straight from the payload into the gRPC frame: no object per chunk, no decoded
 * number, one copy of the chunk bytes. Offsets are kept in a small-integer array per series.
 */
export class TranscodedChunks implements EncodedChunks {
  size = 0;
  /** Payload of each chunk, and STRIDE numbers per chunk. */
  readonly #sources: Buffer[] = [];
  readonly #nums: number[] = [];

  /** Adds the prompb.Chunk (min_time 1, max_time 2, type 3, data 4) at `r.pos`, ending at `end`. */
  add(r: ProtoReader, end: number): void {
    const b = r.source;
    let minStart = 0;
    let minEnd = 0;
    let maxStart = 0;
    let maxEnd = 0;
    let type = 0;
    let dataStart = 0;
    let dataEnd = 0;
    while (r.pos < end) {
      const fieldStart = r.pos;
      const t = b[fieldStart]!; // fields 1-4 have one-byte tags; anything else is read generically below
      if (t === 8) {
        r.pos++;
        r.skip(WireType.Varint);
        minStart = fieldStart;
        minEnd = r.pos;
      } else if (t === 16) {
        r.pos++;
        r.skip(WireType.Varint);
        maxStart = fieldStart;
        maxEnd = r.pos;
      } else if (t === 24) {
        r.pos++;
        type = r.uint32();
      } else if (t === 34) {
        r.pos++;
        const n = r.uint32();
        dataStart = r.pos;
        dataEnd = dataStart + n;
        r.pos = dataEnd;
      } else r.skip(r.tag() & 7);
    }
    if (type < Encoding.XOR || type > Encoding.FloatHistogram) throw new Error(`remote read: unknown chunk encoding ${type}`);
    const storeType = type - 1; // the StoreAPI numbers encodings from XOR = 0
    const raw = (storeType === 0 ? 0 : 2) + (dataEnd === dataStart ? 0 : delimitedFieldSize(dataEnd - dataStart));
    const aggr = minEnd - minStart + (maxEnd - maxStart) + delimitedFieldSize(raw);
    this.#sources.push(b);
    this.#nums.push(minStart, minEnd, maxStart, maxEnd, storeType, dataStart, dataEnd, raw, aggr);
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
      const src = this.#sources[i]!;
      w.header(2, n[k + AGGR_SIZE]!);
      w.raw(src, n[k + MIN_START]!, n[k + MIN_END]!).raw(src, n[k + MAX_START]!, n[k + MAX_END]!);
      w.header(3, n[k + RAW_SIZE]!).uint32(1, n[k + STORE_TYPE]!);
      w.bytesRange(2, src, n[k + DATA_START]!, n[k + DATA_END]!);
    }
  }
}

/** Reads one ChunkedReadResponse payload for transcoding; the chunks keep referring to `payload`. */
export function transcodeChunkedReadResponse(payload: Uint8Array): TranscodedSeries[] {
  return readChunkedSeries(payload, () => new TranscodedChunks(), (chunks, r, end) => chunks.add(r, end));
}

/**
 * Splits a streamed remote-read body into frame payloads, checking each frame's CRC32C. Frames inside
 * one network chunk are yielded as views of it; a frame that spans network chunks is copied into a
 * buffer of its own size as its pieces arrive (joining whole network chunks would copy every byte, most
 * of them more than once). Payloads stay valid after the next one is read.
 */
export async function* readFrames(body: AsyncIterable<Uint8Array>, maxFrameBytes = MAX_FRAME_BYTES): AsyncGenerator<Uint8Array> {
  /** The start of a frame whose header was cut by the end of a network chunk. */
  let carry: Buffer | undefined;
  /** A frame being filled from several network chunks: its payload, CRC, header size and bytes filled. */
  let frame: Buffer | undefined;
  let frameCrc = 0;
  let frameHeader = 0;
  let filled = 0;
  /** Stream offset of the current frame's header. */
  let offset = 0;
  const checked = (payload: Buffer, want: number): Buffer => {
    // Native (SSE4.2) CRC32C: every byte of every response is checked, ~8× faster than a JS table.
    const got = crc32c(payload) >>> 0;
    if (got !== want) throw new Error(`remote read: CRC32C mismatch in frame at byte ${offset}: header ${want.toString(16)}, payload ${got.toString(16)}`);
    return payload;
  };
  for await (const piece of body) {
    let buf = Buffer.isBuffer(piece) ? piece : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    if (carry !== undefined) {
      buf = Buffer.concat([carry, buf]); // rare: a header cut in two
      carry = undefined;
    }
    let pos = 0;
    if (frame !== undefined) {
      const n = Math.min(frame.length - filled, buf.length);
      buf.copy(frame, filled, 0, n);
      filled += n;
      pos = n;
      if (filled < frame.length) continue;
      const payload = frame;
      frame = undefined;
      filled = 0;
      yield checked(payload, frameCrc);
      offset += frameHeader + payload.length;
    }
    while (pos < buf.length) {
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
      if (complete && len > maxFrameBytes) throw new Error(`remote read: frame of ${len} bytes at byte ${offset} exceeds the ${maxFrameBytes}-byte limit`);
      if (!complete || buf.length - p < 4) {
        carry = buf.subarray(pos);
        break;
      }
      const want = buf.readUInt32BE(p);
      p += 4;
      if (buf.length - p < len) {
        frame = Buffer.allocUnsafe(len);
        frameCrc = want;
        frameHeader = p - pos;
        filled = buf.copy(frame, 0, p);
        break;
      }
      yield checked(buf.subarray(p, p + len), want);
      offset += p + len - pos;
      pos = p + len;
    }
  }
  if (carry !== undefined || frame !== undefined) {
    const left = (carry?.length ?? 0) + filled;
    throw new Error(`remote read: stream ended inside a frame at byte ${offset} (${left} bytes left over)`);
  }
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
