// Streamed remote-read framing: frames split across network chunks, CRC32C checked, truncation detected;
// chunks transcoded to StoreAPI bytes that the StoreAPI decoder reads back as the same chunks.
import { chunkHash, decodeSeriesResponse, encodeSeriesResponse, MAX_INT64, MIN_INT64, ProtoWriter } from '@strata/storeapi';
import { crc32c } from '@strata/tsdb';
import { describe, expect, it } from 'vitest';
import { decodeChunkedReadResponse } from '@strata/storeapi';
import { readFramePieces, readFrames, transcodeChunkedReadResponse } from './remoteread.js';

function payload(name: string, chunkBytes: number[]): Buffer {
  const w = new ProtoWriter();
  w.fork(1);
  w.fork(1).string(1, '__name__').string(2, name).ldelim();
  w.fork(2).int64(1, 1000).int64(2, 2000).uint32(3, 1).bytes(4, Buffer.from(chunkBytes)).ldelim();
  w.ldelim();
  w.int64(2, 0);
  return w.finish();
}

function frame(p: Buffer, crc = crc32c(p) >>> 0): Buffer {
  const len: number[] = [];
  for (let v = p.length; ; v >>>= 7) {
    if (v < 0x80) {
      len.push(v);
      break;
    }
    len.push((v & 0x7f) | 0x80);
  }
  const c = Buffer.alloc(4);
  c.writeUInt32BE(crc);
  return Buffer.concat([Buffer.from(len), c, p]);
}

