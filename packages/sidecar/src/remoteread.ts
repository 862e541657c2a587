/**
 * Prometheus remote read (POST /api/v1/read), prompb messages written from their field numbers.
 *
 * Request: snappy block of ReadRequest { queries = 1; accepted_response_types = 2 }. Response by
 * Content-Type: STREAMED_XOR_CHUNKS frames (uvarint length | BE32 CRC32C of the payload | payload =
 * ChunkedReadResponse), or SAMPLES (snappy block of ReadResponse) from Prometheus older than 2.13.
 */
import { crc32c } from '@node-rs/crc32';
import { type EncodedChunks, ProtoReader, ProtoWriter, readLabel, type LabelMatcher } from '@strata/storeapi';
import type { Label } from '@strata/tsdb';
import snappy from 'snappy';
import { transcoder } from './transcode-wasm.js';

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
 * Transcoded chunks are carved from 1 MiB slabs that are reused once the server has sent every series
 * carved from them (`release()`): a query's worth (tens of MB) passes through a few slabs that stay
 * in memory, where fresh buffers would cost a page fault per 4 KiB on first touch, besides their
 * allocation and the scavenges V8 runs per few MB of new external memory.
 */
const SLAB_BYTES = 1 << 20;
/** Larger outputs get memory of their own. */
const MAX_CARVED_BYTES = SLAB_BYTES >>> 2;
/** Idle slabs kept for reuse (a query buffered for re-sorting holds all of its series' at once). */
const MAX_FREE_SLABS = 16;

class Slab {
  readonly bytes = new Uint8Array(Buffer.allocUnsafeSlow(SLAB_BYTES).buffer);
  used = 0;
  /** Carved parts not yet released. */
  live = 0;
}

let current: Slab | undefined;
const free: Slab[] = [];

function carve(n: number): { bytes: Uint8Array; slab: Slab | undefined } {
  if (n > MAX_CARVED_BYTES) return { bytes: new Uint8Array(n), slab: undefined };
  let slab = current;
  if (slab === undefined || slab.used + n > SLAB_BYTES) {
    if (slab !== undefined && slab.live === 0) recycle(slab);
    slab = free.pop() ?? new Slab();
    current = slab;
  }
  const bytes = slab.bytes.subarray(slab.used, slab.used + n);
  slab.used += (n + 7) & ~7; // word-aligned starts for the copies out of it
  slab.live++;
  return { bytes, slab };
}

function releaseSlab(slab: Slab): void {
  if (--slab.live > 0) return;
  if (slab === current) slab.used = 0;
  else recycle(slab);
}

function recycle(slab: Slab): void {
  if (free.length >= MAX_FREE_SLABS) return;
  slab.used = 0;
  free.push(slab);
}

/**
 * The chunks of one series (from one or more payloads) as encoded Series.chunks fields (AggrChunk with
 * a raw, hashed Chunk each), which the Series message takes by copying them in.
 */
export class TranscodedChunks implements EncodedChunks {
  size = 0;
  #parts: Uint8Array[] = [];
  #slabs: (Slab | undefined)[] = [];

  /** Adds a copy of the encoded chunks in `src`. */
  add(src: Uint8Array): void {
    const { bytes, slab } = carve(src.length);
    bytes.set(src);
    this.#parts.push(bytes);
    this.#slabs.push(slab);
    this.size += bytes.length;
  }

  /** Takes over the chunks of the same series from a later payload. */
  append(other: TranscodedChunks): void {
    for (const p of other.#parts) this.#parts.push(p);
    for (const slab of other.#slabs) this.#slabs.push(slab);
    this.size += other.size;
    other.#parts = [];
    other.#slabs = [];
    other.size = 0;
  }

  write(w: ProtoWriter): void {
    for (const p of this.#parts) {
      const at = w.pos;
      w.room(p.length).set(p, at);
      w.advance(at + p.length);
    }
  }

  /** The series has been sent: its slabs may be carved again. It cannot be written after this. */
  release(): void {
    for (const slab of this.#slabs) if (slab !== undefined) releaseSlab(slab);
    this.#parts = [];
    this.#slabs = [];
  }
}

/** The transcoder's memory as a Buffer (for reading labels), made again when the memory grows. */
let memory = Buffer.from(transcoder.memory.buffer);

function reserve(bytes: number): void {
  const have = transcoder.memory.buffer.byteLength;
  if (bytes > have) transcoder.memory.grow(Math.ceil((bytes - have) / 65536));
  if (memory.buffer !== transcoder.memory.buffer) memory = Buffer.from(transcoder.memory.buffer);
}

/**
 * Reads one ChunkedReadResponse payload (chunked_series 1: ChunkedSeries { labels 1, chunks 2 }), given
 * whole or as the pieces `readFramePieces` yields, and transcodes its chunks (transcode.wat): the payload
 * is copied into the transcoder's memory once, and each series' chunks are written there with their
 * hashes in one call, then copied out. The result refers to neither the payload nor that memory.
 */
export function transcodeChunkedReadResponse(payload: Uint8Array | readonly Uint8Array[]): TranscodedSeries[] {
  const pieces = Array.isArray(payload) ? (payload as readonly Uint8Array[]) : [payload as Uint8Array];
  let len = 0;
  for (const p of pieces) len += p.length;
  // The output region follows the payload; chunks grow by their hash, so twice the payload is plenty
  // but for series of tiny chunks, for which it is doubled until they fit.
  const outStart = (len + 7) & ~7;
  let outLimit = outStart + 2 * len + 64;
  reserve(outLimit);
  let off = 0;
  for (const p of pieces) {
    memory.set(p, off);
    off += p.length;
  }
  const out: TranscodedSeries[] = [];
  let r = new ProtoReader(memory, 0, len);
  while (!r.done) {
    const t = r.tag();
    if (t !== 10) {
      r.skip(t & 7);
      continue;
    }
    const end = r.enter();
    const start = r.pos;
    const labels: Label[] = [];
    while (r.pos < end) {
      const u = r.tag();
      if (u === 10) labels.push(readLabel(r.sub()));
      else r.skip(u & 7);
    }
    r.leave(end);
    let written = transcoder.transcode(start, end, outStart, outLimit);
    while (written === -2) {
      outLimit = outStart + 2 * (outLimit - outStart);
      reserve(outLimit);
      written = transcoder.transcode(start, end, outStart, outLimit);
    }
    if (written === -1) throw new Error(`remote read: malformed chunk in the series at payload offset ${start}`);
    if (written === -3) throw new Error(`remote read: unknown chunk encoding ${transcoder.badType()}`);
    if (r.source !== memory) r = new ProtoReader(memory, end, len);
    const chunks = new TranscodedChunks();
    if (written > outStart) chunks.add(new Uint8Array(memory.buffer, outStart, written - outStart));
    out.push({ labels, chunks });
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
