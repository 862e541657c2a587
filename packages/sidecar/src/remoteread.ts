/**
 * Prometheus remote read (POST /api/v1/read), prompb messages written from their field numbers.
 *
 * Request: snappy block of ReadRequest { queries = 1; accepted_response_types = 2 }. Response by
 * Content-Type: STREAMED_XOR_CHUNKS frames (uvarint length | BE32 CRC32C of the payload | payload =
 * ChunkedReadResponse), or SAMPLES (snappy block of ReadResponse) from Prometheus older than 2.13.
 */
import { crc32c } from '@node-rs/crc32';
import { delimitedFieldSize, type EncodedChunks, ProtoReader, ProtoWriter, putVarint32, readLabel, type LabelMatcher, WireType } from '@strata/storeapi';
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

  /** Adds the prompb.Chunk (min_time 1, max_time 2, type 3, data 4) at `b[start, end)`. */
  add(b: Buffer, start: number, end: number): void {
    let minStart = 0;
    let minEnd = 0;
    let maxStart = 0;
    let maxEnd = 0;
    let type = 0;
    let dataStart = 0;
    let dataEnd = 0;
    let p = start;
    // Fields 1-4 have one-byte tags and are read in place; anything else is skipped generically.
    while (p < end) {
      const t = b[p++]!;
      if (t === 8 || t === 16) {
        const fieldStart = p - 1;
        while (p < end && b[p++]! >= 0x80);
        if (t === 8) {
          minStart = fieldStart;
          minEnd = p;
        } else {
          maxStart = fieldStart;
          maxEnd = p;
        }
      } else if (t === 24) {
        type = b[p++]!; // an encoding is below 128: a one-byte varint
      } else if (t === 34) {
        let c = b[p++]!;
        let n = c & 0x7f;
        // Integer shifts: a chunk's length fits in 4 varint bytes (frames are at most 50 MB).
        for (let shift = 7; c >= 0x80; shift += 7) {
          if (shift > 21) throw new Error(`remote read: chunk length too large at offset ${p}`);
          c = b[p++]!;
          n |= (c & 0x7f) << shift;
        }
        dataStart = p;
        p += n;
        dataEnd = p;
      } else {
        const r = new ProtoReader(b, p - 1, end);
        r.skip(r.tag() & 7);
        p = r.pos;
      }
    }
    if (p !== end || minEnd - minStart > 11 || maxEnd - maxStart > 11) throw new Error(`remote read: malformed chunk at offset ${start}`);
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

  /**
   * Writes AggrChunk { min_time 1, max_time 2, raw 3: Chunk { type 1, data 2 } } per chunk, each straight
   * into the writer's buffer (no call per field: this runs for every chunk a query returns).
   */
  write(w: ProtoWriter): void {
    const n = this.#nums;
    for (let i = 0, k = 0; k < n.length; i++, k += STRIDE) {
      const src = this.#sources[i]!;
      const aggr = n[k + AGGR_SIZE]!;
      const b = w.room(aggr + 6); // tag, length varint (5 bytes at most) and content
      let p = putVarint32(b, w.pos, (2 << 3) | WireType.LengthDelimited);
      p = putVarint32(b, p, aggr);
      for (let j = n[k + MIN_START]!, e = n[k + MIN_END]!; j < e; j++) b[p++] = src[j]!;
      for (let j = n[k + MAX_START]!, e = n[k + MAX_END]!; j < e; j++) b[p++] = src[j]!;
      b[p++] = (3 << 3) | WireType.LengthDelimited;
      p = putVarint32(b, p, n[k + RAW_SIZE]!);
      const type = n[k + STORE_TYPE]!;
      if (type !== 0) {
        b[p++] = (1 << 3) | WireType.Varint;
        b[p++] = type;
      }
      const dataStart = n[k + DATA_START]!;
      const dataEnd = n[k + DATA_END]!;
      if (dataEnd > dataStart) {
        b[p++] = (2 << 3) | WireType.LengthDelimited;
        p = putVarint32(b, p, dataEnd - dataStart);
        p += src.copy(b, p, dataStart, dataEnd);
      }
      w.advance(p);
    }
  }
}

/**
 * A frame payload given as the pieces of the network chunks it spans, read without joining them: a
 * label or chunk message that straddles two pieces is copied out whole, everything else is read in place.
 */
class PieceCursor {
  readonly #pieces: readonly Buffer[];
  #i = 0;
  /** Payload offset of the current piece. */
  #base = 0;
  #buf: Buffer;
  #pos = 0;
  /** The buffer holding the bytes the last `take()` returned the start of. */
  held: Buffer = EMPTY;

  constructor(pieces: readonly Buffer[]) {
    this.#pieces = pieces;
    this.#buf = pieces[0] ?? EMPTY;
  }

  /** Payload offset of the next byte. */
  get offset(): number {
    return this.#base + this.#pos;
  }

  get done(): boolean {
    while (this.#pos >= this.#buf.length) {
      if (this.#i + 1 >= this.#pieces.length) return true;
      this.#next();
    }
    return false;
  }

  #next(): void {
    if (this.#i + 1 >= this.#pieces.length) throw new Error(`remote read: message truncated at payload offset ${this.offset}`);
    this.#base += this.#buf.length;
    this.#buf = this.#pieces[++this.#i]!;
    this.#pos = 0;
  }

  #byte(): number {
    while (this.#pos >= this.#buf.length) this.#next();
    return this.#buf[this.#pos++]!;
  }

  /** A varint of at most 32 bits (tags and lengths). */
  uint32(): number {
    // Fast path: a one- or two-byte varint (every tag, most lengths) inside the current piece.
    const b = this.#buf;
    const p = this.#pos;
    if (p + 1 < b.length) {
      const c0 = b[p]!;
      if (c0 < 0x80) {
        this.#pos = p + 1;
        return c0;
      }
      const c1 = b[p + 1]!;
      if (c1 < 0x80) {
        this.#pos = p + 2;
        return (c0 & 0x7f) | (c1 << 7);
      }
    }
    return this.#uint32Slow();
  }

  #uint32Slow(): number {
    let v = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.#byte();
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
    throw new Error(`remote read: bad varint at payload offset ${this.offset}`);
  }

