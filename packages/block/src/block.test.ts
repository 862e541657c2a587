import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ForwardingBucket, getBuffer, InMemoryBucket } from '@strata/objstore';
import { formatMeta, newULID, parseMeta, type BlockMeta } from '@strata/tsdb';
import { cleanPartialBlocks, deleteMarkedBlocks } from './cleanup.js';
import { deleteBlock } from './delete.js';
import { downloadBlock } from './download.js';
import { MetaFetcher } from './fetcher.js';
import { ConsistencyDelayFilter, IgnoreDeletionMarkFilter, LabelShardedFilter, TimePartitionFilter } from './filters.js';
import { DELETION_MARK_FILENAME, markBlock, NO_COMPACT_MARK_FILENAME, readMarker } from './markers.js';
import { hashmod, Relabeler } from './relabel.js';
import { TimeBound } from './timebound.js';
import { uploadBlock } from './upload.js';
import { verifyBlocks } from './verify.js';

const HOUR = 3_600_000;

/** A block directory with random chunk and index bytes (these tests never decode them). */
async function makeBlock(root: string, opts: { labels?: Record<string, string>; minTime?: number; maxTime?: number; ulidTime?: number; hints?: string[] } = {}): Promise<string> {
  const id = newULID(opts.ulidTime ?? Date.now());
  const dir = join(root, id);
  await mkdir(join(dir, 'chunks'), { recursive: true });
  await writeFile(join(dir, 'chunks', '000001'), randomBytes(3000));
  await writeFile(join(dir, 'chunks', '000002'), randomBytes(1000));
  await writeFile(join(dir, 'index'), randomBytes(2000));
  await writeFile(join(dir, 'tombstones'), Buffer.from([0, 0, 0, 0, 1, 0, 0, 0, 0]));
  const meta: BlockMeta = {
    ulid: id,
    minTime: opts.minTime ?? 0,
    maxTime: opts.maxTime ?? 2 * HOUR,
    version: 1,
    stats: { numSamples: 10, numSeries: 1, numChunks: 2 },
    compaction: { level: 1, sources: [id], ...(opts.hints !== undefined ? { hints: opts.hints } : {}) },
    ...(opts.labels === undefined ? {} : { thanos: { labels: opts.labels, downsample: { resolution: 0 }, source: 'test' as const } }),
  };
  await writeFile(join(dir, 'meta.json'), formatMeta(meta));
  return dir;
}

async function keys(bucket: InMemoryBucket, dir = ''): Promise<string[]> {
  const out: string[] = [];
  for await (const e of bucket.list(dir, { recursive: true })) out.push(e.name);
  return out.sort();
}

