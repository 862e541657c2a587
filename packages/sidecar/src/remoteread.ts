/**
 * The sidecar's side of Prometheus' remote read (the protocol is storeapi's remoteread.ts): streamed
 * frames read as they arrive, and their chunks transcoded into StoreAPI raw chunks.
 */
import { crc32c } from '@node-rs/crc32';
import { chunkWasm, MAX_FRAME_BYTES, type EncodedChunks, ProtoReader, type ProtoWriter, readLabel } from '@strata/storeapi';
import type { Label } from '@strata/tsdb';

/** A series of a ChunkedReadResponse, its chunks to be written as StoreAPI raw chunks. */
export interface TranscodedSeries {
  labels: Label[];
  chunks: TranscodedChunks;
}

/** The transcoder (chunkWasm's `transcode`): a module instance, and so a memory, of the sidecar's own. */
export const transcoder = chunkWasm();

/**
 * The transcoder's memory holds, one after another: the payload being read, 1 MiB slabs that series'
 * transcoded chunks are written into and stay in until the server has sent them (`release()`), and
 * room for the output of a series that fits no slab. Slabs are reused: a query's worth of chunks (tens
 * of MB) passes through a few of them, written once there and copied once into the gRPC messages.
 * Memory cannot be handed back to the system once grown, so there are at most MAX_SLABS of them; a
 * query that holds more at once (re-sorting for dedup) gets the rest copied out into its own memory.
 */
const SLAB_BYTES = 1 << 20;
const MAX_SLABS = 32;
/** Outputs larger than this (series of over ~100 KB) go through the overflow room. */
const MAX_SLAB_OUTPUT = SLAB_BYTES >>> 2;

class Slab {
  used = 0;
  /** Parts written into it and not yet released. */
  live = 0;
  constructor(readonly base: number) {}
}

/** Top of the transcoder's memory in use, and a Buffer over it (made again when it grows). */
let top = 0;
let memory = Buffer.from(transcoder.memory.buffer);
/** Where the payload is copied, and the room for outputs that fit no slab. */
let payloadRoom = { base: 0, size: 0 };
let overflowRoom = { base: 0, size: 0 };
let slabCount = 0;
let current: Slab | undefined;
const free: Slab[] = [];

/** A new region of `bytes` at the top of the transcoder's memory. */
function region(bytes: number): { base: number; size: number } {
  const base = top;
  top += bytes;
  const have = transcoder.memory.buffer.byteLength;
  if (top > have) transcoder.memory.grow(Math.ceil((top - have) / 65536));
  if (memory.buffer !== transcoder.memory.buffer) memory = Buffer.from(transcoder.memory.buffer);
  return { base, size: bytes };
}

/** At least `bytes` of room, reallocated (contents not kept) at twice its size when too small. */
function room(r: { base: number; size: number }, bytes: number): { base: number; size: number } {
  return r.size >= bytes ? r : region(Math.max(bytes, 2 * r.size));
}

/** A slab with `bytes` of room left, or undefined when all MAX_SLABS are in use. */
function slabWithRoom(bytes: number): Slab | undefined {
  const cur = current;
  if (cur !== undefined) {
    if (cur.used + bytes <= SLAB_BYTES) return cur;
    if (cur.live === 0) {
      cur.used = 0; // everything written into it has been sent: start it over
      return cur;
    }
    current = undefined; // it is freed when its last part is released
  }
  let slab = free.pop();
  if (slab === undefined) {
    if (slabCount >= MAX_SLABS) return undefined;
    slabCount++;
    slab = new Slab(region(SLAB_BYTES).base);
  }
  current = slab;
  return slab;
}

function releaseSlab(slab: Slab): void {
  if (--slab.live > 0) return;
  slab.used = 0;
  if (slab !== current) free.push(slab);
}

/** Transcoded chunks in a slab, or (`bytes`) in memory of their own. */
export interface Part {
  slab: Slab | undefined;
  offset: number;
  length: number;
  bytes: Uint8Array | undefined;
}

function releaseParts(parts: Part[]): void {
  for (const p of parts) if (p.slab !== undefined) releaseSlab(p.slab);
  parts.length = 0;
}

const unreleased = new FinalizationRegistry<Set<Part[]>>((all) => {
  for (const parts of all) releaseParts(parts);
});

/**
 * The series transcoded from one response. The server releases the series it sends, not those of a call
 * that fails or is cancelled: their slab parts are released once all of the response's series are
 * garbage, else each such call would keep slabs from being written again, for good. One registration
 * per response: one per series cost about as much as reading its labels.
 */
