import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DELETION_MARK_FILENAME, markBlock, MetaFetcher, NO_COMPACT_MARK_FILENAME, readMarker, Relabeler, TimeBound, verifyBlocks } from '@strata/block';
import { start, type Compactor } from '@strata/compactor';
import { InMemoryBucket, newBucket, parseBucketConfig, type Bucket } from '@strata/objstore';
import { AggrChunk, AggrType, BlockReader, CounterResetsIterator, formatMeta, FROM_OUT_OF_ORDER, parseMeta, ValueType, type BlockMeta, type Chunk } from '@strata/tsdb';
import { promtool } from '@strata/testing/prometheus';
import { sleep, tempDir } from '@strata/testing/process';
import { createLogger } from '@strata/runtime';
import { startS3rver, type S3Server } from '@strata/testing/s3';
import { blocksByTime, compactorConfig, copyBlock, downloadAll, END, EXPECTED_C1, FIVE_MIN, HOUR, layout, ofStream, T0, liveBlocks, promtoolDump, replicaBlocks, uploadAll, type SeriesData } from './fixtures.js';

const GAP: [number, number] = [T0 + 3 * HOUR, T0 + 3 * HOUR + 20 * 60_000];



describe('strata compact over promtool blocks of two HA replicas in S3', () => {
  let work: { path: string; cleanup: () => Promise<void> };
  let s3: S3Server;
  let bucket: Bucket;
  let r0: SeriesData;
  let r1: SeriesData;
  let metrics = '';
  /** The compactor's block viewer's blocks once it was done. */
  let viewed: BlockMeta[] = [];

  beforeAll(async () => {
    work = await tempDir('strata-compact-');
    s3 = await startS3rver();
    bucket = newBucket(parseBucketConfig(s3.configYaml()));
    const a = await replicaBlocks(join(work.path, 'r0'), { offsetMs: 0, gaps: { demo_gauge_b: [GAP] } }, T0, END);
    const b = await replicaBlocks(join(work.path, 'r1'), { offsetMs: 7_000, extraSeries: ['demo_only_r1'] }, T0, END);
    r0 = a.data;
    r1 = b.data;
    await uploadAll(bucket, a.blocksDir, { cluster: 'c1', replica: 'r0' });
    await uploadAll(bucket, b.blocksDir, { cluster: 'c1', replica: 'r1' });

    const lines: string[] = [];
    const logger = createLogger({ write: (l) => lines.push(l) });
    const compactor = await start(compactorConfig(bucket, join(work.path, 'data'), { httpAddress: '127.0.0.1:0', logger, blockViewerSyncIntervalMs: 100 }));
    await compactor.done.finally(() => writeFile(join(work.path, 'compactor.log'), lines.join('')));
    metrics = await (await fetch(`http://${compactor.httpAddress}/metrics`)).text();
    // The block viewer reads the bucket on a timer of its own: once after the compaction ended.
    const ended = Date.now();
    for (let i = 0; i < 100; i++) {
      const info = ((await (await fetch(`http://${compactor.httpAddress}/api/v1/blocks`)).json()) as { data: { blocks: BlockMeta[]; refreshedAt: string } }).data;
      viewed = info.blocks;
      if (Date.parse(info.refreshedAt) > ended) break;
      await sleep(50);
    }
    await compactor.stop();
  });

  afterAll(async () => {
    await bucket?.close();
    await s3?.stop();
    if (process.env.KEEP_TEST_DIR === undefined) await work?.cleanup();
  });

  it('merges the replicas and compacts to the levels and ranges of Thanos’ planner', async () => {
    const live = await liveBlocks(bucket);
    const c1 = ofStream(live, 'c1');
    expect(layout(c1)).toEqual(EXPECTED_C1);
    for (const m of c1) {
      expect(m.thanos).toMatchObject({ labels: { cluster: 'c1' }, source: 'compactor', downsample: { resolution: 0 } });
      expect(m.compaction.parents?.length).toBeGreaterThan(1);
    }
    // The 2d block holds all 48 source blocks (24 per replica) of its window.
    expect(c1[0]!.compaction.sources).toHaveLength(48);
    expect(metrics).toMatch(/^strata_compact_todo_compactions 0$/m);
    expect(metrics).toMatch(/^strata_compact_iterations_total 1$/m);
    // Its block viewer, read on its own timer after the compaction, shows every block in the bucket.
    const all = await new MetaFetcher(bucket).fetch();
    expect(viewed.map((m) => m.ulid).sort()).toEqual([...all.metas.keys()].sort());
  });

  it('writes blocks promtool analyzes, holding only source samples, deduplicated by the penalty rule', async () => {
    const c1 = ofStream(await liveBlocks(bucket), 'c1');
    const dir = await downloadAll(bucket, c1, join(work.path, 'check-c1'));
    for (const m of c1) expect(await promtool(['tsdb', 'analyze', dir, m.ulid])).toContain(`Block ID: ${m.ulid}`);
    const got = await promtoolDump(dir);
    expect([...got.keys()].sort()).toEqual([...new Set([...r0.keys(), ...r1.keys()])].sort());
    for (const [key, samples] of got) {
      const a = new Map(r0.get(key) ?? []);
      const b = new Map(r1.get(key) ?? []);
      // Every sample comes from a replica, unchanged.
      for (const [t, v] of samples) expect(a.has(t) ? a.get(t) : b.get(t)).toBe(v);
      // One replica's rate, not both: at most a few switches' worth more than one replica has.
      expect(samples.length).toBeLessThanOrEqual(Math.max(a.size, b.size) * 1.05);
      // Nothing lost: every scrape of r0 has a merged sample within one step.
      const ts = samples.map(([t]) => t);
      let j = 0;
      for (const t of a.keys()) {
        while (j < ts.length - 1 && ts[j + 1]! <= t + 30_000) j++;
        expect(Math.abs(ts[j]! - t)).toBeLessThanOrEqual(30_000);
      }
    }
    // A series only r1 has is copied as it is.
    expect(got.get('{__name__="demo_only_r1", job="demo"}')).toEqual(r1.get('{__name__="demo_only_r1", job="demo"}'));
    // Where r0 has a gap, r1 fills it (away from the switch points, where the penalty delays the switch).
    const gauge = new Map(got.get('{__name__="demo_gauge_b", job="demo"}'));
    const fill = r1.get('{__name__="demo_gauge_b", job="demo"}')!.filter(([t]) => t > GAP[0] + 2 * 60_000 && t < GAP[1]);
    expect(fill.length).toBeGreaterThan(30);
    for (const [t, v] of fill) expect(gauge.get(t)).toBe(v);
  });

  it('downsamples the 2d block to 5m aggregates that agree exactly with the raw samples of each window', async () => {
    const live = await liveBlocks(bucket);
    const down = ofStream(live, 'c1', FIVE_MIN);
    expect(layout(down)).toEqual(['[0h,48h) L4']);
    const raw = ofStream(live, 'c1')[0]!;
    expect(down[0]!.compaction.sources).toEqual(raw.compaction.sources);
    const dir = await downloadAll(bucket, [raw, down[0]!], join(work.path, 'check-5m'));
    const rawSeries = new Map<string, [number, number][]>();
    const rawReader = await BlockReader.openDir(join(dir, raw.ulid));
    for await (const s of rawReader.series([])) {
      const it = s.iterator();
      const out: [number, number][] = [];
      while (it.next() === ValueType.Float) out.push([it.atT(), it.atFloat()]);
      rawSeries.set(s.labels.toString(), out);
    }
    await rawReader.close();
    const reader = await BlockReader.openDir(join(dir, down[0]!.ulid));
    let points = 0;
    let counters = 0;
    for await (const s of reader.chunkSeries([])) {
      const samples = rawSeries.get(s.labels.toString())!;
      const aggrs = s.chunks.map((c) => c.chunk as AggrChunk);
      for (const a of aggrs) {
        const [count, sum, min, max] = [AggrType.Count, AggrType.Sum, AggrType.Min, AggrType.Max].map((t) => decode(a.get(t)!));
        for (let i = 0; i < count!.length; i++) {
          const t = count![i]![0];
          const window = samples.filter(([ts]) => ts >= t - (t % FIVE_MIN) && ts <= t).map(([, v]) => v);
          expect([sum![i]![0], min![i]![0], max![i]![0]]).toEqual([t, t, t]);
          expect(count![i]![1]).toBe(window.length);
          expect(sum![i]![1]).toBe(window.reduce((x, y) => x + y, 0));
          expect(min![i]![1]).toBe(Math.min(...window));
          expect(max![i]![1]).toBe(Math.max(...window));
          points++;
        }
      }
      if (!s.labels.toString().includes('_total')) continue;
      // The counter aggregate, resets folded in, equals the raw counter with resets folded in at each stamp.
      const folded: [number, number][] = [];
      let total = 0;
      for (const [i, [t, v]] of samples.entries()) {
        total = i === 0 ? v : total + (v < samples[i - 1]![1] ? v : v - samples[i - 1]![1]);
        folded.push([t, total]);
      }
      const it = new CounterResetsIterator(aggrs.map((a) => a.get(AggrType.Counter)!));
      let k = 0;
      while (it.next() === ValueType.Float) {
        while (k < folded.length - 1 && folded[k + 1]![0] <= it.atT()) k++;
        expect(it.atFloat()).toBe(folded[k]![1]);
        counters++;
      }
      expect(it.lastRawValue).toBe(samples[samples.length - 1]![1]);
    }
    await reader.close();
    // 48h of 5m windows for 7 series; counters checked at every stamp.
    expect(points).toBeGreaterThan(7 * 570);
    expect(counters).toBeGreaterThan(3 * 570);
  });
});