describe('block upload, download, delete', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'strata-block-'));
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('uploads chunks, then the index, then meta.json with files and upload_time', async () => {
    const dir = await makeBlock(root, { labels: { cluster: 'c1' } });
    const bucket = new InMemoryBucket();
    const order: string[] = [];
    const upload = bucket.upload.bind(bucket);
    bucket.upload = async (name, body) => {
      order.push(name);
      await upload(name, body);
    };
    const meta = await uploadBlock(bucket, dir, { hash: true, now: () => new Date('2026-11-01T00:00:00Z') });
    const id = meta.ulid;
    expect(order.slice(0, 2).sort()).toEqual([`${id}/chunks/000001`, `${id}/chunks/000002`]);
    expect(order.slice(2)).toEqual([`${id}/index`, `${id}/meta.json`]);
    const stored = parseMeta((await getBuffer(bucket, `${id}/meta.json`)).toString());
    expect(stored.thanos?.upload_time).toBe('2026-11-01T00:00:00.000Z');
    expect(stored.thanos?.files?.map((f) => [f.rel_path, f.size_bytes])).toEqual([
      ['chunks/000001', 3000],
      ['chunks/000002', 1000],
      ['index', 2000],
      ['meta.json', undefined],
    ]);
    expect(stored.thanos?.files?.[0]?.hash?.hashFunc).toBe('SHA256');
    // The tombstones file stays local, as in Thanos.
    expect(await keys(bucket)).not.toContain(`${id}/tombstones`);

    const dst = join(root, 'download');
    await downloadBlock(bucket, id, dst);
    for (const f of ['chunks/000001', 'chunks/000002', 'index']) expect((await readFile(join(dst, id, f))).equals(await readFile(join(dir, f)))).toBe(true);
    expect(parseMeta(await readFile(join(dst, id, 'meta.json'), 'utf8'))).toEqual(stored);
  });

  it('refuses a block without external labels, naming it', async () => {
    const dir = await makeBlock(root);
    await expect(uploadBlock(new InMemoryBucket(), dir)).rejects.toThrow(/block [0-9A-Z]{26} .*empty external labels/);
    const dir2 = await makeBlock(root, { labels: {} });
    await expect(uploadBlock(new InMemoryBucket(), dir2)).rejects.toThrow(/empty external labels/);
  });

  it('download names the block and object that is missing', async () => {
    const bucket = new InMemoryBucket();
    const { ulid: id } = await uploadBlock(bucket, await makeBlock(root, { labels: { a: 'b' } }));
    await bucket.delete(`${id}/chunks/000002`);
    await expect(downloadBlock(bucket, id, join(root, 'dl'))).rejects.toThrow(`block ${id}: ${id}/chunks/000002 listed in meta.json but not found`);
    await expect(downloadBlock(bucket, newULID(), join(root, 'dl'))).rejects.toThrow(/meta.json not found in bucket memory/);
  });

  it('deletes meta.json first and the deletion mark last', async () => {
    const bucket = new InMemoryBucket();
    const { ulid: id } = await uploadBlock(bucket, await makeBlock(root, { labels: { a: 'b' } }));
    expect(await markBlock(bucket, id, DELETION_MARK_FILENAME, { details: 'test' })).toBe(true);
    const order: string[] = [];
    const del = bucket.delete.bind(bucket);
    bucket.delete = async (name) => {
      order.push(name);
      await del(name);
    };
    await deleteBlock(bucket, id);
    expect(order[0]).toBe(`${id}/meta.json`);
    expect(order.at(-1)).toBe(`${id}/deletion-mark.json`);
    expect(await keys(bucket)).toEqual([]);
  });
});

describe('markers', () => {
  it('writes and reads deletion and no-compact marks in Thanos format', async () => {
    const bucket = new InMemoryBucket();
    const id = newULID();
    await expect(markBlock(bucket, id, DELETION_MARK_FILENAME)).rejects.toThrow(`block ${id}: cannot write deletion-mark.json: ${id}/meta.json not found`);
    await bucket.upload(`${id}/meta.json`, Buffer.from('{}'));
    const now = new Date('2026-11-02T03:04:05Z');
    expect(await markBlock(bucket, id, DELETION_MARK_FILENAME, { details: 'why', now })).toBe(true);
    expect(await markBlock(bucket, id, DELETION_MARK_FILENAME, { now: new Date() })).toBe(false);
    expect(JSON.parse((await getBuffer(bucket, `${id}/deletion-mark.json`)).toString())).toEqual({ id, version: 1, details: 'why', deletion_time: now.getTime() / 1000 });
    await markBlock(bucket, id, NO_COMPACT_MARK_FILENAME, { now });
    expect(await readMarker(bucket, id, NO_COMPACT_MARK_FILENAME)).toEqual({ id, version: 1, no_compact_time: now.getTime() / 1000, reason: 'manual' });
    await bucket.upload(`${id}/deletion-mark.json`, Buffer.from('{"version":2}'));
    await expect(readMarker(bucket, id, DELETION_MARK_FILENAME)).rejects.toThrow(`block ${id}: ${id}/deletion-mark.json: unexpected marker version 2`);
  });
});

