// The serving flags of `tools bucket web` and `tools bucket downsample`, each run as its own process as
// Thanos' tools run: the block viewer under --web.external-prefix showing only --min-time/--max-time's
// blocks; downsampling with --hash-func and --block-files-concurrency; both stop cleanly on SIGTERM
// within --http-grace-period.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MetaFetcher, uploadBlock, type BlocksInfo } from '@strata/block';
import { writeDemoBlocks } from '@strata/cli';
import { FilesystemBucket } from '@strata/objstore';
import { sleep, startProcess, tempDir, TSX_CHILD_ENV, type Managed } from '@strata/testing/process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syntheticBlock } from './fixtures.js';

const HOUR = 3_600_000;
const root = fileURLToPath(new URL('../../', import.meta.url));
let work: { path: string; cleanup: () => Promise<void> };
let bucketFlag: string;
let bucket: FilesystemBucket;

beforeAll(async () => {
  work = await tempDir('strata-bucket-serving-');
  bucket = new FilesystemBucket(join(work.path, 'bucket'));
  bucketFlag = `--objstore.config=type: FILESYSTEM\nconfig:\n  directory: ${join(work.path, 'bucket')}\n`;
});
afterAll(async () => {
  await work?.cleanup();
});

/** `strata tools bucket <args>` as a process, and the HTTP address it logged. */
async function start(name: string, args: string[]): Promise<{ proc: Managed; http: string }> {
  const proc = startProcess(process.execPath, ['--import', 'tsx', join(root, 'packages/cli/src/main.ts'), 'tools', 'bucket', ...args, bucketFlag, '--http-address=127.0.0.1:0'], {
    logFile: join(work.path, `${name}.log`),
    env: { ...process.env, ...TSX_CHILD_ENV },
  });
  for (let i = 0; i < 300; i++) {
    const m = / http=(127\.0\.0\.1:\d+)/.exec(await readFile(proc.logFile, 'utf8').catch(() => ''));
    if (m) return { proc, http: m[1] as string };
    if (proc.child.exitCode !== null) break;
    await sleep(100);
  }
  throw new Error(`${name} did not start: ${await readFile(proc.logFile, 'utf8')}`);
}

describe('tools bucket web', () => {
  it('serves the blocks of --min-time/--max-time under --web.external-prefix, with Thanos’ other viewer flags taken', async () => {
    const add = async (minTime: number) => (await uploadBlock(bucket, await syntheticBlock(join(work.path, 'local'), { labels: { cluster: 'web' }, minTime, maxTime: minTime + 2 * HOUR, chunkBytes: 100 }))).ulid;
    const [early, late] = [await add(0), await add(10 * HOUR)];
    const { proc, http } = await start('web', [
      'web', '--web.external-prefix=/viewer', '--web.prefix-header=X-Forwarded-Prefix', '--web.disable-cors', '--disable-admin-operations',
      `--min-time=${new Date(8 * HOUR).toISOString()}`, '--max-time=9999-12-31T23:59:59Z', '--http-grace-period=1s', '--label=cluster',
    ]);
    try {
      let info: BlocksInfo | undefined;
      for (let i = 0; i < 100 && (info?.blocks.length ?? 0) === 0; i++) {
        const res = await fetch(`http://${http}/viewer/api/v1/blocks`);
        info = res.status === 200 ? ((await res.json()) as { data: BlocksInfo }).data : undefined;
        if ((info?.blocks.length ?? 0) === 0) await sleep(100);
      }
      expect(info?.blocks.map((b) => b.ulid)).toEqual([late]);
      expect(info?.blocks.map((b) => b.ulid)).not.toContain(early);
      expect((await fetch(`http://${http}/viewer/blocks`)).status).toBe(200);
    } finally {
      await proc.stop('SIGTERM');
    }
    expect(proc.child.exitCode).toBe(0);
  }, 60_000);
});

describe('tools bucket downsample', () => {
  it('records SHA256 hashes with --hash-func=SHA256, taking --block-files-concurrency, --http-grace-period and --http.config', async () => {
    const startMs = Math.floor((Date.now() - 6 * 24 * HOUR) / (48 * HOUR)) * 48 * HOUR;
    const [meta] = await writeDemoBlocks(join(work.path, 'demo'), { instances: ['demo-0'], job: 'demo', startMs, endMs: startMs + 48 * HOUR - 60_000, stepMs: 60_000, blockMs: 48 * HOUR });
    const m = meta as NonNullable<typeof meta>;
    await uploadBlock(bucket, join(work.path, 'demo', m.ulid), { meta: { ...m, thanos: { labels: { cluster: 'ds' }, downsample: { resolution: 0 }, source: 'test' } } });
    const webConfig = join(work.path, 'web.yml');
    await writeFile(webConfig, 'http_server_config:\n  headers:\n    X-Test: yes\n');
    const { proc, http } = await start('downsample', [
      'downsample', `--data-dir=${join(work.path, 'data')}`, '--wait-interval=1s', '--hash-func=SHA256', '--block-files-concurrency=2', '--http-grace-period=1s', `--http.config=${webConfig}`,
    ]);
    try {
      expect((await fetch(`http://${http}/-/healthy`)).headers.get('x-test')).toBe('yes');
      let downsampled;
      for (let i = 0; i < 600 && downsampled === undefined; i++) {
        downsampled = [...(await new MetaFetcher(bucket).fetch()).metas.values()].find((b) => b.thanos?.labels.cluster === 'ds' && b.thanos.downsample.resolution === 300_000);
        if (downsampled === undefined) await sleep(100);
      }
      expect(downsampled?.thanos?.files?.filter((f) => f.rel_path !== 'meta.json').every((f) => f.hash?.hashFunc === 'SHA256')).toBe(true);
    } finally {
      await proc.stop('SIGTERM');
    }
    expect(proc.child.exitCode).toBe(0);
  }, 120_000);
});
