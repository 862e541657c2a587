// The transcoder's slabs come back from series a failed call never released, once they are garbage.
// A file of its own: the transcoder's memory starts fresh, so that slabs kept for good would show as growth.
import v8 from 'node:v8';
import vm from 'node:vm';
import { decodeSeriesResponse, encodeSeriesResponse, ProtoWriter } from '@strata/storeapi';
import { describe, expect, it } from 'vitest';
import { transcodeChunkedReadResponse, transcoder } from './remoteread.js';

v8.setFlagsFromString('--expose-gc');

describe('transcodeChunkedReadResponse', () => {
  it('gets back the slabs of series never released (a failed call) once they are garbage', async () => {
    const gc = vm.runInNewContext('gc') as () => void;
    const data = Buffer.from(Array.from({ length: 60_000 }, (_, i) => (i * 7) & 0xff));
    const w = new ProtoWriter();
    for (let i = 0; i < 100; i++) w.fork(1).fork(2).int64(1, i).uint32(3, 1).bytes(4, data).ldelim().ldelim();
    const payload = w.finish();
    const grown = () => transcoder.memory.buffer.byteLength;
    const round = async () => {
      transcodeChunkedReadResponse(payload); // 6 MB of chunks in slabs, dropped unreleased
      gc();
      await new Promise((r) => setTimeout(r, 10)); // finalizers run after the collection
    };
    await round();
    await round();
    const before = grown();
    // Enough rounds to use up every slab several times over if none came back.
    for (let i = 0; i < 12; i++) await round();
    expect(grown()).toBe(before);
    const [s] = transcodeChunkedReadResponse(payload);
    const f = decodeSeriesResponse(encodeSeriesResponse({ series: { labels: [], chunks: [], extraChunks: s!.chunks } }));
    expect('series' in f && Buffer.from(f.series.chunks[0]!.raw!.data).equals(data)).toBe(true);
  });
});
