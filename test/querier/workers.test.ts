// `strata query --query.workers=N` end to end: a querier of two worker processes in front of a store
// gateway answers as a querier of one, serves its StoreAPI on the shared gRPC address, sums its
// workers' metrics, starts a killed worker again, fails as one process would when a worker cannot
// start, and stops with all its workers.
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { newBucket, parseBucketConfig } from '@strata/objstore';
import { StoreClient } from '@strata/storeapi';
import { CLI_SOURCE, freePort, sleep, startCliComponent, startProcess, startSilentServer, tempDir, TSX_CHILD_ENV, type Managed } from '@strata/testing/process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promtoolBlocks, randomHistory, uploadWithLabels } from '../store/fixtures.js';

const procs: Managed[] = [];
let dir: { path: string; cleanup: () => Promise<void> };
const history = randomHistory(7, 3);
let single: string;
let pooled: { proc: Managed; http: string; grpc: string };

const QUERIES = ['sum by (job) (rh_requests)', 'max_over_time(rh_latency[10m])', 'rh_temp{job="api"} / on (instance) group_left rh_temp{job="web"}', 'count by (path) (rh_latency)'];

async function rangeQuery(base: string, query: string): Promise<unknown> {
  const params = new URLSearchParams({ query, start: String(history.start / 1000), end: String(history.end / 1000), step: '60' });
  const res = await fetch(`${base}/api/v1/query_range?${params}`);
  expect(res.status).toBe(200);
  return res.json();
}

/** The value of a metric (no labels, or the sum over `match`ing series) in a /metrics text. */
async function metric(base: string, name: string, match = ''): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name) && (line[name.length] === ' ' || line[name.length] === '{') && line.includes(match)) sum += Number(line.split(' ').pop());
  return sum;
}

/** The pids of a pool's workers, by slot, as its log announced them (the latest start of each). */
async function workerPids(proc: Managed = pooled.proc): Promise<Map<number, number>> {
  const pids = new Map<number, number>();
  for (const m of (await readFile(proc.logFile, 'utf8')).matchAll(/msg="worker started" worker=(\d+) pid=(\d+)/g)) pids.set(Number(m[1]), Number(m[2]));
  return pids;
}

/** Polls `check` until it holds; a failed request counts as not yet (a connection to a worker that died fails once). */
async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

beforeAll(async () => {
  dir = await tempDir('strata-workers-test-');
  const objstoreYaml = `type: FILESYSTEM\nconfig:\n  directory: ${join(dir.path, 'bucket')}\n`;
  const objstore = join(dir.path, 'objstore.yml');
  await writeFile(objstore, objstoreYaml);
  await mkdir(join(dir.path, 'bucket'));
  const bucket = newBucket(parseBucketConfig(objstoreYaml));
  for (const b of await promtoolBlocks(history.openMetrics, join(dir.path, 'blocks'))) await uploadWithLabels(bucket, b, { cluster: 'workers' });
  await bucket.close();
  const store = await startCliComponent(dir.path, 'store', ['store', `--objstore.config-file=${objstore}`, `--data-dir=${join(dir.path, 'store')}`]);
  procs.push(store.proc);
  const one = await startCliComponent(dir.path, 'query-single', ['query', `--endpoint=${store.grpc}`]);
  procs.push(one.proc);
  single = one.http;
  // Every request logged, with the worker that answered it.
  pooled = await startCliComponent(dir.path, 'query-workers', ['query', `--endpoint=${store.grpc}`, '--query.workers=2', '--query.log-queries-longer-than=-1s']);
  procs.push(pooled.proc);
  await bothReady(pooled.proc);
}, 180_000);

function bothReady(proc: Managed): Promise<void> {
  return waitFor('both workers to be ready', async () => ((await readFile(proc.logFile, 'utf8')).match(/msg="querier ready"/g) ?? []).length === 2);
}

afterAll(async () => {
  for (const p of procs.reverse()) await p.stop();
  await dir?.cleanup();
});

