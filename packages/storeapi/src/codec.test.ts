// The hand-written codec is checked against protobufjs compiling the shipped .proto files: two independent
// implementations must agree byte-for-byte on meaning in both directions.
import { join } from 'node:path';
import { Encoding, ValueType, XORChunk } from '@strata/tsdb';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import * as codec from './codec.js';
import { type AggrChunk, type ChunkEncoding, MAX_INT64, MIN_INT64, seriesRequest, type SeriesResponse, type StoreChunk, type StoreSeries } from './messages.js';
import { PROTO_DIR, PROTO_FILES } from './proto.js';
import { ProtoWriter } from './wire/writer.js';

const root = new protobuf.Root();
root.resolvePath = (_origin, target) => (target.startsWith('google/') || target.startsWith('/') ? target : join(PROTO_DIR, target));
await root.load(PROTO_FILES.map((f) => join(PROTO_DIR, f)), { keepCase: true });
const T = (name: string) => root.lookupType(name);

const asObject = (type: string, buf: Uint8Array) =>
  T(type).toObject(T(type).decode(buf), { longs: String, enums: Number, bytes: Array, defaults: false });

/** A decoded frame with its chunks as plain objects: a decoded chunk's hash is an accessor, which toEqual does not read. */
function plain(f: SeriesResponse): SeriesResponse {
  const chunk = (c: StoreChunk): StoreChunk => ({ type: c.type, data: c.data, hash: c.hash });
  const aggr = (c: AggrChunk): AggrChunk => {
    const out: AggrChunk = { minTime: c.minTime, maxTime: c.maxTime };
    for (const k of ['raw', 'count', 'sum', 'min', 'max', 'counter'] as const) if (c[k] !== undefined) out[k] = chunk(c[k]);
    return out;
  };
  const series = (s: StoreSeries): StoreSeries => ({ labels: s.labels, chunks: s.chunks.map(aggr) });
  return 'series' in f ? { series: series(f.series) } : 'batch' in f ? { batch: f.batch.map(series) } : f;
}