describe('MetaFetcher', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'strata-fetch-'));
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('reads at most `concurrency` meta.json files at once (--block-meta-fetch-concurrency)', async () => {
    const inner = new InMemoryBucket();
    for (let i = 0; i < 12; i++) await uploadBlock(inner, await makeBlock(root, { labels: { i: String(i) }, minTime: 0, maxTime: 2 * HOUR }));
    /** A bucket whose reads take a while, counting how many run at once. */
    class SlowBucket extends ForwardingBucket {
      now = 0;
      most = 0;
      override async get(name: string) {
        this.now++;
        this.most = Math.max(this.most, this.now);
        await new Promise((r) => setTimeout(r, 20));
        this.now--;
        return this.inner.get(name);
      }
    }
    for (const [concurrency, most] of [
      [3, 3],
      [32, 12],
    ] as const) {
      const slow = new SlowBucket(inner);
      expect((await new MetaFetcher(slow, { concurrency }).fetch()).metas.size).toBe(12);
      expect(slow.most).toBe(most);
    }
  });

  it('treats blocks without meta.json as partial, and applies filters in order', async () => {
    const bucket = new InMemoryBucket();
    const now = new Date('2026-11-10T00:00:00Z');
    const old = now.getTime() - 10 * HOUR;
    const up = (dir: string, at = new Date(old)) => uploadBlock(bucket, dir, { now: () => at });
    const a = await up(await makeBlock(root, { labels: { cluster: 'a' }, minTime: 0, maxTime: 2 * HOUR, ulidTime: old }));
    const b = await up(await makeBlock(root, { labels: { cluster: 'b' }, minTime: 2 * HOUR, maxTime: 4 * HOUR, ulidTime: old }));
    const fresh = await up(await makeBlock(root, { labels: { cluster: 'a' }, minTime: 4 * HOUR, maxTime: 6 * HOUR, ulidTime: old }), new Date(now.getTime() - 60_000));
    const future = await up(await makeBlock(root, { labels: { cluster: 'a' }, minTime: 100 * HOUR, maxTime: 102 * HOUR, ulidTime: old }));
    const marked = await up(await makeBlock(root, { labels: { cluster: 'a' }, minTime: 0, maxTime: 2 * HOUR, ulidTime: old }));
    await markBlock(bucket, marked.ulid, DELETION_MARK_FILENAME, { now: new Date(now.getTime() - 5 * HOUR) });
    const partialId = newULID(old);
    await bucket.upload(`${partialId}/chunks/000001`, Buffer.from('x'));
    await bucket.upload('not-a-block/file', Buffer.from('x'));
    await bucket.upload(`${newULID()}/meta.json`.replace(/^./, '0'), Buffer.from('not json'));

    const deletion = new IgnoreDeletionMarkFilter(HOUR);
    const fetcher = new MetaFetcher(bucket, {
      now: () => now,
      filters: [new TimePartitionFilter(TimeBound.at(0), TimeBound.at(10 * HOUR)), new LabelShardedFilter(new Relabeler([{ source_labels: ['cluster'], regex: 'a|b', action: 'keep' }])), new ConsistencyDelayFilter(30 * 60_000), deletion],
    });
    const res = await fetcher.fetch();
    expect([...res.metas.keys()].sort()).toEqual([a.ulid, b.ulid].sort());
    expect([...res.partial.keys()]).toEqual([partialId]);
    expect(res.failed.size).toBe(1);
    expect([...res.failed.values()][0]?.message).toMatch(/meta.json: invalid JSON/);
    expect(deletion.deletionMarks.has(marked.ulid)).toBe(true);
    expect(Object.fromEntries(res.synced)).toEqual({ 'no-meta-json': 1, 'corrupted-meta-json': 1, 'time-excluded': 1, 'too-fresh': 1, 'marked-for-deletion': 1, loaded: 2 });
    void fresh;
    void future;

    const onlyB = await new MetaFetcher(bucket, { now: () => now, filters: [new LabelShardedFilter(new Relabeler([{ source_labels: ['cluster'], regex: 'b', action: 'keep' }]))] }).fetch();
    expect([...onlyB.metas.keys()]).toEqual([b.ulid]);
  });

  it('shards blocks over replicas by hashmod of __block_id, each block in exactly one shard', async () => {
    const bucket = new InMemoryBucket();
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push((await uploadBlock(bucket, await makeBlock(root, { labels: { r: String(i) } }))).ulid);
    const seen: string[] = [];
    for (let shard = 0; shard < 3; shard++) {
      const relabeler = Relabeler.fromYaml(`- source_labels: [__block_id]\n  modulus: 3\n  target_label: shard\n  action: hashmod\n- source_labels: [shard]\n  regex: "${shard}"\n  action: keep\n`);
      const res = await new MetaFetcher(bucket, { filters: [new LabelShardedFilter(relabeler)] }).fetch();
      for (const id of res.metas.keys()) expect(hashmod(id, 3)).toBe(shard);
      seen.push(...res.metas.keys());
    }
    expect(seen.sort()).toEqual(ids.sort());
  });

  it('reads a relative --min-time/--max-time at every sync: the partition moves with the clock', async () => {
    const bucket = new InMemoryBucket();
    const ids: string[] = [];
    for (let h = 0; h < 8; h += 2) ids.push((await uploadBlock(bucket, await makeBlock(root, { labels: { a: 'b' }, minTime: h * HOUR, maxTime: (h + 2) * HOUR }))).ulid);
    const filter = new TimePartitionFilter(TimeBound.fromNow(-3 * HOUR), TimeBound.at(7 * HOUR));
    const at = async (nowMs: number) => [...(await new MetaFetcher(bucket, { now: () => new Date(nowMs), filters: [filter] }).fetch()).metas.keys()].sort();
    expect(await at(5.5 * HOUR)).toEqual(ids.slice(1).sort());
    expect(await at(9.5 * HOUR)).toEqual(ids.slice(3).sort());
  });
});

