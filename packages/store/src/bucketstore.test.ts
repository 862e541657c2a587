// BucketStore over a block on local disk: reading a block's chunks a few reads at a time, and when a
// Series call sends its first series (once every chunk is read, or as they are read with streamSeries).
import { ForwardingBucket, FilesystemBucket } from '@strata/objstore';
import { seriesRequest, type SeriesFrame, type SeriesRequest } from '@strata/storeapi';
import { tempDir } from '@strata/testing/process';
import { ArraySampleIterator, BlockWriter, Labels, type BlockMeta } from '@strata/tsdb';
import { TimeBound } from '@strata/block';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BucketBlock, type BlockOptions } from './block.js';
import { BucketStore } from './bucketstore.js';
import { IndexCache } from './cache.js';
import { ChunkBytesExhaustedError, ChunkBytesLimit } from './chunkbytes.js';
import { storeMetrics } from './metrics.js';
import { AccountingBucket } from './querystats.js';

/** Counts the reads of segment files: started, in flight, and the most there were at once. */
class CountingBucket extends ForwardingBucket {
  started = 0;
  inFlight = 0;
  most = 0;

  override async getRange(name: string, offset: number, length: number): Promise<Readable> {
    const chunks = name.includes('/chunks/');
    if (chunks) {
      this.started++;
      this.most = Math.max(this.most, ++this.inFlight);
    }
    try {
      // Long enough that reads started together overlap (a block's reads start within its index pass).
      if (chunks) await new Promise((resolve) => setTimeout(resolve, 20));
      return await super.getRange(name, offset, length);
    } finally {
      if (chunks) this.inFlight--;
    }
  }
}

/** Series of one chunk each: six reads of chunks (4,096 each). */
const SERIES = 6 * 4096;

describe('BucketStore over a local block', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let meta: BlockMeta;
  let segmentBytes: number;

  beforeAll(async () => {
    dir = await tempDir('strata-bucketstore-');
    const w = await BlockWriter.create(dir.path, { chunkRange: 120_000, range: { minTime: 0, maxTime: 10_000 } });
    for (let i = 0; i < SERIES; i++) await w.addSeries(Labels.from({ job: `s${String(i).padStart(5, '0')}` }), new ArraySampleIterator([0], [i]));
    meta = await w.close();
    segmentBytes = (await stat(join(dir.path, meta.ulid, 'chunks', '000001'))).size;
  });

  afterAll(async () => {
    await dir?.cleanup();
  });

  const open = async (opts: { readsInFlight?: number; streamSeries?: boolean; chunkBytes?: number }) => {
    const bucket = new CountingBucket(new FilesystemBucket(dir.path));
    const blockOptions: BlockOptions = { bucket: new AccountingBucket(bucket, 32), cache: new IndexCache(1 << 20, new Registry()), ...(opts.readsInFlight !== undefined ? { chunkReadsInFlight: opts.readsInFlight } : {}) };
    const headers = await tempDir('strata-bucketstore-headers-');
    const { block } = await BucketBlock.load(meta, Labels.from({ replica: 'r0' }), headers.path, blockOptions);
    const chunkBytes = opts.chunkBytes !== undefined ? new ChunkBytesLimit(opts.chunkBytes) : undefined;
    const store = new BucketStore({
      minTime: TimeBound.at(-Infinity),
      maxTime: TimeBound.at(Infinity),
      sampleLimit: 0,
      seriesLimit: 0,
      seriesMaxConcurrency: 4,
      blockConcurrency: 4,
      ...(chunkBytes !== undefined ? { chunkBytes } : {}),
      ...(opts.streamSeries !== undefined ? { streamSeries: opts.streamSeries } : {}),
      metrics: storeMetrics(new Registry()),
    });
    store.addBlock(block);
    return { store, bucket, chunkBytes, close: async () => (await block.close(), await headers.cleanup()) };
  };

  const request: SeriesRequest = seriesRequest({ minTime: 0, maxTime: 10_000, matchers: [{ type: 2, name: 'job', value: '.+' }] });

  /** The series a call sent before it ended, and how it ended. */
  const call = async (store: BucketStore): Promise<{ sent: number; error: unknown }> => {
    let sent = 0;
    try {
      for await (const f of store.series(request) as AsyncIterable<SeriesFrame>) if ('run' in f) sent += f.run.length;
      return { sent, error: undefined };
    } catch (error) {
      return { sent, error };
    }
  };

  it('keeps at most chunkReadsInFlight reads of a block in flight, and reads every chunk', async () => {
    for (const readsInFlight of [1, 2, undefined]) {
      const { store, bucket, close } = await open(readsInFlight !== undefined ? { readsInFlight } : {});
      try {
        expect(await call(store)).toEqual({ sent: SERIES, error: undefined });
        expect(bucket.started).toBe(6);
        // Unbounded, more than two of the six (how many depends on how soon each starts).
        if (readsInFlight !== undefined) expect(bucket.most).toBe(readsInFlight);
        else expect(bucket.most).toBeGreaterThan(2);
      } finally {
        await close();
      }
    }
  });

  it('read whole before it is sent, fails a call past the chunk bytes bound having sent nothing; sent as read, gives back what it sent and goes on', async () => {
    // Room for five of the six reads' chunks.
    for (const streamSeries of [false, true]) {
      const { store, chunkBytes, close } = await open({ readsInFlight: 1, streamSeries, chunkBytes: Math.floor(segmentBytes * 0.9) });
      try {
        const { sent, error } = await call(store);
        if (streamSeries) expect({ sent, error }).toEqual({ sent: SERIES, error: undefined });
        else {
          expect(error).toBeInstanceOf(ChunkBytesExhaustedError);
          expect(sent).toBe(0);
        }
        expect(chunkBytes?.held).toBe(0);
      } finally {
        await close();
      }
    }
  });

  it('sent as read, keeps its reads a few ahead of the series asked for, and a call left midway ends its waiting reads', async () => {
    const { store, bucket, chunkBytes, close } = await open({ streamSeries: true, chunkBytes: 1 << 30 });
    try {
      // The first frame asks for 64 series, of the first read: four reads (READ_AHEAD) start, not six.
      // As many calls left so as there are slots (seriesMaxConcurrency 4): each must give its slot back.
      for (let i = 1; i <= 4; i++) {
        const frames = (store.series(request) as AsyncIterable<SeriesFrame>)[Symbol.asyncIterator]();
        await frames.next();
        await new Promise((resolve) => setTimeout(resolve, 20));
        expect(bucket.started).toBe(4 * i);
        await frames.return?.();
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(bucket.started).toBe(16);
      expect(chunkBytes?.held).toBe(0);
      expect(await call(store)).toEqual({ sent: SERIES, error: undefined });
    } finally {
      await close();
    }
  });
});
