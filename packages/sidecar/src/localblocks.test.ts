// LocalBlocks over a Prometheus-like data directory written with Strata's BlockWriter: which blocks it
// serves (compacted ones replace their parents, a damaged one ends what is served from disk), when a
// range must go to remote read (tombstones), and that what it serves carries Prometheus' external labels.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nopLogger } from '@strata/runtime';
import { decodeSeriesResponse, encodeSeriesResponse, seriesRequest, type StoreSeries } from '@strata/storeapi';
import { tempDir } from '@strata/testing/process';
import { ArraySampleIterator, BlockWriter, Labels, Tombstones, writeTombstonesFile, type BlockCompaction } from '@strata/tsdb';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalBlocks } from './localblocks.js';

const S = 1000;
const EXT = Labels.from({ cluster: 'c', replica: 'r0' });

/** A block of [from, to) with series `up{job=…}` for each job, a sample every 5s. */
async function writeBlock(dir: string, from: number, to: number, jobs: readonly string[], compaction?: (ulid: string) => BlockCompaction): Promise<string> {
  const w = await BlockWriter.create(dir, { chunkRange: 120 * S, range: { minTime: from, maxTime: to }, ...(compaction !== undefined ? { compaction } : {}) });
  for (const job of [...jobs].sort()) {
    const ts: number[] = [];
    for (let t = from; t < to; t += 5 * S) ts.push(t);
    await w.addSeries(Labels.from({ __name__: 'up', job }), new ArraySampleIterator(ts, ts.map(() => 1)));
  }
  return (await w.close()).ulid;
}

describe('LocalBlocks', () => {
  let work: { path: string; cleanup: () => Promise<void> };
  let blocks: LocalBlocks;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    work = await tempDir('strata-localblocks-');
    ids.a = await writeBlock(work.path, 0, 10 * S, ['api']);
    ids.b = await writeBlock(work.path, 10 * S, 20 * S, ['api', 'db']);
    // Prometheus' compaction of a and b, before it deletes them.
    ids.ab = await writeBlock(work.path, 0, 20 * S, ['api', 'db'], () => ({ level: 2, sources: [ids.a!, ids.b!], parents: [{ ulid: ids.a!, minTime: 0, maxTime: 10 * S }, { ulid: ids.b!, minTime: 10 * S, maxTime: 20 * S }] }));
    ids.c = await writeBlock(work.path, 20 * S, 30 * S, ['api']);
    blocks = await LocalBlocks.open({ dir: work.path, registry: new Registry(), logger: nopLogger });
    await blocks.sync(EXT);
  });

  afterAll(async () => {
    await blocks?.close();
    await work?.cleanup();
  });

  /** Each series read, with its samples (counted from its XOR chunks' headers), as a client receives it. */
  const read = async (mint: number, maxt: number) => {
    const out: { labels: string; samples: number }[] = [];
    const add = (sent: StoreSeries) => {
      const frame = decodeSeriesResponse(encodeSeriesResponse({ series: sent }));
      const s = 'series' in frame ? frame.series : sent;
      out.push({ labels: Labels.fromSorted([...s.labels]).toString(), samples: s.chunks.reduce((n, c) => n + ((c.raw!.data[0]! << 8) | c.raw!.data[1]!), 0) });
    };
    const { frames, release } = blocks.series(seriesRequest({ minTime: mint, maxTime: maxt, matchers: [{ type: 0, name: '__name__', value: 'up' }] }));
    for await (const f of frames) {
      if ('run' in f) f.run.forEach(add);
      else if ('series' in f) add(f.series);
    }
    release();
    return out;
  };

  it('serves a compacted block in place of its parents, with the external labels, up to the end of the last block', async () => {
    expect(blocks.end).toBe(30 * S);
    expect(await read(0, 30 * S - 1)).toEqual([
      { labels: '{__name__="up", cluster="c", job="api", replica="r0"}', samples: 6 },
      { labels: '{__name__="up", cluster="c", job="db", replica="r0"}', samples: 4 },
    ]);
    // Served with its parents too, api would have 10 samples and db 6.
  });

  it('says a range with tombstones in its blocks is not readable as it is', async () => {
    expect(blocks.readable(0, 30 * S - 1)).toBe(true);
    const deleted = new Tombstones();
    deleted.add(1, { mint: 0, maxt: 5 * S });
    await writeTombstonesFile(join(work.path, ids.ab!, 'tombstones'), deleted);
    expect(blocks.readable(0, 30 * S - 1)).toBe(false);
    expect(blocks.readable(20 * S, 30 * S - 1)).toBe(true);
    await writeTombstonesFile(join(work.path, ids.ab!, 'tombstones'), new Tombstones());
  });

  it('ends the in-order data where the in-order blocks end: a block of out-of-order samples may reach past them', async () => {
    // As Prometheus flushes its out-of-order head: the window's whole range, hinted.
    await writeBlock(work.path, 25 * S, 35 * S, ['api'], (ulid) => ({ level: 1, sources: [ulid], hints: ['from-out-of-order'] }));
    await blocks.sync(EXT);
    // Prometheus' head still holds the in-order samples after 30 s: they come by remote read.
    expect([blocks.end, blocks.maxTime]).toEqual([30 * S, 35 * S]);
    expect([blocks.outOfOrderIn(31 * S, 40 * S), blocks.outOfOrderIn(35 * S, 40 * S), blocks.outOfOrderIn(0, 25 * S - 1)]).toEqual([true, false, false]);
    expect(await read(20 * S, 35 * S)).toEqual([{ labels: '{__name__="up", cluster="c", job="api", replica="r0"}', samples: 4 }]);
  });

  it('leaves a block that fails to load, and everything after its start, to remote read; new labels reload every block', async () => {
    const d = await writeBlock(work.path, 30 * S, 40 * S, ['api']);
    await writeFile(join(work.path, d, 'index'), 'not an index');
    // A good block after it: still not served from disk, as what the damaged one holds must come first.
    await writeBlock(work.path, 40 * S, 50 * S, ['api']);
    await blocks.sync(EXT);
    expect(blocks.end).toBe(30 * S);
    await blocks.sync(Labels.from({ cluster: 'c', replica: 'r1' }));
    expect(blocks.end).toBe(30 * S);
    expect((await read(20 * S, 30 * S - 1)).map((s) => s.labels)).toEqual(['{__name__="up", cluster="c", job="api", replica="r1"}']);
  });
});
