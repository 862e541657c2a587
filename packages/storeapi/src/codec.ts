/**
 * Encoders and decoders for the StoreAPI/InfoAPI messages, written from the field numbers in
 * proto/thanos/*.proto. Unknown fields are skipped, as protobuf requires, so newer peers interoperate.
 */
import { chunkFromBytes, Encoding, type Chunk, type ChunkMeta, type Label, type SampleIterator } from '@strata/tsdb';
import type {
  AggrChunk,
  AnyMessage,
  ChunkEncoding,
  InfoResponse,
  LabelMatcher,
  LabelNamesRequest,
  LabelNamesResponse,
  LabelValuesRequest,
  LabelValuesResponse,
  MatcherType,
  PartialResponseStrategy,
  QueryHints,
  SeriesRequest,
  SeriesResponse,
  ShardInfo,
  StoreChunk,
  StoreInfo,
  StoreSeries,
  TSDBInfo,
} from './messages.js';
import { labelNamesRequest, seriesRequest } from './messages.js';
import { fromStoreEncoding } from './convert.js';
import { readLabelTo } from './wire/label.js';
import { ProtoReader } from './wire/reader.js';
import { delimitedFieldSize, int64FieldSize, ProtoWriter, SIZE_SLACK, uint64FieldSize, utf8Length, varintSize } from './wire/writer.js';

// ---------------------------------------------------------------- shared pieces

/** Writes each label as a Label message in `field` (repeated). */
export function writeLabels(w: ProtoWriter, field: number, labels: Iterable<Label>): void {
  for (const l of labels) w.fork(field).string(1, l.name).string(2, l.value).ldelim();
}

/** Reads a Label { name 1, value 2 } (the same message in Thanos' and Prometheus' protos). */
export function readLabel(r: ProtoReader): Label {
  return readLabelTo(r, r.end);
}

/** Reads a LabelSet/ZLabelSet message. */
function readLabelSet(r: ProtoReader): Label[] {
  const out: Label[] = [];
  while (!r.done) {
    const t = r.tag();
    if (t === 10) out.push(readLabel(r.sub()));
    else r.skip(t & 7);
  }
  return out;
}

export function writeMatchers(w: ProtoWriter, field: number, matchers: readonly LabelMatcher[]): void {
  for (const m of matchers) w.fork(field).uint32(1, m.type).string(2, m.name).string(3, m.value).ldelim();
}

export function readMatcher(r: ProtoReader): LabelMatcher {
  const m: LabelMatcher = { type: 0, name: '', value: '' };
  while (!r.done) {
    const t = r.tag();
    if (t === 8) m.type = r.uint32() as MatcherType;
    else if (t === 18) m.name = r.string();
    else if (t === 26) m.value = r.string();
    else r.skip(t & 7);
  }
  return m;
}

function writeAny(w: ProtoWriter, field: number, a: AnyMessage | undefined): void {
  if (a !== undefined) w.fork(field).string(1, a.typeUrl).bytes(2, a.value).ldelim();
}

function readAny(r: ProtoReader): AnyMessage {
  const a: AnyMessage = { typeUrl: '', value: new Uint8Array(0) };
  while (!r.done) {
    const t = r.tag();
    if (t === 10) a.typeUrl = r.string();
    else if (t === 18) a.value = r.bytes();
    else r.skip(t & 7);
  }
  return a;
}

function writeStrings(w: ProtoWriter, field: number, values: readonly string[]): void {
  for (const s of values) w.string(field, s, true);
}

// ---------------------------------------------------------------- chunks and series

// Series frames carry nearly all of a query's bytes, so they are encoded in two passes: sizes first,
// then every field straight into a buffer of the final size (no copy; only labels' one-byte lengths
// are patched in after them).

function stringFieldSize(v: string): number {
  return v === '' ? 0 : delimitedFieldSize(utf8Length(v));
}

function labelSize(l: Label): number {
  return stringFieldSize(l.name) + stringFieldSize(l.value);
}

function storeChunkSize(c: StoreChunk): number {
  const length = chunkDataLength(c);
  return (c.type === 0 ? 0 : 1 + varintSize(c.type)) + (length === 0 ? 0 : delimitedFieldSize(length)) + uint64FieldSize(c.hash);
}

function optionalChunkSize(c: StoreChunk | undefined): number {
  return c === undefined ? 0 : delimitedFieldSize(storeChunkSize(c));
}

function aggrChunkSize(c: AggrChunk): number {
  return (
    int64FieldSize(c.minTime) +
    int64FieldSize(c.maxTime) +
    optionalChunkSize(c.raw) +
    optionalChunkSize(c.count) +
    optionalChunkSize(c.sum) +
    optionalChunkSize(c.min) +
    optionalChunkSize(c.max) +
    optionalChunkSize(c.counter)
  );
}