export class TranscodeScope {
  /** The parts of each of its series holding slab parts and not released yet. */
  readonly #parts = new Set<Part[]>();

  constructor() {
    unreleased.register(this, this.#parts);
  }

  /** `parts`, a series' own, are released with the scope's until `untrack`. */
  track(parts: Part[]): void {
    this.#parts.add(parts);
  }

  untrack(parts: Part[]): void {
    this.#parts.delete(parts);
  }
}

/**
 * The chunks of one series (from one or more payloads) as encoded Series.chunks fields (AggrChunk with
 * a raw, hashed Chunk each), which the Series message takes by copying them in.
 */
export class TranscodedChunks implements EncodedChunks {
  size = 0;
  readonly #parts: Part[] = [];
  /** Referred to until the series is garbage: its parts are released with the scope's. */
  readonly #scope: TranscodeScope;
  #tracked = false;

  constructor(scope: TranscodeScope) {
    this.#scope = scope;
  }

  /** Takes over the chunks of the same series from a later payload. */
  append(other: TranscodedChunks): void {
    for (const p of other.#parts) this.#add(p);
    other.#parts.length = 0;
    other.size = 0;
    other.#untrack();
  }

  /** Transcodes the chunks of the ChunkedSeries content at `[start, end)` of the transcoder's memory. */
  transcode(start: number, end: number): void {
    // Chunks grow by their hash, so twice their input is plenty but for series of tiny chunks, which
    // go through the overflow room, doubled until they fit.
    let bound = 2 * (end - start) + 64;
    const slab = bound <= MAX_SLAB_OUTPUT ? slabWithRoom(bound) : undefined;
    if (slab !== undefined) {
      const out = slab.base + slab.used;
      const written = checked(transcoder.transcode(start, end, out, out + bound), start);
      if (written >= 0) {
        if (written === out) return;
        slab.used += (written - out + 7) & ~7; // word-aligned starts for the copies out of it
        slab.live++;
        this.#add({ slab, offset: out, length: written - out, bytes: undefined });
        return;
      }
    }
    for (;;) {
      overflowRoom = room(overflowRoom, bound);
      const out = overflowRoom.base;
      const written = checked(transcoder.transcode(start, end, out, out + bound), start);
      if (written >= 0) {
        if (written > out) this.#add({ slab: undefined, offset: 0, length: written - out, bytes: new Uint8Array(memory.subarray(out, written)) });
        return;
      }
      bound *= 2;
    }
  }

  #add(p: Part): void {
    this.#parts.push(p);
    this.size += p.length;
    if (p.slab !== undefined && !this.#tracked) {
      this.#tracked = true;
      this.#scope.track(this.#parts);
    }
  }

  write(w: ProtoWriter): void {
    for (const p of this.#parts) {
      const at = w.pos;
      w.room(p.length).set(p.bytes ?? new Uint8Array(memory.buffer, p.offset, p.length), at);
      w.advance(at + p.length);
    }
  }

