import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { fromOutOfOrder, histogramToFloat, isStaleNaN, isULID, Labels, parseMeta, STALE_NAN } from '@strata/tsdb';
import { counterHistogram, floatCounterHistogram } from '@strata/testing/histograms';
import { BLOCK, BLOCK_START, HOUR, localTsdbFixture, MINUTE, type QueriedSample, querySeries } from '@strata/testing/localtsdb';
import { promtool } from '@strata/testing/prometheus';
import { WBL_DIR } from './wal.js';

/** A fixed start, aligned to the block duration. */
const T0 = BLOCK_START;
const WINDOW = 30 * MINUTE;

const fx = localTsdbFixture('strata-ooo-', { blockDurationMs: BLOCK, retentionMs: 0, externalLabels: Labels.from({ replica: 'r1' }), outOfOrderTimeWindowMs: WINDOW });

const up = Labels.from({ __name__: 'up', job: 'a' });
const minutes = (from: number, to: number, step = 1): QueriedSample[] => {
  const out: QueriedSample[] = [];
  for (let m = from; m < to; m += step) out.push({ t: T0 + m * MINUTE, v: m });
  return out;
};
const samples = (list: readonly QueriedSample[]) => list.map(({ t, v }) => ({ timestamp: t, value: v }));
/** The chunk ranges overlap nowhere. */
const disjoint = (chunks: readonly [number, number][]) => chunks.every(([min], i) => i === 0 || min > (chunks[i - 1] as [number, number])[1]);

