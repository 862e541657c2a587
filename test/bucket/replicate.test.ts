// `strata tools bucket replicate` from s3rver to a filesystem bucket: the blocks the filters select are
// copied byte for byte, meta.json last (a copy that fails midway leaves nothing visible, and the next
// run completes it); blocks marked for deletion, partial uploads and marks stay behind; a second run
// copies nothing.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DELETION_MARK_FILENAME, markBlock, NO_COMPACT_MARK_FILENAME, uploadBlock } from '@strata/block';
import { ForwardingBucket, getBuffer, bucketFromConfigFile, type Bucket, type UploadBody } from '@strata/objstore';
import { formatMeta, parseMeta, parseSelector } from '@strata/tsdb';
import { tempDir } from '@strata/testing/process';
import { startS3rver, type S3Server } from '@strata/testing/s3';
import { runReplicate, type ReplicateOptions } from '../../packages/cli/src/commands/bucket-replicate.js';
import { capture, syntheticBlock } from './fixtures.js';

const HOUR = 3_600_000;
let work: { path: string; cleanup: () => Promise<void> };
let s3: S3Server;
let from: Bucket;
let to: Bucket;
const ids: Record<string, string> = {};

/** Every object of the bucket with its bytes. */
async function objects(b: Bucket): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const e of b.list('', { recursive: true })) out.set(e.name, (await getBuffer(b, e.name)).toString('base64'));
  return out;
}

/** A bucket whose uploads fail after `okUploads` of them. */
class FailingUploads extends ForwardingBucket {
  constructor(
    inner: Bucket,
    private okUploads: number,
  ) {
    super(inner);
  }
  override async upload(name: string, body: UploadBody): Promise<void> {
    if (this.okUploads-- <= 0) throw new Error(`injected failure uploading ${name}`);
    return this.inner.upload(name, body);
  }
}

beforeAll(async () => {
  work = await tempDir('strata-replicate-');
  s3 = await startS3rver();
  const config = async (name: string, yaml: string) => {
    const path = join(work.path, `${name}.yml`);
    await writeFile(path, yaml);
    return bucketFromConfigFile(path);
  };
  from = await config('from', s3.configYaml({ prefix: 'src' }));
  to = await config('to', `type: FILESYSTEM\nconfig:\n  directory: ${join(work.path, 'to')}\n`);
  const blocks: [string, Record<string, string>, number, number][] = [
    ['eu-raw', { cluster: 'eu', replica: 'a' }, 0, 1],
    ['eu-5m', { cluster: 'eu', replica: 'a' }, 300_000, 1],
    ['eu-compacted', { cluster: 'eu', replica: 'a' }, 0, 3],
    ['us-raw', { cluster: 'us', replica: 'a' }, 0, 1],
    ['eu-deleted', { cluster: 'eu', replica: 'a' }, 0, 1],
  ];
  for (const [i, [name, labels, resolution, level]] of blocks.entries()) {
    const dir = await syntheticBlock(work.path, { labels, minTime: i * 2 * HOUR, maxTime: (i + 1) * 2 * HOUR });
    const meta = parseMeta(await readFile(join(dir, 'meta.json'), 'utf8'));
    await writeFile(join(dir, 'meta.json'), formatMeta({ ...meta, compaction: { ...meta.compaction, level }, thanos: { ...meta.thanos!, downsample: { resolution } } }));
    ids[name] = (await uploadBlock(from, dir)).ulid;
  }
  await markBlock(from, ids['eu-deleted'] as string, DELETION_MARK_FILENAME, { details: 'test' });
  await markBlock(from, ids['eu-raw'] as string, NO_COMPACT_MARK_FILENAME, { details: 'test' });
  // A partial upload: objects without meta.json.
  await from.upload('01KPARTIALUPLOAD0000000000/index', Buffer.from('partial'));
}, 120_000);

afterAll(async () => {
  await from?.close();
  await to?.close();
  await s3?.stop();
  await work?.cleanup();
});

const all: ReplicateOptions = { matchers: [], resolutions: [], levels: [], ids: [], minTime: -Infinity, maxTime: Infinity, ignoreMarkedForDeletion: true };

describe('strata tools bucket replicate', () => {
  it('copies what the filters select, meta.json last, and a second run copies nothing', async () => {
    const opts: ReplicateOptions = { ...all, matchers: parseSelector('{cluster="eu"}'), resolutions: [0] };
    // The first copy fails on its third object (index after two chunk files, or meta.json): nothing is visible.
    await expect(runReplicate(from, new FailingUploads(to, 2), opts, capture())).rejects.toThrow(/injected failure/);
    expect([...(await objects(to)).keys()].filter((k) => k.endsWith('meta.json'))).toEqual([]);

    const io = capture();
    const res = await runReplicate(from, to, opts, io);
    expect(res.copied.sort()).toEqual([ids['eu-raw'], ids['eu-compacted']].sort());
    const src = await objects(from);
    const dst = await objects(to);
    for (const id of res.copied) {
      const want = [...src].filter(([k]) => k.startsWith(`${id}/`) && !k.endsWith('-mark.json'));
      expect(want.length).toBeGreaterThanOrEqual(3);
      for (const [k, v] of want) expect(dst.get(k), k).toBe(v);
    }
    // Nothing else: not the other cluster, resolution or the deleted block, no marks, no partial upload.
    expect([...dst.keys()].every((k) => res.copied.some((id) => k.startsWith(`${id}/`)) && !k.endsWith('-mark.json'))).toBe(true);

    const again = await runReplicate(from, to, opts, capture());
    expect(again).toEqual({ copied: [], present: expect.arrayContaining(res.copied) });
  });

  it('selects by compaction level, time and ID', async () => {
    const levels = await runReplicate(from, to, { ...all, levels: [3] }, capture());
    expect([...levels.copied, ...levels.present]).toEqual([ids['eu-compacted']]);
    const time = await runReplicate(from, to, { ...all, minTime: 3 * 2 * HOUR, maxTime: 3 * 2 * HOUR }, capture());
    // Blocks 2 ([4h, 6h]) and 3 ([6h, 8h]) touch 6h; block 4 is marked for deletion.
    expect([...time.copied, ...time.present].sort()).toEqual([ids['eu-compacted'], ids['us-raw']].sort());
    const one = await runReplicate(from, to, { ...all, ids: [ids['eu-5m'] as string] }, capture());
    expect(one.copied).toEqual([ids['eu-5m']]);
  });
});
