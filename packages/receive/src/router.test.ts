// The router's quorum and error causes, as Thanos' fanoutForward decides them: a receiver with two peers
// served in-process over real gRPC (their WriteableStore answers set by the test), every series on all
// three (replication factor 3).
import { createLogger } from '@strata/runtime';
import { GrpcStatus, serveStore, type ServingStore, StoreError, type WriteableRequest } from '@strata/storeapi';
import { Labels } from '@strata/tsdb';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newHashring } from './hashring.js';
import { RouterMetrics } from './metrics.js';
import { Router } from './router.js';
import { WriteError } from './writeerror.js';
import { ConflictError } from './writer.js';
import type { ReceivedSeries } from './writerequest.js';

type Answer = 'ok' | 'conflict' | 'unavailable' | 'hang';

const logger = createLogger({ write: () => undefined });
const LOCAL = 'local:1';
let peers: { served: ServingStore; answer: Answer; got: WriteableRequest[] }[];
let localAnswer: Answer;
let localWrites: number;
let localSeries: number;
let router: Router;

async function startPeer(): Promise<(typeof peers)[number]> {
  const unused = () => Promise.reject(new Error('not called'));
  const peer = { answer: 'ok' as Answer, got: [] as WriteableRequest[], served: undefined as unknown as ServingStore };
  peer.served = await serveStore(
    { info: unused, series: () => ({ [Symbol.asyncIterator]: () => ({ next: unused }) }), labelNames: unused, labelValues: unused },
    { address: '127.0.0.1:0', writeable: (req) => answer(peer.answer, () => peer.got.push(req)) },
  );
  return peer;
}

async function answer(a: Answer, ok: () => void): Promise<void> {
  if (a === 'hang') await new Promise((r) => setTimeout(r, 60_000).unref());
  if (a === 'conflict') throw new StoreError(GrpcStatus.ALREADY_EXISTS, 'store locally: conflict: add 1 samples: out of order sample');
  if (a === 'unavailable') throw new StoreError(GrpcStatus.UNAVAILABLE, 'target not ready');
  ok();
}

beforeEach(async () => {
  peers = [await startPeer(), await startPeer()];
  localAnswer = 'ok';
  localWrites = 0;
  localSeries = 0;
  const hashring = newHashring([{ name: 'default', tenants: [], tenantMatcher: 'exact', endpoints: [LOCAL, ...peers.map((p) => p.served.address)].map((address) => ({ address, az: '' })), externalLabels: {} }], 'hashmod', 3);
  router = new Router(hashring, {
    localEndpoint: LOCAL,
    replicationFactor: 3,
    forwardTimeoutMs: 2_000,
    maxBackoffMs: 5_000,
    writeLocal: async (_tenant, written) => {
      localWrites++;
      localSeries += written.length;
      if (localAnswer === 'conflict') throw new ConflictError(['add 1 samples: out of order sample']);
      if (localAnswer === 'unavailable') throw new WriteError('not-ready', 'target not ready');
    },
    metrics: new RouterMetrics(new Registry(), 3),
    logger,
  });
});

afterEach(async () => {
  router.close();
  for (const p of peers) await p.served.stop(0);
});

const series = (n: number): ReceivedSeries[] =>
  Array.from({ length: n }, (_, i) => ({ labels: Labels.from({ __name__: 'm', i: String(i) }), samples: [{ timestamp: 1000, value: i }], raw: Uint8Array.of(10, 0) }));

const failure = (p: Promise<void>) => p.then(() => undefined, (e: unknown) => (e instanceof WriteError ? e.failure : e));

