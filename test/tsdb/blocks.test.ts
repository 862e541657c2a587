import { cp, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startPrometheus, promtool } from '@strata/testing/prometheus';
import { sleep, tempDir } from '@strata/testing/process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlockReader, createBlocksFromOpenMetrics, isStaleNaN, isULID, Matcher, parseMeta, ValueType, type BlockMeta } from '@strata/tsdb';
import { analyzedBlock, runAnalyze, runDump, runList } from '../../packages/cli/src/commands/tools-tsdb.js';
import { generateOpenMetrics, START_S } from './openmetrics-input.js';

let tmp: { path: string; cleanup: () => Promise<void> };
let input: string;
let promtoolDir: string;
let strataDir: string;

/** A copy of a data dir that promtool 2.42's dump can open (it needs wal/ and creates chunks_head/). */
async function dumpable(dir: string, name: string): Promise<string> {
  const copy = join(tmp.path, `copy-${name}-${Math.random().toString(36).slice(2)}`);
  await cp(dir, copy, { recursive: true });
  await mkdir(join(copy, 'wal'), { recursive: true });
  return copy;
}

function collect(): { out: Writable; text: () => string } {
  const parts: string[] = [];
  return {
    out: new Writable({
      write(chunk: Buffer, _enc, cb) {
        parts.push(chunk.toString());
        cb();
      },
    }),
    text: () => parts.join(''),
  };
}

async function strataDump(dir: string, o: { minTime?: number; maxTime?: number; match?: string } = {}): Promise<string> {
  const c = collect();
  await runDump(dir, { minTime: o.minTime ?? Number.MIN_SAFE_INTEGER, maxTime: o.maxTime ?? Number.MAX_SAFE_INTEGER, ...(o.match !== undefined ? { match: o.match } : {}) }, c.out);
  return c.text();
}

async function metas(dir: string): Promise<BlockMeta[]> {
  const out: BlockMeta[] = [];
  for (const d of (await readdir(dir)).filter(isULID)) out.push(parseMeta(await readFile(join(dir, d, 'meta.json'), 'utf8')));
  return out.sort((a, b) => a.minTime - b.minTime);
}

async function dirSize(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) n += (await stat(join(e.parentPath, e.name))).size;
  return n;
}

beforeAll(async () => {
  tmp = await tempDir();
  input = join(tmp.path, 'input.om');
  await writeFile(input, generateOpenMetrics());
  promtoolDir = join(tmp.path, 'promtool');
  strataDir = join(tmp.path, 'strata');
  await promtool(['tsdb', 'create-blocks-from', 'openmetrics', '-q', input, promtoolDir]);
  await createBlocksFromOpenMetrics(await readFile(input), strataDir, { name: input });
});
afterAll(() => tmp.cleanup());

