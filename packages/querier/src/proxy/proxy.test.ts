import { PartialResponseStrategy, seriesRequest, ShardMatcher, type SeriesRequest, type SeriesResponse, type StoreSeries } from '@strata/storeapi';
import { describe, expect, it } from 'vitest';
import type { Endpoint, EndpointSet, UnavailableEndpoint } from '../endpoints/endpointset.js';
import { Labels } from '@strata/tsdb';
import type { LabeledSeries } from './merge.js';
import { ProxyStore } from './proxy.js';

/** A series as an endpoint sends it: with its replica label, or without ('') when it strips it itself. */
const series = (name: string, replica: string, minTime: number): StoreSeries => ({
  labels: [{ name: '__name__', value: name }, ...(replica === '' ? [] : [{ name: 'replica', value: replica }])],
  chunks: [{ minTime, maxTime: minTime + 9, raw: { type: 1, data: Uint8Array.of(0, 1, minTime & 0xff), hash: 0n } }],
});

/** An endpoint answering with `frames`, each after `before(i)` resolves. */
function endpoint(address: string, frames: SeriesResponse[], opts: { before?: (i: number) => Promise<void>; stripsReplicaLabels?: boolean; shards?: boolean; asked?: SeriesRequest[] } = {}): Endpoint {
  return {
    address,
    labelSets: [],
    minTime: Number.MIN_SAFE_INTEGER,
    maxTime: Number.MAX_SAFE_INTEGER,
    componentType: 'store',
    supportsWithoutReplicaLabels: opts.stripsReplicaLabels ?? true,
    supportsSharding: opts.shards ?? false,
    metricMetadata: false,
    rules: false,
    exemplars: false,
    targets: false,
    query: false,
    client: {
      async *series(r: SeriesRequest, call: { signal?: AbortSignal } = {}) {
        opts.asked?.push(r);
        // Listening for cancellation while the call runs, as StoreClient does.
        const onAbort = () => {};
        call.signal?.addEventListener('abort', onAbort);
        try {
          for (const [i, f] of frames.entries()) {
            await opts.before?.(i);
            if (f instanceof Error) throw f;
            yield f;
          }
        } finally {
          call.signal?.removeEventListener('abort', onAbort);
        }
      },
    } as unknown as Endpoint['client'],
  };
}

const proxyOver = (...eps: Endpoint[]) => new ProxyStore({ endpoints: () => eps, unavailable: () => [] } as unknown as EndpointSet);
const req = (strategy: PartialResponseStrategy) => seriesRequest({ minTime: 0, maxTime: 1000, partialResponseStrategy: strategy, withoutReplicaLabels: ['replica'] });
const names = (got: LabeledSeries[]) => got.map((s) => [s.labels.toString(), s.chunks.map((c) => c.minTime)]);