describe('cleanup', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'strata-clean-'));
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('removes old partial uploads and blocks marked long enough ago, nothing else', async () => {
    const bucket = new InMemoryBucket();
    const now = new Date();
    const oldPartial = newULID(now.getTime() - 100 * HOUR);
    const newPartial = newULID(now.getTime() - 100 * HOUR);
    for (const id of [oldPartial, newPartial]) await bucket.upload(`${id}/chunks/000001`, Buffer.from('x'));
    bucket.setLastModified(`${oldPartial}/chunks/000001`, new Date(now.getTime() - 49 * HOUR));
    const keep = await uploadBlock(bucket, await makeBlock(root, { labels: { a: '1' } }));
    const doomed = await uploadBlock(bucket, await makeBlock(root, { labels: { a: '2' } }));
    const recent = await uploadBlock(bucket, await makeBlock(root, { labels: { a: '3' } }));
    await markBlock(bucket, doomed.ulid, DELETION_MARK_FILENAME, { now: new Date(now.getTime() - 3 * HOUR) });
    await markBlock(bucket, recent.ulid, DELETION_MARK_FILENAME, { now });

    const deletion = new IgnoreDeletionMarkFilter(0);
    const res = await new MetaFetcher(bucket, { filters: [deletion] }).fetch();
    expect(await cleanPartialBlocks(bucket, res.partial, { deleteDelayMs: 2 * HOUR, now })).toEqual([oldPartial]);
    expect((await deleteMarkedBlocks(bucket, deletion.deletionMarks, { deleteDelayMs: 2 * HOUR, now })).sort()).toEqual([doomed.ulid]);
    const after = await new MetaFetcher(bucket).fetch();
    expect([...after.metas.keys()].sort()).toEqual([keep.ulid, recent.ulid].sort());
    expect([...after.partial.keys()]).toEqual([newPartial]);
  });
});