/** Bytes of a Series message's content (without its own tag and length). */
export function encodedSeriesSize(s: StoreSeries): number {
  const encoded = s.encodedLabels;
  let n = 0;
  if (encoded !== undefined) n = encoded.size;
  else for (const l of s.labels) n += delimitedFieldSize(labelSize(l));
  // Indexed: a for-of makes an iterator per series, even over the (frozen, empty) chunks of a series whose chunks are extraChunks.
  const chunks = s.chunks;
  for (let i = 0; i < chunks.length; i++) n += delimitedFieldSize(aggrChunkSize(chunks[i] as AggrChunk));
  return n + (s.extraChunks?.size ?? 0);
}

function writeChunk(w: ProtoWriter, field: number, c: StoreChunk | undefined): void {
  if (c === undefined) return;
  w.header(field, storeChunkSize(c)).uint32(1, c.type).bytes(2, c.data).uint64(3, c.hash);
}

/**
 * A decoded Chunk: its data and hash are read from the frame, where they stay, when asked for. A reader
 * of a Series stream uses every chunk's data, but hashes only where replicas send chunks of the same
 * time range (the querier's dedup): a bigint made from the (nearly always 10-byte) varint of every chunk
 * cost a fifth of decoding a chunk. The varint is checked when the chunk is decoded. `data` is a view
 * made on each read: a querier holds a query's chunks from the first frame until it has evaluated them,
 * and a view held per chunk for that long was half of what decoding a chunk allocated.
 *
 * It is also tsdb's Chunk over its bytes (StoreAPI XOR 0 is tsdb's XOR 1): the chunk meta and chunk
 * objects a querier made per chunk besides this one were 13% of what it allocated with two replicas.
 */
class DecodedChunk implements StoreChunk, Chunk {
  type: ChunkEncoding;
  readonly #frame: Buffer;
  /** The data is `#frame[#start, #end)`. */
  readonly #start: number;
  readonly #end: number;
  /** Where the hash's varint starts in `#frame`; -1 without a hash field (0n). */
  readonly #at: number;
  #hash: bigint | undefined;

  constructor(type: ChunkEncoding, frame: Buffer, start: number, end: number, at: number) {
    this.type = type;
    this.#frame = frame;
    this.#start = start;
    this.#end = end;
    this.#at = at;
  }

  get data(): Uint8Array {
    return new Uint8Array(this.#frame.buffer, this.#frame.byteOffset + this.#start, this.#end - this.#start);
  }

  /** Bytes of `data`, without a view. */
  get dataLength(): number {
    return this.#end - this.#start;
  }

  get hash(): bigint {
    this.#hash ??= this.#at < 0 ? 0n : new ProtoReader(this.#frame, this.#at).uint64();
    return this.#hash;
  }

  set hash(hash: bigint) {
    this.#hash = hash;
  }

  get encoding(): Encoding {
    return this.type === 0 ? Encoding.XOR : fromStoreEncoding(this.type);
  }

  get bytes(): Uint8Array {
    return this.data;
  }

  numSamples(): number {
    return this.#end - this.#start < 2 ? 0 : ((this.#frame[this.#start] as number) << 8) | (this.#frame[this.#start + 1] as number);
  }

  /** Readers of samples in bulk use `bytes`; this one is tsdb's, which fails other encodings (Strata reads float chunks only). */
  iterator(reuse?: SampleIterator): SampleIterator {
    return chunkFromBytes(this.encoding, this.data).iterator(reuse);
  }
}

/** Samples in a chunk (every encoding's data opens with their count, big-endian 16 bits), read off a decoded chunk without a view. */
export function chunkSamples(c: StoreChunk): number {
  if (c instanceof DecodedChunk) return c.numSamples();
  return c.data.length < 2 ? 0 : ((c.data[0] as number) << 8) | (c.data[1] as number);
}

/** Bytes of a chunk's data (of a decoded chunk, without making a view of them). */
export function chunkDataLength(c: StoreChunk): number {
  return c instanceof DecodedChunk ? c.dataLength : c.data.length;
}

/** A decoded AggrChunk holding a raw chunk only (nearly all of them), which is also tsdb's ChunkMeta of that chunk. */
class RawAggrChunk implements AggrChunk, ChunkMeta {
  constructor(
    readonly minTime: number,
    readonly maxTime: number,
    readonly raw: DecodedChunk,
  ) {}

