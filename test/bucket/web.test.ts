// `strata tools bucket web`: Thanos' block viewer over a bucket, read again on every refresh, keeping what
// it showed when the bucket cannot be read.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadBlock, type BlocksInfo } from '@strata/block';
import { FilesystemBucket, ForwardingBucket, type ListOptions, type ObjectEntry } from '@strata/objstore';
import { nopLogger } from '@strata/runtime';
import { tempDir } from '@strata/testing/process';
import { startBucketWeb, type BucketWeb } from '../../packages/cli/src/commands/bucket-web.js';
import { syntheticBlock } from './fixtures.js';

const HOUR = 3_600_000;

/** Fails every listing while `down` is set: an object store outage. */
class FlakyBucket extends ForwardingBucket {
  down = false;
  override list(dir: string, opts?: ListOptions): AsyncIterable<ObjectEntry> {
    if (this.down) throw new Error('connection refused');
    return this.inner.list(dir, opts);
  }
}

let work: { path: string; cleanup: () => Promise<void> };
let bucket: FlakyBucket;
let web: BucketWeb;
const ids: Record<string, string> = {};

async function blocks(path = '/api/v1/blocks'): Promise<BlocksInfo> {
  const res = await fetch(`http://${web.httpAddress}/strata${path}`);
  expect(res.status).toBe(200);
  const body = (await res.json()) as { status: string; data: BlocksInfo };
  expect(body.status).toBe('success');
  return body.data;
}

async function add(name: string, labels: Record<string, string>, minTime: number): Promise<void> {
  const dir = await syntheticBlock(join(work.path, 'blocks'), { labels, minTime, maxTime: minTime + 2 * HOUR, chunkBytes: 100 });
  await uploadBlock(bucket, dir);
  ids[name] = dir.slice(-26);
}

beforeAll(async () => {
  work = await tempDir('strata-bucket-web-');
  bucket = new FlakyBucket(new FilesystemBucket(join(work.path, 'bucket')));
  await add('eu0', { cluster: 'eu', replica: 'r0' }, 0);
  await add('eu1', { cluster: 'eu', replica: 'r1' }, 0);
  await add('us0', { cluster: 'us', replica: 'r0' }, 2 * HOUR);
  web = await startBucketWeb({
    bucket, httpAddress: '127.0.0.1:0', routePrefix: '/strata', refreshMs: 3_600_000, timeoutMs: 60_000, label: 'cluster',
    relabelConfig: '- action: drop\n  source_labels: [cluster]\n  regex: us\n', logger: nopLogger,
  });
  await web.refresh();
});

afterAll(async () => {
  await web?.stop();
  await work?.cleanup();
});

describe('strata tools bucket web', () => {
  it('answers Thanos’ blocks API with the blocks the relabel rules keep, by time, titled by --label', async () => {
    const info = await blocks();
    expect(info.label).toBe('cluster');
    expect(info.err).toBeNull();
    expect(info.blocks.map((b) => b.ulid).sort()).toEqual([ids.eu0, ids.eu1].sort());
    expect(info.blocks[0]!.thanos?.labels.cluster).toBe('eu');
    expect(Date.parse(info.refreshedAt)).toBeGreaterThan(Date.now() - 60_000);
    const page = await fetch(`http://${web.httpAddress}/strata/blocks`);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('const API = "api/v1/blocks";');
    expect((await fetch(`http://${web.httpAddress}/strata/-/ready`)).status).toBe(200);
  });

  it('shows a block uploaded since on the next refresh', async () => {
    await add('eu2', { cluster: 'eu', replica: 'r0' }, 2 * HOUR);
    await web.refresh();
    expect((await blocks()).blocks.map((b) => b.ulid)).toContain(ids.eu2);
  });

  it('keeps showing the blocks when the bucket cannot be read, says why, and counts the failure', async () => {
    const before = (await blocks()).blocks;
    bucket.down = true;
    await web.refresh();
    const info = await blocks();
    expect(info.blocks).toEqual(before);
    expect(info.err).toContain('connection refused');
    const metrics = await (await fetch(`http://${web.httpAddress}/strata/metrics`)).text();
    expect(metrics).toMatch(/^strata_bucket_web_refresh_failures_total 1$/m);
    bucket.down = false;
    await web.refresh();
    expect((await blocks()).err).toBeNull();
  });
});