describe('blocks against promtool 2.42', () => {
  it('writes the same block windows, time ranges and stats as promtool', async () => {
    const p = await metas(promtoolDir);
    const s = await metas(strataDir);
    expect(p.length).toBeGreaterThan(3);
    expect(s.map((m) => ({ ...m, ulid: '', compaction: { ...m.compaction, sources: [] } }))).toEqual(
      p.map((m) => ({ ...m, ulid: '', compaction: { ...m.compaction, sources: [] } })),
    );
    for (const m of s) expect(m.compaction).toEqual({ level: 1, sources: [m.ulid] });
  });

  it("dumps promtool's blocks exactly as promtool does", async () => {
    const want = await promtool(['tsdb', 'dump', await dumpable(promtoolDir, 'p')]);
    expect(want).toContain('NaN');
    expect(want).toContain('+Inf');
    expect(want).toContain('-0 ');
    expect(want).toContain('\\n');
    expect(await strataDump(promtoolDir)).toBe(want);
  });

  it('dumps OpenMetrics that promtool reads back into blocks with the same samples (dump-openmetrics)', async () => {
    const c = collect();
    await runDump(promtoolDir, { minTime: Number.MIN_SAFE_INTEGER, maxTime: Number.MAX_SAFE_INTEGER, format: 'openmetrics' }, c.out);
    const text = c.text();
    expect(text.endsWith('\n# EOF\n')).toBe(true);
    expect(text).toMatch(/^requests_total\{cluster="gen",instance="host-0:9100",job="job0"\} \d+ 1700000000\.000$/m);
    const input = join(tmp.path, 'dumped.om');
    await writeFile(input, text);
    const again = join(tmp.path, 'from-dump');
    await promtool(['tsdb', 'create-blocks-from', 'openmetrics', '-q', input, again]);
    expect(await promtool(['tsdb', 'dump', await dumpable(again, 'again')])).toBe(await promtool(['tsdb', 'dump', await dumpable(promtoolDir, 'orig')]));
  });

  it('dumps with a selector and a time range as promtool does', async () => {
    const dir = await dumpable(promtoolDir, 'p2');
    const cases = [
      { match: '{__name__="requests_total",job=~"job[12]"}', minTime: (START_S + 3000) * 1000, maxTime: (START_S + 9000) * 1000 },
      { match: 'weird{v!~".*hi.*"}', minTime: Number.MIN_SAFE_INTEGER, maxTime: Number.MAX_SAFE_INTEGER },
      { match: '{sensor!="s1",__name__=~"temp.*"}', minTime: (START_S + 7199) * 1000, maxTime: (START_S + 7201) * 1000 },
    ];
    for (const c of cases) {
      const want = await promtool(['tsdb', 'dump', `--match=${c.match}`, `--min-time=${c.minTime}`, `--max-time=${c.maxTime}`, dir]);
      expect(want.length).toBeGreaterThan(0);
      expect(await strataDump(promtoolDir, c), c.match).toBe(want);
    }
  });

  it('writes blocks that promtool dumps exactly like its own', async () => {
    const want = await promtool(['tsdb', 'dump', await dumpable(promtoolDir, 'p3')]);
    expect(await promtool(['tsdb', 'dump', await dumpable(strataDir, 's')])).toBe(want);
  });

  it('writes blocks that promtool analyze accepts, with the same figures', async () => {
    for (const m of await metas(strataDir)) {
      const p = (await metas(promtoolDir)).find((x) => x.minTime === m.minTime) as BlockMeta;
      const mine = await promtool(['tsdb', 'analyze', strataDir, m.ulid]);
      const theirs = await promtool(['tsdb', 'analyze', promtoolDir, p.ulid]);
      // The summary lines; the top-N lists below them order ties in Go map order, which varies run to run.
      const summary = (s: string) => s.replace(/Block ID: \S+/, '').split('\n\n')[0];
      expect(mine).toContain('Postings entries (total label pairs)');
      expect(summary(mine)).toBe(summary(theirs));
    }
  });

  it("takes the same bytes on disk as promtool's blocks (within 1%)", async () => {
    const p = await dirSize(promtoolDir);
    const s = await dirSize(strataDir);
    expect(Math.abs(s - p) / p).toBeLessThan(0.01);
    // Chunks and index are laid out exactly as promtool lays them out.
    const pm = await metas(promtoolDir);
    const sm = await metas(strataDir);
    for (let i = 0; i < pm.length; i++) {
      const pIdx = await readFile(join(promtoolDir, (pm[i] as BlockMeta).ulid, 'index'));
      const sIdx = await readFile(join(strataDir, (sm[i] as BlockMeta).ulid, 'index'));
      const diff = sIdx.findIndex((b, k) => b !== pIdx[k]);
      expect({ block: i, diff, sLen: sIdx.length, pLen: pIdx.length }).toEqual({ block: i, diff: -1, sLen: pIdx.length, pLen: pIdx.length });
      const pc = await readFile(join(promtoolDir, (pm[i] as BlockMeta).ulid, 'chunks', '000001'));
      const sc = await readFile(join(strataDir, (sm[i] as BlockMeta).ulid, 'chunks', '000001'));
      expect(sc.length).toBe(pc.length);
    }
  });

  it("is served by Prometheus 2.42 exactly like promtool's blocks", async () => {
    const answers: unknown[][] = [];
    for (const [name, dir] of [
      ['p', promtoolDir],
      ['s', strataDir],
    ] as const) {
      const home = join(tmp.path, `prom-${name}`);
      await mkdir(home, { recursive: true });
      const dataDir = join(home, 'data');
      await cp(dir, dataDir, { recursive: true });
      const prom = await startPrometheus({ dir: home, dataDir, blockDuration: '2h' });
      try {
        const range = { start: String(START_S - 60), end: String(START_S + 7 * 3600 + 60), step: '37' };
        const got: unknown[] = [];
        for (const query of ['{__name__=~".+"}', 'rate(requests_total[5m])', 'sum by (job) (requests_total)', 'count_over_time({__name__=~".+"}[1h])', 'special', 'max_over_time(temperature[10m])']) {
          got.push(await prom.api('query_range', { query, ...range }));
        }
        got.push(await prom.api('series', { 'match[]': '{__name__=~".+"}', start: range.start, end: range.end }));
        got.push(await prom.api('label/v/values'));
        answers.push(got);
      } finally {
        await prom.stop();
      }
    }
    expect(JSON.stringify(answers[0]).length).toBeGreaterThan(10_000);
    expect(answers[1]).toEqual(answers[0]);
  });

  it("honours tombstones that Prometheus writes, as promtool's dump does", async () => {
    const home = join(tmp.path, 'prom-delete');
    await mkdir(home, { recursive: true });
    const dataDir = join(home, 'data');
    await cp(promtoolDir, dataDir, { recursive: true });
    const prom = await startPrometheus({ dir: home, dataDir, blockDuration: '2h', extraArgs: ['--web.enable-admin-api'] });
    try {
      for (const [match, start, end] of [
        ['requests_total{job="job1"}', START_S + 1000, START_S + 9000],
        ['temperature{sensor="s2"}', START_S + 7000.5, START_S + 7100],
        ['once{n="1"}', START_S, START_S + 99999],
      ] as const) {
        const qs = new URLSearchParams({ 'match[]': match, start: String(start), end: String(end) });
        const res = await fetch(`${prom.url}/api/v1/admin/tsdb/delete_series?${qs}`, { method: 'POST' });
        expect(res.status).toBe(204);
      }
    } finally {
      await prom.stop();
    }
    const sizes = await Promise.all((await metas(dataDir)).map(async (m) => (await stat(join(dataDir, m.ulid, 'tombstones'))).size));
    expect(Math.max(...sizes)).toBeGreaterThan(9);
    const want = await promtool(['tsdb', 'dump', await dumpable(dataDir, 'del')]);
    expect(want).not.toContain('once{n="1"}');
    expect(await strataDump(dataDir)).toBe(want);
  });

  it('lists the blocks of a data directory as promtool tsdb list does, human-readable too', async () => {
    const db = await dumpable(promtoolDir, 'list');
    for (const humanReadable of [false, true]) {
      const c = collect();
      await runList(db, humanReadable, c.out);
      expect(c.text()).toBe(await promtool(['tsdb', 'list', ...(humanReadable ? ['-r'] : []), db]));
    }
  });

  it('analyzes each block as promtool tsdb analyze does, the last one by default', async () => {
    const db = await dumpable(promtoolDir, 'analyze');
    /** The report's lines, each list's in sorted order: promtool's ties fall in no set order. */
    const lines = (report: string) => report.trim().split('\n\n').map((part) => {
      const [head, ...rest] = part.split('\n');
      return part.includes(':\n') ? [head, ...rest.sort()] : [head, ...rest];
    });
    const blocks = await metas(promtoolDir);
    for (const m of blocks) {
      const c = collect();
      await runAnalyze(await analyzedBlock(db, m.ulid), { limit: 100_000, extended: true }, c.out);
      const want = await promtool(['tsdb', 'analyze', '--limit=100000', '--extended', db, m.ulid]);
      expect(want).toContain('Label pairs most involved in churning:\n');
      expect(lines(c.text())).toEqual(lines(want));
    }
    // promtool's default: the last block; each list cut at --limit.
    const c = collect();
    await runAnalyze(await analyzedBlock(db, undefined), { limit: 2, extended: false }, c.out);
    expect(c.text()).toContain(`Block ID: ${(blocks.at(-1) as BlockMeta).ulid}\n`);
    expect(c.text()).toMatch(/Highest cardinality metric names:\n\d+ \S+\n\d+ \S+\n$/);
    await expect(analyzedBlock(db, '01ARZ3NDEKTSV4RRFFQ69G5FAV')).rejects.toThrow(`block 01ARZ3NDEKTSV4RRFFQ69G5FAV not found in ${db}`);
  });

  it('names the file and offset of a corrupt or truncated index', async () => {
    const [m] = await metas(strataDir);
    const block = join(tmp.path, 'corrupt');
    await cp(join(strataDir, (m as BlockMeta).ulid), block, { recursive: true });
    const index = await readFile(join(block, 'index'));
    // A byte inside the first series entry (the TOC's second field is where the series section starts).
    const seriesStart = Number(Buffer.from(index).readBigUInt64BE(index.length - 52 + 8));
    const bad = Uint8Array.from(index);
    const at = Math.ceil(seriesStart / 16) * 16 + 4;
    bad[at] = (bad[at] as number) ^ 0x55;
    await writeFile(join(block, 'index'), bad);
    await expect(strataDump(block)).rejects.toThrow(new RegExp(`${join(block, 'index')}: series \\d+: checksum mismatch: .* at offset \\d+`));
    await writeFile(join(block, 'index'), index.subarray(0, index.length - 10));
    await expect(strataDump(block)).rejects.toThrow(new RegExp(`${join(block, 'index')}: .* at offset \\d+`));
  });
});

