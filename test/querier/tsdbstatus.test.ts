/**
 * `/api/v1/status/tsdb` over history in a store gateway (two replicas, r0 missing the first block): over each
 * block's range its counts and lists are what `promtool tsdb analyze` reports for that block, and over
 * all of history it counts the series Prometheus' series API lists for the same blocks.
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { tempDir } from '@strata/testing/process';
import { promtool, startPrometheusOn, type PrometheusHandle } from '@strata/testing/prometheus';
import { parseMeta, type BlockMeta } from '@strata/tsdb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replicatedHistory, type ReplicatedHistory } from './history.js';

type Stat = { name: string; value: number };
interface TsdbStatus {
  headStats: { numSeries: number; numLabelPairs: number };
  seriesCountByMetricName: Stat[];
  labelValueCountByLabelName: Stat[];
  memoryInBytesByLabelName: Stat[];
  seriesCountByLabelValuePair: Stat[];
}
type List = Exclude<keyof TsdbStatus, 'headStats'>;

/** promtool's section titles for the lists of the same measures. */
const SECTIONS: Record<List, string> = {
  seriesCountByMetricName: 'Highest cardinality metric names:',
  labelValueCountByLabelName: 'Highest cardinality labels:',
  memoryInBytesByLabelName: 'Label names with highest cumulative label value length:',
  seriesCountByLabelValuePair: 'Most common label pairs:',
};

/**
 * Five hours ending two hours ago of series whose counts differ by metric, label and pair: requests by
 * path (of varied lengths), code and instance; buckets; one series per run of an hourly job, each
 * present in its hour only, so that blocks hold different series.
 */
function history(): { openMetrics: string; start: number; end: number } {
  const end = Math.floor((Date.now() - 2 * 3_600_000) / 1000) * 1000;
  const start = end - 5 * 3_600_000;
  const paths = ['/', '/api/v1/query', '/api/v1/query_range', '/metrics', '/-/healthy', '/api/v1/labels', '/graph'];
  const families: { name: string; series: { labels: string; from: number; to: number }[] }[] = [
    {
      name: 'app_requests',
      series: paths.flatMap((path, p) => ['200', '404', '500'].flatMap((code, c) => ['i0', 'i1', 'i2', 'i3'].filter((_, i) => (p + c + i) % 4 !== 0).map((instance) => ({ labels: `path="${path}",code="${code}",instance="${instance}"`, from: start, to: end })))),
    },
    { name: 'app_latency_bucket', series: ['0.1', '0.5', '1', '5', '+Inf'].flatMap((le) => ['i0', 'i1'].map((instance) => ({ labels: `le="${le}",instance="${instance}"`, from: start, to: end }))) },
    { name: 'job_runs', series: [0, 1, 2, 3, 4].map((h) => ({ labels: `run="r${h}"`, from: start + h * 3_600_000, to: start + (h + 1) * 3_600_000 })) },
  ];
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# TYPE ${f.name} gauge`);
    for (const s of f.series) for (let t = s.from + 7_000; t < s.to; t += 30_000) lines.push(`${f.name}{${s.labels}} ${(t / 1000) % 97} ${t / 1000}`);
  }
  lines.push('# EOF', '');
  return { openMetrics: lines.join('\n'), start, end };
}

/** `promtool tsdb analyze` of one block: its series and label pairs, and its lists by the status API's names. */
async function analyze(blockDir: string): Promise<{ series: number; pairs: number; lists: Record<List, Stat[]> }> {
  const out = await promtool(['tsdb', 'analyze', '--limit=20', dirname(blockDir), basename(blockDir)]);
  const count = (title: string) => Number(new RegExp(`^${title}: (\\d+)$`, 'm').exec(out)?.[1]);
  const lists = {} as Record<List, Stat[]>;
  for (const [list, title] of Object.entries(SECTIONS) as [List, string][]) {
    const section = out.slice(out.indexOf(title) + title.length).split('\n\n')[0] as string;
    lists[list] = section.trim().split('\n').map((line) => {
      const [, value, name] = /^(\d+) (.*)$/.exec(line) as RegExpExecArray;
      return { name: name as string, value: Number(value) };
    });
  }
  return { series: count('Series'), pairs: count('Postings \\(unique label pairs\\)'), lists };
}

const data = history();
let dir: { path: string; cleanup: () => Promise<void> };
let stack: ReplicatedHistory;
let reference: PrometheusHandle;

beforeAll(async () => {
  dir = await tempDir('strata-tsdbstatus-');
  stack = await replicatedHistory(data.openMetrics, dir.path);
  expect(stack.blocks.length).toBeGreaterThan(2);
  reference = await startPrometheusOn(stack.blocks, { dir: join(dir.path, 'reference') });
}, 180_000);

afterAll(async () => {
  await reference?.stop();
  await stack?.stop();
  await dir?.cleanup();
});

async function status(query: Record<string, string>): Promise<TsdbStatus> {
  const res = await fetch(`http://${stack.querier.httpAddress}/api/v1/status/tsdb?${new URLSearchParams(query)}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: TsdbStatus }).data;
}

describe('/api/v1/status/tsdb over history', () => {
  it("gives over each block's range what promtool tsdb analyze reports for the block, replicas deduplicated", async () => {
    for (const block of stack.blocks) {
      const meta: BlockMeta = parseMeta(await readFile(join(block, 'meta.json'), 'utf8'));
      const ours = await status({ start: String(meta.minTime / 1000), end: String((meta.maxTime - 1) / 1000), limit: '1000' });
      const theirs = await analyze(block);
      expect([ours.headStats.numSeries, ours.headStats.numLabelPairs], meta.ulid).toEqual([theirs.series, theirs.pairs]);
      for (const list of Object.keys(SECTIONS) as List[]) {
        // promtool lists 20, ties in no set order: the same counts, each of its names counted alike.
        expect(theirs.lists[list].map((s) => s.value), `${meta.ulid} ${list}`).toEqual(ours[list].slice(0, 20).map((s) => s.value));
        for (const s of theirs.lists[list]) expect(ours[list].find((o) => o.name === s.name)?.value, `${meta.ulid} ${list} ${s.name}`).toBe(s.value);
      }
    }
  });

  it("counts over all of history the series Prometheus' series API lists for the same blocks", async () => {
    const range = { start: String(data.start / 1000), end: String(data.end / 1000) };
    const ours = await status({ ...range, limit: '1000' });
    const listed = await reference.api<Record<string, string>[]>('series', { 'match[]': '{__name__=~".+"}', ...range });
    expect(ours.headStats.numSeries).toBe(listed.length);
    const byName = new Map<string, number>();
    for (const s of listed) byName.set(s.__name__ as string, (byName.get(s.__name__ as string) ?? 0) + 1);
    expect(Object.fromEntries(ours.seriesCountByMetricName.map((s) => [s.name, s.value]))).toEqual(Object.fromEntries(byName));
    // Every hourly run once: five series, in different blocks.
    expect(ours.seriesCountByMetricName.find((s) => s.name === 'job_runs')?.value).toBe(5);
    // The last hour alone: one run.
    const lastHour = await status({ start: String((data.end - 3_600_000) / 1000), end: String(data.end / 1000), 'match[]': 'job_runs' });
    expect(lastHour.seriesCountByLabelValuePair).toEqual([{ name: '__name__=job_runs', value: 1 }, { name: 'run=r4', value: 1 }]);
  });
});
