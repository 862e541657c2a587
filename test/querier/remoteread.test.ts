/**
 * Prometheus' remote read served by the querier: a Prometheus 2.42 whose only data is `remote_read` from
 * a Strata querier (over two replicas of history in a store gateway, deduplicated) answers as the
 * Prometheus that holds that history; and the querier's own remote-read answers, streamed and not,
 * hold the samples Prometheus' remote read gives for the same selection.
 */
import { join } from 'node:path';
import { start as startFrontend } from '@strata/frontend';
import type { Querier } from '@strata/querier';
import { nopLogger } from '@strata/runtime';
import { MatcherType, ResponseType, STREAMED_CONTENT_TYPE, type ReadQuery } from '@strata/storeapi';
import { tempDir } from '@strata/testing/process';
import { startPrometheus, startPrometheusOn, type PrometheusHandle } from '@strata/testing/prometheus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomHistory } from '../store/fixtures.js';
import { replicatedHistory, type ReplicatedHistory } from './history.js';
import { expectSameAnswer, query } from './answers.js';
import { remoteRead } from './remotereads.js';

const history = randomHistory(7, 5);
let dir: { path: string; cleanup: () => Promise<void> };
let stack: ReplicatedHistory;
let querier: Querier;
let reference: PrometheusHandle;
let reader: PrometheusHandle;

beforeAll(async () => {
  dir = await tempDir('strata-remoteread-');
  stack = await replicatedHistory(history.openMetrics, dir.path);
  querier = stack.querier;
  expect(stack.blocks.length).toBeGreaterThan(1);
  reference = await startPrometheusOn(stack.blocks, { dir: join(dir.path, 'reference') });
  reader = await startPrometheus({ dir: join(dir.path, 'reader'), remoteRead: [{ url: `http://${querier.httpAddress}/api/v1/read`, read_recent: true }] });
}, 180_000);

afterAll(async () => {
  await reader?.stop();
  await reference?.stop();
  await stack?.stop();
  await dir?.cleanup();
});

const start = Math.ceil(history.start / 60_000) * 60_000 + 10 * 60_000;
const end = Math.floor(history.end / 60_000) * 60_000;

describe('remote read from the querier', () => {
  it('lets a Prometheus read all of history from Strata, replicas deduplicated, and answer as the Prometheus that holds it', async () => {
    for (const q of [
      'rh_requests',
      'rate(rh_requests[5m])',
      'sum by (job) (rate(rh_requests[5m]))',
      'avg_over_time(rh_latency[10m])',
      'max by (instance) (rh_temp{job=~"api|db"})',
      'count(rh_latency)',
    ]) {
      const params = { query: q, start: String(start / 1000), end: String(end / 1000), step: '60' };
      expectSameAnswer(await query(reader.url, 'query_range', params), await query(reference.url, 'query_range', params), q, []);
    }
  });

  it("answers a selection with the samples of Prometheus' own remote read, streamed and not", async () => {
    for (const matchers of [
      [{ type: MatcherType.EQ, name: '__name__', value: 'rh_requests' }],
      [{ type: MatcherType.RE, name: '__name__', value: 'rh_.*' }, { type: MatcherType.NEQ, name: 'job', value: 'db' }],
    ]) {
      const q: ReadQuery = { startMs: start, endMs: end - 7_000, matchers };
      for (const type of [ResponseType.STREAMED_XOR_CHUNKS, ResponseType.SAMPLES]) {
        const ours = await remoteRead(`http://${querier.httpAddress}`, q, type);
        const theirs = await remoteRead(reference.url, q, type);
        expect(ours.contentType).toBe(theirs.contentType);
        expect(Object.keys(ours.series).length, JSON.stringify(matchers)).toBeGreaterThan(0);
        expect(ours.series).toEqual(theirs.series);
      }
    }
  });

  it('is passed through by the query frontend', async () => {
    const frontend = await startFrontend({ httpAddress: '127.0.0.1:0', downstreamUrl: `http://${querier.httpAddress}`, logger: nopLogger });
    try {
      const q: ReadQuery = { startMs: start, endMs: end, matchers: [{ type: MatcherType.EQ, name: '__name__', value: 'rh_temp' }] };
      for (const type of [ResponseType.STREAMED_XOR_CHUNKS, ResponseType.SAMPLES]) {
        const through = await remoteRead(`http://${frontend.httpAddress}`, q, type);
        expect(through).toEqual(await remoteRead(`http://${querier.httpAddress}`, q, type));
        if (type === ResponseType.STREAMED_XOR_CHUNKS) expect(through.contentType).toBe(STREAMED_CONTENT_TYPE);
      }
    } finally {
      await frontend.stop();
    }
  });
});