describe('strata compact without vertical compaction: overlapping and corrupt blocks', () => {
  let work: { path: string; cleanup: () => Promise<void> };
  let s3: S3Server;
  let bucket: Bucket;
  let metrics = '';

  beforeAll(async () => {
    work = await tempDir('strata-compact-skip-');
    s3 = await startS3rver();
    bucket = newBucket(parseBucketConfig(s3.configYaml()));
    const { blocksDir } = await replicaBlocks(join(work.path, 'src'), { offsetMs: 0 }, T0, T0 + 12 * HOUR);
    const blocks = await blocksByTime(blocksDir);
    // c2: six 2h blocks and a second upload of the first under another ULID: two overlapping blocks.
    const c2Dir = join(work.path, 'c2');
    for (const src of blocks) await copyBlock(src, c2Dir);
    await copyBlock(blocks[0]!, c2Dir);
    await uploadAll(bucket, c2Dir, { cluster: 'c2' });
    // c3: six 2h blocks, the first with a flipped byte inside a chunk, so its CRC check fails.
    const c3Dir = join(work.path, 'c3');
    const corrupt = await copyBlock(blocks[0]!, c3Dir);
    for (const src of blocks.slice(1)) await copyBlock(src, c3Dir);
    const seg = join(corrupt, 'chunks', '000001');
    const bytes = await readFile(seg);
    bytes[200] = (bytes[200] as number) ^ 0xff;
    await writeFile(seg, bytes);
    await uploadAll(bucket, c3Dir, { cluster: 'c3' });
    // c4: a healthy stream that must be compacted as usual.
    const c4Dir = join(work.path, 'c4');
    for (const src of blocks) await copyBlock(src, c4Dir);
    await uploadAll(bucket, c4Dir, { cluster: 'c4' });
    // c5: a healthy stream left for the --min-time test.
    const c5Dir = join(work.path, 'c5');
    for (const src of blocks) await copyBlock(src, c5Dir);
    await uploadAll(bucket, c5Dir, { cluster: 'c5' });
    // c6: a healthy stream left for the --compact.block-max-index-size test.
    const c6Dir = join(work.path, 'c6');
    for (const src of blocks) await copyBlock(src, c6Dir);
    await uploadAll(bucket, c6Dir, { cluster: 'c6' });
    // c7: six 2h blocks and, overlapping the second, a block of out-of-order samples (a copy of it), as a receiver flushes them.
    const c7Dir = join(work.path, 'c7');
    for (const src of blocks) await copyBlock(src, c7Dir);
    const late = await copyBlock(blocks[1]!, c7Dir);
    const lateMeta = parseMeta(await readFile(join(late, 'meta.json'), 'utf8'));
    await writeFile(join(late, 'meta.json'), formatMeta({ ...lateMeta, compaction: { ...lateMeta.compaction, hints: [FROM_OUT_OF_ORDER] } }));
    await uploadAll(bucket, c7Dir, { cluster: 'c7' });

    const compactor = await start(
      compactorConfig(bucket, join(work.path, 'data'), {
        httpAddress: '127.0.0.1:0',
        replicaLabels: [],
        dedupFunc: 'chain',
        downsampling: false,
        concurrency: 2,
        relabel: only('c5|c6', 'drop'),
        // --hash-func=SHA256, one file and one block at a time.
        transfer: { hashFiles: true, filesConcurrency: 1, blocksFetchConcurrency: 1 },
      }),
    );
    await compactor.done;
    metrics = await (await fetch(`http://${compactor.httpAddress}/metrics`)).text();
    await compactor.stop();
  });

  afterAll(async () => {
    await bucket?.close();
    await s3?.stop();
    await work?.cleanup();
  });

  it('compacts the healthy stream, the SHA256 of each file it uploads in meta.json (--hash-func)', async () => {
    const c4 = ofStream(await liveBlocks(bucket), 'c4');
    expect(layout(c4)).toEqual(['[0h,8h) L2', '[8h,10h) L1', '[10h,12h) L1']);
    expect(metrics).toMatch(/^strata_compact_iterations_total 1$/m);
    const compacted = c4.filter((m) => m.compaction.level > 1);
    for (const m of compacted) {
      const files = (m.thanos?.files ?? []).filter((f) => f.rel_path !== 'meta.json');
      expect(files.length).toBeGreaterThan(1);
      for (const f of files) expect(f.hash?.hashFunc).toBe('SHA256');
    }
    // Each recorded hash is the file's, as verify reads every byte back.
    expect(await verifyBlocks(bucket, new Map(compacted.map((m) => [m.ulid, m])), { hashes: true })).toEqual([]);
  });

  it('skips and marks a stream with overlapping blocks while compacting the rest of it and everything else', async () => {
    const live = await liveBlocks(bucket);
    const c2 = ofStream(live, 'c2');
    const marked: string[] = [];
    for (const m of c2) {
      const mark = await readMarker(bucket, m.ulid, NO_COMPACT_MARK_FILENAME);
      if (mark) {
        expect(mark.reason).toBe('overlapping-blocks');
        marked.push(m.ulid);
      }
    }
    expect(marked).toHaveLength(2);
    expect(layout(c2.filter((m) => !marked.includes(m.ulid)))).toEqual(['[2h,8h) L2', '[8h,10h) L1', '[10h,12h) L1']);
    expect(metrics).toMatch(/^strata_compact_group_skipped_total\{reason="overlapping-blocks"\} 1$/m);
  });

  it('merges a block of out-of-order samples with the blocks it overlaps, as Prometheus does, without vertical compaction', async () => {
    const live = await liveBlocks(bucket);
    const c7 = ofStream(live, 'c7');
    // The overlapping pair first (level 2), then the window.
    expect(layout(c7)).toEqual(['[0h,8h) L3', '[8h,10h) L1', '[10h,12h) L1']);
    expect(await Promise.all(c7.map((m) => readMarker(bucket, m.ulid, NO_COMPACT_MARK_FILENAME)))).toEqual([undefined, undefined, undefined]);
    // Its samples, the same as the second block's, were merged one for one.
    expect(c7[0]!.stats).toEqual(ofStream(live, 'c4')[0]!.stats);
    expect(c7[0]!.compaction.sources).toHaveLength(5);
  });

  it('marks a corrupt block no-compact and compacts its neighbours without it', async () => {
    const c3 = ofStream(await liveBlocks(bucket), 'c3');
    // The corrupt block is left out of the [0h, 8h) window; the rest of the window is compacted.
    expect(layout(c3)).toEqual(['[0h,2h) L1', '[2h,8h) L2', '[8h,10h) L1', '[10h,12h) L1']);
    const marks = await Promise.all(c3.map((m) => readMarker(bucket, m.ulid, NO_COMPACT_MARK_FILENAME)));
    expect(marks[0]).toMatchObject({ reason: 'corrupt-block' });
    expect(marks[0]!.details).toMatch(/checksum|CRC|crc/);
    expect(marks.slice(1)).toEqual([undefined, undefined, undefined]);
    expect(metrics).toMatch(/^strata_compact_group_skipped_total\{reason="corrupt-block"\} 1$/m);
  });

  it('--min-time: works only on the blocks overlapping its range', async () => {
    const compactor = await start(
      compactorConfig(bucket, join(work.path, 'data'), { replicaLabels: [], dedupFunc: 'chain', downsampling: false, relabel: only('c5', 'keep'), timeRange: { min: TimeBound.at(T0 + 4.5 * HOUR), max: TimeBound.at(Infinity) } }),
    );
    await compactor.done;
    await compactor.stop();
    expect(layout(ofStream(await liveBlocks(bucket), 'c5'))).toEqual(['[0h,2h) L1', '[2h,4h) L1', '[4h,8h) L2', '[8h,10h) L1', '[10h,12h) L1']);
  });

  it('--compact.block-max-index-size: marks the block with the largest index of a plan that would reach it no-compact, and compacts without it', async () => {
    const before = ofStream(await liveBlocks(bucket), 'c6');
    const indexSize = (m: BlockMeta) => m.thanos?.files?.find((f) => f.rel_path === 'index')?.size_bytes as number;
    const largest = Math.max(...before.map(indexSize));
    // Two of these blocks' indexes stay below 85% of the limit, three reach it.
    const limit = Math.ceil((2.5 * largest) / 0.85);
    expect(3 * Math.min(...before.map(indexSize))).toBeGreaterThanOrEqual(limit * 0.85);
    const compactor = await start(
      compactorConfig(bucket, join(work.path, 'data'), { httpAddress: '127.0.0.1:0', replicaLabels: [], dedupFunc: 'chain', downsampling: false, relabel: only('c6', 'keep'), maxBlockIndexSize: limit }),
    );
    await compactor.done;
    const marked = (await (await fetch(`http://${compactor.httpAddress}/metrics`)).text()).match(/^strata_compact_blocks_marked_total\{marker="no-compact-mark.json",reason="index-size-exceeding"\} (\d+)$/m);
    await compactor.stop();
    const after = ofStream(await liveBlocks(bucket), 'c6');
    const marks = (await Promise.all(after.map(async (m) => ({ m, mark: await readMarker(bucket, m.ulid, NO_COMPACT_MARK_FILENAME) })))).filter((x) => x.mark !== undefined);
    expect(marks.length).toBeGreaterThan(0);
    expect(Number(marked?.[1])).toBe(marks.length);
    for (const { mark } of marks) {
      expect(mark).toMatchObject({ reason: 'index-size-exceeding' });
      expect(mark?.details).toContain('--compact.block-max-index-size');
    }
    // Blocks were compacted, none of them a marked one.
    const compacted = after.filter((m) => m.compaction.level > 1);
    expect(compacted.length).toBeGreaterThan(0);
    for (const m of compacted) for (const { m: x } of marks) expect(m.compaction.sources ?? []).not.toContain(x.ulid);
  });

  it('applies raw retention: blocks whose newest sample is older are marked, then deleted after the delay', async () => {
    // The data ends about 9.5 days ago: a 9d retention removes every stream's blocks.
    const compactor = await start(compactorConfig(bucket, join(work.path, 'data'), { replicaLabels: [], dedupFunc: 'chain', downsampling: false, retentionRawMs: 9 * 24 * HOUR }));
    await compactor.done;
    await compactor.stop();
    expect(await liveBlocks(bucket)).toEqual([]);
    for await (const e of bucket.list('', { recursive: true })) throw new Error(`left in the bucket: ${e.name}`);
  });

});

