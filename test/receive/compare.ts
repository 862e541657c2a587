// What the receiver tests compare: range queries answered through a querier over receivers, and by the
// Prometheus that remote-writes to them, over the same seconds.
import { join } from 'node:path';
import { start as startQuerier, type Querier } from '@strata/querier';
import type { ReceiveConfig } from '@strata/receive';
import { nopLogger } from '@strata/runtime';
import { freePort, sleep } from '@strata/testing/process';
import { Labels } from '@strata/tsdb';
import { startPrometheus, type PrometheusHandle } from '@strata/testing/prometheus';
import { remoteWriteTo } from '@strata/testing/remotewrite';
import { expect } from 'vitest';

export type Series = { metric: Record<string, string>; values: [number, string][] };

/**
 * A lone receiver's config (`receive="r0"`, its TSDBs under `<dir>/receive`, 2h blocks kept), with `o`
 * over it. Its gRPC and remote-write ports are fixed, so that a restarted receiver is where Prometheus
 * and the querier look for it.
 */
export async function restartableReceiver(dir: string, o: Partial<ReceiveConfig> = {}): Promise<ReceiveConfig> {
  return {
    httpAddress: '127.0.0.1:0',
    grpcAddress: `127.0.0.1:${await freePort()}`,
    remoteWriteAddress: `127.0.0.1:${await freePort()}`,
    tsdbPath: join(dir, 'receive'),
    blockDurationMs: 2 * 3_600_000,
    retentionMs: 0,
    externalLabels: Labels.from({ receive: 'r0' }),
    tenantHeader: 'THANOS-TENANT',
    defaultTenant: 'default-tenant',
    tenantLabelName: 'tenant_id',
    logger: nopLogger,
    ...o,
  };
}

export async function until(what: string, ok: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

export async function rangeQuery(base: string, query: string, startMs: number, endMs: number): Promise<Series[]> {
  const params = new URLSearchParams({ query, start: String(startMs / 1000), end: String(endMs / 1000), step: '1' });
  const body = (await (await fetch(`${base}/api/v1/query_range?${params}`)).json()) as { status: string; data: { result: Series[] } };
  expect(body.status).toBe('success');
  return body.data.result;
}

/**
 * A Prometheus 2.42 in `dir` scraping itself every second and remote-writing to the receiver at
 * `remoteWriteAddress`, and a querier over the receivers' `endpoints` (deduplicating on `replicaLabels`);
 * returned 20 seconds after the receivers hold their first sample, and its time.
 */
export async function startWritingPrometheus(dir: string, remoteWriteAddress: string, endpoints: string[], replicaLabels: string[] = []): Promise<{ prometheus: PrometheusHandle; querier: Querier; firstMs: number }> {
  const prometheus = await startPrometheus({ dir, scrapeSelf: true, scrapeInterval: '1s', remoteWrite: [remoteWriteTo(remoteWriteAddress)] });
  const querier = await startQuerier({ httpAddress: '127.0.0.1:0', grpcAddress: '127.0.0.1:0', endpoints, replicaLabels, logger: nopLogger });
  // Where the receivers' data starts: Prometheus writes what it scrapes from its first scrape on.
  const firstMs = await firstSampleMs(`http://${querier.httpAddress}`);
  await sleep(20_000);
  return { prometheus, querier, firstMs };
}

/** The time of the first sample of `up` the querier at `base` answers, once it answers one (ms). */
async function firstSampleMs(base: string): Promise<number> {
  let firstMs = 0;
  await until('the first samples through the receiver', async () => {
    const body = (await (await fetch(`${base}/api/v1/query?query=${encodeURIComponent('up[1h]')}`)).json()) as { data?: { result: Series[] } };
    const first = body.data?.result[0]?.values[0]?.[0];
    if (first !== undefined) firstMs = first * 1000;
    return first !== undefined;
  });
  return firstMs;
}

const QUERIES = ['up', 'rate(prometheus_http_requests_total{handler="/metrics"}[5s])', 'sum by (job) (scrape_samples_scraped)', 'prometheus_tsdb_head_series'];

/**
 * Every query answered by the querier at `ours` as the Prometheus at `theirs` answers it, from a few
 * seconds after `firstMs` to a few seconds ago, the receivers' external labels (`receiverLabels`) left out.
 */
export async function expectSameAnswers(ours: string, theirs: string, firstMs: number, receiverLabels: readonly string[]): Promise<void> {
  const startMs = Math.ceil(firstMs / 1000) * 1000 + 6_000;
  const endMs = Math.floor(Date.now() / 1000) * 1000 - 3_000;
  expect(endMs - startMs).toBeGreaterThan(10_000);
  const without = (series: Series[]) =>
    series
      .map((s) => ({ ...s, metric: Object.fromEntries(Object.entries(s.metric).filter(([k]) => !receiverLabels.includes(k))) }))
      .sort((a, b) => JSON.stringify(a.metric).localeCompare(JSON.stringify(b.metric)));
  for (const q of QUERIES) {
    const answer = without(await rangeQuery(ours, q, startMs, endMs));
    expect(answer.length, q).toBeGreaterThan(0);
    expect(answer, q).toEqual(without(await rangeQuery(theirs, q, startMs, endMs)));
  }
}
