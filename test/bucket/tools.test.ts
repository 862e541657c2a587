import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { downloadBlock, markBlock, MetaFetcher, uploadBlock } from '@strata/block';
import { Command } from 'commander';
import { registerCommands } from '@strata/cli';
import { runCleanup, runInspect, runLs, runUploadBlocks, runVerify } from '../../packages/cli/src/commands/tools-bucket.js';
import { bucketFromConfigFile, getBuffer, mapLimit, newBucket, parseBucketConfig, type Bucket } from '@strata/objstore';
import { ArraySampleIterator, BlockReader, BlockWriter, ChunksSampleIterator, encodeSeriesChunks, Labels, parseMeta, ValueType, type ChunkMeta } from '@strata/tsdb';
import { startFaultProxy, type FaultProxy } from '@strata/testing/faultproxy';
import { chunkDataByteNear, reorderFirstSeriesChunks } from '@strata/testing/corrupt';
import { tempDir } from '@strata/testing/process';
import { promtool } from '@strata/testing/prometheus';
import { startS3rver, type S3Server } from '@strata/testing/s3';
import { capture, promtoolBlocks, syntheticBlock } from './fixtures.js';

const HOUR = 3_600_000;
/** Labels that leave room after a series entry for longer chunk metas (see reorderFirstSeriesChunks). */
const PAD = 5;
const fastRetry = { maxAttempts: 8, initialBackoffMs: 10, maxBackoffMs: 200 };

let work: { path: string; cleanup: () => Promise<void> };
let promBlocks: string;
let s3: S3Server;

beforeAll(async () => {
  work = await tempDir('strata-bucket-tools-');
  [promBlocks, s3] = await Promise.all([promtoolBlocks(work.path), startS3rver()]);
});
afterAll(async () => {
  await s3?.stop();
  await work?.cleanup();
});

const backends: Array<[string, () => Promise<string>]> = [
  ['s3rver', async () => s3.configYaml({ prefix: `p${Math.random().toString(36).slice(2, 8)}` })],
  ['filesystem', async () => `type: FILESYSTEM\nconfig:\n  directory: ${join(work.path, `fs-${Math.random().toString(36).slice(2, 8)}`)}\n`],
];