async function* pieces(buf: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function collect(body: AsyncIterable<Uint8Array>): Promise<string[]> {
  const names: string[] = [];
  for await (const p of readFrames(body)) for (const s of decodeChunkedReadResponse(p)) names.push(`${s.labels[0]!.value}:${s.chunks[0]!.type}:${s.chunks[0]!.data.length}`);
  return names;
}

describe('readFrames', () => {
  const big = Array.from({ length: 300 }, (_, i) => i & 0xff);
  const stream = Buffer.concat([frame(payload('a', [0, 1, 2])), frame(payload('b', big)), frame(payload('c', [9]))]);

  it('reassembles frames split at any byte', async () => {
    for (const size of [1, 2, 3, 7, 64, 1000]) expect(await collect(pieces(stream, size))).toEqual(['a:1:3', 'b:1:300', 'c:1:1']);
  });

  it('gives payloads as views of the network chunks they span, which transcode as the joined payload does', async () => {
    const encoded = async (size: number) => {
      const out: string[] = [];
      for await (const parts of readFramePieces(pieces(stream, size))) {
        for (const s of transcodeChunkedReadResponse(parts)) {
          out.push(encodeSeriesResponse({ series: { labels: s.labels, chunks: [], extraChunks: s.chunks } }).toString('hex'));
        }
      }
      return out;
    };
    const whole = await encoded(stream.length);
    expect(whole).toHaveLength(3);
    for (const size of [1, 2, 3, 7, 64, 1000]) expect(await encoded(size)).toEqual(whole);
    const parts: Buffer[][] = [];
    for await (const p of readFramePieces(pieces(stream, 64))) parts.push(p);
    expect(parts[1]!.length).toBe(6); // the 300-byte chunk's frame spans six 64-byte network chunks
    expect(parts[1]![1]!.buffer).toBe(stream.buffer); // a view, not a copy
  });

  it('rejects a frame whose CRC32C does not match, naming its offset', async () => {
    const first = frame(payload('a', [0, 1, 2]));
    const bad = frame(payload('b', big), 0xdeadbeef);
    for (const size of [5, 1000]) {
      await expect(collect(pieces(Buffer.concat([first, bad]), size))).rejects.toThrow(new RegExp(`CRC32C mismatch in frame at byte ${first.length}`));
    }
  });

  it('rejects a stream cut inside a frame and frames over the size limit', async () => {
    await expect(collect(pieces(stream.subarray(0, stream.length - 2), 10))).rejects.toThrow(/stream ended inside a frame/);
    // An error Prometheus wrote into a body it had begun streaming (its status already 200) is quoted.
    const error = 'iterate chunk while re-encoding: detected unexpected counter reset in histogram\n';
    for (const size of [10, 1000]) {
      await expect(collect(pieces(Buffer.concat([stream, Buffer.from(error)]), size))).rejects.toThrow(
        `stream ended inside a frame at byte ${stream.length} (${error.length} bytes left over): Prometheus wrote "${error.trim()}"`,
      );
    }
    await expect(async () => {
      for await (const _ of readFrames(pieces(stream, 100), 100));
    }).rejects.toThrow(/exceeds the 100-byte limit/);
  });
});

describe('transcodeChunkedReadResponse', () => {
  it('re-encodes every chunk as a StoreAPI raw chunk: times, encoding renumbered, bytes kept, xxhash64 added', () => {
    const chunks = [
      { minTime: 0, maxTime: 1, type: 1, data: [] as number[] },
      { minTime: -5, maxTime: MAX_INT64, type: 2, data: [1, 2, 3] },
      { minTime: MIN_INT64, maxTime: 1_700_000_000_000, type: 3, data: Array.from({ length: 300 }, (_, i) => i & 0xff) },
    ];
    const w = new ProtoWriter();
    for (const [name, list] of [
      ['a', chunks],
      ['b', chunks.slice(1, 2)],
      ['c', []],
    ] as const) {
      w.fork(1);
      w.fork(1).string(1, '__name__').string(2, name).ldelim();
      for (const c of list) w.fork(2).int64(1, c.minTime).int64(2, c.maxTime).uint32(3, c.type).bytes(4, Buffer.from(c.data)).ldelim();
      w.ldelim();
    }
    const series = transcodeChunkedReadResponse(w.finish());
    expect(series.map((s) => s.labels[0]!.value)).toEqual(['a', 'b', 'c']);
    const decoded = series.map((s) => {
      const f = decodeSeriesResponse(encodeSeriesResponse({ series: { labels: s.labels, chunks: [], extraChunks: s.chunks } }));
      if (!('series' in f)) throw new Error('not a series frame');
      return f.series.chunks.map((c) => ({ minTime: c.minTime, maxTime: c.maxTime, type: c.raw!.type + 1, data: [...c.raw!.data], hash: c.raw!.hash }));
    });
    const want = (list: typeof chunks) => list.map((c) => ({ ...c, hash: chunkHash(Buffer.from(c.data)) }));
    expect(decoded).toEqual([want(chunks), want(chunks.slice(1, 2)), []]);

    // A series continued in the next frame: its chunks follow on.
    const [a, b] = series;
    a!.chunks.append(b!.chunks);
    const f = decodeSeriesResponse(encodeSeriesResponse({ series: { labels: a!.labels, chunks: [], extraChunks: a!.chunks } }));
    expect('series' in f && f.series.chunks.map((c) => c.minTime)).toEqual([0, -5, MIN_INT64, -5]);
  });

  it('reads labels written after chunks and among unknown fields, as the decoder does', () => {
    // Prometheus writes every label before the chunks; a series that does not is read whole.
    const w = new ProtoWriter();
    for (const labelsAfter of [false, true]) {
      w.fork(1);
      w.fork(1).string(1, 'a').string(2, '1').ldelim();
      w.fork(2).int64(1, 1).int64(2, 2).uint32(3, 1).bytes(4, Buffer.from([1, 2])).ldelim();
      if (labelsAfter) w.fork(1).string(1, 'b').string(2, '2').ldelim();
      w.uint32(5, 7); // an unknown field
      w.fork(2).int64(1, 3).int64(2, 4).uint32(3, 1).bytes(4, Buffer.from([3])).ldelim();
      if (labelsAfter) w.fork(1).string(1, 'c').string(2, '3').ldelim();
      w.ldelim();
    }
    const payload = w.finish();
    const series = transcodeChunkedReadResponse(payload);
    expect(series.map((s) => s.labels)).toEqual(decodeChunkedReadResponse(payload).map((s) => s.labels));
    expect(series[1]!.labels.map((l) => l.name)).toEqual(['a', 'b', 'c']);
    for (const s of series) {
      const f = decodeSeriesResponse(encodeSeriesResponse({ series: { labels: s.labels, chunks: [], extraChunks: s.chunks } }));
      expect('series' in f && f.series.chunks.map((c) => [...c.raw!.data])).toEqual([[1, 2], [3]]);
    }
  });

  it('rejects chunk encodings the StoreAPI cannot carry', () => {
    const w = new ProtoWriter();
    w.fork(1).fork(2).int64(1, 1).uint32(3, 7).bytes(4, Buffer.from([1])).ldelim().ldelim();
    expect(() => transcodeChunkedReadResponse(w.finish())).toThrow(/unknown chunk encoding 7/);
  });

  it('hashes chunk data of every length as xxhash64 does, whatever the alignment', () => {
    const w = new ProtoWriter();
    w.fork(1);
    w.fork(1).string(1, '__name__').string(2, 'a').ldelim();
    const data: Buffer[] = [];
    for (let n = 0; n < 300; n++) {
      data.push(Buffer.from(Array.from({ length: n }, (_, i) => (i * 7919 + n * 31) & 0xff)));
      w.fork(2).int64(1, n).int64(2, n + 1).uint32(3, 1).bytes(4, data[n]!).ldelim();
    }
    w.ldelim();
    const [s] = transcodeChunkedReadResponse(w.finish());
    const f = decodeSeriesResponse(encodeSeriesResponse({ series: { labels: s!.labels, chunks: [], extraChunks: s!.chunks } }));
    if (!('series' in f)) throw new Error('not a series frame');
    expect(f.series.chunks.map((c) => c.raw!.hash)).toEqual(data.map((d) => chunkHash(d)));
    expect(f.series.chunks.map((c) => Buffer.from(c.raw!.data))).toEqual(data);
  });

  it('writes series of tiny chunks that outgrow twice the payload', () => {
    const w = new ProtoWriter();
    w.fork(1);
    for (let i = 0; i < 1000; i++) w.fork(2).uint32(3, 1).ldelim();
    w.ldelim();
    const [s] = transcodeChunkedReadResponse(w.finish());
    const f = decodeSeriesResponse(encodeSeriesResponse({ series: { labels: [], chunks: [], extraChunks: s!.chunks } }));
    expect('series' in f && f.series.chunks.map((c) => c.raw!.hash)).toEqual(Array(1000).fill(chunkHash(new Uint8Array(0))));
  });

  it('rejects truncated and malformed chunks', () => {
    const w = new ProtoWriter();
    w.fork(1).fork(2).uint32(3, 1).bytes(4, Buffer.from([1, 2, 3])).int64(1, 1000).ldelim().ldelim();
    const good = w.finish();
    // Content length of the chunk's data field one more than there is.
    const bad = Buffer.from(good);
    bad[bad.indexOf(0x22) + 1] = 4;
    expect(() => transcodeChunkedReadResponse(bad)).toThrow(/malformed chunk/);
    // The chunk's last field, a varint, not ended within it.
    const cut = Buffer.from(good);
    cut[cut.length - 1] = 0x80;
    expect(() => transcodeChunkedReadResponse(cut)).toThrow(/malformed chunk/);
    expect(transcodeChunkedReadResponse(good)).toHaveLength(1);
  });

  it('keeps the chunks of series held unsent beyond the transcoder\'s slabs (re-sorting a large query), and reuses released ones', () => {
    const data = Buffer.from(Array.from({ length: 60_000 }, (_, i) => (i * 131) & 0xff));
    const w = new ProtoWriter();
    for (let i = 0; i < 600; i++) {
      w.fork(1);
      w.fork(1).string(1, '__name__').string(2, `s${i}`).ldelim();
      w.fork(2).int64(1, i).uint32(3, 1).bytes(4, data).ldelim();
      w.ldelim();
    }
    const payload = w.finish();
    const check = (series: ReturnType<typeof transcodeChunkedReadResponse>, first = 0) =>
      series.map((s, i) => {
        const f = decodeSeriesResponse(encodeSeriesResponse({ series: { labels: s.labels, chunks: [], extraChunks: s.chunks } }));
        if (!('series' in f)) throw new Error('not a series frame');
        const c = f.series.chunks[0]!;
        return c.minTime === first + i && c.raw!.hash === chunkHash(data) && Buffer.from(c.raw!.data).equals(data);
      });
    // 600 × 60 KB held at once: more than the slabs take.
    const held = transcodeChunkedReadResponse(payload);
    expect(check(held).every(Boolean)).toBe(true);
    for (const s of held) s.chunks.release();
    const again = transcodeChunkedReadResponse(payload);
    expect(check(again).every(Boolean)).toBe(true);
    // Held series stay intact while released ones' slabs are written again.
    for (const s of again.slice(0, 300)) s.chunks.release();
    transcodeChunkedReadResponse(payload).forEach((s) => s.chunks.release());
    expect(check(again.slice(300), 300).every(Boolean)).toBe(true);
  });
});