describe('LocalTSDB out of order', () => {
  it('takes float samples within the window before the head’s latest, and refuses older ones as too old', async () => {
    const db = await fx.openDB();
    // Every other minute for an hour, then the minutes between them in the last 40 minutes.
    expect(db.appendSeries([{ labels: up, samples: samples(minutes(0, 60, 2)) }]).appended).toBe(30);
    const late = minutes(21, 60, 2);
    const result = db.appendSeries([{ labels: up, samples: samples(late) }]);
    // The head's latest is minute 58: minute 28 and on are in the window; 21–27 are too old.
    expect(result).toEqual({ appended: 16, outOfOrder: 0, duplicates: 0, outOfBounds: 0, tooOld: 4, invalidHistograms: 0 });
    // A resend of a sample taken out of order, even with another value, is dropped without error, as in Prometheus.
    expect(db.appendSeries([{ labels: up, samples: [{ timestamp: T0 + 29 * MINUTE, value: 100 }] }])).toEqual({ appended: 0, outOfOrder: 0, duplicates: 0, outOfBounds: 0, tooOld: 0, invalidHistograms: 0 });
    const [got] = await querySeries(db);
    expect(got?.samples).toEqual([...minutes(0, 28, 2), ...minutes(28, 60)]);
    expect(disjoint(got?.chunks ?? [])).toBe(true);
    // Without the window, the same samples are out of order.
    const strict = await fx.openDB({ dir: join(fx.dir, 'strict'), outOfOrderTimeWindowMs: 0 });
    strict.appendSeries([{ labels: up, samples: samples(minutes(0, 60, 2)) }]);
    expect(strict.appendSeries([{ labels: up, samples: samples(late) }])).toMatchObject({ appended: 1, outOfOrder: 19 });
  });

  it('takes samples before where the head takes them in order (out of bounds without the window), and keeps stale markers bit for bit', async () => {
    const db = await fx.openDB({ outOfOrderTimeWindowMs: 90 * MINUTE });
    db.appendSeries([{ labels: up, samples: samples(minutes(0, 120)) }]);
    // Over half a block before the latest (minute 119) is out of bounds in order; the window takes minute 29 on.
    const result = db.appendSeries([{ labels: Labels.from({ __name__: 'late', job: 'a' }), samples: [...samples(minutes(25, 35)), { timestamp: T0 + 35 * MINUTE, value: STALE_NAN }] }]);
    expect(result).toMatchObject({ appended: 7, tooOld: 4, outOfBounds: 0 });
    const late = (await querySeries(db)).find((s) => s.labels.includes('late'));
    expect(late?.samples.slice(0, -1)).toEqual(minutes(29, 35));
    expect(isStaleNaN(late?.samples[6]?.v ?? 0)).toBe(true);
  });

  it('keeps out-of-order samples across a restart, and flushes them into blocks of their own when the head is cut', async () => {
    let db = await fx.openDB({ outOfOrderTimeWindowMs: 90 * MINUTE });
    db.appendSeries([{ labels: up, samples: samples(minutes(0, 100, 2)) }]);
    // Minutes 75–97 out of order (99 in order), and a series whose samples are all before where the head takes them in order (minute 38).
    db.appendSeries([{ labels: up, samples: samples(minutes(75, 100, 2)) }]);
    db.appendSeries([{ labels: Labels.from({ __name__: 'only_late' }), samples: samples(minutes(20, 22)) }]);
    const want = await querySeries(db);
    db = await fx.reopen(db, { outOfOrderTimeWindowMs: 90 * MINUTE });
    expect(await querySeries(db)).toEqual(want);
    // Past one and a half blocks: the first block is cut, and every out-of-order sample flushed.
    db.appendSeries([{ labels: up, samples: samples(minutes(100, 200, 2)) }]);
    await db.compact();
    const blocks = (await readdir(fx.dir)).filter(isULID);
    const metas = await Promise.all(blocks.map(async (b) => parseMeta(await readFile(join(fx.dir, b, 'meta.json'), 'utf8'))));
    const ooo = metas.filter(fromOutOfOrder);
    expect(ooo.map((m) => [m.minTime, m.maxTime, m.stats?.numSeries, m.stats?.numSamples])).toEqual([[T0, T0 + BLOCK, 2, 14]]);
    expect(metas.filter((m) => !fromOutOfOrder(m)).map((m) => [m.minTime, m.maxTime])).toEqual([[T0, T0 + BLOCK]]);
    // The log of out-of-order samples is let go of once they are in blocks.
    expect(await readdir(join(fx.dir, WBL_DIR))).toHaveLength(1);
    // The whole chunks overlapping the range are sent: the samples after it are left out here.
    const before100 = async () => (await querySeries(db, { maxTime: T0 + 99 * MINUTE })).map((s) => ({ labels: s.labels, samples: s.samples.filter((x) => x.t < T0 + 100 * MINUTE), chunks: s.chunks }));
    const after = await before100();
    expect(after).toEqual(want.map((s) => ({ ...s, chunks: expect.anything() })));
    for (const s of after) expect(disjoint(s.chunks), s.labels).toBe(true);
    // And again from the blocks and the head after a restart.
    db = await fx.reopen(db);
    expect((await before100()).map((s) => s.samples)).toEqual(want.map((s) => s.samples));
  });

  it('takes out-of-order samples older than the blocks cut, within the window, into blocks that overlap them', async () => {
    const db = await fx.openDB({ outOfOrderTimeWindowMs: 4 * HOUR });
    db.appendSeries([{ labels: up, samples: samples(minutes(0, 200, 10)) }]);
    await db.compact();
    // Minute 5 lies in the block cut: in order it is out of bounds.
    expect(db.appendSeries([{ labels: up, samples: [{ timestamp: T0 + 5 * MINUTE, value: 5 }] }]).appended).toBe(1);
    const [got] = await querySeries(db);
    expect(got?.samples.slice(0, 3)).toEqual([{ t: T0, v: 0 }, { t: T0 + 5 * MINUTE, v: 5 }, { t: T0 + 10 * MINUTE, v: 10 }]);
    expect(disjoint(got?.chunks ?? [])).toBe(true);
    await db.flush();
    const [flushed] = await querySeries(db);
    expect(flushed?.samples).toEqual(got?.samples);
    expect(disjoint(flushed?.chunks ?? [])).toBe(true);
  });

  it('takes native histograms out of order too, as Prometheus 3 does, and flushes them into out-of-order blocks that promtool reads', async () => {
    let db = await fx.openDB();
    const rpc = Labels.from({ __name__: 'rpc_seconds' });
    const queue = Labels.from({ __name__: 'queue_seconds' });
    const at = (i: number) => T0 + i * MINUTE;
    // Integer counts every other minute for an hour, then the minutes between them over the last 20; float counts likewise.
    const even = Array.from({ length: 30 }, (_, k) => 2 * k);
    const late = Array.from({ length: 10 }, (_, k) => 39 + 2 * k);
    db.appendSeries([
      { labels: rpc, samples: [], histograms: even.map((i) => ({ timestamp: at(i), histogram: counterHistogram(i) })) },
      { labels: queue, samples: [], histograms: even.map((i) => ({ timestamp: at(i), floatHistogram: floatCounterHistogram(i) })) },
    ]);
    const result = db.appendSeries([
      { labels: rpc, samples: [], histograms: late.map((i) => ({ timestamp: at(i), histogram: counterHistogram(i) })) },
      { labels: queue, samples: [], histograms: late.map((i) => ({ timestamp: at(i), floatHistogram: floatCounterHistogram(i) })) },
    ]);
    expect(result).toEqual({ appended: 20, outOfOrder: 0, duplicates: 0, outOfBounds: 0, tooOld: 0, invalidHistograms: 0 });
    const all = [...even.filter((i) => i < 39), ...Array.from({ length: 20 }, (_, k) => 39 + k)];
    const want = (i: number, name: Labels) => (name === rpc ? histogramToFloat(counterHistogram(i)) : floatCounterHistogram(i));
    const expectAll = async () => {
      const got = await querySeries(db);
      for (const name of [queue, rpc]) {
        const s = got.find((x) => x.labels.includes(`"${name.get('__name__')}"`));
        expect(s?.samples.map((x) => x.t), name.toString()).toEqual(all.map(at));
        for (const [k, x] of (s?.samples ?? []).entries()) expect([x.h?.count, x.h?.sum], `${name.toString()} ${all[k]}`).toEqual([want(all[k] as number, name).count, want(all[k] as number, name).sum]);
        expect(disjoint(s?.chunks ?? [])).toBe(true);
      }
    };
    await expectAll();
    // Read back from the out-of-order log after a restart.
    db = await fx.reopen(db);
    await expectAll();
    await db.flush();
    const blocks = (await readdir(fx.dir)).filter(isULID);
    const metas = await Promise.all(blocks.map(async (b) => parseMeta(await readFile(join(fx.dir, b, 'meta.json'), 'utf8'))));
    const ooo = metas.filter(fromOutOfOrder);
    expect(ooo.map((m) => [m.stats?.numSeries, m.stats?.numSamples])).toEqual([[2, 20]]);
    await expectAll();
    // --extended reads every chunk.
    expect(await promtool(['tsdb', 'analyze', '--extended', fx.dir, (ooo[0] as { ulid: string }).ulid])).toMatch(/^Series: 2$/m);
  });
});
