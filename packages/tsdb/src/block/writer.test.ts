import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '@strata/testing/process';
import { describe, expect, it } from 'vitest';
import { Labels } from '../labels/labels.js';
import { ArraySampleIterator } from '../series.js';
import { BlockWriter } from './writer.js';

const series = Array.from({ length: 50 }, (_, i) => ({
  labels: Labels.from({ __name__: i % 2 ? 'b_total' : 'a', job: `j${i % 3}`, instance: `h${i}:9100` }),
  ts: Array.from({ length: 300 }, (_, k) => 1_700_000_000_000 + k * 15_000 + i),
  vs: Array.from({ length: 300 }, (_, k) => k * (i + 1)),
})).sort((x, y) => Labels.compare(x.labels, y.labels));

async function write(dir: string, symbols?: Iterable<string>): Promise<Buffer> {
  const w = await BlockWriter.create(dir, { chunkRange: 7_200_000, ulid: '01JC0000000000000000000000', ...(symbols ? { symbols } : {}) });
  for (const s of series) await w.addSeries(s.labels, new ArraySampleIterator(s.ts, s.vs));
  await w.close();
  return readFile(join(dir, '01JC0000000000000000000000', 'index'));
}

describe('BlockWriter', () => {
  it('writes the same index whether series wait for close() or stream with the symbols given up front', async () => {
    const d = await tempDir();
    try {
      const buffered = await write(join(d.path, 'a'));
      const symbols = new Set(series.flatMap((s) => [...s.labels].flatMap((l) => [l.name, l.value])));
      const streamed = await write(join(d.path, 'b'), symbols);
      expect(streamed.equals(buffered)).toBe(true);
      await expect(write(join(d.path, 'c'), ['__name__', 'a'])).rejects.toThrow(/symbol/);
    } finally {
      await d.cleanup();
    }
  });
});
