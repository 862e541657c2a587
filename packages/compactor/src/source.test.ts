import { join } from 'node:path';
import { tempDir } from '@strata/testing/process';
import { ArraySampleIterator, BlockWriter, Labels } from '@strata/tsdb';
import { describe, expect, it } from 'vitest';
import { SourceBlock } from './source.js';

const HOUR = 3_600_000;

describe('SourceBlock', () => {
  for (const [name, extra] of [
    ['ASCII symbols after a count with high bits set', 'plain'],
    ['non-ASCII symbols', 'grüße'],
    ['a symbol of 128 bytes or more (two-byte length)', 'x'.repeat(200)],
  ] as const) {
    it(`reads the symbol table: ${name}`, async () => {
      const work = await tempDir();
      try {
        const w = await BlockWriter.create(work.path, { chunkRange: 2 * HOUR, range: { minTime: 0, maxTime: 2 * HOUR } });
        // 200 series: a symbol count of 0x…cd, a byte ≥ 0x80.
        const labels = Array.from({ length: 200 }, (_, i) => Labels.from({ __name__: 'm', i: String(i), tag: i === 7 ? extra : 'v' })).sort(Labels.compare);
        for (const l of labels) await w.addSeries(l, new ArraySampleIterator([0], [1]));
        const dir = join(work.path, (await w.close()).ulid);
        const src = await SourceBlock.open(dir);
        await src.close();
        const want = [...new Set(labels.flatMap((l) => [...l].flatMap((x) => [x.name, x.value])))].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
        expect(src.symbols.filter((s) => s !== '')).toEqual(want);
      } finally {
        await work.cleanup();
      }
    });
  }
});
