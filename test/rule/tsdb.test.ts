/**
 * The stateful ruler's TSDB against Debian's Prometheus 2.42 tools: the blocks it cuts from seven hours
 * of rule results are checked with `promtool tsdb analyze` and `promtool tsdb dump` (of the data
 * directory itself, WAL included: promtool passes over the ruler's WAL segments), and read by a
 * Prometheus started on copies of them.
 */
import { cp, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { matrixSamples, promtool, startPrometheusOn, type MatrixSeries } from '@strata/testing/prometheus';
import { tempDir } from '@strata/testing/process';
import { createLogger } from '@strata/runtime';
import { isULID, Labels, parseMeta, STALE_NAN, type BlockMeta } from '@strata/tsdb';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalTSDB } from '@strata/localtsdb';

const HOUR = 3_600_000;
/** A fixed start, not aligned to the block duration (the first block starts there). */
const START = 1_700_000_123_000;
const STEP = 30_000;
const END = START + 7 * HOUR;
const GROUPS = ['g0', 'g1', 'g2', 'g3', 'g4'];
/** Every 200th evaluation of g2 writes a stale marker instead of a value. */
const isStale = (group: string, i: number) => group === 'g2' && i % 200 === 199;
const value = (group: string, i: number) => (i % 97) * 0.5 + GROUPS.indexOf(group);

let tmp: { path: string; cleanup: () => Promise<void> };
let dataDir: string;
let metas: BlockMeta[];

const labelsOf = (group: string) => Labels.from({ __name__: 'rule:requests:rate5m', group, job: 'api' });

/** `promtool tsdb dump`'s lines for the appended samples in [mint, maxt), series in label order. */
function expectedDump(mint: number, maxt: number): string {
  const lines: string[] = [];
  for (const g of GROUPS) {
    for (let i = 0, t = START; t < END; i++, t += STEP) {
      if (t < mint || t >= maxt) continue;
      lines.push(`${labelsOf(g).toString()} ${isStale(g, i) ? 'NaN' : String(value(g, i))} ${t}`);
    }
  }
  return lines.map((l) => `${l}\n`).join('');
}

beforeAll(async () => {
  tmp = await tempDir('strata-rule-tsdb-');
  dataDir = join(tmp.path, 'data');
  const db = await LocalTSDB.open({
    dir: dataDir,
    blockDurationMs: 2 * HOUR,
    retentionMs: 48 * HOUR,
    externalLabels: Labels.from({ ruler: 'r0' }),
    registry: new Registry(),
    logger: createLogger({ write: () => {} }),
  });
  for (let i = 0, t = START; t < END; i++, t += STEP) {
    db.append(GROUPS.map((g) => ({ labels: labelsOf(g), value: isStale(g, i) ? STALE_NAN : value(g, i) })), t);
  }
  await db.compact();
  await db.close();
  metas = [];
  for (const d of (await readdir(dataDir)).filter(isULID)) metas.push(parseMeta(await readFile(join(dataDir, d, 'meta.json'), 'utf8')));
  metas.sort((a, b) => a.minTime - b.minTime);
});
afterAll(() => tmp?.cleanup());

describe('ruler TSDB blocks with Prometheus 2.42', () => {
  it('cuts the head into 2h-aligned blocks, leaving at most 1.5 block durations in the head', () => {
    expect(metas.length).toBe(3);
    expect(metas[0]!.minTime).toBe(START);
    for (const [i, m] of metas.entries()) {
      expect(m.maxTime % (2 * HOUR)).toBe(0);
      // As Prometheus' head after a truncation, the next block starts at the oldest sample left.
      if (i > 0) expect(m.minTime).toBe(START + Math.ceil((metas[i - 1]!.maxTime - START) / STEP) * STEP);
      expect(m.thanos).toMatchObject({ labels: { ruler: 'r0' }, source: 'ruler' });
    }
    expect(END - metas.at(-1)!.maxTime).toBeLessThanOrEqual(3 * HOUR);
  });

  it('writes blocks that promtool tsdb analyze reads', async () => {
    for (const m of metas) {
      const out = await promtool(['tsdb', 'analyze', dataDir, m.ulid]);
      expect(out).toContain(`Block ID: ${m.ulid}`);
      expect(out).toContain(`Series: ${GROUPS.length}`);
    }
  });

  it('holds exactly the samples appended in the blocks’ ranges, as promtool tsdb dump lists them', async () => {
    // A copy: promtool opens the directory as a TSDB and writes its own head files into it.
    const copy = join(tmp.path, 'dump');
    await cp(dataDir, copy, { recursive: true });
    const all = await promtool(['tsdb', 'dump', copy]);
    expect(all).toBe(expectedDump(metas[0]!.minTime, metas.at(-1)!.maxTime));
    expect(all).toContain('NaN');
    const m = metas[1]!;
    expect(await promtool(['tsdb', 'dump', `--min-time=${m.minTime}`, `--max-time=${m.maxTime - 1}`, copy])).toBe(expectedDump(m.minTime, m.maxTime));
  });

  it('serves Prometheus a query over the blocks with the samples appended', async () => {
    const prom = await startPrometheusOn(
      metas.map((m) => join(dataDir, m.ulid)),
      { dir: join(tmp.path, 'prometheus') },
    );
    try {
      const maxt = metas.at(-1)!.maxTime;
      const res = await prom.api<{ result: MatrixSeries[] }>('query', { query: 'rule:requests:rate5m[8h]', time: String((maxt - 1) / 1000) });
      const got = res.result.map((s) => ({ group: s.metric.group, samples: matrixSamples(s) })).sort((a, b) => a.group!.localeCompare(b.group!));
      // A range selection leaves out stale markers.
      const want = GROUPS.map((g) => {
        const samples: number[][] = [];
        for (let i = 0, t = START; t < maxt; i++, t += STEP) if (!isStale(g, i)) samples.push([t, value(g, i)]);
        return { group: g, samples };
      });
      expect(got).toEqual(want);
    } finally {
      await prom.stop();
    }
  });
});
