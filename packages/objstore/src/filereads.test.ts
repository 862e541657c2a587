import { closeSync, openSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileReads } from './filereads.js';

describe('FileReads', () => {
  let dir: string;
  let fd: number;
  const content = Buffer.from(Array.from({ length: 3 * 1024 * 1024 }, (_, i) => i % 251));
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'strata-filereads-'));
    writeFileSync(join(dir, 'f'), content);
    fd = openSync(join(dir, 'f'), 'r');
  });
  afterEach(async () => {
    closeSync(fd);
    await rm(dir, { recursive: true, force: true });
  });

  // An inline read has filled its target when `read` returns; a pooled one only once its promise settles.
  function filledAtOnce(reads: FileReads, length: number, position: number): { filled: boolean; done: Promise<number>; target: Buffer } {
    const target = Buffer.alloc(length);
    const done = reads.read(fd, target, position);
    return { filled: target.equals(content.subarray(position, position + length)), done, target };
  }

  it('reads small ranges inline, and ranges over 1 MiB in the thread pool', async () => {
    const reads = new FileReads();
    const small = filledAtOnce(reads, 4096, 1000);
    expect(small.filled).toBe(true);
    expect(await small.done).toBe(4096);
    const large = filledAtOnce(reads, 2 * 1024 * 1024, 10);
    expect(large.filled).toBe(false);
    expect(await large.done).toBe(2 * 1024 * 1024);
    expect(large.target.equals(content.subarray(10, 10 + 2 * 1024 * 1024))).toBe(true);
  });

  it('returns fewer bytes where the file ends, inline and pooled', async () => {
    const end = content.length - 100;
    expect(await new FileReads().read(fd, Buffer.alloc(300), end)).toBe(100);
    expect(await new FileReads(-1).read(fd, Buffer.alloc(300), end)).toBe(100);
    const pooled = new FileReads(-1);
    await pooled.read(fd, Buffer.alloc(1), 0);
    expect(await pooled.read(fd, Buffer.alloc(300), end)).toBe(100);
  });

  it('sends the reads after a slow one to the thread pool', async () => {
    // Every read is "slow": the first runs inline and sends the next ones to the pool.
    const reads = new FileReads(-1);
    const first = filledAtOnce(reads, 4096, 0);
    expect(first.filled).toBe(true);
    await first.done;
    const second = filledAtOnce(reads, 4096, 4096);
    expect(second.filled).toBe(false);
    await second.done;
    expect(second.target.equals(content.subarray(4096, 8192))).toBe(true);
  });

  it('fails a read of a closed descriptor', async () => {
    const other = openSync(join(dir, 'f'), 'r');
    closeSync(other);
    await expect(new FileReads().read(other, Buffer.alloc(10), 0)).rejects.toThrow(/EBADF/);
  });
});
