/**
 * Backfilling a new recording rule over history, as the README's recipe does it: promtool's rule
 * backfiller (`promtool tsdb create-blocks-from rules`) evaluates the rule against the querier over
 * two replicas of history in a store gateway, its blocks go to the bucket with the labels the rule's
 * results should carry, and the querier then serves the recorded series, each sample what the rule's
 * expression gives at its time.
 */
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '@strata/testing/process';
import { promtool } from '@strata/testing/prometheus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomHistory, uploadWithLabels } from '../store/fixtures.js';
import { replicatedHistory, type ReplicatedHistory } from './history.js';

const RULES = `groups:
  - name: backfill
    rules:
      - record: job:rh_requests:sum
        expr: sum by (job) (rh_requests)
`;

const history = randomHistory(11, 5);
let dir: { path: string; cleanup: () => Promise<void> };
let stack: ReplicatedHistory;

beforeAll(async () => {
  dir = await tempDir('strata-rulebackfill-');
  stack = await replicatedHistory(history.openMetrics, dir.path);
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  await dir?.cleanup();
});

type Matrix = { metric: Record<string, string>; values: [number, string][] }[];

async function api<T>(path: string, params: Record<string, string>): Promise<T> {
  const res = await fetch(`http://${stack.querier.httpAddress}/api/v1/${path}?${new URLSearchParams(params)}`);
  const body = (await res.json()) as { status: string; data: { result: T }; error?: string };
  expect(body.status, body.error).toBe('success');
  return body.data.result;
}

describe("promtool's rule backfiller against the querier", () => {
  it('records a new rule over all of history, which the querier then serves as the expression gives it', async () => {
    const rules = join(dir.path, 'rules.yml');
    await writeFile(rules, RULES);
    const out = join(dir.path, 'recorded');
    const start = Math.ceil(history.start / 60_000) * 60;
    const end = Math.floor(history.end / 60_000) * 60;
    await promtool(['tsdb', 'create-blocks-from', 'rules', `--url=http://${stack.querier.httpAddress}`, `--start=${start}`, `--end=${end}`, '--eval-interval=60s', `--output-dir=${out}`, '-q', rules]);
    const blocks = (await readdir(out)).filter((d) => /^[0-9A-Z]{26}$/.test(d));
    expect(blocks.length).toBeGreaterThan(1);
    for (const b of blocks) await uploadWithLabels(stack.bucket, join(out, b), { ruler: 'backfill' });
    await stack.store.sync();

    const recorded = await api<Matrix>('query', { query: `job:rh_requests:sum[${end - start + 60}s]`, time: String(end) });
    expect(recorded.map((s) => s.metric.job).sort()).toEqual(['api', 'db', 'web']);
    for (const s of recorded) {
      expect(s.metric).toEqual({ __name__: 'job:rh_requests:sum', job: s.metric.job, ruler: 'backfill' });
      // The rule's evaluations every minute, over all of history.
      expect(s.values.length).toBeGreaterThan(4 * 60);
      // Each sample is the expression's value at its time: asked again in runs of one step.
      for (let from = 0; from < s.values.length; ) {
        let to = from + 1;
        while (to < s.values.length && (s.values[to] as [number, string])[0] - (s.values[to - 1] as [number, string])[0] === 60) to++;
        const run = s.values.slice(from, to);
        const [expr] = await api<Matrix>('query_range', {
          query: `sum by (job) (rh_requests{job="${s.metric.job}"})`,
          start: String((run[0] as [number, string])[0]),
          end: String((run.at(-1) as [number, string])[0]),
          step: '60',
        });
        expect(expr?.values, `${s.metric.job} from ${(run[0] as [number, string])[0]}`).toEqual(run);
        from = to;
      }
    }
  });
});
