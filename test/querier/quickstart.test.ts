// The README's command one, `strata quickstart`, as a user runs it: it prints the querier's URL; the
// querier answers over both replicas deduplicated (recent data from the sidecars, the backfilled history
// from the store gateway); Ctrl-C stops everything it started, the Prometheus and compactor processes
// included.
import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, sleep, startProcess, tempDir, TSX_CHILD_ENV, type Managed } from '@strata/testing/process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
let dir: { path: string; cleanup: () => Promise<void> };
let quickstart: Managed;
let url: string;
let frontendUrl: string;
let blocksUrl: string;
let rulesUrl: string;

/** Processes whose command line mentions `text`. */
function processesWith(text: string): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(text)) pids.push(Number(d));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

async function query(path: string, params: Record<string, string>): Promise<{ status: string; data: { result: { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }[] } }> {
  return (await (await fetch(`${url}/api/v1/${path}?${new URLSearchParams(params)}`)).json()) as never;
}

beforeAll(async () => {
  dir = await tempDir('strata-quickstart-test-');
  const http = `127.0.0.1:${await freePort()}`;
  const frontendHttp = `127.0.0.1:${await freePort()}`;
  quickstart = startProcess(process.execPath, ['--import', 'tsx', join(root, 'packages/cli/src/main.ts'), 'quickstart', `--data-dir=${join(dir.path, 'data')}`, '--history=6h', `--http-address=${http}`, `--query-frontend.http-address=${frontendHttp}`], {
    logFile: join(dir.path, 'quickstart.log'),
    env: { ...process.env, ...TSX_CHILD_ENV },
  });
  const log = () => readFile(quickstart.logFile, 'utf8').catch(() => '');
  // Ready when it has printed the querier's URL.
  for (let i = 0; i < 900 && !(await log()).includes('Strata is running'); i++) {
    if (quickstart.child.exitCode !== null) throw new Error(`quickstart exited: ${await log()}`);
    await sleep(100);
  }
  url = /Querier \(Prometheus API\): (\S+)/.exec(await log())?.[1] as string;
  expect(url).toBe(`http://${http}`);
  frontendUrl = /Query frontend \(.*\): (\S+)/.exec(await log())?.[1] as string;
  expect(frontendUrl).toBe(`http://${frontendHttp}`);
  blocksUrl = /Block viewer \(.*\): (\S+)/.exec(await log())?.[1] as string;
  rulesUrl = /Rules over every replica .*: (\S+)/.exec(await log())?.[1] as string;
}, 120_000);

afterAll(async () => {
  await quickstart?.stop('SIGKILL');
  await dir?.cleanup();
});

