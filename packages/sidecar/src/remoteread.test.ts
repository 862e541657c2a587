// Streamed remote-read framing: frames split across network chunks, CRC32C checked, truncation detected.
import { ProtoWriter } from '@strata/storeapi';
import { crc32c } from '@strata/tsdb';
import { describe, expect, it } from 'vitest';
import { decodeChunkedReadResponse, readFrames } from './remoteread.js';

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

  it('rejects a frame whose CRC32C does not match, naming its offset', async () => {
    const first = frame(payload('a', [0, 1, 2]));
    const bad = frame(payload('b', big), 0xdeadbeef);
    await expect(collect(pieces(Buffer.concat([first, bad]), 5))).rejects.toThrow(new RegExp(`CRC32C mismatch in frame at byte ${first.length}`));
  });

  it('rejects a stream cut inside a frame and frames over the size limit', async () => {
    await expect(collect(pieces(stream.subarray(0, stream.length - 2), 10))).rejects.toThrow(/stream ended inside a frame/);
    await expect(async () => {
      for await (const _ of readFrames(pieces(stream, 100), 100));
    }).rejects.toThrow(/exceeds the 100-byte limit/);
  });
});