describe('ProxyStore.streamSeries', () => {
  it("keeps only the shard's series of an endpoint that cannot shard, by the labels they are answered with, and asks it for all of them", async () => {
    const all = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    const shardInfo = { shardIndex: 1, totalShards: 3, by: false, labels: [] };
    const shard = ShardMatcher.of(shardInfo) as ShardMatcher;
    const inShard = all.filter((n) => shard.matches(Labels.from({ __name__: n })));
    expect(inShard.length).toBeGreaterThan(0);
    expect(inShard.length).toBeLessThan(all.length);
    for (const strips of [true, false]) {
      const asked: SeriesRequest[] = [];
      const old = endpoint('old', [{ batch: all.map((n) => series(n, strips ? '' : 'r1', 0)) }], { stripsReplicaLabels: strips, asked });
      // One that shards is trusted with its answer.
      const sharding = endpoint('new', [{ batch: [series('z', '', 0)] }], { shards: true });
      const got: LabeledSeries[] = [];
      await proxyOver(old, sharding).streamSeries({ ...req(PartialResponseStrategy.ABORT), shardInfo, limit: 2 }, { signal: new AbortController().signal }, (s) => got.push(s));
      expect(got.map((s) => s.labels.get('__name__'))).toEqual([...inShard, 'z']);
      // Its first series are not the shard's first: no limit asked of it.
      expect(asked[0]?.limit).toBe(0);
    }
  });

  it('hands on each series once every endpoint has sent past it, before slower endpoints finish', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    // The fast endpoint strips replica labels itself; the slow one does not, so its answer joins at its end.
    const fast = endpoint('fast', [{ batch: [series('a', '', 0), series('c', '', 0)] }]);
    const slow = endpoint('slow', [{ batch: [series('b', 'r1', 10)] }], {
      before: () => gate,
      stripsReplicaLabels: false,
    });
    const got: LabeledSeries[] = [];
    const done = proxyOver(fast, slow).streamSeries(req(PartialResponseStrategy.ABORT), { signal: new AbortController().signal }, (s) => got.push(s));
    await new Promise((r) => setTimeout(r, 20));
    expect(got).toEqual([]); // the slow endpoint could still send something before "a"
    release();
    await done;
    expect(names(got)).toEqual([
      ['{__name__="a"}', [0]],
      ['{__name__="b"}', [10]],
      ['{__name__="c"}', [0]],
    ]);
  });

  it('streams series of endpoints that strip replica labels while another still sends', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const one = endpoint('one', [{ batch: [series('a', '', 0), series('b', '', 0)] }, { batch: [series('d', '', 0)] }], { before: (i) => (i === 1 ? gate : Promise.resolve()) });
    const two = endpoint('two', [{ batch: [series('a', '', 5), series('c', '', 0)] }]);
    const got: LabeledSeries[] = [];
    const done = proxyOver(one, two).streamSeries(req(PartialResponseStrategy.ABORT), { signal: new AbortController().signal }, (s) => got.push(s));
    await new Promise((r) => setTimeout(r, 20));
    expect(names(got)).toEqual([['{__name__="a"}', [0, 5]]]);
    release();
    await done;
    expect(names(got).map(([n]) => n)).toEqual(['{__name__="a"}', '{__name__="b"}', '{__name__="c"}', '{__name__="d"}']);
  });

  it('asks every endpoint at once, however many there are (as Thanos), without a listener leak warning on the signal they share', async () => {
    // Each endpoint answers only once all twelve have been asked.
    let asked = 0;
    let allAsked: () => void = () => {};
    const everyone = new Promise<void>((r) => (allAsked = r));
    const before = () => {
      if (++asked === 12) allAsked();
      return everyone;
    };
    const eps = Array.from({ length: 12 }, (_, i) => endpoint(`e${i}`, [{ batch: [series(`m${String(i).padStart(2, '0')}`, '', 0)] }], { before }));
    const got: LabeledSeries[] = [];
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      await proxyOver(...eps).streamSeries(req(PartialResponseStrategy.ABORT), { signal: new AbortController().signal }, (s) => got.push(s));
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(got).toHaveLength(12);
    expect(warnings).not.toContain('MaxListenersExceededWarning');
  });

  it('passes a limit on only to endpoints that strip replica labels themselves (the others sort by them)', async () => {
    const asked: SeriesRequest[] = [];
    const strips = endpoint('strips', [{ batch: [series('a', '', 0)] }], { asked });
    const old = endpoint('old', [{ batch: [series('a', 'r0', 5), series('a', 'r1', 7)] }], { asked, stripsReplicaLabels: false });
    await proxyOver(strips, old).streamSeries({ ...req(PartialResponseStrategy.ABORT), limit: 3 }, { signal: new AbortController().signal }, () => {});
    expect(asked.map((r) => r.limit).sort()).toEqual([0, 3]);
  });

  it('fails with the error of the reader of the series, after the endpoints are done', async () => {
    const one = endpoint('one', [{ batch: [series('a', '', 0), series('b', '', 0)] }]);
    let calls = 0;
    const call = proxyOver(one).streamSeries(req(PartialResponseStrategy.WARN), { signal: new AbortController().signal }, () => {
      calls++;
      throw new Error('corrupt chunk');
    });
    await expect(call).rejects.toThrow('corrupt chunk');
    expect(calls).toBe(1);
  });

  it('under WARN keeps what a failing endpoint sent before it failed, with a warning; ABORT fails', async () => {
    const failing = () => endpoint('bad', [{ batch: [series('a', '', 0)] }, new Error('connection reset') as unknown as SeriesResponse]);
    const good = () => endpoint('good', [{ batch: [series('b', '', 0)] }]);
    const got: LabeledSeries[] = [];
    const res = await proxyOver(failing(), good()).streamSeries(req(PartialResponseStrategy.WARN), { signal: new AbortController().signal }, (s) => got.push(s));
    expect(names(got).map(([n]) => n)).toEqual(['{__name__="a"}', '{__name__="b"}']);
    expect(res.warnings).toEqual(['fetch series for store bad: connection reset']);
    await expect(proxyOver(failing(), good()).streamSeries(req(PartialResponseStrategy.ABORT), { signal: new AbortController().signal }, () => {})).rejects.toThrow(
      'connection reset',
    );
  });
});

