import { cp, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '@strata/testing/process';
import { promtool } from '@strata/testing/prometheus';
import { describe, expect, it } from 'vitest';
import { writeDemoBlocks } from './blocks.js';
import { writeOpenMetrics } from './exposition.js';
import { DemoModel } from './model.js';

/** promtool 2.42 dump of a data dir: it needs an empty wal/ and writes chunks_head/, so it runs on a copy. */
async function dump(dataDir: string, scratch: string): Promise<string[]> {
  await cp(dataDir, scratch, { recursive: true });
  await mkdir(join(scratch, 'wal'), { recursive: true });
  return (await promtool(['tsdb', 'dump', scratch])).split('\n').filter((l) => l !== '').sort();
}

describe('demo history blocks', () => {
  it('hold exactly what promtool makes of the same history in OpenMetrics', { timeout: 120_000 }, async () => {
    const dir = await tempDir();
    try {
      const instances = ['demo-0:8080', 'demo-1:8080'];
      const range = { startMs: Date.UTC(2026, 10, 1, 1, 30), endMs: Date.UTC(2026, 10, 1, 4, 10), stepMs: 15_000 };
      const strataDir = join(dir.path, 'strata');
      const metas = await writeDemoBlocks(strataDir, { instances, job: 'demo', ...range, blockMs: 2 * 3_600_000 });
      expect(metas.map((m) => [m.minTime, m.maxTime])).toEqual([
        [range.startMs, Date.UTC(2026, 10, 1, 1, 59, 45) + 1],
        [Date.UTC(2026, 10, 1, 2), Date.UTC(2026, 10, 1, 3, 59, 45) + 1],
        [Date.UTC(2026, 10, 1, 4), range.endMs + 1],
      ]);
      let om = '';
      await writeOpenMetrics(instances.map((i) => ({ model: new DemoModel(i), labels: { job: 'demo', instance: i } })), range, (c) => {
        om += c;
      });
      await writeFile(join(dir.path, 'demo.om'), om);
      const promtoolDir = join(dir.path, 'promtool');
      await promtool(['tsdb', 'create-blocks-from', 'openmetrics', '-q', join(dir.path, 'demo.om'), promtoolDir]);
      const [ours, theirs] = await Promise.all([dump(strataDir, join(dir.path, 'd1')), dump(promtoolDir, join(dir.path, 'd2'))]);
      expect(ours.length).toBeGreaterThan(100_000);
      expect(ours).toEqual(theirs);
    } finally {
      await dir.cleanup();
    }
  });

  it('hold `up` for every instance at every step when asked, as the scrapes would have written it', async () => {
    const dir = await tempDir();
    try {
      const range = { startMs: Date.UTC(2026, 10, 1, 1, 30), endMs: Date.UTC(2026, 10, 1, 1, 40), stepMs: 60_000 };
      await writeDemoBlocks(join(dir.path, 'blocks'), { instances: ['demo-0', 'demo-1'], job: 'demo', up: true, ...range, blockMs: 2 * 3_600_000 });
      const ups = (await dump(join(dir.path, 'blocks'), join(dir.path, 'scratch'))).filter((l) => l.startsWith('{__name__="up"'));
      expect(ups).toHaveLength(2 * 11);
      expect(new Set(ups.map((l) => l.replace(/ \d+$/, '')))).toEqual(new Set(['{__name__="up", instance="demo-0", job="demo"} 1', '{__name__="up", instance="demo-1", job="demo"} 1']));
    } finally {
      await dir.cleanup();
    }
  });
});