describe('Relabeler', () => {
  it("matches Prometheus' hashmod and replace semantics", () => {
    // Prometheus' relabel_test.go: hashmod 1000 of "baz" is 976, of "foo\nbar" 734.
    expect(new Relabeler([{ source_labels: ['c'], modulus: 1000, target_label: 'd', action: 'hashmod' }]).process({ c: 'baz' })).toEqual({ c: 'baz', d: '976' });
    expect(hashmod('foo\nbar', 1000)).toBe(734);
    expect(new Relabeler([{ source_labels: ['a', 'b'], regex: '(f.*);(.*)', target_label: 'c', replacement: '${2}-$1' }]).process({ a: 'foo', b: 'bar' })).toEqual({ a: 'foo', b: 'bar', c: 'bar-foo' });
    expect(new Relabeler([{ source_labels: ['a'], regex: 'fo', action: 'keep' }]).process({ a: 'foo' })).toBeUndefined();
    expect(new Relabeler([{ regex: 'b', action: 'labeldrop' }]).process({ a: '1', b: '2' })).toEqual({ a: '1' });
    expect(() => new Relabeler([{ action: 'hashmod' as const, target_label: 'x' }])).toThrow(/positive modulus/);
  });

  it("has Prometheus 2.42's lowercase, uppercase, keepequal and dropequal actions", () => {
    const ls = { a: 'Foo-ΑΣ', b: 'x', c: 'x', d: 'İ' };
    expect(new Relabeler([{ source_labels: ['a'], target_label: 'l', action: 'lowercase' }]).process(ls)).toEqual({ ...ls, l: 'foo-ασ' });
    expect(new Relabeler([{ source_labels: ['a', 'b'], target_label: 'u', action: 'uppercase' }]).process(ls)).toEqual({ ...ls, u: 'FOO-ΑΣ;X' });
    // Go's simple mappings: İ lowercases to i, ß has no single-letter uppercase.
    expect(new Relabeler([{ source_labels: ['d'], target_label: 'l', action: 'lowercase' }]).process(ls)).toEqual({ ...ls, l: 'i' });
    expect(new Relabeler([{ source_labels: ['e'], target_label: 'u', action: 'uppercase' }]).process({ e: 'ß' })).toEqual({ e: 'ß', u: 'ß' });
    // An empty result deletes the target, as every action that sets a label.
    expect(new Relabeler([{ source_labels: ['missing'], target_label: 'a', action: 'lowercase' }]).process(ls)).toEqual({ b: 'x', c: 'x', d: 'İ' });
    expect(new Relabeler([{ source_labels: ['b'], target_label: 'c', action: 'keepequal' }]).process(ls)).toEqual(ls);
    expect(new Relabeler([{ source_labels: ['b'], target_label: 'a', action: 'keepequal' }]).process(ls)).toBeUndefined();
    expect(new Relabeler([{ source_labels: ['b'], target_label: 'c', action: 'dropequal' }]).process(ls)).toBeUndefined();
    expect(new Relabeler([{ source_labels: ['missing'], target_label: 'none', action: 'keepequal' }]).process(ls)).toEqual(ls);
    expect(() => new Relabeler([{ source_labels: ['b'], action: 'keepequal' }])).toThrow(/needs target_label/);
    expect(() => new Relabeler([{ source_labels: ['b'], target_label: 'c', regex: 'x', action: 'dropequal' }])).toThrow(/requires only 'source_labels' and 'target_label'/);
    expect(() => new Relabeler([{ source_labels: ['b'], target_label: '${1}', action: 'lowercase' }])).toThrow(/invalid 'target_label' for lowercase/);
  });
});

describe('verifyBlocks', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'strata-verify-'));
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('reports overlaps within a group, missing and resized files, each naming block and object', async () => {
    const bucket = new InMemoryBucket();
    const a = await uploadBlock(bucket, await makeBlock(root, { labels: { c: '1' }, minTime: 0, maxTime: 2 * HOUR }), { hash: true });
    const b = await uploadBlock(bucket, await makeBlock(root, { labels: { c: '1' }, minTime: HOUR, maxTime: 3 * HOUR }), { hash: true });
    // Same time range, other external labels: another group, no overlap.
    const c = await uploadBlock(bucket, await makeBlock(root, { labels: { c: '2' }, minTime: 0, maxTime: 2 * HOUR }), { hash: true });
    // A block of out-of-order samples overlaps by design (the compactor merges it): no issue.
    await uploadBlock(bucket, await makeBlock(root, { labels: { c: '1' }, minTime: 0, maxTime: 2 * HOUR, hints: ['from-out-of-order'] }), { hash: true });
    await bucket.delete(`${c.ulid}/chunks/000002`);
    await bucket.upload(`${a.ulid}/chunks/000001`, Buffer.from('short'));
    const metas = (await new MetaFetcher(bucket).fetch()).metas;
    const issues = await verifyBlocks(bucket, metas, { hashes: true });
    expect(issues).toEqual(
      expect.arrayContaining([
        { block: b.ulid, problem: expect.stringMatching(new RegExp(`^overlaps block ${a.ulid} in group 0@\\{c="1"\\}`)) },
        { block: c.ulid, object: `${c.ulid}/chunks/000002`, problem: 'listed in meta.json thanos.files but missing' },
        { block: a.ulid, object: `${a.ulid}/chunks/000001`, problem: 'size 5 bytes, meta.json thanos.files says 3000' },
        { block: a.ulid, object: `${a.ulid}/chunks/000001`, problem: expect.stringMatching(/^SHA256 [0-9a-f]{64} does not match/) },
      ]),
    );
    expect(issues).toHaveLength(4);
    const onlyC = await verifyBlocks(bucket, metas, { only: new Set([c.ulid]) });
    expect(onlyC.map((i) => i.block)).toEqual([c.ulid]);
  });
});