/** Relabel rules keeping or dropping one stream (cluster). */
function only(cluster: string, action: 'keep' | 'drop'): Relabeler {
  return new Relabeler([{ source_labels: ['cluster'], regex: cluster, action }]);
}

function decode(c: Chunk): [number, number][] {
  const it = c.iterator();
  const out: [number, number][] = [];
  while (it.next() === ValueType.Float) out.push([it.atT(), it.atFloat()]);
  return out;
}

describe('strata compact --wait --compact.cleanup-interval', () => {
  it('deletes a block marked for deletion between iterations, without waiting for the next', async () => {
    const work = await tempDir('strata-compact-cleanup-');
    const bucket = new InMemoryBucket();
    let compactor: Compactor | undefined;
    try {
      const { blocksDir } = await replicaBlocks(join(work.path, 'r0'), { offsetMs: 0 }, T0, T0 + 4 * HOUR);
      await uploadAll(bucket, blocksDir, { cluster: 'cleanup' });
      // An iteration an hour, a cleanup every 100 ms.
      compactor = await start(
        compactorConfig(bucket, join(work.path, 'data'), { httpAddress: '127.0.0.1:0', wait: true, waitIntervalMs: HOUR, cleanupIntervalMs: 100, replicaLabels: [], dedupFunc: 'chain', downsampling: false }),
      );
      const iterations = async () => Number(/^strata_compact_iterations_total (\d+)$/m.exec(await (await fetch(`http://${compactor?.httpAddress}/metrics`)).text())?.[1] ?? 0);
      while ((await iterations()) < 1) await sleep(50);
      const [victim] = await liveBlocks(bucket);
      expect(victim).toBeDefined();
      await markBlock(bucket, victim?.ulid as string, DELETION_MARK_FILENAME);
      while (await bucket.exists(`${victim?.ulid}/meta.json`)) await sleep(50);
      // Deleted by the background cleanup: the first iteration is still the only one.
      expect(await iterations()).toBe(1);
    } finally {
      await compactor?.stop();
      await bucket.close();
      await work.cleanup();
    }
  }, 60_000);
});
