// `strata tools bucket rewrite` on promtool's blocks in a filesystem bucket: a dry run changes nothing;
// a rewrite uploads a block whose `promtool tsdb dump` is the source's without the deleted series (or
// without their samples in the deletion's intervals),
// that promtool analyzes, whose index no longer holds the deleted label values, and that records the
// deletion as Thanos does; --delete-blocks marks the source. Relabelling drops series, renames labels
// and merges the series it makes equal, checked against the source's dump relabelled here.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadBlock, readBlockMeta, readMarker, DELETION_MARK_FILENAME, uploadBlock } from '@strata/block';
import { bucketFromConfigFile, type Bucket } from '@strata/objstore';
import { parseMeta } from '@strata/tsdb';
import { tempDir } from '@strata/testing/process';
import { promtool } from '@strata/testing/prometheus';
import { parseDeletionConfig, parseRelabelConfig, runRewrite } from '../../packages/cli/src/commands/bucket-rewrite.js';
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
    expect(io.errText()).toContain('3 of 20 series would be deleted, 0 cut, 0 relabelled; nothing written');
    expect((await readdir(join(work.path, 'bucket'))).sort()).toEqual(before);
    expect(await readMarker(bucket, source, DELETION_MARK_FILENAME)).toBeUndefined();
  });

  it('uploads the block without the deleted series, as Thanos records a rewrite, and marks the source for deletion', async () => {
    const want = (await dump(source)).filter((l) => !deleted(l));
    const io = capture();
    const [id] = await runRewrite(bucket, { ids: [source], deletions: parseDeletionConfig(DELETIONS), dryRun: false, deleteBlocks: true }, io);
    expect(id).toMatch(/^[0-9A-Z]{26}$/);
    expect(io.errText()).toContain(`3 of 20 series deleted, 0 cut, 0 relabelled, rewritten into ${id}`);
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
            deletions_applied: [
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
    expect((await readBlockMeta(bucket, id as string)).thanos?.rewrites?.at(-1)).toMatchObject({ deletions_applied: [{ intervals: [{ Mint: mint, Maxt: maxt }] }] });
  });

  it('relabels: drops series, rewrites labels, and merges series that end up equal', async () => {
    const rules = [
      "- {action: drop, source_labels: [instance], regex: 'host2:9100'}",
      "- {source_labels: [job], regex: 'job(.*)', target_label: team, replacement: 'team$1'}",
      '- {action: labeldrop, regex: job}',
      // Every gauge becomes one series: same instance, no team (an empty replacement removes the label).
      '- {source_labels: [__name__], regex: demo_gauge, target_label: instance, replacement: all}',
      "- {source_labels: [__name__], regex: demo_gauge, target_label: team, replacement: ''}",
    ].join('\n');
    const relabels = parseRelabelConfig(rules);
    const relabel = (labels: string): string | undefined => {
      if (labels.includes('instance="host2:9100"')) return undefined;
      const name = /__name__="([^"]*)"/.exec(labels)?.[1] as string;
      if (name === 'demo_gauge') return '{__name__="demo_gauge", instance="all"}';
      const job = /job="job([^"]*)"/.exec(labels)?.[1] as string;
      return labels.replace(/, job="[^"]*"/, `, team="team${job}"`);
    };
    const dry = capture();
    await runRewrite(bucket, { ids: [source], deletions: [], relabels, dryRun: true, deleteBlocks: false }, dry);
    expect(dry.text()).toContain('would drop {__name__="demo_gauge", instance="host2:9100", job="job2"}\n');
    expect(dry.text()).toContain('would relabel {__name__="demo_requests_total", instance="host1:9100", job="job1"} to {__name__="demo_requests_total", instance="host1:9100", team="team1"}\n');
    expect(dry.errText()).toContain('2 of 20 series would be deleted, 0 cut, 18 relabelled');

    // Expected: the source's samples under their new labels; the gauges' samples merged, one per timestamp.
    const want = new Map<string, Map<number, Set<string>>>();
    for (const line of await dump(source)) {
      const end = line.indexOf('} ') + 1;
      const labels = relabel(line.slice(0, end));
      if (labels === undefined) continue;
      const [value, t] = line.slice(end + 1).split(' ') as [string, string];
      let samples = want.get(labels);
      if (samples === undefined) want.set(labels, (samples = new Map()));
      let values = samples.get(Number(t));
      if (values === undefined) samples.set(Number(t), (values = new Set()));
      values.add(value);
    }
    const io = capture();
    const [id] = await runRewrite(bucket, { ids: [source], deletions: [], relabels, dryRun: false, deleteBlocks: false }, io);
    expect(io.errText()).toContain('2 of 20 series deleted, 0 cut, 18 relabelled');
    const got = new Map<string, [number, string][]>();
    for (const line of await dump(id as string)) {
      const end = line.indexOf('} ') + 1;
      const [value, t] = line.slice(end + 1).split(' ') as [string, string];
      const labels = line.slice(0, end);
      got.set(labels, [...(got.get(labels) ?? []), [Number(t), value]]);
    }
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    expect(got.size).toBe(10);
    for (const [labels, samples] of got) {
      const expected = want.get(labels) as Map<number, Set<string>>;
      // One sample per timestamp of any source, with the value of one of the sources there.
      expect(samples.map(([t]) => t)).toEqual([...expected.keys()].sort((a, b) => a - b));
      for (const [t, v] of samples) expect(expected.get(t)?.has(v)).toBe(true);
    }
    const meta = await readBlockMeta(bucket, id as string);
    expect(meta.stats?.numSeries).toBe(10);
    expect(meta.thanos?.rewrites?.at(-1)).toMatchObject({
      relabels_applied: [
        { action: 'drop', sourceLabels: ['instance'], regex: 'host2:9100' },
        { action: 'replace', sourceLabels: ['job'], regex: 'job(.*)', targetLabel: 'team', replacement: 'team$1' },
        { action: 'labeldrop', regex: 'job' },
        { action: 'replace', targetLabel: 'instance', replacement: 'all' },
        { action: 'replace', targetLabel: 'team', replacement: '' },
      ],
    });
    expect(meta.thanos?.rewrites?.at(-1)).not.toHaveProperty('deletions_applied');
    await promtool(['tsdb', 'analyze', join(work.path, `dl-${id}`), id as string]);
  });

  it('refuses a relabel config it cannot apply', () => {
    expect(() => parseRelabelConfig('- {action: hashmod, source_labels: [a], target_label: b}\n')).toThrow(/relabel config: .*modulus/);
    expect(() => parseRelabelConfig('- {action: explode}\n')).toThrow(/relabel config: .*unsupported relabel action/);
    expect(() => parseRelabelConfig('action: drop\n')).toThrow(/YAML list/);
  });

  it('refuses a deletion config with an empty selector or a malformed interval', () => {
    expect(() => parseDeletionConfig("- matchers: '{}'\n")).toThrow(/empty selector/);
    expect(() => parseDeletionConfig("- matchers: '{a=\"b\"}'\n  intervals: [{mint: 5, maxt: 1}]\n")).toThrow(/want integer mint ≤ maxt/);
    expect(() => parseDeletionConfig('matchers: x\n')).toThrow(/YAML list/);
  });
});
