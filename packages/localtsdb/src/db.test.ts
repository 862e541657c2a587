import { appendFile, readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { type CallContext, labelNamesRequest, labelValuesRequest, MatcherType } from '@strata/storeapi';
import { isStaleNaN, isULID, Labels, parseMeta, STALE_NAN } from '@strata/tsdb';
import { BLOCK, BLOCK_START, HOUR, localTsdbFixture, querySeries as query } from '@strata/testing/localtsdb';
import { LocalTSDB } from './db.js';
import { WAL_DIR } from './wal.js';

/** A fixed start, aligned to the block duration. */
const T0 = BLOCK_START;
const EXT = Labels.from({ replica: 'r1', ruler: 'a' });
const ctx: CallContext = { signal: new AbortController().signal };
const NAME = { type: MatcherType.RE, name: '__name__', value: '.+' };

const fx = localTsdbFixture('strata-ruledb-', { blockDurationMs: BLOCK, retentionMs: 48 * HOUR, externalLabels: EXT });

const series = (name: string, extra: Record<string, string> = {}) => Labels.from({ __name__: name, ...extra });

/** Appends one sample a minute of each named series over [from, to). */
function fill(db: LocalTSDB, names: readonly string[], from: number, to: number, value: (t: number) => number = (t) => t / 1000): void {
  for (let t = from; t < to; t += 60_000) db.append(names.map((n) => ({ labels: series(n), value: value(t) })), t);
}

const blockDirs = async () => (await readdir(fx.dir)).filter(isULID).sort();
const walSegments = async () => (await readdir(join(fx.dir, WAL_DIR))).sort();

describe('LocalTSDB', () => {
  it('refuses samples too far in the future as out of bounds, when told to, so that a skewed clock does not move the head past every other sample', async () => {
    const db = await fx.openDB({ tooFarInFutureMs: 60_000 });
    const now = Date.now();
    const result = db.appendSeries([
      { labels: series('skewed'), samples: [{ timestamp: now + 10 * 60_000, value: 1 }] },
      { labels: series('soon'), samples: [{ timestamp: now + 30_000, value: 2 }] },
      { labels: series('now'), samples: [{ timestamp: now - 1000, value: 3 }] },
    ]);
    expect(result).toEqual({ appended: 2, outOfOrder: 0, duplicates: 0, outOfBounds: 1, tooOld: 0, invalidHistograms: 0 });
    // Without the window, the far sample is taken, and samples older than half a block before it are not.
    const unbounded = await fx.openDB({ dir: join(fx.dir, 'no-window') });
    expect(unbounded.appendSeries([{ labels: series('skewed'), samples: [{ timestamp: now + 10 * HOUR, value: 1 }] }]).appended).toBe(1);
    expect(unbounded.appendSeries([{ labels: series('now'), samples: [{ timestamp: now, value: 3 }] }]).outOfBounds).toBe(1);
  });

  it('serves appended samples with the external labels, sorted by labels, honouring matchers, time and replica labels', async () => {
    const db = await fx.openDB();
    db.append([{ labels: series('b'), value: 1 }, { labels: series('a', { x: '1' }), value: 2 }], T0);
    db.append([{ labels: series('b'), value: 3 }], T0 + 60_000);
    expect(await query(db)).toEqual([
      { labels: '{__name__="a", replica="r1", ruler="a", x="1"}', samples: [{ t: T0, v: 2 }], chunks: [[T0, T0]] },
      { labels: '{__name__="b", replica="r1", ruler="a"}', samples: [{ t: T0, v: 1 }, { t: T0 + 60_000, v: 3 }], chunks: [[T0, T0 + 60_000]] },
    ]);
    expect((await query(db, { minTime: T0 + 1 })).map((s) => s.labels)).toEqual(['{__name__="b", replica="r1", ruler="a"}']);
    expect(await query(db, { matchers: [NAME, { type: MatcherType.EQ, name: 'ruler', value: 'other' }] })).toEqual([]);
    expect((await query(db, { matchers: [NAME, { type: MatcherType.EQ, name: 'ruler', value: 'a' }], withoutReplicaLabels: ['replica'], skipChunks: true })).map((s) => [s.labels, s.chunks])).toEqual([
      ['{__name__="a", ruler="a", x="1"}', []],
      ['{__name__="b", ruler="a"}', []],
    ]);
    await expect(query(db, { matchers: [{ type: MatcherType.EQ, name: 'ruler', value: 'a' }] })).rejects.toThrow(/no matchers/);
    expect((await db.store.labelNames(labelNamesRequest(), ctx)).names).toEqual(['__name__', 'replica', 'ruler', 'x']);
    expect((await db.store.labelValues(labelValuesRequest({ label: '__name__', matchers: [{ type: MatcherType.EQ, name: 'x', value: '1' }] }), ctx)).values).toEqual(['a']);
    const info = await db.store.info(ctx);
    expect(info.labelSets).toEqual([[...EXT.toArray()]]);
    expect(info.store?.minTime).toBe(T0);
  });

  it('drops and counts samples at or before their series’ last one, and keeps stale markers bit for bit', async () => {
    const registry = new Registry();
    const db = await fx.openDB({ registry });
    db.append([{ labels: series('a'), value: 1 }], T0 + 60_000);
    db.append([{ labels: series('a'), value: 2 }, { labels: series('b'), value: 5 }], T0 + 60_000);
    db.append([{ labels: series('a'), value: 3 }], T0);
    db.append([{ labels: series('a'), value: STALE_NAN }, { labels: series('a'), value: 4 }], T0 + 120_000);
    const [a] = await query(db);
    expect(a!.samples.map((s) => s.t)).toEqual([T0 + 60_000, T0 + 120_000]);
    expect(isStaleNaN(a!.samples[1]!.v)).toBe(true);
    const text = await registry.metrics();
    expect(text).toContain('prometheus_tsdb_out_of_order_samples_total{type="float"} 3');
    expect(text).toContain('prometheus_tsdb_head_samples_appended_total{type="float"} 3');
    expect(text).toContain('prometheus_tsdb_head_series 2');
  });

  it('appends series with their own sample times, reporting what it drops and why, and replays them from the WAL', async () => {
    let db = await fx.openDB();
    const a = series('a');
    expect(db.appendSeries([{ labels: a, samples: [0, 1, 2].map((i) => ({ timestamp: T0 + i * 1000, value: i })) }, { labels: series('b'), samples: [{ timestamp: T0 + 5000, value: STALE_NAN }] }])).toEqual({ appended: 4, outOfOrder: 0, duplicates: 0, outOfBounds: 0, tooOld: 0, invalidHistograms: 0 });
    // The same series twice in a call, a resent sample, a conflicting one, an older one, one out of bounds.
    const result = db.appendSeries([
      { labels: a, samples: [{ timestamp: T0 + 2000, value: 2 }, { timestamp: T0 + 3000, value: 3 }] },
      { labels: series('a'), samples: [{ timestamp: T0 + 3000, value: 4 }, { timestamp: T0 + 1500, value: 4 }, { timestamp: T0 + 4000, value: 4 }] },
      { labels: series('c'), samples: [{ timestamp: T0 - BLOCK, value: 1 }] },
    ]);
    expect(result).toEqual({ appended: 2, outOfOrder: 1, duplicates: 1, outOfBounds: 1, tooOld: 0, invalidHistograms: 0 });
    const before = await query(db);
    expect(before.map((s) => [s.labels, s.samples.map((x) => x.t - T0)])).toEqual([
      ['{__name__="a", replica="r1", ruler="a"}', [0, 1000, 2000, 3000, 4000]],
      ['{__name__="b", replica="r1", ruler="a"}', [5000]],
    ]);
    await db.close();
    fx.open = [];
    db = await fx.openDB();
    const after = await query(db);
    expect(after).toEqual(before);
    expect(isStaleNaN(after[1]!.samples[0]!.v)).toBe(true);
  });

  it('replays the WAL after a close, keeping the stale marker', async () => {
    let db = await fx.openDB();
    fill(db, ['a', 'b'], T0, T0 + HOUR);
    db.append([{ labels: series('a'), value: STALE_NAN }], T0 + HOUR);
    const before = await query(db);
    await db.close();
    db = await fx.openDB();
    const after = await query(db);
    expect(after).toEqual(before);
    expect(isStaleNaN(after[0]!.samples.at(-1)!.v)).toBe(true);
    expect(fx.warnings).toEqual([]);
    // Appends go on where they were.
    db.append([{ labels: series('a'), value: 1 }], T0 + HOUR);
    db.append([{ labels: series('a'), value: 1 }], T0 + HOUR + 60_000);
    expect((await query(db))[0]!.samples.length).toBe(62);
  });

  it('after a crash mid-write, replays everything flushed, warns about the torn tail and truncates it', async () => {
    const db = await fx.openDB();
    fill(db, ['a'], T0, T0 + 10 * 60_000);
    const [segment] = await walSegments();
    const file = join(fx.dir, WAL_DIR, segment!);
    const whole = (await stat(file)).size;
    db.append([{ labels: series('a'), value: 99 }], T0 + 10 * 60_000);
    // The process dies while writing the last record: a few of its bytes made it.
    await truncate(file, whole + 5);
    fx.open = [];
    const registry = new Registry();
    const again = await fx.openDB({ registry });
    expect((await query(again))[0]!.samples.map((s) => s.v)).toEqual(Array.from({ length: 10 }, (_, i) => (T0 + i * 60_000) / 1000));
    expect(fx.warnings.join('')).toMatch(/torn or corrupt record.*offset=\d+/);
    expect(await registry.metrics()).toContain('prometheus_tsdb_wal_corruptions_total 1');
    expect((await stat(file)).size).toBe(whole);
    await again.close();
    // The repaired segment is an earlier one now, and replays cleanly.
    fx.open = [];
    fx.warnings = [];
    expect((await query(await fx.openDB()))[0]!.samples.length).toBe(10);
    expect(fx.warnings).toEqual([]);
  });

  it('fails to open on a corrupt record in a segment before the last, naming the file and offset', async () => {
    const db = await fx.openDB();
    fill(db, ['a'], T0, T0 + 10 * 60_000);
    await db.close();
    fx.open = [];
    const [first] = await walSegments();
    const file = join(fx.dir, WAL_DIR, first!);
    const bytes = await readFile(file);
    bytes[bytes.length - 3] ^= 0xff;
    await writeFile(file, bytes);
    // A later segment, as the next open would start.
    await appendFile(join(fx.dir, WAL_DIR, '00000099.rwal'), new Uint8Array());
    await expect(fx.openDB()).rejects.toThrow(new RegExp(`WAL segment .*${first!.replace('.', '\\.')}: corrupt record: CRC mismatch at offset \\d+`));
  });

  it('cuts the oldest aligned range into a block once the head spans 1.5 block durations, truncating head and WAL', async () => {
    const db = await fx.openDB();
    const start = T0 + 30 * 60_000;
    fill(db, ['a', 'b'], start, T0 + 3 * HOUR + 30 * 60_000);
    await db.compact();
    expect(await blockDirs()).toEqual([]);
    fill(db, ['a', 'b'], T0 + 3 * HOUR + 30 * 60_000, T0 + 3 * HOUR + 32 * 60_000);
    const segmentsBefore = await walSegments();
    await db.compact();
    const [ulid, ...more] = await blockDirs();
    expect(more).toEqual([]);
    const meta = parseMeta(await readFile(join(fx.dir, ulid!, 'meta.json'), 'utf8'));
    // From the first sample to the end of its 2 h window, as Prometheus' first head block.
    expect([meta.minTime, meta.maxTime]).toEqual([start, T0 + BLOCK]);
    expect(meta.stats).toEqual({ numSamples: 180, numSeries: 2, numChunks: 2 });
    expect(meta.thanos).toEqual({ version: 1, labels: EXT.toRecord(), downsample: { resolution: 0 }, source: 'ruler' });
    // A new segment; the one holding samples after the cut stays.
    const segmentsAfter = await walSegments();
    expect(segmentsAfter).toEqual([...segmentsBefore, expect.stringMatching(/\.rwal$/)]);
    // All of it is still served, the block's and the head's chunks of a series as one series, in order.
    const merged = await query(db, { matchers: [{ type: MatcherType.EQ, name: '__name__', value: 'a' }] });
    expect(merged).toHaveLength(1);
    const [a] = merged;
    expect(a!.samples.map((s) => s.t)).toEqual(Array.from({ length: 182 }, (_, i) => start + i * 60_000));
    expect(a!.chunks.every(([lo], i) => i === 0 || lo > a!.chunks[i - 1]![1])).toBe(true);
    // Samples the block holds are refused now.
    db.append([{ labels: series('c'), value: 1 }], T0 + BLOCK - 1);
    expect((await query(db)).map((s) => s.labels)).not.toContain('{__name__="c", replica="r1", ruler="a"}');
    // After a restart, the head is what the WAL holds after the cut, and the block is served.
    await db.close();
    fx.open = [];
    const again = await fx.openDB();
    expect(await query(again, { matchers: [{ type: MatcherType.EQ, name: '__name__', value: 'a' }] })).toEqual([a]);
  });

  it('flushes the whole head into blocks, aligned ranges up to its latest sample, and takes later samples still', async () => {
    const db = await fx.openDB();
    fill(db, ['a'], T0 + HOUR, T0 + 2 * HOUR + 30 * 60_000);
    await db.flush();
    const metas = await Promise.all((await blockDirs()).map(async (u) => parseMeta(await readFile(join(fx.dir, u, 'meta.json'), 'utf8'))));
    expect(metas.map((m) => [m.minTime, m.maxTime, m.stats?.numSamples]).sort()).toEqual([
      [T0 + HOUR, T0 + BLOCK, 60],
      [T0 + BLOCK, T0 + 2 * HOUR + 29 * 60_000 + 1, 30],
    ]);
    expect(db.latestTime).toBe(T0 + 2 * HOUR + 29 * 60_000);
    // A sample after the latest flushed one is taken; one the blocks hold is not.
    expect(db.append([{ labels: series('a'), value: 1 }], T0 + 2 * HOUR + 30 * 60_000).appended).toBe(1);
    expect(db.append([{ labels: series('b'), value: 1 }], T0 + 2 * HOUR).outOfBounds).toBe(1);
    expect((await query(db, { matchers: [{ type: MatcherType.EQ, name: '__name__', value: 'a' }] }))[0]?.samples).toHaveLength(91);
  });

  it('deletes the WAL segments whose samples are all in blocks, and blocks beyond the retention', async () => {
    const db = await fx.openDB({ retentionMs: 4 * HOUR });
    for (let h = 0; h < 12; h++) {
      fill(db, ['a'], T0 + h * HOUR, T0 + (h + 1) * HOUR);
      await db.compact();
    }
    const metas = await Promise.all((await blockDirs()).map(async (d) => parseMeta(await readFile(join(fx.dir, d, 'meta.json'), 'utf8'))));
    // Blocks up to T0+10h were cut; those ending more than 4 h before the newest went.
    expect(metas.map((m) => [(m.minTime - T0) / HOUR, (m.maxTime - T0) / HOUR])).toEqual([
      [4, 6],
      [6, 8],
      [8, 10],
    ]);
    expect((await walSegments()).length).toBeLessThanOrEqual(3);
    const [a] = await query(db);
    expect(a!.samples[0]!.t).toBe(T0 + 4 * HOUR);
    expect(a!.samples.length).toBe(8 * 60);
    const again = await (async () => {
      await db.close();
      fx.open = [];
      return fx.openDB({ retentionMs: 4 * HOUR });
    })();
    expect(await query(again)).toEqual([a]);
  });
});