describe('strata quickstart', () => {
  it('runs the compactor and prints its block viewer, which shows the backfilled history', async () => {
    expect(blocksUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/blocks$/);
    expect((await fetch(blocksUrl)).headers.get('content-type')).toMatch(/^text\/html/);
    const res = (await (await fetch(blocksUrl.replace(/blocks$/, 'api/v1/blocks'))).json()) as { data: { blocks: { thanos: { source: string } }[] } };
    // 6h of history in 2h blocks (the first and last cut by the hour), and whatever the sidecars shipped since.
    expect(res.data.blocks.filter((b) => b.thanos.source === 'bucket.upload').length).toBeGreaterThanOrEqual(3);
  });

  it('serves both replicas deduplicated, recent data and the backfilled history', async () => {
    const storesNow = async () => ((await (await fetch(`${url}/api/v1/stores`)).json()) as { data: Record<string, unknown[]> });
    let stores = await storesNow();
    // The ruler starts after the querier, which finds it at its next Info round (every 5 seconds).
    for (let i = 0; i < 100 && stores.data.rule === undefined; i++) {
      await sleep(200);
      stores = await storesNow();
    }
    expect(Object.fromEntries(Object.entries(stores.data).map(([type, list]) => [type, list.length]))).toEqual({ sidecar: 2, store: 1, rule: 1 });
    // History: three demo instances, once each although the backfill and two replicas hold them.
    const now = Date.now() / 1000;
    const history = await query('query', { query: 'count(demo_num_cpus)', time: String(now - 3 * 3600) });
    expect(history.data.result).toEqual([{ metric: {}, value: [now - 3 * 3600, '3'] }]);
    // And `up`, as the scrapes would have written it: the first query a Prometheus user types.
    const up = await query('query', { query: 'sum by (job) (up)', time: String(now - 3 * 3600) });
    expect(up.data.result).toEqual([{ metric: { job: 'demo' }, value: [now - 3 * 3600, '3'] }]);
    // Recent data: scraped by both replicas (every 5s), deduplicated, without the replica label.
    let recent = await query('query', { query: 'demo_num_cpus' });
    for (let i = 0; i < 100 && recent.data.result.length < 3; i++) {
      await sleep(200);
      recent = await query('query', { query: 'demo_num_cpus' });
    }
    expect(recent.data.result.map((s) => s.metric.instance).sort()).toEqual(['demo-0', 'demo-1', 'demo-2']);
    for (const s of recent.data.result) expect(s.metric).toEqual({ __name__: 'demo_num_cpus', cluster: 'quickstart', instance: s.metric.instance, job: 'demo' });
  });

  it('answers through the query frontend as the querier does, over the backfill and recent data', async () => {
    const end = Math.floor(Date.now() / 60_000) * 60_000 - 60_000;
    const params = new URLSearchParams({ query: 'sum by (mode) (rate(demo_cpu_usage_seconds_total[5m]))', start: String((end - 5 * 3_600_000) / 1000), end: String(end / 1000), step: '60' });
    const [viaFrontend, direct] = await Promise.all([fetch(`${frontendUrl}/api/v1/query_range?${params}`), fetch(`${url}/api/v1/query_range?${params}`)]);
    const [a, b] = [(await viaFrontend.json()) as { data: { result: unknown[] } }, (await direct.json()) as { data: { result: unknown[] } }];
    expect(a.data.result.length).toBe(3);
    expect(a).toEqual(b);
  });

  it('shows the demo rules both replicas evaluate, once, and the ruler’s global rules', async () => {
    const rules = (await (await fetch(`${url}/api/v1/rules`)).json()) as { data: { groups: { name: string; rules: { name: string; type: string }[] }[] } };
    expect(rules.data.groups.map((g) => [g.name, g.rules.map((r) => `${r.type} ${r.name}`)])).toEqual([
      ['global', ['alerting DemoInstanceDown', 'recording cluster_mode:demo_cpu_usage_seconds:rate1m']],
      ['demo', ['alerting DemoBatchJobFailing', 'alerting DemoDiskAlmostFull', 'recording instance_mode:demo_cpu_usage_seconds:rate1m']],
    ]);
    expect(rulesUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/v1\/rules$/);
  });

  it('serves what the ruler records over every replica, through the querier', async () => {
    let recorded = await query('query', { query: 'cluster_mode:demo_cpu_usage_seconds:rate1m' });
    // The ruler evaluates every 15 seconds.
    for (let i = 0; i < 200 && recorded.data.result.length < 3; i++) {
      await sleep(200);
      recorded = await query('query', { query: 'cluster_mode:demo_cpu_usage_seconds:rate1m' });
    }
    expect(recorded.data.result.map((s) => s.metric).sort((a, b) => (a.mode ?? '').localeCompare(b.mode ?? ''))).toEqual(
      ['idle', 'system', 'user'].map((mode) => ({ __name__: 'cluster_mode:demo_cpu_usage_seconds:rate1m', cluster: 'quickstart', mode, ruler: 'global' })),
    );
  });

  it('stops everything it started on Ctrl-C', async () => {
    const data = join(dir.path, 'data');
    // Itself, two Prometheus and the compactor.
    expect(processesWith(data).length).toBeGreaterThanOrEqual(4);
    expect(processesWith(join(data, 'compact'))).toHaveLength(1);
    quickstart.child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => quickstart.child.once('exit', (c) => resolve(c)));
    expect(code).toBe(0);
    for (let i = 0; i < 50 && processesWith(data).length > 0; i++) await sleep(100);
    expect(processesWith(data)).toEqual([]);
  });
});