describe('codec vs protobufjs on the .proto files', () => {
  it('SeriesRequest with every field, including negative and extreme int64', () => {
    const req = seriesRequest({
      minTime: -1_700_000_000_123,
      maxTime: MAX_INT64,
      matchers: [
        { type: 0, name: '__name__', value: 'up' },
        { type: 2, name: 'job', value: 'pro.*' },
      ],
      maxResolutionWindow: 300_000,
      aggregates: [1, 2, 5],
      partialResponseStrategy: 1,
      skipChunks: true,
      hints: { typeUrl: 'type.googleapis.com/hintspb.SeriesRequestHints', value: Buffer.from([8, 1]) },
      step: 15_000,
      range: 60_000,
      queryHints: {
        stepMillis: 30_000,
        func: { name: 'rate' },
        grouping: { by: true, labels: ['a', 'b'] },
        range: { millis: 300_000 },
        projectionLabels: ['x'],
        projectionInclude: true,
        seriesHashLabelName: '__cf_series_hash__',
      },
      shardInfo: { shardIndex: 1, totalShards: 4, by: true, labels: ['job'] },
      withoutReplicaLabels: ['replica', 'rule_replica'],
      limit: 1000,
      responseBatchSize: 64,
    });
    const o = asObject('thanos.SeriesRequest', codec.encodeSeriesRequest(req));
    expect(o).toMatchObject({
      min_time: '-1700000000123',
      max_time: '9223372036854775807',
      matchers: [{ name: '__name__', value: 'up' }, { type: 2, name: 'job', value: 'pro.*' }],
      max_resolution_window: '300000',
      aggregates: [1, 2, 5],
      partial_response_strategy: 1,
      skip_chunks: true,
      hints: { type_url: 'type.googleapis.com/hintspb.SeriesRequestHints', value: [8, 1] },
      step: '15000',
      range: '60000',
      query_hints: {
        step_millis: '30000',
        func: { name: 'rate' },
        grouping: { by: true, labels: ['a', 'b'] },
        range: { millis: '300000' },
        projection_labels: ['x'],
        projection_include: true,
        series_hash_label_name: '__cf_series_hash__',
      },
      shard_info: { shard_index: '1', total_shards: '4', by: true, labels: ['job'] },
      without_replica_labels: ['replica', 'rule_replica'],
      limit: '1000',
      response_batch_size: '64',
    });
    // And back: protobufjs' bytes decode to the same request.
    const pj = T('thanos.SeriesRequest').encode(T('thanos.SeriesRequest').decode(codec.encodeSeriesRequest(req))).finish();
    expect(codec.decodeSeriesRequest(pj)).toEqual(req);
  });

  it('MinInt64 survives both ways', () => {
    const req = seriesRequest({ minTime: MIN_INT64, maxTime: -1 });
    const o = asObject('thanos.SeriesRequest', codec.encodeSeriesRequest(req));
    expect(o).toMatchObject({ min_time: '-9223372036854775808', max_time: '-1' });
    expect(codec.decodeSeriesRequest(codec.encodeSeriesRequest(req))).toEqual(req);
  });

  it('SeriesResponse frames: series with hashed chunks, batch, warning, hints', () => {
    // Chunk data decode as plain Uint8Array views (hints' bytes as Buffers).
    const bigData = new Uint8Array(Array.from({ length: 300 }, (_, i) => i & 0xff));
    const series = {
      labels: [
        { name: '__name__', value: 'up' },
        { name: 'ünïcode', value: 'x'.repeat(200) },
      ],
      chunks: [
        { minTime: 1000, maxTime: 2000, raw: { type: 0 as const, data: bigData, hash: 0xfedcba9876543210n } },
        { minTime: 3000, maxTime: 4000, count: { type: 0 as const, data: new Uint8Array([0, 1]), hash: 0n }, counter: { type: 0 as const, data: new Uint8Array([3]), hash: 1n } },
      ],
    };
    const frames: SeriesResponse[] = [
      { series },
      { batch: [series, { labels: [{ name: 'a', value: 'b' }], chunks: [] }] },
      { warning: 'store x unavailable' },
      { hints: { typeUrl: 'type.googleapis.com/hintspb.SeriesResponseHints', value: Buffer.from([10, 2, 10, 0]) } },
    ];
    for (const f of frames) {
      const bytes = codec.encodeSeriesResponse(f);
      // With room for the gRPC message header in front: the same message after it.
      expect(Buffer.compare(codec.encodeSeriesResponse(f, 5).subarray(5), bytes)).toBe(0);
      const pj = T('thanos.SeriesResponse').decode(bytes);
      const back = T('thanos.SeriesResponse').encode(pj).finish();
      expect(plain(codec.decodeSeriesResponse(back))).toEqual(f);
    }
    const o = asObject('thanos.SeriesResponse', codec.encodeSeriesResponse({ series }));
    expect(o.series.chunks[0].raw.hash).toBe(0xfedcba9876543210n.toString());
    expect(o.series.chunks[0].raw.data).toEqual([...bigData]);
    expect(o.series.labels[1].name).toBe('ünïcode');
  });

  it('Series frames sized beforehand: every varint length boundary, extreme times and hashes, empty fields', () => {
    // Frame sizes are computed before writing; each case puts a size or value on a varint boundary.
    const bytes = (n: number) => Buffer.alloc(n, 0xab);
    const chunks = [1, 2, 127, 128, 16_383, 16_384, 2_097_152].map((n, i) => ({
      minTime: [0, -1, MIN_INT64, 2 ** 31 - 1, 2 ** 31, 2 ** 53 - 1, 1_700_000_000_000][i]!,
      maxTime: [MAX_INT64, 0, 127, 128, 2 ** 35, 16_384, -(2 ** 40)][i]!,
      raw: { type: (i % 3) as 0 | 1 | 2, data: bytes(n), hash: [0n, 1n, 127n, 128n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 64n - 1n][i]! },
    }));
    const series = (labelLen: number) => ({
      labels: [
        { name: '', value: '' },
        { name: 'a', value: '' },
        { name: 'ß'.repeat(labelLen), value: '€'.repeat(labelLen) },
      ],
      chunks,
    });
    for (const labelLen of [0, 21, 42, 43, 64, 200]) {
      for (const f of [{ series: series(labelLen) }, { batch: [series(labelLen), { labels: [], chunks: [] }] }] as SeriesResponse[]) {
        // protobufjs writes fields in the same order, so meaning agrees iff its re-encoding is byte-identical.
        const enc = codec.encodeSeriesResponse(f);
        const back = T('thanos.SeriesResponse').encode(T('thanos.SeriesResponse').decode(enc)).finish();
        expect(Buffer.compare(Buffer.from(back), enc)).toBe(0);
        const got = codec.decodeSeriesResponse(enc);
        const s = 'series' in got ? got.series : 'batch' in got ? got.batch[0]! : undefined;
        expect(s?.labels).toEqual(series(labelLen).labels);
        expect(s?.chunks.map((c) => [c.minTime, c.maxTime, c.raw!.type, c.raw!.data.length, c.raw!.hash])).toEqual(chunks.map((c) => [c.minTime, c.maxTime, c.raw.type, c.raw.data.length, c.raw.hash]));
      }
    }
  });

  it('several series frames written as one buffer of gRPC messages (single series or batches), each the frame encodeSeriesResponse makes', () => {
    const series = [0, 1, 130, 20_000].map((n, i) => ({
      labels: [{ name: '__name__', value: `m${i}` }],
      chunks: n === 0 ? [] : [{ minTime: i, maxTime: i + n, raw: { type: 0 as const, data: new Uint8Array(n).fill(i), hash: BigInt(n) } }],
    }));
    const sizes = series.map(codec.encodedSeriesSize);
    const messages = (buf: Buffer) => {
      const got: string[] = [];
      for (let off = 0; off < buf.length; ) {
        expect(buf[off]).toBe(0); // uncompressed
        const len = buf.readUInt32BE(off + 1);
        got.push(buf.subarray(off + codec.GRPC_MESSAGE_HEADER_BYTES, off + codec.GRPC_MESSAGE_HEADER_BYTES + len).toString('hex'));
        off += codec.GRPC_MESSAGE_HEADER_BYTES + len;
      }
      return got;
    };
    const one = codec.encodeSeriesMessages({ messages: series, sizes, ends: [1, 2, 3, 4], batched: false });
    expect(messages(one)).toEqual(series.map((s) => codec.encodeSeriesResponse({ series: s }).toString('hex')));
    const batches = codec.encodeSeriesMessages({ messages: series, sizes, ends: [1, 3, 4], batched: true });
    expect(messages(batches)).toEqual([series.slice(0, 1), series.slice(1, 3), series.slice(3)].map((batch) => codec.encodeSeriesResponse({ batch }).toString('hex')));
  });

  it('label strings: repeated, distinct (colliding in the decoder\'s cache of recent strings), mixed ASCII and not; sized batches', () => {
    const labels = (i: number) => [
      { name: '__name__', value: 'up' },
      { name: 'instance', value: `host${i}:9100` },
      { name: 'mixed', value: i % 2 === 0 ? `a${i}é` : `é${i}a` },
      { name: 'x'.repeat(i % 70), value: String.fromCharCode(0x7f, 0x41 + (i % 26)) },
    ];
    const batch = Array.from({ length: 20_000 }, (_, i) => ({ labels: labels(i), chunks: [] }));
    const bytes = codec.encodeSeriesResponse({ batch });
    // A batch encoded from the sizes its sender computed is the same message.
    const sized = codec.encodeSeriesMessages({ messages: [...batch], sizes: batch.map(codec.encodedSeriesSize), ends: [batch.length], batched: true });
    expect(Buffer.compare(sized.subarray(codec.GRPC_MESSAGE_HEADER_BYTES), bytes)).toBe(0);
    const pj = asObject('thanos.SeriesResponse', bytes);
    expect(pj.batch.series[12_345].labels[2].value).toBe('é12345a');
    for (let round = 0; round < 2; round++) {
      const got = codec.decodeSeriesResponse(bytes);
      expect('batch' in got && got.batch.map((s) => s.labels)).toEqual(batch.map((s) => s.labels.filter((l) => l.name !== '' || l.value !== '')));
    }
  });

  it('labels decoded again from the same bytes: non-ASCII, invalid UTF-8, fields in any order, unknown fields, prefixes of kept labels', () => {
    // Each label message is written by hand, so that the decoder meets what other encoders may send.
    type Field = ['name' | 'value', Uint8Array] | ['unknown'];
    const cases: Field[][] = [
      [['name', Buffer.from('job')], ['value', Buffer.from('api')]],
      [['name', Buffer.from('job')], ['value', Buffer.from('ap')]],
      [['name', Buffer.from('job')], ['value', Buffer.from('apiserver')]],
      [['value', Buffer.from('api')], ['name', Buffer.from('job')]],
      [['name', Buffer.from('job')], ['unknown'], ['value', Buffer.from('api')]],
      [['name', Buffer.from('jöb')], ['value', Buffer.from('€uro 😀')]],
      [['name', Buffer.from('bad')], ['value', Buffer.from([0x61, 0xff, 0xc3, 0x28, 0xe2, 0x82])]],
      [['name', Buffer.from('bad')], ['value', Buffer.from([0x61, 0xff, 0xc3, 0x28, 0xe2, 0x83])]],
      [['name', Buffer.from('job')], ['name', Buffer.from('dup')], ['value', Buffer.from('api')]],
      [['name', Buffer.from('x'.repeat(70))], ['value', Buffer.from('long')]],
      [['name', Buffer.from('')], ['value', Buffer.from('')]],
      [],
    ];
    const labelMessage = (fields: Field[]) => {
      const w = new ProtoWriter();
      for (const f of fields) {
        if (f[0] === 'unknown') w.uint32(7, 300).bytes(9, Buffer.from('?'));
        else w.bytes(f[0] === 'name' ? 1 : 2, f[1], true);
      }
      return w.finish();
    };
    // What each decodes to without being kept: the last name and value fields, as UTF-8 with U+FFFD for invalid bytes.
    const decoded = (fields: Field[]) => {
      let name = '';
      let value = '';
      for (const f of fields) {
        if (f[0] === 'name') name = Buffer.from(f[1]).toString('utf8');
        else if (f[0] === 'value') value = Buffer.from(f[1]).toString('utf8');
      }
      return { name, value };
    };
    expect(decoded(cases[6]!).value).toContain('\ufffd');
    // Every case in every series, in a different order per series, and again in a second frame.
    const frame = (shift: number) => {
      const w = new ProtoWriter();
      w.fork(4);
      for (let s = 0; s < cases.length; s++) {
        w.fork(1);
        for (let i = 0; i < cases.length; i++) w.bytes(1, labelMessage(cases[(i + s + shift) % cases.length]!), true);
        w.ldelim();
      }
      return w.ldelim().finish();
    };
    for (const shift of [0, 5, 0]) {
      const bytes = frame(shift);
      const got = codec.decodeSeriesResponse(bytes);
      const want = cases.map((_, s) => cases.map((_, i) => decoded(cases[(i + s + shift) % cases.length]!)));
      expect('batch' in got && got.batch.map((s) => s.labels)).toEqual(want);
    }
  });

  it('chunk hashes, read when asked for: from any varint length, absent, repeated, before the data, assigned', () => {
    const hashes = [1n, 127n, 128n, 2n ** 32n, 0x9e3779b97f4a7c15n, 2n ** 64n - 1n];
    const w = new ProtoWriter();
    w.fork(1);
    const chunk = (write: (c: ProtoWriter) => void) => {
      w.fork(2).int64(1, 10).int64(2, 20).fork(3);
      write(w);
      w.ldelim().ldelim();
    };
    for (const h of hashes) chunk((c) => c.uint64(3, h).bytes(2, Buffer.from([1, 2, 3])).uint32(1, 1));
    chunk((c) => c.bytes(2, Buffer.from([4])));
    chunk((c) => c.uint64(3, 5n).uint32(7, 1).bytes(2, Buffer.from([4])).uint64(3, 6n));
    const bytes = w.ldelim().finish();
    const got = codec.decodeSeriesResponse(bytes);
    const chunks = 'series' in got ? got.series.chunks : [];
    expect(chunks.map((c) => c.raw!.hash)).toEqual([...hashes, 0n, 6n]);
    expect(chunks.map((c) => [...c.raw!.data])).toEqual([...hashes.map(() => [1, 2, 3]), [4], [4]]);
    expect(plain(got)).toEqual(plain(codec.decodeSeriesResponse(T('thanos.SeriesResponse').encode(T('thanos.SeriesResponse').decode(bytes)).finish())));
    const raw = chunks[0]!.raw!;
    raw.hash = 42n;
    expect(raw.hash).toBe(42n);
    // A hash whose varint runs past its chunk fails the frame when it is decoded, not when the hash is read.
    const bad = Buffer.from(new ProtoWriter().fork(1).fork(2).fork(3).uint64(3, 2n ** 63n).ldelim().ldelim().ldelim().finish());
    bad[bad.length - 1] |= 0x80;
    expect(() => codec.decodeSeriesResponse(bad)).toThrow(/truncated|beyond|longer than 10 bytes/);
  });

  it('decoded raw XOR chunks are tsdb chunk metas as they are; aggregates and other encodings are not', () => {
    const xor = new XORChunk();
    const app = xor.appender();
    for (let t = 0; t < 5; t++) app.append(1000 + t * 15, t * 1.5);
    const raw = (type: ChunkEncoding): StoreChunk => ({ type, data: xor.bytes, hash: 0n });
    const frame = (chunks: AggrChunk[]) => codec.decodeSeriesResponse(codec.encodeSeriesResponse({ series: { labels: [{ name: 'a', value: '1' }], chunks } }));
    const chunksOf = (f: SeriesResponse) => ('series' in f ? f.series.chunks : []);
    const metas = codec.decodedChunkMetas(chunksOf(frame([{ minTime: 1000, maxTime: 1060, raw: raw(0) }, { minTime: 1100, maxTime: 1160, raw: raw(0) }])));
    expect(metas?.map((m) => [m.minTime, m.maxTime, m.chunk.encoding, m.chunk.numSamples()])).toEqual([
      [1000, 1060, Encoding.XOR, 5],
      [1100, 1160, Encoding.XOR, 5],
    ]);
    const it = metas![0]!.chunk.iterator();
    const samples: number[][] = [];
    while (it.next() === ValueType.Float) samples.push([it.atT(), it.atFloat()]);
    expect(samples).toEqual([0, 1, 2, 3, 4].map((t) => [1000 + t * 15, t * 1.5]));
    // An aggregate chunk, a histogram chunk, or chunks not decoded from a frame: read through their fields instead.
    expect(codec.decodedChunkMetas(chunksOf(frame([{ minTime: 1000, maxTime: 1060, raw: raw(0) }, { minTime: 1100, maxTime: 1160, sum: raw(0) }])))).toBeUndefined();
    expect(codec.decodedChunkMetas(chunksOf(frame([{ minTime: 1000, maxTime: 1060, raw: raw(1) }])))).toBeUndefined();
    expect(codec.decodedChunkMetas([{ minTime: 1000, maxTime: 1060, raw: raw(0) }])).toBeUndefined();
  });

  it('a message decoded from the parts it came in, split anywhere, as from its joined bytes', () => {
    const series = (i: number): StoreSeries => ({
      labels: [
        { name: '__name__', value: 'up' },
        { name: 'instance', value: `host${i}:9100` },
      ],
      chunks: Array.from({ length: i % 3 }, (_, k) => ({ minTime: k, maxTime: k + 1, raw: { type: 0 as const, data: new Uint8Array(40 + i).fill(i), hash: BigInt(i * 1000 + k) } })),
    });
    const batch = codec.encodeSeriesResponse({ batch: [series(0), { labels: [], chunks: [] }, series(1), series(2), series(3)] });
    const splits = (bytes: Buffer, at: number[]) => [0, ...at, bytes.length].slice(1).map((end, i, ends) => bytes.subarray(i === 0 ? 0 : ends[i - 1]!, end));
    const same = (bytes: Buffer, parts: Buffer[]) => expect(plain(codec.decodeSeriesResponseParts(parts))).toEqual(plain(codec.decodeSeriesResponse(bytes)));
    // Every split in two (inside tags, lengths, labels and chunks), then random splits into up to 8 parts.
    for (let at = 0; at <= batch.length; at++) same(batch, splits(batch, [at]));
    let seed = 7;
    const rand = (n: number) => (seed = (seed * 48271) % 2147483647) % n;
    for (let i = 0; i < 300; i++) {
      const at = Array.from({ length: 1 + rand(7) }, () => rand(batch.length + 1)).sort((a, b) => a - b);
      same(batch, splits(batch, at));
    }
    // A series inside one part is decoded where it lies: its chunks are views of that part's memory.
    const own = Buffer.from(new Uint8Array(batch).buffer);
    const got = codec.decodeSeriesResponseParts(splits(own, [own.length - 1]));
    expect('batch' in got && got.batch[2]!.chunks[0]!.raw!.data.buffer).toBe(own.buffer);
    // So are the chunks of a series that spans parts, but for one that spans them itself (copied).
    const chunkData = Buffer.alloc(42, 2);
    const first = own.indexOf(chunkData);
    const firstEnd = first + chunkData.length + 3; // its hash field: a tag and a 2-byte varint
    const chunkBuffers = (at: number) => {
      const d = codec.decodeSeriesResponseParts(splits(own, [at]));
      return 'batch' in d ? d.batch[3]!.chunks.map((ch) => ch.raw!.data.buffer) : [];
    };
    expect(chunkBuffers(firstEnd)).toEqual([own.buffer, own.buffer]);
    // Split 6 bytes into the second chunk's field: that chunk spans the parts.
    const [inPart, spanning] = chunkBuffers(firstEnd + 6);
    expect(inPart).toBe(own.buffer);
    expect(spanning).not.toBe(own.buffer);
    // Other messages, and batches with other fields in or around them, are decoded joined.
    const w = new ProtoWriter();
    w.fork(4).bytes(1, codec.encodeSeriesResponse({ series: series(1) }).subarray(2), true).uint32(2, 5).ldelim();
    const unknownInBatch = w.finish();
    const trailing = Buffer.concat([batch, Buffer.from([0x12, 0x01, 0x41])]);
    for (const bytes of [codec.encodeSeriesResponse({ series: series(2) }), codec.encodeSeriesResponse({ warning: 'w' }), unknownInBatch, trailing]) {
      for (const at of [1, 3, bytes.length >> 1, bytes.length - 1]) same(bytes, splits(bytes, [at]));
    }
    expect('warning' in codec.decodeSeriesResponseParts(splits(trailing, [7]))).toBe(true);
    expect(() => codec.decodeSeriesResponseParts([])).toThrow(/no result/);
    expect(() => codec.decodeSeriesResponseParts(splits(batch.subarray(0, batch.length - 1), [9]))).toThrow(/beyond end of message|truncated/);
  });

  it('Info, LabelNames and LabelValues messages', () => {
    const info = {
      labelSets: [[{ name: 'cluster', value: 'c1' }, { name: 'replica', value: 'r0' }]],
      componentType: 'sidecar',
      store: {
        minTime: 1_700_000_000_000,
        maxTime: MAX_INT64,
        supportsSharding: false,
        supportsWithoutReplicaLabels: true,
        tsdbInfos: [{ labels: [{ name: 'a', value: '1' }], minTime: 5, maxTime: 10 }],
        supportsProjections: false,
      },
      rules: true,
      exemplars: { minTime: 1, maxTime: 2 },
    };
    const o = asObject('thanos.info.InfoResponse', codec.encodeInfoResponse(info));
    expect(o).toMatchObject({
      label_sets: [{ labels: [{ name: 'cluster', value: 'c1' }, { name: 'replica', value: 'r0' }] }],
      ComponentType: 'sidecar',
      store: { min_time: '1700000000000', max_time: '9223372036854775807', supports_without_replica_labels: true },
      rules: {},
      exemplars: { min_time: '1', max_time: '2' },
    });
    expect(o.targets).toBeUndefined();
    expect(codec.decodeInfoResponse(T('thanos.info.InfoResponse').encode(T('thanos.info.InfoResponse').decode(codec.encodeInfoResponse(info))).finish())).toEqual(info);

    const lv = { label: 'job', partialResponseDisabled: true, partialResponseStrategy: 1 as const, start: -5, end: 10, matchers: [{ type: 3 as const, name: 'a', value: '' }], withoutReplicaLabels: ['replica'], limit: 7 };
    expect(asObject('thanos.LabelValuesRequest', codec.encodeLabelValuesRequest(lv))).toMatchObject({ label: 'job', start: '-5', end: '10', limit: '7', without_replica_labels: ['replica'] });
    expect(codec.decodeLabelValuesRequest(codec.encodeLabelValuesRequest(lv))).toEqual(lv);
    const ln = { partialResponseDisabled: false, partialResponseStrategy: 0 as const, start: 1, end: 2, matchers: [], withoutReplicaLabels: [], limit: 0 };
    expect(codec.decodeLabelNamesRequest(codec.encodeLabelNamesRequest(ln))).toEqual(ln);
    // An empty string in a repeated field must keep its slot.
    const names = { names: ['', 'a', 'b'], warnings: ['w'] };
    expect(asObject('thanos.LabelNamesResponse', codec.encodeLabelNamesResponse(names))).toMatchObject({ names: ['', 'a', 'b'], warnings: ['w'] });
    expect(codec.decodeLabelValuesResponse(codec.encodeLabelValuesResponse({ values: ['x'], warnings: [] }))).toEqual({ values: ['x'], warnings: [] });
  });

  it('skips unknown fields from newer peers and rejects truncated input', () => {
    const withUnknown = Buffer.concat([codec.encodeSeriesRequest(seriesRequest({ minTime: 5 })), Buffer.from([0xf8, 0x06, 0x01, 0x82, 0x07, 0x01, 0x00])]);
    expect(codec.decodeSeriesRequest(withUnknown).minTime).toBe(5);
    const frame = codec.encodeSeriesResponse({ series: { labels: [{ name: 'a', value: 'b' }], chunks: [] } });
    expect(() => codec.decodeSeriesResponse(frame.subarray(0, frame.length - 1))).toThrow(/beyond end of message|truncated/);
    expect(() => codec.decodeSeriesResponse(new Uint8Array(0))).toThrow(/no result/);
  });
});