describe('strata query --query.workers', () => {
  it('answers as one querier, from both workers, and /metrics counts the requests of both', async () => {
    const before = await metric(pooled.http, 'http_requests_total', 'handler="/api/v1/query_range"');
    const rounds = 10;
    // Concurrent requests open connections of their own, which the primary hands to the workers in turn.
    const asked = Array.from({ length: rounds }, () => QUERIES).flat();
    const answers = await Promise.all(asked.map((q) => rangeQuery(pooled.http, q)));
    for (const [i, q] of QUERIES.entries()) {
      const expected = await rangeQuery(single, q);
      expect((expected as { data: { result: unknown[] } }).data.result.length).toBeGreaterThan(0);
      for (let r = 0; r < rounds; r++) expect(answers[r * QUERIES.length + i]).toEqual(expected);
    }
    const log = await readFile(pooled.proc.logFile, 'utf8');
    const served = new Set([...log.matchAll(/level=info worker=(\d+) component=query msg="slow query detected"/g)].map((m) => m[1]));
    expect([...served].sort()).toEqual(['1', '2']);
    expect((await metric(pooled.http, 'http_requests_total', 'handler="/api/v1/query_range"')) - before).toBe(asked.length);
    expect(await metric(pooled.http, 'strata_workers')).toBe(2);
    // The primary's start time, once: the workers' are not summed.
    expect(Math.abs((await metric(pooled.http, 'process_start_time_seconds')) - Date.now() / 1000)).toBeLessThan(600);
    // Both workers see the same one endpoint: counted once, not summed.
    expect(await metric(pooled.http, 'strata_store_nodes_grpc_connections', 'state="healthy"')).toBe(1);
    expect(await metric(pooled.http, 'strata_status', 'check="ready"')).toBe(1);
  }, 120_000);

  it('serves its StoreAPI on the shared gRPC address', async () => {
    const client = new StoreClient(pooled.grpc);
    try {
      const info = await client.info({ timeoutMs: 10_000 });
      expect(info.labelSets).toEqual([[{ name: 'cluster', value: 'workers' }]]);
    } finally {
      client.close();
    }
  });

  it('starts a worker that died again, and answers meanwhile', async () => {
    const pids = await workerPids();
    const killed = pids.get(1) as number;
    const requests = () => metric(pooled.http, 'http_requests_total', 'handler="/api/v1/query_range"');
    const before = await requests();
    process.kill(killed, 'SIGKILL');
    // The other worker answers while the primary waits a second before starting a new one.
    await waitFor('the primary to see the worker gone', async () => (await metric(pooled.http, 'strata_workers')) === 1);
    expect(await rangeQuery(pooled.http, QUERIES[1] as string)).toEqual(await rangeQuery(single, QUERIES[1] as string));
    await waitFor('the restart to be counted', async () => (await metric(pooled.http, 'strata_worker_restarts_total')) === 1);
    await waitFor('a new worker 1', async () => (await workerPids()).get(1) !== killed);
    await waitFor('two workers again', async () => (await metric(pooled.http, 'strata_workers')) === 2);
    // What the dead worker had counted stays in the sums: a counter that went back would read as a reset.
    expect(await requests()).toBeGreaterThanOrEqual(before);
    expect(await rangeQuery(pooled.http, QUERIES[0] as string)).toEqual(await rangeQuery(single, QUERIES[0] as string));
  }, 120_000);

  it('stops with its workers on SIGTERM', async () => {
    const pids = [...(await workerPids()).values()];
    await pooled.proc.stop();
    expect(pooled.proc.child.exitCode).toBe(0);
    expect(pids.filter(alive)).toEqual([]);
  }, 60_000);

  it('fails, stopping the others, when a worker cannot start', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const proc = startProcess(process.execPath, ['--import', 'tsx', CLI_SOURCE, 'query', '--query.workers=2', `--http-address=127.0.0.1:${port}`, `--grpc-address=127.0.0.1:${await freePort()}`], {
        logFile: join(dir.path, 'query-port-taken.log'),
        env: { ...process.env, ...TSX_CHILD_ENV },
      });
      const code = await new Promise<number | null>((resolve) => proc.child.once('exit', (c) => resolve(c)));
      expect(code).toBe(1);
      const log = await readFile(proc.logFile, 'utf8');
      expect(log).toContain(`EADDRINUSE 127.0.0.1:${port}`);
      expect(log).toMatch(/strata: worker \d exited before it was ready \(code 1\)/);
    } finally {
      taken.close();
    }
  }, 120_000);

  it('keeps the queries each worker evaluates in a file of its own (--query.active-query-path), and a worker killed mid-query names them when started again', async () => {
    // A strict endpoint that accepts connections and never answers: queries wait on it.
    const silent = await startSilentServer();
    const active = join(dir.path, 'active');
    const tracked = await startCliComponent(dir.path, 'query-tracked', ['query', `--endpoint-strict=${silent.address}`, '--endpoint.info-timeout=1s', '--query.workers=2', `--query.active-query-path=${active}`]);
    procs.push(tracked.proc);
    const abort = new AbortController();
    try {
      await bothReady(tracked.proc);
      // Requests at once, on connections of their own, which the primary hands to the workers in turn
      // (a connection kept from before may go either way): some for each worker.
      const queries = ['a', 'b', 'c', 'd'].map((probe) => `count(up{probe="${probe}"})`);
      for (const q of queries) void fetch(`${tracked.http}/api/v1/query?${new URLSearchParams({ query: q })}`, { signal: abort.signal }).catch(() => {});
      const held = async (slot: number) => {
        const text = await readFile(join(active, `queries.worker-${slot}.active`), 'utf8');
        return queries.filter((q) => text.includes(JSON.stringify(q).slice(1, -1)));
      };
      await waitFor('every query held, some by each worker', async () => {
        const [one, two] = [(await held(1)).length, (await held(2)).length];
        return one > 0 && two > 0 && one + two === queries.length;
      });
      const killedQueries = await held(1);
      process.kill((await workerPids(tracked.proc)).get(1) as number, 'SIGKILL');
      const logged = async () => (await readFile(tracked.proc.logFile, 'utf8')).split('\n').find((l) => l.includes("These queries didn't finish"));
      await waitFor('the new worker 1 to log what its predecessor left', async () => (await logged()) !== undefined);
      const line = (await logged()) as string;
      expect(line).toContain('worker=1');
      // Worker 1's queries, and not worker 2's (their quotes escaped twice: JSON in a logfmt value).
      const probes = [...line.matchAll(/probe=[\\"]+(\w)/g)].map((m) => `count(up{probe="${m[1]}"})`);
      expect(probes.sort()).toEqual([...killedQueries].sort());
    } finally {
      abort.abort();
      await tracked.proc.stop();
      await silent.stop();
    }
  }, 120_000);
});