describe('stale markers from a real scrape', () => {
  it('dumps the stale markers Prometheus writes when a target disappears, bit for bit as promtool does', async () => {
    // A target that answers until it is closed; Prometheus then writes a stale marker (NaN with the
    // bits 0x7ff0000000000002) for each of its series at the next scrape.
    const target = createServer((_req, res) => res.end('stale_me{k="a"} 1\nstale_me{k="b"} 2\n'));
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', () => resolve()));
    const port = (target.address() as AddressInfo).port;
    const home = join(tmp.path, 'stale');
    const prom = await startPrometheus({
      dir: home,
      scrapeInterval: '1s',
      blockDuration: '5s',
      scrapeConfigs: [{ job_name: 'gone', static_configs: [{ targets: [`127.0.0.1:${port}`] }] }],
    });
    try {
      while ((await prom.api<{ result: unknown[] }>('query', { query: 'count_over_time(stale_me[1m]) >= 3' })).result.length < 2) await sleep(250);
      await new Promise<void>((resolve) => target.close(() => resolve()));
      target.closeAllConnections();
      const gone = Date.now();
      // Wait for a persisted block that covers the scrapes after the target went away.
      while (!(await metas(prom.dataDir)).some((m) => m.maxTime > gone + 3000)) await sleep(500);
    } finally {
      await prom.stop();
    }
    const blocks = join(tmp.path, 'stale-blocks');
    await mkdir(blocks, { recursive: true });
    for (const m of await metas(prom.dataDir)) await cp(join(prom.dataDir, m.ulid), join(blocks, m.ulid), { recursive: true });

    const want = await promtool(['tsdb', 'dump', '--match={__name__="stale_me"}', await dumpable(blocks, 'stale')]);
    expect(want).toMatch(/^\{__name__="stale_me", instance="127\.0\.0\.1:\d+", job="gone", k="a"\} NaN \d+$/m);
    expect(await strataDump(blocks, { match: '{__name__="stale_me"}' })).toBe(want);

    let stale = 0;
    for (const m of await metas(blocks)) {
      const r = await BlockReader.openDir(join(blocks, m.ulid));
      for await (const s of r.series([Matcher.equal('__name__', 'stale_me')])) {
        const it = s.iterator();
        while (it.next() === ValueType.Float) if (Number.isNaN(it.atFloat())) stale += isStaleNaN(it.atFloat()) ? 1 : -1000;
      }
      await r.close();
    }
    expect(stale).toBe(2);
  });
});