  get chunk(): Chunk {
    return this.raw;
  }
}

/**
 * The chunks as tsdb ChunkMetas without a copy, when each is a decoded raw XOR chunk (every chunk a
 * querier reads from stores of raw data); else undefined.
 */
export function decodedChunkMetas(chunks: readonly AggrChunk[]): readonly ChunkMeta[] | undefined {
  for (let i = 0; i < chunks.length; i++) {
    const c = chunks[i];
    if (!(c instanceof RawAggrChunk) || c.raw.type !== 0) return undefined;
  }
  return chunks as readonly RawAggrChunk[];
}

/** Reads the Chunk that `r.enter()` started, ending at `end`. */
function readChunk(r: ProtoReader, end: number): DecodedChunk {
  let type = 0;
  let start = 0;
  let dataEnd = 0;
  let hashAt = -1;
  while (r.pos < end) {
    const t = r.tag();
    if (t === 8) type = r.uint32();
    else if (t === 18) {
      start = r.skipBytes();
      dataEnd = r.pos;
    } else if (t === 24) {
      hashAt = r.pos;
      r.skipVarint();
    } else r.skip(t & 7);
  }
  r.leave(end);
  return new DecodedChunk(type as ChunkEncoding, r.source, start, dataEnd, hashAt);
}

function writeSeries(w: ProtoWriter, field: number, s: StoreSeries, size: number): void {
  w.header(field, size);
  const encoded = s.encodedLabels;
  // A label's length is patched in after it (one byte, unless the label is over 127 bytes): cheaper than measuring its strings again.
  if (encoded !== undefined) encoded.write(w);
  else for (const l of s.labels) w.fork(1).string(1, l.name).string(2, l.value).ldelim();
  writeAggrChunks(w, s.chunks);
  s.extraChunks?.write(w);
}

/** Writes chunks as the repeated `Series.chunks` field (tag, length, AggrChunk each). */
export function writeAggrChunks(w: ProtoWriter, chunks: readonly AggrChunk[]): void {
  // Indexed, as in encodedSeriesSize.
  for (let i = 0; i < chunks.length; i++) {
    const c = chunks[i] as AggrChunk;
    w.header(2, aggrChunkSize(c)).int64(1, c.minTime).int64(2, c.maxTime);
    writeChunk(w, 3, c.raw);
    writeChunk(w, 4, c.count);
    writeChunk(w, 5, c.sum);
    writeChunk(w, 6, c.min);
    writeChunk(w, 7, c.max);
    writeChunk(w, 8, c.counter);
  }
}

/**
 * Reads the AggrChunk that `r.enter()` started, ending at `end` (no reader per chunk: the hot path of every
 * client). A raw chunk (nearly all of them) becomes a RawAggrChunk, its three fields in place.
 */
function readAggrChunk(r: ProtoReader, end: number): AggrChunk {
  let minTime = 0;
  let maxTime = 0;
  let raw: DecodedChunk | undefined;
  let aggregates: AggrChunk | undefined;
  while (r.pos < end) {
    const t = r.tag();
    switch (t) {
      case 8:
        minTime = r.int64();
        break;
      case 16:
        maxTime = r.int64();
        break;
      case 26:
        raw = readChunk(r, r.enter());
        break;
      case 34:
        (aggregates ??= { minTime: 0, maxTime: 0 }).count = readChunk(r, r.enter());
        break;
      case 42:
        (aggregates ??= { minTime: 0, maxTime: 0 }).sum = readChunk(r, r.enter());
        break;
      case 50:
        (aggregates ??= { minTime: 0, maxTime: 0 }).min = readChunk(r, r.enter());
        break;
      case 58:
        (aggregates ??= { minTime: 0, maxTime: 0 }).max = readChunk(r, r.enter());
        break;
      case 66:
        (aggregates ??= { minTime: 0, maxTime: 0 }).counter = readChunk(r, r.enter());
        break;
      default:
        r.skip(t & 7);
    }
  }
  r.leave(end);
  if (aggregates === undefined) return raw === undefined ? { minTime, maxTime } : new RawAggrChunk(minTime, maxTime, raw);
  aggregates.minTime = minTime;
  aggregates.maxTime = maxTime;
  if (raw !== undefined) aggregates.raw = raw;
  return aggregates;
}

/** Reads the Series that `r.enter()` started, ending at `end`. */
function readSeries(r: ProtoReader, end: number): StoreSeries {
  const labels: Label[] = [];
  const chunks: AggrChunk[] = [];
  while (r.pos < end) {
    const t = r.tag();
    if (t === 10 || t === 18) readSeriesField(r, t, r.enter(), labels, chunks);
    else r.skip(t & 7);
  }
  r.leave(end);
  return { labels, chunks };
}

/** A Series message's label (tag 10) or chunk (tag 18), read from `r` up to `end` into `labels` or `chunks`. */
function readSeriesField(r: ProtoReader, t: 10 | 18, end: number, labels: Label[], chunks: AggrChunk[]): void {
  if (t === 10) {
    labels.push(readLabelTo(r, end));
    r.leave(end);
  } else chunks.push(readAggrChunk(r, end));
}

// ---------------------------------------------------------------- Series RPC

export function encodeSeriesRequest(req: SeriesRequest): Buffer {
  const w = new ProtoWriter();
  w.int64(1, req.minTime).int64(2, req.maxTime);
  writeMatchers(w, 3, req.matchers);
  w.int64(4, req.maxResolutionWindow).packedUint32(5, req.aggregates);
  w.bool(6, req.partialResponseDisabled).uint32(7, req.partialResponseStrategy).bool(8, req.skipChunks);
  writeAny(w, 9, req.hints);
  w.int64(10, req.step).int64(11, req.range);
  if (req.queryHints) {
    const q = req.queryHints;
    w.fork(12).int64(1, q.stepMillis);
    if (q.func) w.fork(2).string(1, q.func.name).ldelim();
    if (q.grouping) {
      w.fork(4).bool(1, q.grouping.by);
      writeStrings(w, 3, q.grouping.labels);
      w.ldelim();
    }
    if (q.range) w.fork(5).int64(1, q.range.millis).ldelim();
    writeStrings(w, 6, q.projectionLabels);
    w.bool(7, q.projectionInclude).string(8, q.seriesHashLabelName).ldelim();
  }
  if (req.shardInfo) writeShardInfo(w, 13, req.shardInfo);
  writeStrings(w, 14, req.withoutReplicaLabels);
  w.int64(15, req.limit).int64(16, req.responseBatchSize);
  return w.finish();
}

function readQueryHints(r: ProtoReader): QueryHints {
  const q: QueryHints = { stepMillis: 0, projectionLabels: [], projectionInclude: false, seriesHashLabelName: '' };
  while (!r.done) {
    const t = r.tag();
    switch (t) {
      case 8:
        q.stepMillis = r.int64();
        break;
      case 18: {
        const s = r.sub();
        q.func = { name: '' };
        while (!s.done) {
          const u = s.tag();
          if (u === 10) q.func.name = s.string();
          else s.skip(u & 7);
        }
        break;
      }
      case 34: {
        const s = r.sub();
        const g = { by: false, labels: [] as string[] };
        while (!s.done) {
          const u = s.tag();
          if (u === 8) g.by = s.bool();
          else if (u === 26) g.labels.push(s.string());
          else s.skip(u & 7);
        }
        q.grouping = g;
        break;
      }
      case 42: {
        const s = r.sub();
        q.range = { millis: 0 };
        while (!s.done) {
          const u = s.tag();
          if (u === 8) q.range.millis = s.int64();
          else s.skip(u & 7);
        }
        break;
      }
      case 50:
        q.projectionLabels.push(r.string());
        break;
      case 56:
        q.projectionInclude = r.bool();
        break;
      case 66:
        q.seriesHashLabelName = r.string();
        break;
      default:
        r.skip(t & 7);
    }
  }
  return q;
}

export function writeShardInfo(w: ProtoWriter, field: number, s: ShardInfo): void {
  w.fork(field).int64(1, s.shardIndex).int64(2, s.totalShards).bool(3, s.by);
  writeStrings(w, 4, s.labels);
  w.ldelim();
}

export function readShardInfo(r: ProtoReader): ShardInfo {
  const s: ShardInfo = { shardIndex: 0, totalShards: 0, by: false, labels: [] };
  while (!r.done) {
    const t = r.tag();
    if (t === 8) s.shardIndex = r.int64();
    else if (t === 16) s.totalShards = r.int64();
    else if (t === 24) s.by = r.bool();
    else if (t === 34) s.labels.push(r.string());
    else r.skip(t & 7);
  }
  return s;
}

export function decodeSeriesRequest(buf: Uint8Array): SeriesRequest {
  const r = new ProtoReader(buf);
  const req = seriesRequest();
  while (!r.done) {
    const t = r.tag();
    const field = t >>> 3;
    switch (field) {
      case 1:
        req.minTime = r.int64();
        break;
      case 2:
        req.maxTime = r.int64();
        break;
      case 3:
        req.matchers.push(readMatcher(r.sub()));
        break;
      case 4:
        req.maxResolutionWindow = r.int64();
        break;
      case 5:
        r.packedUint32(t & 7, req.aggregates as number[]);
        break;
      case 6:
        req.partialResponseDisabled = r.bool();
        break;
      case 7:
        req.partialResponseStrategy = r.uint32() as PartialResponseStrategy;
        break;
      case 8:
        req.skipChunks = r.bool();
        break;
      case 9:
        req.hints = readAny(r.sub());
        break;
      case 10:
        req.step = r.int64();
        break;
      case 11:
        req.range = r.int64();
        break;
      case 12:
        req.queryHints = readQueryHints(r.sub());
        break;
      case 13:
        req.shardInfo = readShardInfo(r.sub());
        break;
      case 14:
        req.withoutReplicaLabels.push(r.string());
        break;
      case 15:
        req.limit = r.int64();
        break;
      case 16:
        req.responseBatchSize = r.int64();
        break;
      default:
        r.skip(t & 7);
    }
  }
  return req;
}

/**
 * Encodes one Series stream frame into a buffer from `alloc` (a fresh one by default), after `headerRoom`
 * bytes left for the caller to fill (the gRPC message header: the frame is then sent without being
 * copied again).
 */
export function encodeSeriesResponse(frame: SeriesResponse, headerRoom = 0, alloc: (bytes: number) => Buffer = Buffer.allocUnsafe): Buffer {
  if ('series' in frame) {
    const size = encodedSeriesSize(frame.series);
    const total = delimitedFieldSize(size);
    const target = alloc(headerRoom + total + SIZE_SLACK);
    const w = new ProtoWriter(target.subarray(headerRoom));
    writeSeries(w, 1, frame.series, size);
    return withHeaderRoom(target, w.finishSized(total), headerRoom);
  }
  if ('batch' in frame) {
    const sizes = frame.batch.map(encodedSeriesSize);
    let inner = 0;
    for (const n of sizes) inner += delimitedFieldSize(n);
    const total = delimitedFieldSize(inner);
    const target = alloc(headerRoom + total + SIZE_SLACK);
    const w = new ProtoWriter(target.subarray(headerRoom));
    w.header(4, inner);
    for (let i = 0; i < sizes.length; i++) writeSeries(w, 1, frame.batch[i]!, sizes[i]!);
    return withHeaderRoom(target, w.finishSized(total), headerRoom);
  }
  const w = new ProtoWriter();
  if ('warning' in frame) w.string(2, frame.warning, true);
  else writeAny(w, 3, frame.hints);
  const message = w.finish();
  const out = alloc(headerRoom + message.length);
  message.copy(out, headerRoom);
  return out;
}

/**
 * Series frames written together, each a gRPC message of its own in one buffer: message j holds series
 * `[ends[j - 1], ends[j])` (from 0 for the first) as a SeriesBatch when `batched`, else the one series
 * `ends[j] - 1` as `{ series }`; with each series' `encodedSeriesSize`.
 */
export interface SeriesMessages {
  messages: StoreSeries[];
  sizes: readonly number[];
  ends: readonly number[];
  batched: boolean;
}

/** gRPC's message header: a compressed flag byte and the big-endian message length. */
export const GRPC_MESSAGE_HEADER_BYTES = 5;

/**
 * Encodes `frames` into one buffer from `alloc`, each message after its gRPC message header
 * (uncompressed): a length-prefixed gRPC message stream, as a transport writes several messages at once.
 */
export function encodeSeriesMessages(frames: SeriesMessages, alloc: (bytes: number) => Buffer = Buffer.allocUnsafe): Buffer {
  const { messages, sizes, ends, batched } = frames;
  // Each message's length (and, batched, its SeriesBatch's).
  const lengths: number[] = [];
  const inners: number[] = [];
  let total = 0;
  for (let j = 0, i = 0; j < ends.length; j++) {
    let inner = 0;
    for (const end = ends[j]!; i < end; i++) inner += delimitedFieldSize(sizes[i]!);
    inners.push(inner);
    lengths.push(batched ? delimitedFieldSize(inner) : inner);
    total += GRPC_MESSAGE_HEADER_BYTES + lengths[j]!;
  }
  const target = alloc(total + SIZE_SLACK);
  let off = 0;
  for (let j = 0, i = 0; j < ends.length; j++) {
    const length = lengths[j]!;
    target[off] = 0;
    target.writeUInt32BE(length, off + 1);
    off += GRPC_MESSAGE_HEADER_BYTES;
    // The writer has the rest of the buffer (and its slack) to write into: it never moves.
    const w = new ProtoWriter(target.subarray(off));
    if (batched) w.header(4, inners[j]!);
    for (const end = ends[j]!; i < end; i++) writeSeries(w, 1, messages[i]!, sizes[i]!);
    w.finishSized(length);
    off += length;
  }
  return target.subarray(0, total);
}

/**
 * The message written into `target` after `headerRoom` bytes, with that room in front of it (copied
 * only if the writer had to move to a larger buffer, which the slack in `target` is there to prevent).
 */
function withHeaderRoom(target: Buffer, message: Buffer, headerRoom: number): Buffer {
  if (message.buffer === target.buffer && message.byteOffset === target.byteOffset + headerRoom) return target.subarray(0, headerRoom + message.length);
  const out = Buffer.allocUnsafe(headerRoom + message.length);
  message.copy(out, headerRoom);
  return out;
}

export function decodeSeriesResponse(buf: Uint8Array): SeriesResponse {
  const r = new ProtoReader(buf);
  let frame: SeriesResponse | undefined;
  while (!r.done) {
    const t = r.tag();
    switch (t) {
      case 10:
        frame = { series: readSeries(r, r.enter()) };
        break;
      case 18:
        frame = { warning: r.string() };
        break;
      case 26:
        frame = { hints: readAny(r.sub()) };
        break;
      case 34: {
        const s = r.sub();
        const batch: StoreSeries[] = [];
        while (!s.done) {
          const u = s.tag();
          if (u === 10) batch.push(readSeries(s, s.enter()));
          else s.skip(u & 7);
        }
        frame = { batch };
        break;
      }
      default:
        r.skip(t & 7);
    }
  }
  if (frame === undefined) throw new Error('SeriesResponse frame with no result set');
  return frame;
}

/**
 * Decodes a SeriesResponse message that lies in consecutive `parts` (the DATA chunks it came in) without
 * joining them first: a SeriesBatch's series are decoded where they lie, field by field where a series
 * spans parts, and only a label or chunk that spans parts is copied (joining a batch message copied all of
 * its bytes once more, its chunks included). Any other message (a warning, hints, a batch or series with
 * other fields around or in it) is joined and decoded by `decodeSeriesResponse`.
 */
export function decodeSeriesResponseParts(parts: readonly Buffer[]): SeriesResponse {
  if (parts.length === 1) return decodeSeriesResponse(parts[0]!);
  return decodeBatchParts(new PartsCursor(parts)) ?? decodeSeriesResponse(Buffer.concat(parts));
}

/** A position in consecutive buffers, for reading a message's outer fields across their boundaries. */
class PartsCursor {
  readonly parts: readonly Buffer[];
  part = 0;
  /** Offset in `parts[part]`. */
  pos = 0;
  /** Bytes after the position, in all parts. */
  remaining = 0;

