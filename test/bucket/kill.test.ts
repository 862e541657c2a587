import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetaFetcher } from '@strata/block';
import { newBucket, parseBucketConfig, type Bucket } from '@strata/objstore';
import { startFaultProxy, type FaultProxy } from '@strata/testing/faultproxy';
import { startProcess, tempDir, TSX_CHILD_ENV } from '@strata/testing/process';
import { startS3rver, type S3Server } from '@strata/testing/s3';
import { runCleanup, runLs } from '../../packages/cli/src/commands/tools-bucket.js';
import { capture, syntheticBlock } from './fixtures.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const HOUR = 3_600_000;

describe('an uploader process killed midway', () => {
  let work: { path: string; cleanup: () => Promise<void> };
  let s3: S3Server;
  let proxy: FaultProxy;
  let bucket: Bucket;
  beforeAll(async () => {
    work = await tempDir('strata-kill-');
    s3 = await startS3rver();
    proxy = await startFaultProxy(s3.endpoint);
    bucket = newBucket(parseBucketConfig(s3.configYaml()));
  });
  afterAll(async () => {
    await bucket?.close();
    await proxy?.stop();
    await s3?.stop();
    await work?.cleanup();
  });

  it('leaves a block without meta.json that ls does not show and cleanup removes', async () => {
    const blockDir = await syntheticBlock(join(work.path, 'blocks'), { labels: { cluster: 'c1' }, minTime: 0, maxTime: 2 * HOUR });
    const id = blockDir.slice(-26);
    for (const n of ['000002', '000003']) await writeFile(join(blockDir, 'chunks', n), Buffer.alloc(10_000, 7));
    await mkdir(join(work.path, 'cfg'), { recursive: true });
    const configFile = join(work.path, 'cfg', 'bucket.yml');
    await writeFile(configFile, s3.configYaml({ endpoint: proxy.endpoint }));

    const child = startProcess(process.execPath, ['--import', 'tsx', join(here, 'upload-child.ts'), configFile, blockDir], {
      logFile: join(work.path, 'child.log'),
      env: { ...process.env, ...TSX_CHILD_ENV },
    });
    const exited = new Promise<number | null>((resolve) => child.child.once('exit', (code) => resolve(code)));
    // Kill the uploader the moment it starts on the second chunk file; that request never arrives.
    proxy.onRequest((r) => {
      if (r.method === 'PUT' && r.path.split('?')[0]?.endsWith(`/${id}/chunks/000002`)) {
        child.child.kill('SIGKILL');
        proxy.setDown(true);
      }
    });
    try {
      expect(await exited).toBe(null);
    } finally {
      proxy.onRequest(undefined);
      proxy.setDown(false);
    }
    expect(child.child.signalCode).toBe('SIGKILL');

    const left: string[] = [];
    for await (const e of bucket.list(id, { recursive: true })) left.push(e.name);
    expect(left).toEqual([`${id}/chunks/000001`]);
    const ls = capture();
    await runLs(bucket, { output: 'table' }, ls);
    expect(ls.text()).not.toContain(id);
    expect((await new MetaFetcher(bucket).fetch()).partial.has(id)).toBe(true);
    expect(await runCleanup(bucket, { deleteDelayMs: 0, partialAgeMs: 0 }, capture())).toEqual([id]);
    for await (const e of bucket.list(id, { recursive: true })) throw new Error(`left behind: ${e.name}`);
  });
});
