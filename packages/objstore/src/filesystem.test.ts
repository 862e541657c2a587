import { readdirSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { ObjectNotFoundError } from './bucket.js';
import { FilesystemBucket } from './filesystem.js';
import { getBuffer } from './io.js';
import { InstrumentedBucket } from './metrics.js';
import { PrefixedBucket } from './prefixed.js';

describe('FilesystemBucket', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'strata-fsbucket-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('rejects object names that would escape the directory', async () => {
    const b = new FilesystemBucket(join(dir, 'bucket'));
    for (const bad of ['../outside', 'a/../../outside', '/etc/passwd', 'a//b', './a', 'a/./b', '']) {
      await expect(b.upload(bad, Buffer.from('x')), bad).rejects.toThrow(/invalid object name|escapes/);
      await expect(b.get(bad), bad).rejects.toThrow(/invalid object name|escapes/);
    }
    expect(await readdir(dir)).toEqual([]);
  });

  it('leaves the old object in place when an upload fails midway', async () => {
    const b = new FilesystemBucket(dir);
    await b.upload('a/obj', Buffer.from('old'));
    const failing = new Readable({
      read() {
        this.push(Buffer.from('new partial content'));
        this.destroy(new Error('source broke'));
      },
    });
    await expect(b.upload('a/obj', failing)).rejects.toThrow(/source broke/);
    expect((await getBuffer(b, 'a/obj')).toString()).toBe('old');
    const listed: string[] = [];
    for await (const e of b.list('', { recursive: true })) listed.push(e.name);
    expect(listed).toEqual(['a/obj']);
  });

  it('removes directories left empty by a delete', async () => {
    const b = new FilesystemBucket(dir);
    await b.upload('blk/chunks/000001', Buffer.from('c'));
    await b.delete('blk/chunks/000001');
    expect((await readdir(dir)).filter((n) => !n.startsWith('.'))).toEqual([]);
  });

  it('answers a range read with one piece that owns its memory, cut short where the file ends', async () => {
    const b = new FilesystemBucket(dir);
    const data = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 31) & 0xff));
    await b.upload('blk/chunks/000001', data);
    const pieces: Buffer[] = [];
    for await (const c of await b.getRange('blk/chunks/000001', 1000, 150_000)) pieces.push(c as Buffer);
    expect(pieces).toHaveLength(1);
    expect(pieces[0]!.equals(data.subarray(1000, 151_000))).toBe(true);
    expect(pieces[0]!.buffer.byteLength).toBe(150_000);
    const tail: Buffer[] = [];
    for await (const c of await b.getRange('blk/chunks/000001', 199_990, 100)) tail.push(c as Buffer);
    expect(Buffer.concat(tail).equals(data.subarray(199_990))).toBe(true);
  });

  it("reads a range into the caller's buffer, through the metrics and prefix wrappers too, and counts what it read", async () => {
    const b = new FilesystemBucket(dir);
    const data = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 31) & 0xff));
    await b.upload('p/blk/chunks/000001', data);
    const registry = new Registry();
    const wrapped = new InstrumentedBucket(new PrefixedBucket(b, 'p'), registry);
    const target = Buffer.alloc(150_000);
    expect(await wrapped.getRangeInto!('blk/chunks/000001', 1000, target)).toBe(150_000);
    expect(target.equals(data.subarray(1000, 151_000))).toBe(true);
    expect(await wrapped.getRangeInto!('blk/chunks/000001', 199_990, target.subarray(0, 100))).toBe(10);
    expect(target.subarray(0, 10).equals(data.subarray(199_990))).toBe(true);
    await expect(wrapped.getRangeInto!('blk/chunks/missing', 0, target)).rejects.toThrow(ObjectNotFoundError);
    // A prefix is a directory here, not an object; below a file, the path is no directory at all.
    await expect(wrapped.getRangeInto!('blk/chunks', 0, target)).rejects.toThrow(ObjectNotFoundError);
    await expect(wrapped.getRangeInto!('blk/chunks/000001/x', 0, target)).rejects.toThrow(ObjectNotFoundError);
    await expect(b.getRange('p/blk', 0, 10)).rejects.toThrow(ObjectNotFoundError);
    expect(await registry.getSingleMetricAsString('strata_objstore_bucket_operations_total')).toMatch(/operation="get_range"} 5/);
  });
});

describe('FilesystemBucket: descriptors kept open for range reads', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'strata-fsbucket-fds-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const readRange = async (b: FilesystemBucket, name: string, offset: number, length: number) => {
    const buf = Buffer.alloc(length);
    const n = await b.getRangeInto(name, offset, buf);
    return buf.subarray(0, n).toString();
  };
  const openFds = () => readdirSync('/proc/self/fd').length;
  /** Resolves once `done` holds, checking every 10 ms; fails after 5 s (timers run late on a loaded machine). */
  const until = async (done: () => boolean) => {
    for (const deadline = Date.now() + 5000; !done(); await new Promise((resolve) => setTimeout(resolve, 10))) if (Date.now() > deadline) throw new Error('not within 5 s');
  };

  it('reads an object by range through one descriptor, and anew once the bucket replaces or deletes it', async () => {
    const b = new FilesystemBucket(dir);
    await b.upload('blk/chunks/000001', Buffer.from('0123456789'));
    const before = openFds();
    const got = await Promise.all(Array.from({ length: 50 }, (_, i) => readRange(b, 'blk/chunks/000001', i % 8, 2)));
    expect(got.slice(0, 3)).toEqual(['01', '12', '23']);
    expect(b.openFiles.size).toBe(1);
    expect(openFds() - before).toBeLessThanOrEqual(1);
    await b.upload('blk/chunks/000001', Buffer.from('abcdefghij'));
    expect(await readRange(b, 'blk/chunks/000001', 0, 3)).toBe('abc');
    await b.delete('blk/chunks/000001');
    await expect(readRange(b, 'blk/chunks/000001', 0, 3)).rejects.toThrow(ObjectNotFoundError);
    await expect(readRange(b, 'blk', 0, 3)).rejects.toThrow(ObjectNotFoundError);
    expect(b.openFiles.size).toBe(0);
    await b.close();
  });

  it('closes descriptors unread for a while, held too long, or past the most it keeps', async () => {
    const b = new FilesystemBucket(dir, dir, { idleMs: 50, maxAgeMs: 1000, maxOpen: 4 });
    for (let i = 0; i < 10; i++) await b.upload(`o${i}`, Buffer.from(`object ${i}`));
    for (let i = 0; i < 10; i++) expect(await readRange(b, `o${i}`, 7, 1)).toBe(String(i));
    expect(b.openFiles.size).toBe(4);
    // Past the most it keeps with every descriptor being read, each read still gets its own.
    const one = new FilesystemBucket(dir, dir, { maxOpen: 1 });
    expect(await Promise.all(Array.from({ length: 10 }, (_, i) => readRange(one, `o${i}`, 7, 1)))).toEqual(Array.from({ length: 10 }, (_, i) => String(i)));
    await one.close();
    await until(() => b.openFiles.size === 0);
    // Read again and again, then not: let go once maxAgeMs old, long before it is idleMs unread.
    const aged = new FilesystemBucket(dir, dir, { idleMs: 60_000, maxAgeMs: 100 });
    for (let t = 0; t < 5; t++) {
      await readRange(aged, 'o1', 0, 1);
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
    await until(() => aged.openFiles.size === 0);
    await aged.close();
    await b.close();
  });
});