  constructor(parts: readonly Buffer[]) {
    this.parts = parts;
    for (const p of parts) this.remaining += p.length;
  }

  /** Moves past the ends of parts, to where the next byte is (if any). */
  settle(): void {
    while (this.part < this.parts.length && this.pos === this.parts[this.part]!.length) {
      this.part++;
      this.pos = 0;
    }
  }

  /** Whether the next `n` bytes (n > 0) lie in one part; settles first. */
  inOnePart(n: number): boolean {
    this.settle();
    return this.part < this.parts.length && this.pos + n <= this.parts[this.part]!.length;
  }

  /** The next byte; -1 at the end. */
  byte(): number {
    this.settle();
    if (this.remaining === 0) return -1;
    this.remaining--;
    return this.parts[this.part]![this.pos++]!;
  }

  /** A varint of at most 32 bits; -1 if it is cut off or longer. */
  uint32(): number {
    let v = 0;
    for (let i = 0, scale = 1; i < 5; i++, scale *= 128) {
      const c = this.byte();
      if (c < 0) return -1;
      v += (c & 0x7f) * scale;
      if (c < 0x80) return v;
    }
    return -1;
  }

  /** The next `n` bytes (at most `remaining`), copied out of the parts they span. */
  take(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let at = 0; at < n; ) {
      this.settle();
      const p = this.parts[this.part]!;
      const k = Math.min(n - at, p.length - this.pos);
      p.copy(out, at, this.pos, this.pos + k);
      this.pos += k;
      at += k;
    }
    this.remaining -= n;
    return out;
  }
}