describe.each(backends)('strata tools bucket against %s', (_name, makeConfig) => {
  let bucket: Bucket;
  let configFile: string;
  beforeAll(async () => {
    configFile = join(work.path, `bucket-${Math.random().toString(36).slice(2, 8)}.yml`);
    await writeFile(configFile, await makeConfig());
    bucket = await bucketFromConfigFile(configFile);
  });
  afterAll(() => bucket?.close());

  it('uploads promtool blocks that download byte-identical, pass verify, and a flipped chunk byte is caught and named', async () => {
    const ids = (await readdir(promBlocks)).filter((n) => /^[0-9A-Z]{26}$/.test(n)).sort();
    expect(ids.length).toBeGreaterThanOrEqual(3);
    const io = capture();
    const first = await runUploadBlocks(bucket, { path: promBlocks, labels: { cluster: 'c1', replica: 'bf' } }, io);
    expect(first.uploaded.sort()).toEqual(ids);
    expect(io.errText()).toMatch(/\[\d+\/\d+\] block [0-9A-Z]{26}: uploaded \d+ bytes/);
    const again = await runUploadBlocks(bucket, { path: promBlocks, labels: { cluster: 'c1', replica: 'bf' } }, capture());
    expect(again).toEqual({ uploaded: [], skipped: expect.arrayContaining(ids) });

    const ls = capture();
    await runLs(bucket, { output: 'json' }, ls);
    const listed = ls.text().trim().split('\n').map((l) => parseMeta(l));
    expect(listed.map((m) => m.ulid).sort()).toEqual(ids);
    for (const m of listed) expect(m.thanos).toMatchObject({ labels: { cluster: 'c1', replica: 'bf' }, source: 'bucket.upload' });
    const inspect = capture();
    await runInspect(bucket, { sortBy: ['SAMPLES', 'FROM'], selector: { cluster: 'c1' } }, inspect);
    const rows = inspect.text().trim().split('\n');
    expect(rows[0]).toMatch(/^ULID\s+FROM\s+UNTIL\s+RANGE\s+SERIES\s+SAMPLES\s+CHUNKS\s+LEVEL\s+RESOLUTION\s+SOURCE\s+LABELS$/);
    const samples = rows.slice(1).map((r) => Number(r.split(/\s+/)[5]));
    expect(samples).toEqual([...samples].sort((a, b) => a - b));
    expect(rows.length).toBe(ids.length + 1);

    const dst = join(work.path, `download-${_name}`);
    for (const id of ids) {
      await downloadBlock(bucket, id, dst);
      const files = ['index', ...(await readdir(join(promBlocks, id, 'chunks'))).map((c) => `chunks/${c}`)];
      for (const f of files) expect((await readFile(join(dst, id, f))).equals(await readFile(join(promBlocks, id, f))), `${id}/${f}`).toBe(true);
      const local = parseMeta(await readFile(join(promBlocks, id, 'meta.json'), 'utf8'));
      const { thanos, ...downloaded } = parseMeta(await readFile(join(dst, id, 'meta.json'), 'utf8'));
      expect(downloaded).toEqual(local);
      expect(thanos?.files?.map((f) => f.rel_path)).toEqual([...files.filter((f) => f !== 'index'), 'index', 'meta.json']);
    }

    const ok = capture();
    expect(await runVerify(bucket, { index: true, hashes: true }, ok)).toBe(0);
    expect(ok.text()).toBe('');

    const victim = ids[1] as string;
    const key = `${victim}/chunks/000001`;
    const bytes = await getBuffer(bucket, key);
    bytes[chunkDataByteNear(bytes, bytes.length / 2)]! ^= 0x01;
    await bucket.upload(key, bytes);
    // Caught by the chunk CRCs alone, and by the recorded SHA256 as well.
    const byCrc = capture();
    expect(await runVerify(bucket, { index: true, hashes: false }, byCrc)).toBe(1);
    expect(byCrc.text()).toMatch(new RegExp(`^block ${victim} ${key}: corrupted: .*${key}`));
    const bad = capture();
    expect(await runVerify(bucket, { index: true, hashes: true }, bad)).toBe(2);
    expect(bad.text()).toContain(`block ${victim} ${key}: SHA256 `);
    for (const id of ids.filter((i) => i !== victim)) expect(bad.text()).not.toContain(id);
  });

  it('refuses to backfill without external labels', async () => {
    await expect(runUploadBlocks(bucket, { path: promBlocks, labels: {} }, capture())).rejects.toThrow(/at least one --label/);
  });

  /** What `strata <args>` writes to stdout, run through the commander wiring. */
  async function strata(args: string[]): Promise<string> {
    const written: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(chunk.toString());
      return true;
    });
    try {
      const program = new Command('strata').exitOverride();
      registerCommands(program);
      await program.parseAsync(args, { from: 'user' });
    } finally {
      spy.mockRestore();
    }
    return written.join('');
  }

  it('runs through the commander wiring with --objstore.config-file, or the same YAML inline in --objstore.config', async () => {
    const out = await strata(['tools', 'bucket', 'ls', '--objstore.config-file', configFile, '-o', 'wide']);
    expect(out).toMatch(/^ULID\s+FROM\s+UNTIL\s+RANGE\s+LEVEL\s+RESOLUTION\s+SOURCE\s+SIZE\s+UPLOADED\s+LABELS\n/);
    expect(out).toContain('bucket.upload');
    expect(await strata(['tools', 'bucket', 'ls', '--objstore.config', await readFile(configFile, 'utf8'), '-o', 'wide'])).toBe(out);
    await expect(strata(['tools', 'bucket', 'ls', '--objstore.config-file', configFile, '--objstore.config', 'type: FILESYSTEM'])).rejects.toThrow(/only one of --objstore.config-file and --objstore.config/);
    await expect(strata(['tools', 'bucket', 'ls'])).rejects.toThrow(/give --objstore.config-file or --objstore.config/);
  });
});