  /** The next `n` bytes, in `held` from the returned offset on. */
  take(n: number): number {
    if (this.#buf.length - this.#pos >= n) {
      this.held = this.#buf;
      this.#pos += n;
      return this.#pos - n;
    }
    const out = Buffer.allocUnsafe(n);
    for (let filled = 0; filled < n; ) {
      if (this.#pos >= this.#buf.length) this.#next();
      const k = Math.min(n - filled, this.#buf.length - this.#pos);
      this.#buf.copy(out, filled, this.#pos, this.#pos + k);
      filled += k;
      this.#pos += k;
    }
    this.held = out;
    return 0;
  }

  skip(wireType: number): void {
    if (wireType === WireType.Varint) while (this.#byte() >= 0x80);
    else if (wireType === WireType.LengthDelimited) this.take(this.uint32());
    else if (wireType === WireType.Fixed64) this.take(8);
    else if (wireType === WireType.Fixed32) this.take(4);
    else throw new Error(`remote read: unsupported wire type ${wireType} at payload offset ${this.offset}`);
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * Reads one ChunkedReadResponse payload (chunked_series 1: ChunkedSeries { labels 1, chunks 2 }) for
 * transcoding, given whole or as the pieces `readFramePieces` yields; the chunks keep referring to them.
 */
export function transcodeChunkedReadResponse(payload: Uint8Array | readonly Buffer[]): TranscodedSeries[] {
  const cur = new PieceCursor(Array.isArray(payload) ? payload : [asBuffer(payload as Uint8Array)]);
  const out: TranscodedSeries[] = [];
  while (!cur.done) {
    const t = cur.uint32();
    if (t !== 10) {
      cur.skip(t & 7);
      continue;
    }
    const end = cur.uint32() + cur.offset;
    const series: TranscodedSeries = { labels: [], chunks: new TranscodedChunks() };
    while (cur.offset < end) {
      const u = cur.uint32();
      if (u === 10) {
        const n = cur.uint32();
        const start = cur.take(n);
        series.labels.push(readLabel(new ProtoReader(cur.held, start, start + n)));
      } else if (u === 18) {
        const n = cur.uint32();
        const start = cur.take(n);
        series.chunks.add(cur.held, start, start + n);
      } else cur.skip(u & 7);
    }
    if (cur.offset !== end) throw new Error(`remote read: field beyond the end of a series at payload offset ${cur.offset}`);
    out.push(series);
  }
  return out;
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * Splits a streamed remote-read body into frame payloads, checking each frame's CRC32C. A payload is
 * given as views of the network chunks it spans (one view when it lies inside one): nothing is copied.
 * Payloads stay valid after the next one is read.
 */
export async function* readFramePieces(body: AsyncIterable<Uint8Array>, maxFrameBytes = MAX_FRAME_BYTES): AsyncGenerator<Buffer[]> {
  /** The start of a frame whose header was cut by the end of a network chunk. */
  let carry: Buffer | undefined;
  /** A payload spanning network chunks: its pieces so far, the bytes still missing, its length and header size. */
  let parts: Buffer[] = [];
  let missing = 0;
  let frameLen = 0;
  let frameHeader = 0;
  /** The running CRC of the payload, and the CRC in its frame's header. */
  let crc = 0;
  let want = 0;
  /** Stream offset of the current frame's header. */
  let offset = 0;
  const check = (): void => {
    if (crc >>> 0 !== want) throw new Error(`remote read: CRC32C mismatch in frame at byte ${offset}: header ${want.toString(16)}, payload ${(crc >>> 0).toString(16)}`);
  };
  for await (const piece of body) {
    let buf = asBuffer(piece);
    if (carry !== undefined) {
      buf = Buffer.concat([carry, buf]); // rare: a header cut in two
      carry = undefined;
    }
    let pos = 0;
    if (missing > 0) {
      const part = buf.subarray(0, Math.min(missing, buf.length));
      // Native (SSE4.2) CRC32C, carried across the pieces: every byte of every response is checked.
      crc = crc32c(part, crc);
      parts.push(part);
      missing -= part.length;
      pos = part.length;
      if (missing > 0) continue;
      check();
      yield parts;
      parts = [];
      offset += frameHeader + frameLen;
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
      want = buf.readUInt32BE(p);
      p += 4;
      const part = buf.subarray(p, p + len);
      crc = crc32c(part);
      if (part.length < len) {
        parts = [part];
        missing = len - part.length;
        frameLen = len;
        frameHeader = p - pos;
        break;
      }
      check();
      yield [part];
      offset += p + len - pos;
      pos = p + len;
    }
  }
  if (carry !== undefined || missing > 0) {
    const left = (carry?.length ?? 0) + (missing > 0 ? frameLen - missing : 0);
    throw new Error(`remote read: stream ended inside a frame at byte ${offset} (${left} bytes left over)`);
  }
}

/** `readFramePieces` with each payload in one buffer: pieces of a payload that spans network chunks are joined. */
export async function* readFrames(body: AsyncIterable<Uint8Array>, maxFrameBytes = MAX_FRAME_BYTES): AsyncGenerator<Uint8Array> {
  for await (const parts of readFramePieces(body, maxFrameBytes)) yield parts.length === 1 ? parts[0]! : Buffer.concat(parts);
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
