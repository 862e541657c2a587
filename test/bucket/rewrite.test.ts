// `strata tools bucket rewrite` on promtool's blocks in a filesystem bucket: a dry run changes nothing;
// a rewrite uploads a block whose `promtool tsdb dump` is the source's without the deleted series (or
// without their samples in the deletion's intervals),
// that promtool analyzes, whose index no longer holds the deleted label values, and that records the
// deletion as Thanos does; --delete-blocks marks the source.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadBlock, readBlockMeta, readMarker, DELETION_MARK_FILENAME, uploadBlock } from '@strata/block';
import { bucketFromConfigFile, type Bucket } from '@strata/objstore';
import { parseMeta } from '@strata/tsdb';
import { tempDir } from '@strata/testing/process';
import { promtool } from '@strata/testing/prometheus';
import { parseDeletionConfig, runRewrite } from '../../packages/cli/src/commands/bucket-rewrite.js';
import { capture, promtoolBlocks } from './fixtures.js';

let work: { path: string; cleanup: () => Promise<void> };
let bucket: Bucket;
let source: string;

beforeAll(async () => {
  work = await tempDir('strata-rewrite-');
  const blocks = await promtoolBlocks(work.path, { series: 20, hours: 2 });
  const configFile = join(work.path, 'bucket.yml');
  await writeFile(configFile, `type: FILESYSTEM\nconfig:\n  directory: ${join(work.path, 'bucket')}\n`);
  bucket = await bucketFromConfigFile(configFile);
  // The block with the most samples: the 2h of data fall into two 2h-aligned blocks, this one holds at least an hour.
  const ids = (await readdir(blocks)).filter((n) => /^[0-9A-Z]{26}$/.test(n));
  const metas = await Promise.all(ids.map(async (id) => parseMeta(await readFile(join(blocks, id, 'meta.json'), 'utf8'))));
  const meta = metas.reduce((a, b) => ((b.stats?.numSamples ?? 0) > (a.stats?.numSamples ?? 0) ? b : a));
  source = meta.ulid;
  await uploadBlock(bucket, join(blocks, source), { meta: { ...meta, thanos: { labels: { cluster: 'c1' }, downsample: { resolution: 0 }, source: 'bucket.upload' } } });
}, 120_000);

afterAll(async () => {
  await bucket?.close();
  await work?.cleanup();
});

/** promtool's dump of a block in the bucket, one line per sample. */
async function dump(id: string): Promise<string[]> {
  const dir = join(work.path, `dl-${id}`);
  // promtool opens the directory as a TSDB, which needs a WAL directory (empty is fine).
  await mkdir(join(dir, 'wal'), { recursive: true });
  await downloadBlock(bucket, id, dir);
  return (await promtool(['tsdb', 'dump', dir])).split('\n').filter((l) => l !== '');
}

// job3 is host3's job, a gauge and a counter; the second entry deletes one counter (host1 keeps its gauge).
const DELETIONS = `- matchers: '{job="job3"}'\n- matchers: 'demo_requests_total{instance="host1:9100"}'\n`;
const deleted = (line: string) => line.includes('job="job3"') || (line.startsWith('{__name__="demo_requests_total"') && line.includes('instance="host1:9100"'));