describe('uploads through a fault-injecting proxy in front of s3rver', () => {
  let proxy: FaultProxy;
  let viaProxy: Bucket;
  let direct: Bucket;
  beforeAll(async () => {
    await s3.createBucket('faulty');
    proxy = await startFaultProxy(s3.endpoint, { seed: 42 });
    const cfg = (endpoint: string) => parseBucketConfig(s3.configYaml({ endpoint }).replace('bucket: strata', 'bucket: faulty'));
    viaProxy = newBucket(cfg(proxy.endpoint), { retry: fastRetry });
    direct = newBucket(cfg(s3.endpoint));
  });
  afterAll(async () => {
    await viaProxy?.close();
    await direct?.close();
    await proxy?.stop();
  });

  it('an upload cut off after the chunks leaves a block without meta.json that ls hides and cleanup removes', async () => {
    const dir = join(work.path, 'cut');
    const blockDir = await syntheticBlock(dir, { labels: { cluster: 'c1' }, minTime: 0, maxTime: 2 * HOUR });
    const id = blockDir.slice(-26);
    proxy.onRequest((r) => {
      if (r.method === 'PUT' && r.path.includes(`/${id}/index`)) proxy.setDown(true);
    });
    try {
      await expect(runUploadBlocks(viaProxy, { path: dir, labels: { cluster: 'c1' } }, capture())).rejects.toThrow(`block ${id}: upload ${id}/index`);
    } finally {
      proxy.onRequest(undefined);
      proxy.setDown(false);
    }
    const left: string[] = [];
    for await (const e of direct.list(id, { recursive: true })) left.push(e.name);
    expect(left).toEqual([`${id}/chunks/000001`]);

    const ls = capture();
    await runLs(direct, { output: 'table' }, ls);
    expect(ls.text()).not.toContain(id);
    expect((await new MetaFetcher(direct).fetch()).partial.has(id)).toBe(true);

    // Younger than the partial-upload age: kept, it might still be in progress.
    expect(await runCleanup(direct, { deleteDelayMs: 48 * HOUR, partialAgeMs: 48 * HOUR }, capture())).toEqual([]);
    const io = capture();
    expect(await runCleanup(direct, { deleteDelayMs: 48 * HOUR, partialAgeMs: 48 * HOUR, now: new Date(Date.now() + 49 * HOUR) }, io)).toEqual([id]);
    expect(io.errText()).toContain(`block ${id}: deleted (aborted-partial-upload)`);
    for await (const e of direct.list(id, { recursive: true })) throw new Error(`left behind: ${e.name}`);
  });

  it('100 blocks upload concurrently through failing, resetting and truncating requests with none lost', async () => {
    proxy.setFaults({ fail: 0.05, reset: 0.05, truncate: 0.05 });
    const root = join(work.path, 'hundred');
    const dirs = await mapLimit(Array.from({ length: 100 }, (_, i) => i), 10, (i) => syntheticBlock(root, { labels: { cluster: 'many', shard: String(i % 4) }, minTime: i * 2 * HOUR, maxTime: (i + 1) * 2 * HOUR }));
    try {
      await mapLimit(dirs, 20, (d) => uploadBlock(viaProxy, d, { hash: true }));
    } finally {
      proxy.setFaults({});
    }
    expect(proxy.stats.failed + proxy.stats.reset + proxy.stats.truncated).toBeGreaterThan(10);
    const res = await new MetaFetcher(direct).fetch();
    expect(res.metas.size).toBe(100);
    expect([...res.metas.keys()].sort()).toEqual(dirs.map((d) => d.slice(-26)).sort());
    expect(res.partial.size).toBe(0);
    const io = capture();
    expect(await runVerify(direct, { index: false, hashes: true }, io)).toBe(0);
  });
});

describe('strata tools bucket verify --issues duplicated_compaction --repair', () => {
  it("finds a compaction done twice (the same sources and time range) and deletes, or marks, all but the first, backed up first, as Thanos' verify repairs it", async () => {
    const bucket = newBucket(parseBucketConfig(`type: FILESYSTEM\nconfig:\n  directory: ${join(work.path, 'verify-dup')}\n`));
    const backup = newBucket(parseBucketConfig(`type: FILESYSTEM\nconfig:\n  directory: ${join(work.path, 'verify-dup-backup')}\n`));
    try {
      const local = join(work.path, 'verify-dup-blocks');
      /** A level-2 block made of `sources`, as the compactor writes one. */
      const compacted = async (sources: string[], minTime: number) => {
        const dir = await syntheticBlock(local, { labels: { cluster: 'c1' }, minTime, maxTime: minTime + 8 * HOUR });
        const meta = parseMeta(await readFile(join(dir, 'meta.json'), 'utf8'));
        return (await uploadBlock(bucket, dir, { meta: { ...meta, compaction: { level: 2, sources } } })).ulid;
      };
      const [a1, a2] = [await compacted(['S1', 'S2'], 0), await compacted(['S2', 'S1'], 0)];
      const [b1, b2, b3] = [await compacted(['S3'], 8 * HOUR), await compacted(['S3'], 8 * HOUR), await compacted(['S3'], 8 * HOUR)];
      const other = await compacted(['S4'], 16 * HOUR);
      const issues = new Set(['duplicated_compaction'] as const);
      const found = capture();
      expect(await runVerify(bucket, { index: false, hashes: false, issues }, found)).toBe(3);
      const named = found.text().trim().split('\n').map((l) => l.split(':')[0]);
      expect(named.sort()).toEqual([`block ${a2}`, `block ${b2}`, `block ${b3}`].sort());
      expect(found.text()).toContain(`the same sources and time range as block ${a1}`);
      // Thanos' default issues see them as overlapping blocks, which no repair removes.
      expect(await runVerify(bucket, { index: false, hashes: false, repair: { deleteDelayMs: 0 } }, capture())).toBe(3);
      expect(await bucket.exists(`${a2}/meta.json`)).toBe(true);

      const repaired = capture();
      expect(await runVerify(bucket, { index: false, hashes: false, issues, ids: [a2], repair: { deleteDelayMs: 0, backup } }, repaired)).toBe(0);
      expect(repaired.errText()).toContain(`block ${a2}: deleted (duplicated compaction)`);
      expect(await bucket.exists(`${a2}/meta.json`)).toBe(false);
      expect(await backup.exists(`${a2}/meta.json`)).toBe(true);
      expect(await backup.exists(`${a2}/chunks/000001`)).toBe(true);
      // With a delay they are marked for the compactor to delete.
      expect(await runVerify(bucket, { index: false, hashes: false, issues, repair: { deleteDelayMs: 48 * HOUR } }, capture())).toBe(0);
      for (const id of [b2, b3]) expect(await bucket.exists(`${id}/deletion-mark.json`)).toBe(true);
      for (const id of [a1, b1, other]) {
        expect(await bucket.exists(`${id}/meta.json`)).toBe(true);
        expect(await bucket.exists(`${id}/deletion-mark.json`)).toBe(false);
      }
    } finally {
      await bucket.close();
      await backup.close();
    }
  });
});

