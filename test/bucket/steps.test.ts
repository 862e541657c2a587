// `strata tools bucket retention` and `strata tools bucket downsample`, Thanos' single-step tools, on a
// filesystem bucket: retention marks only the blocks past their resolution's retention; downsample,
// running as its own process as Thanos' tool does, makes the 5m block of a 2-day raw block and stops
// cleanly on Ctrl-C.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DELETION_MARK_FILENAME, MetaFetcher, readMarker, uploadBlock } from '@strata/block';
import { registerCommands, writeDemoBlocks } from '@strata/cli';
import { bucketFromConfigFile, type Bucket } from '@strata/objstore';
import { sleep, startProcess, tempDir, TSX_CHILD_ENV } from '@strata/testing/process';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syntheticBlock } from './fixtures.js';

const HOUR = 3_600_000;
const root = fileURLToPath(new URL('../../', import.meta.url));

let work: { path: string; cleanup: () => Promise<void> };
let configFile: string;
let bucket: Bucket;

beforeAll(async () => {
  work = await tempDir('strata-bucket-steps-');
  configFile = join(work.path, 'bucket.yml');
  await writeFile(configFile, `type: FILESYSTEM\nconfig:\n  directory: ${join(work.path, 'bucket')}\n`);
  bucket = await bucketFromConfigFile(configFile);
});

afterAll(async () => {
  await bucket?.close();
  await work?.cleanup();
});

async function strata(args: string[]): Promise<void> {
  const program = new Command().exitOverride();
  registerCommands(program);
  await program.parseAsync(args, { from: 'user' });
}

describe('strata tools bucket retention', () => {
  it('marks for deletion the raw blocks older than the raw retention, and only those', async () => {
    const now = Date.now();
    const old = await syntheticBlock(join(work.path, 'blocks'), { labels: { cluster: 'ret' }, minTime: now - 5 * 24 * HOUR, maxTime: now - 4 * 24 * HOUR });
    const recent = await syntheticBlock(join(work.path, 'blocks'), { labels: { cluster: 'ret' }, minTime: now - 4 * HOUR, maxTime: now - 2 * HOUR });
    for (const dir of [old, recent]) await uploadBlock(bucket, dir);
    const id = (dir: string) => dir.slice(dir.lastIndexOf('/') + 1);
    await strata(['tools', 'bucket', 'retention', `--objstore.config-file=${configFile}`, '--retention.resolution-raw=3d', '--consistency-delay=0s', '--log.level=error']);
    expect(await readMarker(bucket, id(old), DELETION_MARK_FILENAME)).toMatchObject({ id: id(old) });
    expect(await readMarker(bucket, id(recent), DELETION_MARK_FILENAME)).toBeUndefined();
    // Marked, not deleted: a compactor or `tools bucket cleanup` deletes it after the delay.
    expect(await bucket.exists(`${id(old)}/meta.json`)).toBe(true);
  });
});

describe('strata tools bucket downsample', () => {
  it('downsamples 2-day raw blocks to 5m with two workers (--downsample.concurrency=2), then stops on Ctrl-C', async () => {
    const start = Math.floor((Date.now() - 6 * 24 * HOUR) / (48 * HOUR)) * 48 * HOUR;
    const ulids: string[] = [];
    for (const [i, cluster] of ['ds', 'ds2'].entries()) {
      const [meta] = await writeDemoBlocks(join(work.path, `demo-${i}`), { instances: ['demo-0'], job: 'demo', startMs: start, endMs: start + 48 * HOUR - 60_000, stepMs: 60_000, blockMs: 48 * HOUR });
      const ulid = meta?.ulid as string;
      ulids.push(ulid);
      await uploadBlock(bucket, join(work.path, `demo-${i}`, ulid), { meta: { ...(meta as NonNullable<typeof meta>), thanos: { labels: { cluster }, downsample: { resolution: 0 }, source: 'test' } } });
    }
    const proc = startProcess(
      process.execPath,
      ['--import', 'tsx', join(root, 'packages/cli/src/main.ts'), 'tools', 'bucket', 'downsample', `--objstore.config-file=${configFile}`, `--data-dir=${join(work.path, 'data')}`, '--http-address=127.0.0.1:0', '--wait-interval=1s', '--downsample.concurrency=2'],
      { logFile: join(work.path, 'downsample.log'), env: { ...process.env, ...TSX_CHILD_ENV } },
    );
    try {
      let downsampled: string[] = [];
      for (let i = 0; i < 600 && downsampled.length < 2; i++) {
        const { metas } = await new MetaFetcher(bucket).fetch();
        downsampled = [...metas.values()].filter((m) => m.thanos?.labels.cluster?.startsWith('ds') && m.thanos.downsample.resolution === 300_000).map((m) => m.compaction.sources?.join(',') ?? '');
        if (proc.child.exitCode !== null) throw new Error(`downsample exited: ${await readFile(proc.logFile, 'utf8')}`);
        if (downsampled.length < 2) await sleep(100);
      }
      expect(downsampled.sort()).toEqual(ulids.sort());
    } finally {
      await proc.stop('SIGINT');
    }
    expect(proc.child.exitCode).toBe(0);
  }, 120_000);
});
