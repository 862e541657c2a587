import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getBuffer, getRangeBuffer, newBucket, parseBucketConfig, DEFAULT_RETRY_POLICY, type Bucket } from '@strata/objstore';
import { startFaultProxy, type FaultProxy } from '@strata/testing/faultproxy';
import { startS3rver, type S3Server } from '@strata/testing/s3';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('S3 bucket through a fault-injecting proxy', () => {
  let s3: S3Server;
  let proxy: FaultProxy;
  let bucket: Bucket;

  beforeAll(async () => {
    s3 = await startS3rver();
    proxy = await startFaultProxy(s3.endpoint, { seed: 7 });
    const cfg = parseBucketConfig(s3.configYaml({ endpoint: proxy.endpoint, partSize: 5 * 1024 * 1024 }));
    bucket = newBucket(cfg, { retry: { ...DEFAULT_RETRY_POLICY, maxAttempts: 10, initialBackoffMs: 10, maxBackoffMs: 200 } });
  });
  afterAll(async () => {
    await bucket?.close();
    await proxy?.stop();
    await s3?.stop();
  });

  it('uploads and reads succeed through 503s, resets and truncated responses', async () => {
    proxy.setFaults({ fail: 0.15, reset: 0.1, truncate: 0.15 });
    const objects = Array.from({ length: 30 }, (_, i) => ({ name: `f/${i}`, data: randomBytes(50_000 + i * 1000) }));
    await Promise.all(objects.map((o) => bucket.upload(o.name, o.data)));
    for (const o of objects) {
      expect(sha(await getBuffer(bucket, o.name))).toBe(sha(o.data));
      expect((await getRangeBuffer(bucket, o.name, 1000, 20_000)).equals(o.data.subarray(1000, 21_000))).toBe(true);
    }
    const listed: string[] = [];
    for await (const e of bucket.list('f', { recursive: true })) listed.push(e.name);
    expect(listed.sort()).toEqual(objects.map((o) => o.name).sort());
    // The faults really happened; the retries hid them.
    expect(proxy.stats.failed).toBeGreaterThan(0);
    expect(proxy.stats.reset).toBeGreaterThan(0);
    expect(proxy.stats.truncated).toBeGreaterThan(0);
  });

  it('a large multipart upload and a streamed read survive faults', async () => {
    proxy.setFaults({ fail: 0.1, reset: 0.05, truncate: 0.2 });
    const data = randomBytes(12 * 1024 * 1024);
    await bucket.upload('big/object', { size: data.length, open: () => Readable.from(chunks(data, 1 << 20)) });
    expect(sha(await getBuffer(bucket, 'big/object'))).toBe(sha(data));
  });

  it('fails with the server error once the retries run out, and recovers when the server is back', async () => {
    proxy.setFaults({});
    proxy.setDown(true);
    await expect(bucket.upload('down/x', Buffer.from('x'))).rejects.toThrow();
    proxy.setDown(false);
    await bucket.upload('down/x', Buffer.from('x'));
    expect((await getBuffer(bucket, 'down/x')).toString()).toBe('x');
  });
});

function* chunks(data: Buffer, size: number): Iterable<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}
