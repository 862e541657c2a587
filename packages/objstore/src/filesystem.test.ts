import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FilesystemBucket } from './filesystem.js';
import { getBuffer } from './io.js';

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
});