describe('Router', () => {
  it('writes every copy: those of this receiver in one write, a peer’s in a call per copy number', async () => {
    await router.write('t', series(20), 0);
    // Three copies on three receivers: each holds every series once.
    expect([localWrites, localSeries]).toEqual([1, 20]);
    for (const p of peers) {
      expect(p.got.map((r) => r.tenant)).toEqual(p.got.map(() => 't'));
      expect(p.got.reduce((n, r) => n + r.timeseries.length, 0)).toBe(20);
      const copies = p.got.map((r) => r.replica);
      expect(new Set(copies).size).toBe(copies.length);
      for (const c of copies) expect([1, 2, 3]).toContain(c);
    }
  });

  it('succeeds at a quorum of two copies of three', async () => {
    (peers[0] as (typeof peers)[number]).answer = 'unavailable';
    await expect(router.write('t', series(5), 0)).resolves.toBeUndefined();
  });

  it('fails as unavailable (503) when two copies of three are unavailable', async () => {
    for (const p of peers) p.answer = 'unavailable';
    expect(await failure(router.write('t', series(5), 0))).toBe('unavailable');
  });

  it('fails as a conflict (409) when two copies of three are refused for good', async () => {
    for (const p of peers) p.answer = 'conflict';
    expect(await failure(router.write('t', series(5), 0))).toBe('conflict');
  });

  it('fails as unavailable, worth a retry, when the quorum is missed by a conflict and an outage together', async () => {
    (peers[0] as (typeof peers)[number]).answer = 'conflict';
    (peers[1] as (typeof peers)[number]).answer = 'unavailable';
    const err = await router.write('t', series(5), 0).catch((e: unknown) => e as WriteError);
    expect(err).toBeInstanceOf(WriteError);
    expect((err as WriteError).failure).toBe('unavailable');
    // Thanos' message: each distinct reason once, sorted.
    const message = (err as WriteError).message;
    expect(message).toMatch(/^6 errors: forwarding request to endpoint /);
    expect(message).toContain('(replica 1): store locally: conflict: add 1 samples: out of order sample');
    expect(message).toContain('(replica 3): target not ready');
    const reasons = message.slice('6 errors: '.length).split('; ');
    expect(reasons).toEqual([...reasons].sort());
  });

  it('answers once the quorum is reached, without waiting for a copy that hangs', async () => {
    (peers[0] as (typeof peers)[number]).answer = 'hang';
    const started = Date.now();
    await router.write('t', series(5), 0);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('writes a forwarded copy alone, and refuses one beyond the replication factor', async () => {
    await router.write('t', series(5), 1);
    const calls = localWrites + peers.reduce((n, p) => n + p.got.length, 0);
    // Copy 1 of each series is on one receiver; the five series may be spread over the three.
    expect(calls).toBeGreaterThanOrEqual(1);
    for (const p of peers) for (const r of p.got) expect(r.replica).toBe(1);
    expect(await failure(router.write('t', series(5), 4))).toBe('bad-replica');
  });

  it('as a router only (no local endpoint), sends every copy to the receivers of the hashring', async () => {
    const hashring = newHashring([{ name: 'default', tenants: [], tenantMatcher: 'exact', endpoints: peers.map((p) => ({ address: p.served.address, az: '' })), externalLabels: {} }], 'ketama', 2);
    const routerOnly = new Router(hashring, { localEndpoint: undefined, replicationFactor: 2, forwardTimeoutMs: 2_000, maxBackoffMs: 5_000, writeLocal: () => Promise.reject(new Error('not called')), metrics: new RouterMetrics(new Registry(), 3), logger });
    try {
      await routerOnly.write('t', series(10), 0);
      for (const p of peers) expect(p.got.reduce((n, r) => n + r.timeseries.length, 0)).toBe(10);
    } finally {
      routerOnly.close();
    }
  });

  it('backs off a peer that was unavailable: its copies then fail without a call', async () => {
    const peer = peers[0] as (typeof peers)[number];
    peer.answer = 'unavailable';
    await router.write('t', series(5), 0);
    peer.answer = 'ok';
    const other = peers[1] as (typeof peers)[number];
    const before = other.got.length;
    await router.write('t', series(5), 0);
    expect(peer.got).toHaveLength(0);
    expect(other.got.length).toBeGreaterThan(before);
  });
});