describe('strata tools bucket verify --repair of index issues', () => {
  /** `n` samples from `from`, a minute apart, valued `base` + their minute. */
  const samples = (from: number, n: number, base: number): ChunkMeta[] => {
    const ts = Array.from({ length: n }, (_, i) => from + i * 60_000);
    return encodeSeriesChunks(new ArraySampleIterator(ts, ts.map((t) => base + t / 60_000)), 120);
  };
  /** Every sample of a series' chunks, in order. */
  const read = (chunks: readonly ChunkMeta[]): [number, number][] => {
    const out: [number, number][] = [];
    const it = new ChunksSampleIterator(chunks, -Infinity, Infinity);
    while (it.next() !== ValueType.None) out.push([it.atT(), it.atFloat()]);
    return out;
  };

  it("writes a block with chunks outside its range again with them cut to it, and retires the broken one, as Thanos' verify repairs index_known_issues", async () => {
    const bucket = newBucket(parseBucketConfig(`type: FILESYSTEM\nconfig:\n  directory: ${join(work.path, 'verify-index')}\n`));
    const backup = newBucket(parseBucketConfig(`type: FILESYSTEM\nconfig:\n  directory: ${join(work.path, 'verify-index-backup')}\n`));
    try {
      const local = join(work.path, 'verify-index-blocks');
      // A 4h block whose writer did not check its chunks (as an old Prometheus' compaction could leave one).
      const w = await BlockWriter.create(local, {
        range: { minTime: 0, maxTime: 4 * HOUR },
        compaction: (ulid) => ({ level: 2, sources: [ulid] }),
        thanos: { labels: { cluster: 'c1' }, downsample: { resolution: 0 }, source: 'compactor' },
      });
      await w.addChunkSeries(Labels.from({ __name__: 'a' }), samples(0, 180, 3));
      // Outside the range: one chunk across its end, one wholly after it.
      await w.addChunkSeries(Labels.from({ __name__: 'b' }), [...samples(HOUR, 60, 0), ...samples(3.75 * HOUR, 30, 0), ...samples(4.5 * HOUR, 30, 0)]);
      await w.addChunkSeries(Labels.from({ __name__: 'c' }), samples(0, 240, 7));
      const broken = await w.close();
      await uploadBlock(bucket, join(local, broken.ulid));

      const found = capture();
      expect(await runVerify(bucket, { index: true, hashes: false }, found)).toBe(2);
      expect(found.text()).toContain(`block ${broken.ulid} ${broken.ulid}/index: series {__name__="b"}: chunk [${3.75 * HOUR}, ${3.75 * HOUR + 29 * 60_000}] outside block range [0, ${4 * HOUR})`);

      const repaired = capture();
      expect(await runVerify(bucket, { index: true, hashes: false, repair: { deleteDelayMs: 0, backup } }, repaired)).toBe(0);
      expect(repaired.errText()).toMatch(new RegExp(`block ${broken.ulid}: repaired as block (\\w+): 1 series mended, 1 chunks outside its range dropped`));
      expect(await bucket.exists(`${broken.ulid}/meta.json`)).toBe(false);
      expect(await backup.exists(`${broken.ulid}/index`)).toBe(true);
      // The new block passes verify and holds every sample inside the range, once.
      expect(await runVerify(bucket, { index: true, hashes: false }, capture())).toBe(0);
      const [meta] = [...(await new MetaFetcher(bucket).fetch()).metas.values()];
      expect(meta).toMatchObject({ minTime: 0, maxTime: 4 * HOUR, compaction: { level: 2, sources: broken.compaction.sources }, thanos: { labels: { cluster: 'c1' }, source: 'bucket.repair' } });
      const dir = join(work.path, 'verify-index-repaired');
      await downloadBlock(bucket, meta!.ulid, dir);
      const reader = await BlockReader.openDir(join(dir, meta!.ulid));
      try {
        const got = new Map<string, [number, number][]>();
        for await (const batch of reader.chunkSeriesBatches([])) for (const s of batch) got.set(s.labels.get('__name__'), read(s.chunks));
        expect(got.get('a')).toEqual(read(samples(0, 180, 3)));
        expect(got.get('b')).toEqual(read([...samples(HOUR, 60, 0), ...samples(3.75 * HOUR, 15, 0)]));
        expect(got.get('c')).toEqual(read(samples(0, 240, 7)));
      } finally {
        await reader.close();
      }
      // Prometheus reads it: promtool dumps its samples.
      await mkdir(join(dir, 'wal'), { recursive: true });
      const dumped = await promtool(['tsdb', 'dump', dir]);
      expect(dumped.trim().split('\n')).toHaveLength(180 + 75 + 240);
    } finally {
      await bucket.close();
      await backup.close();
    }
  });

  it('reads, reports and repairs chunks written out of order, as Go writes them (negative time deltas)', async () => {
    const bucket = newBucket(parseBucketConfig(`type: FILESYSTEM\nconfig:\n  directory: ${join(work.path, 'verify-order')}\n`));
    try {
      const local = join(work.path, 'verify-order-blocks');
      const w = await BlockWriter.create(local, { range: { minTime: 0, maxTime: 4 * HOUR }, thanos: { labels: { cluster: 'c1' }, downsample: { resolution: 0 }, source: 'test' } });
      const [early, late] = [samples(0, 60, 0), samples(2 * HOUR, 60, 0)];
      // Labels enough that the padding after the entry takes the longer deltas.
      const a = Labels.from({ __name__: 'a', ...Object.fromEntries(Array.from({ length: PAD }, (_, i) => [`l${i}`, 'v'])) });
      await w.addChunkSeries(a, [...early, ...late]);
      await w.addChunkSeries(Labels.from({ __name__: 'b' }), samples(0, 120, 5));
      const broken = await w.close();
      await reorderFirstSeriesChunks(join(local, broken.ulid, 'index'), () => [1, 0]);
      await uploadBlock(bucket, join(local, broken.ulid), { meta: { ...broken, thanos: { labels: { cluster: 'c1' }, downsample: { resolution: 0 }, source: 'test' } } });
      const found = capture();
      expect(await runVerify(bucket, { index: true, hashes: false }, found)).toBe(1);
      expect(found.text()).toContain(`series ${a.toString()}: chunks overlap or are out of order at 0`);
      // A block marked for deletion is not brought back as a repaired copy.
      await markBlock(bucket, broken.ulid, 'deletion-mark.json', { details: 'compacted' });
      const skipped = capture();
      expect(await runVerify(bucket, { index: true, hashes: false, repair: { deleteDelayMs: 0 } }, skipped)).toBe(1);
      expect(skipped.errText()).toContain(`block ${broken.ulid}: marked for deletion; not repaired`);
      await bucket.delete(`${broken.ulid}/deletion-mark.json`);
      const repaired = capture();
      expect(await runVerify(bucket, { index: true, hashes: false, repair: { deleteDelayMs: 0 } }, repaired)).toBe(0);
      expect(repaired.errText()).toContain('1 series mended, 0 chunks outside its range dropped');
      const [meta] = [...(await new MetaFetcher(bucket).fetch()).metas.values()];
      const dir = join(work.path, 'verify-order-repaired');
      await downloadBlock(bucket, meta!.ulid, dir);
      const reader = await BlockReader.openDir(join(dir, meta!.ulid));
      try {
        const got: [number, number][] = [];
        for await (const batch of reader.chunkSeriesBatches([])) for (const s of batch) if (s.labels.get('__name__') === 'a') got.push(...read(s.chunks));
        expect(got).toEqual(read([...early, ...late]));
      } finally {
        await reader.close();
      }
    } finally {
      await bucket.close();
    }
  });
});