/**
 * Readers over the parts where they lie. Parts are views of larger buffers (Node's HTTP/2 session hands
 * out DATA chunks as views of the ~64 KiB it read from the socket), so one reader over such a buffer
 * serves its parts one after another, at their offsets in it: a reader (and its views) per part cost as
 * much as copying the part.
 */
class PartReaders {
  #reader: ProtoReader | undefined;
  #part = -1;
  /** Where the current part starts in the reader's buffer. */
  #base = 0;

  /** A reader at the cursor's position, in its part (which holds a byte there). */
  at(c: PartsCursor): ProtoReader {
    if (this.#part !== c.part) {
      const part = c.parts[c.part]!;
      const ab = part.buffer;
      if (this.#reader === undefined || this.#reader.source.buffer !== ab) this.#reader = new ProtoReader(Buffer.from(ab, 0, ab.byteLength));
      this.#part = c.part;
      this.#base = part.byteOffset - this.#reader.source.byteOffset;
    }
    const r = this.#reader!;
    r.pos = this.#base + c.pos;
    return r;
  }

  /** Moves the cursor to where the reader `at` gave has read to. */
  advance(c: PartsCursor, r: ProtoReader): void {
    const to = r.pos - this.#base;
    c.remaining -= to - c.pos;
    c.pos = to;
  }
}

/** A message that is one SeriesBatch field holding only series fields, decoded from its parts; undefined for any other. */
function decodeBatchParts(c: PartsCursor): SeriesResponse | undefined {
  if (c.byte() !== 34 || c.uint32() !== c.remaining) return undefined;
  const batch: StoreSeries[] = [];
  const readers = new PartReaders();
  while (c.remaining > 0) {
    let n: number;
    if (c.inOnePart(6)) {
      // The series' tag and length (at most 6 bytes) inside this part: read in place.
      const r = readers.at(c);
      if (r.tag() !== 10) return undefined;
      n = r.uint32();
      readers.advance(c, r);
    } else {
      if (c.byte() !== 10) return undefined;
      n = c.uint32();
    }
    if (n < 0 || n > c.remaining) return undefined;
    if (n > 0 && c.inOnePart(n)) {
      const r = readers.at(c);
      batch.push(readSeries(r, r.pos + n));
      readers.advance(c, r);
    } else {
      const s = readSeriesAcross(c, n, readers);
      if (s === undefined) return undefined;
      batch.push(s);
    }
  }
  return { batch };
}

/**
 * A series (`n` bytes at the cursor) that spans parts, as most of a large answer's do (Node's HTTP/2
 * peers send DATA frames of at most 16 KiB, and a day of a series, its replicas' chunks together, is
 * often more): its labels and chunks are decoded where they lie, and only one that spans parts is
 * copied, into a buffer of its own. (A copy of every such series was a new buffer for nearly all the
 * bytes of a large answer, and V8 collects its young generation for the bytes of the buffers made
 * since the last collection.)
 * Undefined where the series has fields other than labels and chunks.
 */
function readSeriesAcross(c: PartsCursor, n: number, readers: PartReaders): StoreSeries | undefined {
  const labels: Label[] = [];
  const chunks: AggrChunk[] = [];
  const after = c.remaining - n;
  while (c.remaining > after) {
    const t = c.uint32();
    if (t !== 10 && t !== 18) return undefined;
    const len = c.uint32();
    if (len < 0 || len > c.remaining - after) return undefined;
    const inPlace = len > 0 && c.inOnePart(len);
    const r = inPlace ? readers.at(c) : new ProtoReader(c.take(len));
    readSeriesField(r, t, r.pos + len, labels, chunks);
    if (inPlace) readers.advance(c, r);
  }
  return { labels, chunks };
}

// ---------------------------------------------------------------- LabelNames / LabelValues

export function encodeLabelNamesRequest(req: LabelNamesRequest): Buffer {
  const w = new ProtoWriter();
  w.bool(1, req.partialResponseDisabled).uint32(2, req.partialResponseStrategy).int64(3, req.start).int64(4, req.end);
  writeAny(w, 5, req.hints);
  writeMatchers(w, 6, req.matchers);
  writeStrings(w, 7, req.withoutReplicaLabels);
  w.int64(8, req.limit);
  return w.finish();
}

export function decodeLabelNamesRequest(buf: Uint8Array): LabelNamesRequest {
  const r = new ProtoReader(buf);
  const req = labelNamesRequest();
  while (!r.done) {
    const t = r.tag();
    switch (t >>> 3) {
      case 1:
        req.partialResponseDisabled = r.bool();
        break;
      case 2:
        req.partialResponseStrategy = r.uint32() as PartialResponseStrategy;
        break;
      case 3:
        req.start = r.int64();
        break;
      case 4:
        req.end = r.int64();
        break;
      case 5:
        req.hints = readAny(r.sub());
        break;
      case 6:
        req.matchers.push(readMatcher(r.sub()));
        break;
      case 7:
        req.withoutReplicaLabels.push(r.string());
        break;
      case 8:
        req.limit = r.int64();
        break;
      default:
        r.skip(t & 7);
    }
  }
  return req;
}

export function encodeLabelValuesRequest(req: LabelValuesRequest): Buffer {
  const w = new ProtoWriter();
  w.string(1, req.label).bool(2, req.partialResponseDisabled).uint32(3, req.partialResponseStrategy);
  w.int64(4, req.start).int64(5, req.end);
  writeAny(w, 6, req.hints);
  writeMatchers(w, 7, req.matchers);
  writeStrings(w, 8, req.withoutReplicaLabels);
  w.int64(9, req.limit);
  return w.finish();
}

export function decodeLabelValuesRequest(buf: Uint8Array): LabelValuesRequest {
  const r = new ProtoReader(buf);
  const req: LabelValuesRequest = { ...labelNamesRequest(), label: '' };
  while (!r.done) {
    const t = r.tag();
    switch (t >>> 3) {
      case 1:
        req.label = r.string();
        break;
      case 2:
        req.partialResponseDisabled = r.bool();
        break;
      case 3:
        req.partialResponseStrategy = r.uint32() as PartialResponseStrategy;
        break;
      case 4:
        req.start = r.int64();
        break;
      case 5:
        req.end = r.int64();
        break;
      case 6:
        req.hints = readAny(r.sub());
        break;
      case 7:
        req.matchers.push(readMatcher(r.sub()));
        break;
      case 8:
        req.withoutReplicaLabels.push(r.string());
        break;
      case 9:
        req.limit = r.int64();
        break;
      default:
        r.skip(t & 7);
    }
  }
  return req;
}

/** LabelNamesResponse and LabelValuesResponse share one layout: strings = 1, warnings = 2, hints = 3. */
function encodeStringsResponse(values: readonly string[], warnings: readonly string[], hints: AnyMessage | undefined): Buffer {
  const w = new ProtoWriter();
  writeStrings(w, 1, values);
  writeStrings(w, 2, warnings);
  writeAny(w, 3, hints);
  return w.finish();
}

function decodeStringsResponse(buf: Uint8Array): { values: string[]; warnings: string[]; hints?: AnyMessage } {
  const r = new ProtoReader(buf);
  const out: { values: string[]; warnings: string[]; hints?: AnyMessage } = { values: [], warnings: [] };
  while (!r.done) {
    const t = r.tag();
    if (t === 10) out.values.push(r.string());
    else if (t === 18) out.warnings.push(r.string());
    else if (t === 26) out.hints = readAny(r.sub());
    else r.skip(t & 7);
  }
  return out;
}

export function encodeLabelNamesResponse(res: LabelNamesResponse): Buffer {
  return encodeStringsResponse(res.names, res.warnings, res.hints);
}

export function decodeLabelNamesResponse(buf: Uint8Array): LabelNamesResponse {
  const { values, ...rest } = decodeStringsResponse(buf);
  return { names: values, ...rest };
}

export function encodeLabelValuesResponse(res: LabelValuesResponse): Buffer {
  return encodeStringsResponse(res.values, res.warnings, res.hints);
}

export function decodeLabelValuesResponse(buf: Uint8Array): LabelValuesResponse {
  return decodeStringsResponse(buf);
}

// ---------------------------------------------------------------- Info RPC

export function encodeInfoRequest(): Buffer {
  return Buffer.alloc(0);
}

export function decodeInfoRequest(): Record<string, never> {
  return {};
}

export function encodeInfoResponse(res: InfoResponse): Buffer {
  const w = new ProtoWriter();
  for (const set of res.labelSets) {
    w.fork(1);
    writeLabels(w, 1, set);
    w.ldelim();
  }
  w.string(2, res.componentType);
  if (res.store) {
    const s = res.store;
    w.fork(3).int64(1, s.minTime).int64(2, s.maxTime).bool(3, s.supportsSharding).bool(5, s.supportsWithoutReplicaLabels);
    for (const ti of s.tsdbInfos) {
      w.fork(6).fork(1);
      writeLabels(w, 1, ti.labels);
      w.ldelim().int64(2, ti.minTime).int64(3, ti.maxTime).ldelim();
    }
    w.bool(7, s.supportsProjections).ldelim();
  }
  const empty = (field: number, present: boolean | undefined) => {
    if (present) w.fork(field).ldelim();
  };
  empty(4, res.rules);
  empty(5, res.metricMetadata);
  empty(6, res.targets);
  if (res.exemplars) w.fork(7).int64(1, res.exemplars.minTime).int64(2, res.exemplars.maxTime).ldelim();
  empty(8, res.query);
  empty(9, res.status);
  return w.finish();
}

function readStoreInfo(r: ProtoReader): StoreInfo {
  const s: StoreInfo = {
    minTime: 0,
    maxTime: 0,
    supportsSharding: false,
    supportsWithoutReplicaLabels: false,
    tsdbInfos: [],
    supportsProjections: false,
  };
  while (!r.done) {
    const t = r.tag();
    switch (t) {
      case 8:
        s.minTime = r.int64();
        break;
      case 16:
        s.maxTime = r.int64();
        break;
      case 24:
        s.supportsSharding = r.bool();
        break;
      case 40:
        s.supportsWithoutReplicaLabels = r.bool();
        break;
      case 50: {
        const ti: TSDBInfo = { labels: [], minTime: 0, maxTime: 0 };
        const x = r.sub();
        while (!x.done) {
          const u = x.tag();
          if (u === 10) ti.labels = readLabelSet(x.sub());
          else if (u === 16) ti.minTime = x.int64();
          else if (u === 24) ti.maxTime = x.int64();
          else x.skip(u & 7);
        }
        s.tsdbInfos.push(ti);
        break;
      }
      case 56:
        s.supportsProjections = r.bool();
        break;
      default:
        r.skip(t & 7);
    }
  }
  return s;
}

export function decodeInfoResponse(buf: Uint8Array): InfoResponse {
  const r = new ProtoReader(buf);
  const res: InfoResponse = { labelSets: [], componentType: '' };
  while (!r.done) {
    const t = r.tag();
    switch (t) {
      case 10:
        res.labelSets.push(readLabelSet(r.sub()));
        break;
      case 18:
        res.componentType = r.string();
        break;
      case 26:
        res.store = readStoreInfo(r.sub());
        break;
      case 34:
        r.skip(2);
        res.rules = true;
        break;
      case 42:
        r.skip(2);
        res.metricMetadata = true;
        break;
      case 50:
        r.skip(2);
        res.targets = true;
        break;
      case 58: {
        const x = r.sub();
        const e = { minTime: 0, maxTime: 0 };
        while (!x.done) {
          const u = x.tag();
          if (u === 8) e.minTime = x.int64();
          else if (u === 16) e.maxTime = x.int64();
          else x.skip(u & 7);
        }
        res.exemplars = e;
        break;
      }
      case 66:
        r.skip(2);
        res.query = true;
        break;
      case 74:
        r.skip(2);
        res.status = true;
        break;
      default:
        r.skip(t & 7);
    }
  }
  return res;
}