describe('ProxyStore replicas', () => {
  const labelled = (address: string, labels: Record<string, string>, frames: SeriesResponse[]) => ({ ...endpoint(address, frames), labelSets: [Labels.from(labels)] });

  it('names the replica of each chunk by its endpoint, none where the endpoint has no replica label (deduplicated history)', async () => {
    const history = labelled('store', { cluster: 'a' }, [{ batch: [series('x', '', 0)] }]);
    const r0 = labelled('sidecar-r0', { cluster: 'a', replica: 'r0' }, [{ batch: [series('x', '', 100)] }]);
    const r1 = labelled('sidecar-r1', { cluster: 'a', replica: 'r1' }, [{ batch: [series('x', '', 105)] }]);
    const got: LabeledSeries[] = [];
    await proxyOver(history, r0, r1).streamSeries(req(PartialResponseStrategy.ABORT), { signal: new AbortController().signal }, (s) => got.push(s));
    expect(got.map((s) => s.replicaOf)).toEqual([[undefined, '{cluster="a", replica="r0"}', '{cluster="a", replica="r1"}']]);
  });
});

describe('ProxyStore with an unavailable endpoint', () => {
  const down: UnavailableEndpoint = { address: 'store:1', labelSets: [Labels.from({ replica: 'r0' })], minTime: 0, maxTime: 500, lastError: 'connect ECONNREFUSED' };
  const proxy = new ProxyStore({ endpoints: () => [endpoint('up', [{ batch: [series('a', '', 0)] }])], unavailable: () => [down] } as unknown as EndpointSet);

  it('answers from the others with a warning naming it under WARN, and fails under ABORT', async () => {
    const got: LabeledSeries[] = [];
    const { warnings } = await proxy.streamSeries(req(PartialResponseStrategy.WARN), { signal: new AbortController().signal }, (s) => got.push(s));
    expect(names(got)).toEqual([['{__name__="a"}', [0]]]);
    expect(warnings).toEqual(['fetch series for store store:1 with labels {replica="r0"}: endpoint unavailable: connect ECONNREFUSED']);
    await expect(proxy.fetchSeries(req(PartialResponseStrategy.ABORT), { signal: new AbortController().signal })).rejects.toThrow(/store:1.*endpoint unavailable/);
  });

  it('says nothing of it where its time range or external labels rule its data out', async () => {
    const later = seriesRequest({ minTime: 600, maxTime: 1000, partialResponseStrategy: PartialResponseStrategy.ABORT });
    expect((await proxy.fetchSeries(later, { signal: new AbortController().signal })).warnings).toEqual([]);
    const otherReplica = seriesRequest({ minTime: 0, maxTime: 1000, matchers: [{ type: 0, name: 'replica', value: 'r1' }], partialResponseStrategy: PartialResponseStrategy.ABORT });
    expect((await proxy.fetchSeries(otherReplica, { signal: new AbortController().signal })).warnings).toEqual([]);
  });
});
