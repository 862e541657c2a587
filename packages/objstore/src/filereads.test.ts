import * as fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FileReads } from './filereads.js';

// Counts the inline reads: a read that is not inline went to the thread pool.
vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs')>();
  return { ...actual, readSync: vi.fn(actual.readSync) };
});

describe('FileReads', () => {
  let dir: string;
  let fd: number;
  const content = Buffer.from(Array.from({ length: 3 * 1024 * 1024 }, (_, i) => i % 251));
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'strata-filereads-'));
    fs.writeFileSync(join(dir, 'f'), content);
    fd = fs.openSync(join(dir, 'f'), 'r');
    vi.mocked(fs.readSync).mockClear();
  });
  afterEach(async () => {
    fs.closeSync(fd);
    await rm(dir, { recursive: true, force: true });
  });

  /** Reads `length` bytes at `position`; whether it was inline, and that the bytes are the file's. */
  async function read(reads: FileReads, length: number, position: number): Promise<{ inline: boolean; n: number }> {
    const before = vi.mocked(fs.readSync).mock.calls.length;
    const target = Buffer.alloc(length);
    const n = await reads.read(fd, target, position);
    expect(target.subarray(0, n).equals(content.subarray(position, position + length))).toBe(true);
    return { inline: vi.mocked(fs.readSync).mock.calls.length > before, n };
  }

  // FileReads(Infinity): no read counts as slow, so where a read goes depends on its size alone, not on
  // how busy the machine is.
  it('reads small ranges inline, and ranges over 1 MiB in the thread pool', async () => {
    const reads = new FileReads(Infinity);
    expect(await read(reads, 4096, 1000)).toEqual({ inline: true, n: 4096 });
    expect(await read(reads, 2 * 1024 * 1024, 10)).toEqual({ inline: false, n: 2 * 1024 * 1024 });
    expect(await read(reads, 1024 * 1024, 10)).toEqual({ inline: true, n: 1024 * 1024 });
  });

  it('returns fewer bytes where the file ends, inline and pooled', async () => {
    const end = content.length - 100;
    expect(await read(new FileReads(Infinity), 300, end)).toEqual({ inline: true, n: 100 });
    const pooled = new FileReads(-1);
    await read(pooled, 1, 0);
    expect(await read(pooled, 300, end)).toEqual({ inline: false, n: 100 });
  });

  it('sends the reads after a slow one to the thread pool', async () => {
    // Every read is "slow": the first runs inline and sends the next ones to the pool.
    const reads = new FileReads(-1);
    expect((await read(reads, 4096, 0)).inline).toBe(true);
    expect((await read(reads, 4096, 4096)).inline).toBe(false);
    expect((await read(reads, 10, 8192)).inline).toBe(false);
    // Reads that are not slow stay inline.
    expect((await read(new FileReads(Infinity), 4096, 0)).inline).toBe(true);
  });

  it('fails a read of a closed descriptor, inline and pooled', async () => {
    const other = fs.openSync(join(dir, 'f'), 'r');
    fs.closeSync(other);
    await expect(new FileReads().read(other, Buffer.alloc(10), 0)).rejects.toThrow(/EBADF/);
    await expect(new FileReads().read(other, Buffer.alloc(2 * 1024 * 1024), 0)).rejects.toThrow(/EBADF/);
  });
});