  /** The series has been sent: its slabs may be written again. It cannot be written after this. */
  release(): void {
    releaseParts(this.#parts);
    this.#untrack();
  }

  #untrack(): void {
    if (!this.#tracked) return;
    this.#tracked = false;
    this.#scope.untrack(this.#parts);
  }
}

/** The transcoder's result, or -2 (no room); throws on malformed input. */
function checked(written: number, start: number): number {
  if (written === -1) throw new Error(`remote read: malformed chunk in the series at payload offset ${start}`);
  if (written === -3) throw new Error(`remote read: unknown chunk encoding ${transcoder.badType()}`);
  return written;
}

/**
 * Reads one ChunkedReadResponse payload (chunked_series 1: ChunkedSeries { labels 1, chunks 2 }), given
 * whole or as the pieces `readFramePieces` yields, and transcodes its chunks (chunkwasm.wat's `transcode`): the payload
 * is copied into the transcoder's memory once, and each series' chunks are written from there with
 * their hashes in one call. The result does not refer to the payload. The payloads of one response
 * share a `scope`.
 */
export function transcodeChunkedReadResponse(payload: Uint8Array | readonly Uint8Array[], scope = new TranscodeScope()): TranscodedSeries[] {
  const pieces = Array.isArray(payload) ? (payload as readonly Uint8Array[]) : [payload as Uint8Array];
  let len = 0;
  for (const p of pieces) len += p.length;
  payloadRoom = room(payloadRoom, len + 16); // the transcoder reads up to 16 bytes past a field
  const base = payloadRoom.base;
  let off = base;
  for (const p of pieces) {
    memory.set(p, off);
    off += p.length;
  }
  const out: TranscodedSeries[] = [];
  let r = reader(base, base + len);
  while (!r.done) {
    const t = r.tag();
    if (t !== 10) {
      r.skip(t & 7);
      continue;
    }
    const end = r.enter();
    const start = r.pos;
    const labels: Label[] = [];
    // The labels are read up to the first chunk, after which Prometheus writes none; the transcoder,
    // which reads every field, tells whether any other field comes later (read then).
    const chunksAt = readLabels(r, end, labels, true);
    const chunks = new TranscodedChunks(scope);
    chunks.transcode(start, end);
    if (r.source !== memory) r = reader(end, base + len); // the memory grew
    if (transcoder.lastOther() > chunksAt) {
      r.pos = chunksAt;
      readLabels(r, end, labels, false);
    }
    r.pos = end;
    out.push({ labels, chunks });
  }
  return out;
}

/**
 * Adds the Label fields of the ChunkedSeries content from `r.pos` to `end` to `labels`, skipping other
 * fields, and returns where it stopped: at the first chunk field with `untilChunk`, else at `end`.
 */
function readLabels(r: ProtoReader, end: number, labels: Label[], untilChunk: boolean): number {
  while (r.pos < end) {
    const at = r.pos;
    const t = r.tag();
    if (t === 10) labels.push(readLabel(r.sub()));
    else if (t === 18 && untilChunk) return at;
    else r.skip(t & 7);
  }
  r.leave(end);
  return end;
}

/**
 * A reader over `[start, end)` of the transcoder's memory whose DataView (which label decoding compares
 * bytes through) is made here, once per payload: the reader of each label shares it, instead of making one each.
 */
function reader(start: number, end: number): ProtoReader {
  const r = new ProtoReader(memory, start, end);
  void r.view;
  return r;
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * Splits a streamed remote-read body into frame payloads, checking each frame's CRC32C. A payload is
 * given as views of the network chunks it spans (one view when it lies inside one): nothing is copied.
 * Payloads stay valid after the next one is read, unless `consumed` is given: it is called whenever the
 * next payload is asked for, when only the network chunk read last is still used here (for a body
 * whose earlier chunks' memory may then be read into again, RemoteReadResponse.recycle).
 */
export async function* readFramePieces(body: AsyncIterable<Uint8Array>, maxFrameBytes = MAX_FRAME_BYTES, consumed?: () => void): AsyncGenerator<Buffer[]> {
  /** The start of a frame whose header was cut by the end of a network chunk. */
  let carry: Buffer | undefined;
  /** A payload spanning network chunks: its pieces so far, the bytes still missing, its length and header size. */
  let parts: Buffer[] = [];
  let missing = 0;
  let frameLen = 0;
  let frameHeader = 0;
  /** The header of the payload spanning network chunks, for the error if the stream ends inside it. */
  let partHeader: Buffer | undefined;
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
      consumed?.();
      offset += frameHeader + frameLen;
    }
    while (pos < buf.length) {
      let len = 0;
      // The weight of the next 7 bits (a multiplication: `2 ** shift` with a variable shift calls pow).
      let scale = 1;
      let p = pos;
      let complete = false;
      while (p < buf.length) {
        const b = buf[p++]!;
        len += (b & 0x7f) * scale;
        scale *= 128;
        if (b < 0x80) {
          complete = true;
          break;
        }
        if (scale > 2 ** 35) throw new Error(`remote read: bad frame length varint at byte ${offset}`);
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
        partHeader = buf.subarray(pos, p);
        break;
      }
      check();
      yield [part];
      consumed?.();
      offset += p + len - pos;
      pos = p + len;
    }
  }
  if (carry !== undefined || missing > 0) {
    const left = carry ?? Buffer.concat([partHeader as Buffer, ...parts]);
    throw new Error(`remote read: stream ended inside a frame at byte ${offset} (${left.length} bytes left over)${errorText(left)}`);
  }
}

/**
 * What Prometheus wrote where a frame was due, if it is text: an error that came once streaming had
 * begun (the status already sent as 200), which it writes into the body instead.
 */
function errorText(left: Buffer): string {
  const text = left.toString('latin1').trim();
  return text.length > 0 && /^[\x20-\x7e]+$/.test(text) ? `: Prometheus wrote ${JSON.stringify(text)}` : '';
}

/** `readFramePieces` with each payload in one buffer: pieces of a payload that spans network chunks are joined. */
export async function* readFrames(body: AsyncIterable<Uint8Array>, maxFrameBytes = MAX_FRAME_BYTES): AsyncGenerator<Uint8Array> {
  for await (const parts of readFramePieces(body, maxFrameBytes)) yield parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}