describe('strata tools bucket rewrite', () => {
  it('lists what a dry run would delete and changes nothing', async () => {
    const before = (await readdir(join(work.path, 'bucket'))).sort();
    const io = capture();
    expect(await runRewrite(bucket, { ids: [source], deletions: parseDeletionConfig(DELETIONS), dryRun: true, deleteBlocks: true }, io)).toEqual([]);
    expect(io.text().trim().split('\n')).toEqual([
      'would delete {__name__="demo_gauge", instance="host3:9100", job="job3"}',
      'would delete {__name__="demo_requests_total", instance="host1:9100", job="job1"}',
      'would delete {__name__="demo_requests_total", instance="host3:9100", job="job3"}',
    ]);
    expect(io.errText()).toContain('3 of 20 series would be deleted, 0 cut; nothing written');
    expect((await readdir(join(work.path, 'bucket'))).sort()).toEqual(before);
    expect(await readMarker(bucket, source, DELETION_MARK_FILENAME)).toBeUndefined();
  });

  it('uploads the block without the deleted series, as Thanos records a rewrite, and marks the source for deletion', async () => {
    const want = (await dump(source)).filter((l) => !deleted(l));
    const io = capture();
    const [id] = await runRewrite(bucket, { ids: [source], deletions: parseDeletionConfig(DELETIONS), dryRun: false, deleteBlocks: true }, io);
    expect(id).toMatch(/^[0-9A-Z]{26}$/);
    expect(io.errText()).toContain(`3 of 20 series deleted, 0 cut, rewritten into ${id}`);
    expect(await dump(id as string)).toEqual(want);

    const src = await readBlockMeta(bucket, source);
    const meta = await readBlockMeta(bucket, id as string);
    expect(meta).toMatchObject({
      minTime: src.minTime,
      maxTime: src.maxTime,
      stats: { numSeries: 17 },
      compaction: { level: src.compaction.level, sources: src.compaction.sources, parents: [{ ulid: source, minTime: src.minTime, maxTime: src.maxTime }] },
      thanos: {
        labels: { cluster: 'c1' },
        source: 'bucket.rewrite',
        rewrites: [
          {
            sources: src.compaction.sources,
            deletionsApplied: [
              { matchers: [{ Type: 0, Name: 'job', Value: 'job3' }] },
              { matchers: [{ Type: 0, Name: '__name__', Value: 'demo_requests_total' }, { Type: 0, Name: 'instance', Value: 'host1:9100' }] },
            ],
          },
        ],
      },
    });
    expect(await readMarker(bucket, source, DELETION_MARK_FILENAME)).toMatchObject({ id: source, details: expect.stringContaining(id as string) });

    const dir = join(work.path, `dl-${id}`, id as string);
    await promtool(['tsdb', 'analyze', join(work.path, `dl-${id}`), id as string]);
    // The deleted series' only label values are gone from the symbol table, not just from the postings.
    const index = await readFile(join(dir, 'index'));
    expect(index.includes('host3:9100')).toBe(false);
    expect(index.includes('job3')).toBe(false);
    expect(index.includes('host1:9100')).toBe(true);
  });

  it('deletes samples within intervals only, re-encoding just the chunks they cut into', async () => {
    const src = await readBlockMeta(bucket, source);
    // The second quarter of the block, whatever part of a 2h range it holds.
    const quarter = Math.floor((src.maxTime - src.minTime) / 4);
    const [mint, maxt] = [src.minTime + quarter, src.minTime + 2 * quarter];
    const inGauge5 = (line: string) => line.startsWith('{__name__="demo_gauge", instance="host5:9100"');
    const cut = (line: string) => inGauge5(line) && Number(line.split(' ').at(-1)) >= mint && Number(line.split(' ').at(-1)) <= maxt;
    const before = await dump(source);
    expect(before.filter(cut).length).toBeGreaterThan(10);
    const config = `- matchers: 'demo_gauge{instance="host5:9100"}'\n  intervals: [{mint: ${mint}, maxt: ${maxt}}]\n`;
    const dry = capture();
    await runRewrite(bucket, { ids: [source], deletions: parseDeletionConfig(config), dryRun: true, deleteBlocks: false }, dry);
    expect(dry.text()).toBe(`would delete {__name__="demo_gauge", instance="host5:9100", job="job5"} in [${mint}, ${maxt}]\n`);
    const io = capture();
    const [id] = await runRewrite(bucket, { ids: [source], deletions: parseDeletionConfig(config), dryRun: false, deleteBlocks: false }, io);
    expect(io.errText()).toContain('0 of 20 series deleted, 1 cut');
    expect(await dump(id as string)).toEqual(before.filter((l) => !cut(l)));
    expect((await readBlockMeta(bucket, id as string)).thanos?.rewrites?.at(-1)).toMatchObject({ deletionsApplied: [{ intervals: [{ Mint: mint, Maxt: maxt }] }] });
  });

  it('refuses a deletion config with an empty selector or a malformed interval', () => {
    expect(() => parseDeletionConfig("- matchers: '{}'\n")).toThrow(/empty selector/);
    expect(() => parseDeletionConfig("- matchers: '{a=\"b\"}'\n  intervals: [{mint: 5, maxt: 1}]\n")).toThrow(/want integer mint ≤ maxt/);
    expect(() => parseDeletionConfig('matchers: x\n')).toThrow(/YAML list/);
  });
});
