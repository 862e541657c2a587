import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getBuffer, getRangeBuffer, isNotFound, readAll, type Bucket } from '@strata/objstore';

async function names(bucket: Bucket, dir: string, recursive = false): Promise<string[]> {
  const out: string[] = [];
  for await (const e of bucket.list(dir, { recursive })) out.push(e.name);
  return out.sort();
}

/** Behaviour every Bucket backend must share; run against each backend with its own setup. */
export function bucketContract(label: string, setup: () => Promise<{ bucket: Bucket; teardown: () => Promise<void> }>): void {
  describe(`Bucket contract: ${label}`, () => {
    let bucket: Bucket;
    let teardown: () => Promise<void>;
    beforeAll(async () => {
      ({ bucket, teardown } = await setup());
    });
    afterAll(async () => {
      await bucket?.close();
      await teardown?.();
    });

    it('uploads bytes, streams and re-openable sources, and reads them back', async () => {
      const data = randomBytes(100_000);
      await bucket.upload('c/bytes', data);
      await bucket.upload('c/stream', Readable.from([data.subarray(0, 500), data.subarray(500)]));
      await bucket.upload('c/source', { size: data.length, open: () => Readable.from([data]) });
      await bucket.upload('c/empty', Buffer.alloc(0));
      for (const n of ['c/bytes', 'c/stream', 'c/source']) expect((await getBuffer(bucket, n)).equals(data)).toBe(true);
      expect((await getBuffer(bucket, 'c/empty')).length).toBe(0);
      const attrs = await bucket.attributes('c/bytes');
      expect(attrs.size).toBe(data.length);
      expect(Math.abs(attrs.lastModified.getTime() - Date.now())).toBeLessThan(3_600_000);
    });

    it('reads absolute ranges, including to the end and past it', async () => {
      const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
      await bucket.upload('r/obj', data);
      expect((await getRangeBuffer(bucket, 'r/obj', 10, 90)).equals(data.subarray(10, 100))).toBe(true);
      expect((await getRangeBuffer(bucket, 'r/obj', 948, 52)).equals(data.subarray(948))).toBe(true);
      expect((await getRangeBuffer(bucket, 'r/obj', 990, 1000)).equals(data.subarray(990))).toBe(true);
      expect((await getRangeBuffer(bucket, 'r/obj', 500, -1)).equals(data.subarray(500))).toBe(true);
      expect((await getRangeBuffer(bucket, 'r/obj', 0, 0)).length).toBe(0);
    });

    it('reports missing objects with a distinct not-found error', async () => {
      expect(await bucket.exists('nope/x')).toBe(false);
      for (const op of [() => bucket.get('nope/x'), () => bucket.getRange('nope/x', 0, 10), () => bucket.attributes('nope/x')]) {
        const err = await op().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isNotFound(err), String(err)).toBe(true);
      }
      await bucket.delete('nope/x');
    });

    it('lists directories and recursively, and forgets deleted objects', async () => {
      const keys = ['l/01A/meta.json', 'l/01A/index', 'l/01A/chunks/000001', 'l/01B/meta.json', 'l/01B/chunks/000001', 'l/top.json'];
      for (const k of keys) await bucket.upload(k, Buffer.from(k));
      expect(await names(bucket, 'l')).toEqual(['l/01A/', 'l/01B/', 'l/top.json']);
      expect(await names(bucket, 'l/01A/')).toEqual(['l/01A/chunks/', 'l/01A/index', 'l/01A/meta.json']);
      expect(await names(bucket, 'l', true)).toEqual([...keys].sort());
      const sizes = new Map<string, number | undefined>();
      for await (const e of bucket.list('l/01B', { recursive: true })) sizes.set(e.name, e.size);
      expect(sizes.get('l/01B/meta.json')).toBe('l/01B/meta.json'.length);
      await bucket.delete('l/01B/meta.json');
      await bucket.delete('l/01B/chunks/000001');
      expect(await names(bucket, 'l')).toEqual(['l/01A/', 'l/top.json']);
      expect(await bucket.exists('l/01A/index')).toBe(true);
    });

    it('paginates listings longer than one page', async () => {
      const n = 1100;
      await Promise.all(Array.from({ length: n }, (_, i) => bucket.upload(`p/${String(i).padStart(5, '0')}`, Buffer.from([i & 255]))));
      const listed = await names(bucket, 'p', true);
      expect(listed.length).toBe(n);
      expect(new Set(listed).size).toBe(n);
    });

    it('overwrites an object whole', async () => {
      await bucket.upload('o/x', Buffer.from('first version'));
      await bucket.upload('o/x', Buffer.from('second'));
      expect((await readAll(await bucket.get('o/x'))).toString()).toBe('second');
    });
  });
}
