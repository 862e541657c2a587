// PrometheusStore with a stand-in Prometheus: how the remote read and the order check overlap, and how
// blocks read from disk and the head read remotely are joined.
import { nopLogger } from '@strata/runtime';
import { type CallContext, decodeSeriesResponse, encodeSeriesResponse, GrpcStatus, ProtoWriter, putVarint32, seriesRequest, StoreError, type StoreSeries } from '@strata/storeapi';
import { chunkDataByteNear } from '@strata/testing/corrupt';
import { tempDir } from '@strata/testing/process';
import { ArraySampleIterator, BlockWriter, crc32c, Labels } from '@strata/tsdb';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Counter, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SeriesLimits } from '@strata/storeapi';
import { LocalBlocks } from './localblocks.js';
import type { PrometheusClient, RemoteReadResponse } from './promclient.js';
import { STREAMED_CONTENT_TYPE } from '@strata/storeapi';
import { ORDER_CHECK_AFTER_BYTES, ORDER_CHECK_AFTER_SERIES, PrometheusStore, withExternal, type PrometheusState } from './store.js';

/** One streamed remote-read frame holding the series `job="<name>"` (and `labels`) with one XOR chunk. */
function frame(name: string, labels: Record<string, string> = {}, chunk: Uint8Array = Buffer.from([0, 1, 2])): Buffer {
  const w = new ProtoWriter();
  w.fork(1);
  for (const l of Labels.from({ ...labels, job: name })) w.fork(1).string(1, l.name).string(2, l.value).ldelim();
  w.fork(2).int64(1, 1000).int64(2, 2000).uint32(3, 1).bytes(4, chunk).ldelim();
  w.ldelim();
  const payload = w.finish();
  const head = Buffer.alloc(9);
  const p = putVarint32(head, 0, payload.length);
  head.writeUInt32BE(crc32c(payload) >>> 0, p);
  return Buffer.concat([head.subarray(0, p + 4), payload]);
}

describe('PrometheusStore.series', () => {
  it('reads the remote-read response while the order check is still waiting for Prometheus', async () => {
    let bodyRead: () => void = () => {};
    const bodyDone = new Promise<void>((resolve) => (bodyRead = resolve));
    // More series than are read before Prometheus is asked about their order.
    const names = Array.from({ length: ORDER_CHECK_AFTER_SERIES + 10 }, (_, i) => `s${String(i).padStart(3, '0')}`);
    const prometheus = {
      async remoteRead(): Promise<RemoteReadResponse> {
        async function* body() {
          for (const n of names) yield frame(n);
          bodyRead();
        }
        return { contentType: STREAMED_CONTENT_TYPE, body: body(), cancel: () => {}, recycle: () => {} };
      },
      // Answers only once the whole response has been read: a store that waited for it would hang.
      async labelNames() {
        await bodyDone;
        return ['job'];
      },
    } as unknown as PrometheusClient;
    const store = new PrometheusStore({ prometheus, state: () => ({ extLabels: Labels.from([{ name: 'cluster', value: 'x' }]), minTime: 0 }) });
    const ctx: CallContext = { signal: new AbortController().signal };
    const read = async () => {
      const got: string[] = [];
      for await (const f of store.series(seriesRequest({ minTime: 0, maxTime: 10_000, matchers: [{ type: 0, name: 'job', value: 'a' }] }), ctx)) {
        if ('series' in f) got.push(f.series.labels.map((l) => `${l.name}=${l.value}`).join(','));
      }
      return got;
    };
    let timer: NodeJS.Timeout | undefined;
    const stuck = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('Series waited for the order check before reading')), 2_000)));
    try {
      expect(await Promise.race([read(), stuck])).toEqual(names.map((n) => `cluster=x,job=${n}`));
    } finally {
      clearTimeout(timer);
    }
  });
});

describe('PrometheusStore.series, a short response', () => {
  it('is sorted by its final labels without asking Prometheus, also where external labels change the order', async () => {
    // Prometheus sorts by stored labels: {job="a"} before {job="a", k="2"}. With replica="r0" added the
    // second sorts first (k < replica), although no stored label name is an external one.
    let asked = false;
    const prometheus = {
      async remoteRead(): Promise<RemoteReadResponse> {
        async function* body() {
          yield frame('a');
          yield frame('a', { k: '2' });
          yield frame('b');
        }
        return { contentType: STREAMED_CONTENT_TYPE, body: body(), cancel: () => {}, recycle: () => {} };
      },
      async labelNames() {
        asked = true;
        return ['job', 'k'];
      },
    } as unknown as PrometheusClient;
    const store = new PrometheusStore({ prometheus, state: () => ({ extLabels: Labels.from({ replica: 'r0' }), minTime: 0 }) });
    const got: string[] = [];
    for await (const f of store.series(seriesRequest({ minTime: 0, maxTime: 10_000, matchers: [{ type: 2, name: 'job', value: '.+' }] }), { signal: new AbortController().signal })) {
      if ('series' in f) got.push(f.series.labels.map((l) => `${l.name}=${l.value}`).join(','));
    }
    expect(got).toEqual(['job=a,k=2,replica=r0', 'job=a,replica=r0', 'job=b,replica=r0']);
    expect(asked).toBe(false);
  });
});

describe('PrometheusStore.series, a few large series', () => {
  it('asks Prometheus about their order once ORDER_CHECK_AFTER_BYTES have been read, not after ORDER_CHECK_AFTER_SERIES', async () => {
    let askedAfter = -1;
    let framesSent = 0;
    const big = Buffer.alloc(ORDER_CHECK_AFTER_BYTES / 2);
    const prometheus = {
      async remoteRead(): Promise<RemoteReadResponse> {
        async function* body() {
          for (const n of ['a', 'b', 'c', 'd']) {
            framesSent++;
            yield frame(n, {}, big);
          }
        }
        return { contentType: STREAMED_CONTENT_TYPE, body: body(), cancel: () => {}, recycle: () => {} };
      },
      async labelNames() {
        askedAfter = framesSent;
        return ['job'];
      },
    } as unknown as PrometheusClient;
    const store = new PrometheusStore({ prometheus, state: () => ({ extLabels: Labels.from({ replica: 'r0' }), minTime: 0 }) });
    const got: string[] = [];
    for await (const f of store.series(seriesRequest({ minTime: 0, maxTime: 10_000, matchers: [{ type: 2, name: 'job', value: '.+' }] }), { signal: new AbortController().signal })) {
      if ('series' in f) got.push(Labels.from(f.series.labels).toString());
    }
    expect(got).toEqual(['a', 'b', 'c', 'd'].map((job) => `{job="${job}", replica="r0"}`));
    // The second series' chunks reach the threshold; it is known to be whole once the third begins.
    expect(askedAfter).toBe(3);
  });
});

describe('PrometheusStore.series, a long response', () => {
  it('streams in its final labels order where series extend others and external labels reorder them', async () => {
    // Prometheus' order, by stored labels: {job="a"}, {job="a", k="1"}, {job="a", k="2"}, {job="a", z="1"},
    // then more jobs. With replica="r0" added, the k series sort before {job="a"} and z after it.
    const stored: [string, Record<string, string>][] = [['a', {}], ['a', { k: '1' }], ['a', { k: '2' }], ['a', { z: '1' }]];
    for (let i = 0; i < ORDER_CHECK_AFTER_SERIES + 10; i++) {
      const job = `b${String(i).padStart(3, '0')}`;
      stored.push([job, {}], [job, { k: '1' }]);
    }
    const prometheus = {
      async remoteRead(): Promise<RemoteReadResponse> {
        async function* body() {
          for (const [job, labels] of stored) yield frame(job, labels);
        }
        return { contentType: STREAMED_CONTENT_TYPE, body: body(), cancel: () => {}, recycle: () => {} };
      },
      // No stored name is an external one: Prometheus' order is streamed.
      async labelNames() {
        return ['job', 'k', 'z'];
      },
    } as unknown as PrometheusClient;
    const ext = Labels.from({ replica: 'r0' });
    const store = new PrometheusStore({ prometheus, state: () => ({ extLabels: ext, minTime: 0 }) });
    const got: string[] = [];
    for await (const f of store.series(seriesRequest({ minTime: 0, maxTime: 10_000, matchers: [{ type: 2, name: 'job', value: '.+' }] }), { signal: new AbortController().signal })) {
      if ('series' in f) got.push(Labels.from(f.series.labels).toString());
    }
    const want = stored.map(([job, labels]) => Labels.from({ ...labels, job }).merge(ext)).sort(Labels.compare).map((l) => l.toString());
    expect(got).toEqual(want);
    expect(got.slice(0, 4)).toEqual(['{job="a", k="1", replica="r0"}', '{job="a", k="2", replica="r0"}', '{job="a", replica="r0"}', '{job="a", replica="r0", z="1"}']);
  });
});

describe('PrometheusStore.series, deduplicating', () => {
  it('streams where the replica labels dropped are external ones', async () => {
    // The body stops once the order check could have been answered and goes on only when a series has
    // been sent: a store that held every series to sort them would never send one.
    let sent: () => void = () => {};
    const firstSent = new Promise<void>((resolve) => (sent = resolve));
    const stored: [string, Record<string, string>][] = [];
    for (let i = 0; i < 2 * ORDER_CHECK_AFTER_SERIES; i++) {
      const job = `j${String(i).padStart(3, '0')}`;
      stored.push([job, {}], [job, { k: '1' }]);
    }
    const prometheus = {
      async remoteRead(): Promise<RemoteReadResponse> {
        async function* body() {
          for (const [i, [job, labels]] of stored.entries()) {
            if (i === ORDER_CHECK_AFTER_SERIES + 10) await firstSent;
            yield frame(job, labels);
          }
        }
        return { contentType: STREAMED_CONTENT_TYPE, body: body(), cancel: () => {}, recycle: () => {} };
      },
      async labelNames() {
        return ['job', 'k'];
      },
    } as unknown as PrometheusClient;
    const ext = Labels.from({ cluster: 'c', replica: 'r0' });
    const store = new PrometheusStore({ prometheus, state: () => ({ extLabels: ext, minTime: 0 }) });
    const got: string[] = [];
    const req = seriesRequest({ minTime: 0, maxTime: 10_000, matchers: [{ type: 2, name: 'job', value: '.+' }], withoutReplicaLabels: ['replica'] });
    const read = async () => {
      for await (const f of store.series(req, { signal: new AbortController().signal })) {
        if ('series' in f) got.push(Labels.from(f.series.labels).toString());
        sent();
      }
    };
    let timer: NodeJS.Timeout | undefined;
    const stuck = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('Series held the response to sort it')), 2_000)));
    try {
      await Promise.race([read(), stuck]);
    } finally {
      clearTimeout(timer);
    }
    const want = stored.map(([job, labels]) => Labels.from({ ...labels, job, cluster: 'c' })).sort(Labels.compare).map((l) => l.toString());
    expect(got).toEqual(want);
  });
});

describe('PrometheusStore.series, a selector asked for again', () => {
  it('asks about the order at once when its last response was long, and forgets it once short', async () => {
    // Each call records how many frames of its body had been read when Prometheus was asked (-1: never).
    let framesRead = 0;
    let askedAfter = -1;
    let frames = 0;
    const prometheus = {
      async remoteRead(): Promise<RemoteReadResponse> {
        async function* body() {
          for (let i = 0; i < frames; i++) {
            framesRead++;
            yield frame(`j${String(i).padStart(3, '0')}`);
          }
        }
        return { contentType: STREAMED_CONTENT_TYPE, body: body(), cancel: () => {}, recycle: () => {} };
      },
      async labelNames() {
        askedAfter = framesRead;
        return ['job'];
      },
    } as unknown as PrometheusClient;
    const store = new PrometheusStore({ prometheus, state: () => ({ extLabels: Labels.from({ replica: 'r0' }), minTime: 0 }) });
    const call = async (matcher: string, n: number) => {
      frames = n;
      framesRead = 0;
      askedAfter = -1;
      let got = 0;
      for await (const f of store.series(seriesRequest({ minTime: 0, maxTime: 10_000, matchers: [{ type: 2, name: 'job', value: matcher }] }), { signal: new AbortController().signal })) {
        if ('series' in f) got++;
      }
      expect(got).toBe(n);
      return askedAfter;
    };
    const long = ORDER_CHECK_AFTER_SERIES + 10;
    expect(await call('j.*', long)).toBe(ORDER_CHECK_AFTER_SERIES + 1);
    expect(await call('j.*', long)).toBe(0); // asked before the body was read
    expect(await call('.+', long)).toBe(ORDER_CHECK_AFTER_SERIES + 1); // another selector
    expect(await call('j.*', 3)).toBe(0); // asked at once, its answer unused: the response is sorted here
    expect(await call('j.*', 3)).toBe(-1); // short last time: not asked
  });
});

describe('withExternal', () => {
  const L = (o: Record<string, string>) => Labels.from(o);
  it('merges sorted external labels in, external winning on a clash, as Labels.merge does', () => {
    const cases: [Record<string, string>, Record<string, string>][] = [
      [{ __name__: 'up', job: 'a', zone: 'z' }, { cluster: 'c', replica: 'r0' }],
      [{ __name__: 'up', replica: 'stored' }, { cluster: 'c', replica: 'r0' }],
      [{ a: '1' }, { b: '2' }],
      [{ b: '2' }, { a: '1' }],
      [{ a: '1', b: '2' }, {}],
      [{}, { a: '1' }],
      [{ cluster: 'stored', job: 'j' }, { cluster: 'ext' }],
    ];
    for (const [stored, ext] of cases) {
      const got = withExternal(L(stored).toArray(), L(ext).toArray());
      expect(got.toArray()).toEqual(L(stored).merge(L(ext)).toArray());
    }
    // Labels as no Prometheus sends them (unsorted, repeated, empty values) come out as Labels.merge makes them.
    const ext = L({ cluster: 'c', replica: 'r0' });
    const odd = [
      [{ name: 'job', value: 'j' }, { name: '__name__', value: 'up' }],
      [{ name: 'a', value: '1' }, { name: 'a', value: '2' }],
      [{ name: 'a', value: '' }, { name: 'b', value: '2' }],
    ];
    for (const stored of odd) expect(withExternal(stored, ext.toArray()).toArray()).toEqual(Labels.from(stored).merge(ext).toArray());
  });
});

describe('PrometheusStore.series over blocks on disk and the head', () => {
  const S = 1000;
  let work: { path: string; cleanup: () => Promise<void> };
  let blocks: LocalBlocks;

  beforeAll(async () => {
    work = await tempDir('strata-sidecar-store-');
    // One block of [0, 10s) with series a and c, a sample every second.
    const w = await BlockWriter.create(work.path, { chunkRange: 120 * S, range: { minTime: 0, maxTime: 10 * S } });
    const ts = Array.from({ length: 10 }, (_, i) => i * S);
    for (const job of ['a', 'c']) await w.addSeries(Labels.from({ job }), new ArraySampleIterator(ts, ts.map(() => 1)));
    await w.close();
    blocks = await LocalBlocks.open({ dir: work.path, registry: new Registry(), logger: nopLogger });
    await blocks.sync(Labels.from({ replica: 'r0' }));
  });

  afterAll(async () => {
    await blocks?.close();
    await work?.cleanup();
  });

  /** A Prometheus whose head holds `remoteJobs` (one chunk of one sample each), noting in `remoteFrom` where each remote read began. */
  const withHead = (remoteJobs: readonly string[], remoteFrom: number[] = []) =>
    ({
      async remoteRead(q: { startMs: number }): Promise<RemoteReadResponse> {
        remoteFrom.push(q.startMs);
        async function* body() {
          for (const n of remoteJobs) yield frame(n);
        }
        return { contentType: STREAMED_CONTENT_TYPE, body: body(), cancel: () => {}, recycle: () => {} };
      },
      async labelNames() {
        return ['job'];
      },
    }) as unknown as PrometheusClient;

  /** Each series sent (labels: chunks as [minTime, maxTime]), and where each remote read began. */
  const read = async (state: PrometheusState, sources?: Counter<'source'>, from: LocalBlocks = blocks, remoteJobs: readonly string[] = ['a', 'b']) => {
    const remoteFrom: number[] = [];
    const prometheus = withHead(remoteJobs, remoteFrom);
    const store = new PrometheusStore({ prometheus, state: () => state, blocks: from, ...(sources !== undefined ? { sources } : {}) });
    const got: string[] = [];
    const add = (sent: StoreSeries) => {
      const f = decodeSeriesResponse(encodeSeriesResponse({ series: sent }));
      const s = 'series' in f ? f.series : sent;
      got.push(`${s.labels.map((l) => `${l.name}=${l.value}`).join(',')}: ${s.chunks.map((c) => `[${c.minTime / S}, ${c.maxTime / S}]`).join(' ')}`);
    };
    for await (const f of store.series(seriesRequest({ minTime: 0, maxTime: 20 * S, matchers: [{ type: 2, name: 'job', value: '.+' }] }), { signal: new AbortController().signal })) {
      if ('run' in f) f.run.forEach(add);
      else if ('series' in f) add(f.series);
    }
    return { got, remoteFrom };
  };

  it('sends the blocks up to their end, the head after it, a series in both once with its block chunks first', async () => {
    expect(await read({ extLabels: Labels.from({ replica: 'r0' }), minTime: 0 })).toEqual({
      got: ['job=a,replica=r0: [0, 9] [1, 2]', 'job=b,replica=r0: [1, 2]', 'job=c,replica=r0: [0, 9]'],
      remoteFrom: [10 * S],
    });
  });

  it('answers by remote read alone where a block was deleted since the last sync, having sent nothing from disk', async () => {
    const extra = await BlockWriter.create(work.path, { chunkRange: 120 * S, range: { minTime: 10 * S, maxTime: 20 * S } });
    await extra.addSeries(Labels.from({ job: 'c' }), new ArraySampleIterator([10 * S], [1]));
    const { ulid } = await extra.close();
    await blocks.sync(Labels.from({ replica: 'r0' }));
    expect(blocks.end).toBe(20 * S);
    await rm(join(work.path, ulid), { recursive: true });
    const sources = new Counter({ name: 'calls', help: 'calls', labelNames: ['source'], registers: [] });
    expect(await read({ extLabels: Labels.from({ replica: 'r0' }), minTime: 0 }, sources)).toEqual({
      got: ['job=a,replica=r0: [1, 2]', 'job=b,replica=r0: [1, 2]'],
      // The head's read, begun with the blocks', is left for one of everything.
      remoteFrom: [20 * S, 0],
    });
    expect((await sources.get()).values).toEqual([{ labels: { source: 'block_failed' }, value: 1 }]);
    await blocks.sync(Labels.from({ replica: 'r0' }));
    expect(blocks.end).toBe(10 * S);
  });

  it('fails a call that reads a chunk whose CRC does not match, naming the block, rather than serve the damage through remote read', async () => {
    const d = await tempDir('strata-sidecar-corrupt-');
    const w = await BlockWriter.create(d.path, { chunkRange: 120 * S, range: { minTime: 0, maxTime: 10 * S } });
    const ts = Array.from({ length: 10 }, (_, i) => i * S);
    await w.addSeries(Labels.from({ job: 'a' }), new ArraySampleIterator(ts, ts.map((t) => t / 7)));
    const { ulid } = await w.close();
    const segment = join(d.path, ulid, 'chunks', '000001');
    const bytes = await readFile(segment);
    bytes[chunkDataByteNear(bytes, 8)]! ^= 0xff;
    await writeFile(segment, bytes);
    const damaged = await LocalBlocks.open({ dir: d.path, registry: new Registry(), logger: nopLogger });
    try {
      await damaged.sync(Labels.from({ replica: 'r0' }));
      await expect(read({ extLabels: Labels.from({ replica: 'r0' }), minTime: 0 }, undefined, damaged)).rejects.toThrow(new RegExp(`block ${ulid}: .*checksum`));
    } finally {
      await damaged.close();
      await d.cleanup();
    }
  });

  it('answers by remote read alone a call whose blocks would hold more chunk bytes than allowed', async () => {
    const small = await LocalBlocks.open({ dir: work.path, registry: new Registry(), logger: nopLogger, chunkBytes: 16 });
    try {
      await small.sync(Labels.from({ replica: 'r0' }));
      const sources = new Counter({ name: 'calls', help: 'calls', labelNames: ['source'], registers: [] });
      expect(await read({ extLabels: Labels.from({ replica: 'r0' }), minTime: 0 }, sources, small)).toEqual({
        got: ['job=a,replica=r0: [1, 2]', 'job=b,replica=r0: [1, 2]'],
        remoteFrom: [10 * S, 0],
      });
      expect((await sources.get()).values).toEqual([{ labels: { source: 'too_large' }, value: 1 }]);
    } finally {
      await small.close();
    }
  });

  /**
   * A block of `series` series of one chunk each (reads of chunks take 4,096), served by LocalBlocks
   * that may hold `share` of its chunk bytes at once, with a head holding the same series.
   */
  const readBounded = async (series: number, share: number) => {
    const d = await tempDir('strata-sidecar-bounded-');
    const jobs = Array.from({ length: series }, (_, i) => `s${String(i).padStart(5, '0')}`);
    const w = await BlockWriter.create(d.path, { chunkRange: 120 * S, range: { minTime: 0, maxTime: 10 * S } });
    for (const job of jobs) await w.addSeries(Labels.from({ job }), new ArraySampleIterator([0], [1]));
    const { ulid } = await w.close();
    const { size } = await stat(join(d.path, ulid, 'chunks', '000001'));
    const bounded = await LocalBlocks.open({ dir: d.path, registry: new Registry(), logger: nopLogger, chunkBytes: Math.floor(size * share) });
    try {
      await bounded.sync(Labels.from({ replica: 'r0' }));
      const sources = new Counter({ name: 'calls', help: 'calls', labelNames: ['source'], registers: [] });
      const { got, remoteFrom } = await read({ extLabels: Labels.from({ replica: 'r0' }), minTime: 0 }, sources, bounded, jobs);
      // Every series once, in order.
      expect(got.map((g) => g.slice(0, g.indexOf(':')))).toEqual(jobs.map((j) => `job=${j},replica=r0`));
      // Those from the block, joined with the head's; the rest by remote read.
      const fromBlock = got.filter((g) => g.endsWith(': [0, 0] [1, 2]')).length;
      expect(got.slice(fromBlock).every((g) => g.endsWith(': [1, 2]'))).toBe(true);
      return { fromBlock, remoteFrom, sources: (await sources.get()).values };
    } finally {
      await bounded.close();
      await d.cleanup();
    }
  };

  it('sends series as their chunks are read, and where a later read fails, the series after the last one sent through remote read', async () => {
    // Two reads, of 82% and 18% of the chunk bytes; room for 90%.
    expect(await readBounded(5000, 0.9)).toEqual({ fromBlock: 4096, remoteFrom: [10 * S, 0], sources: [{ labels: { source: 'too_large' }, value: 1 }] });
  });

  it('serves from blocks a call of more chunk bytes than it may hold at once, giving back what it has sent', async () => {
    // Six reads of a sixth of the chunk bytes each; room for 70%: the first four, then one more as each is sent.
    expect(await readBounded(6 * 4096, 0.7)).toEqual({ fromBlock: 6 * 4096, remoteFrom: [10 * S], sources: [{ labels: { source: 'blocks' }, value: 1 }] });
  });

  it('fails a call that would send more series or samples than --store.limits.request-* allow with ResourceExhausted naming the flag, blocks and head counted together', async () => {
    const dropped = new Counter({ name: 'dropped', help: 'dropped', labelNames: ['reason'], registers: [] });
    /** "N series" when the call is answered whole, else the gRPC status and the flag its error names. */
    const call = async (limits: SeriesLimits, minTime: number, maxTime: number): Promise<string> => {
      const store = new PrometheusStore({ prometheus: withHead(['a', 'b']), state: () => ({ extLabels: Labels.from({ replica: 'r0' }), minTime: 0 }), blocks, limits, dropped });
      let sent = 0;
      try {
        for await (const f of store.series(seriesRequest({ minTime, maxTime, matchers: [{ type: 2, name: 'job', value: '.+' }] }), { signal: new AbortController().signal })) {
          sent += 'run' in f ? f.run.length : 'series' in f ? 1 : 0;
        }
        return `${sent} series`;
      } catch (e) {
        if (!(e instanceof StoreError)) throw e;
        // The sidecar's own flag, without the store gateway's former names.
        return `${GrpcStatus[e.code]} ${/\((--store\.limits\.request-\w+)\)/.exec(e.message)?.[1]}`;
      }
    };
    const series = 'RESOURCE_EXHAUSTED --store.limits.request-series';
    const samples = 'RESOURCE_EXHAUSTED --store.limits.request-samples';
    // The block alone ([0, 10s)): a and c, 10 samples each.
    expect(await call({ series: 2, samples: 20 }, 0, 10 * S - 1)).toBe('2 series');
    expect(await call({ series: 1, samples: 0 }, 0, 10 * S - 1)).toBe(series);
    expect(await call({ series: 0, samples: 19 }, 0, 10 * S - 1)).toBe(samples);
    // The head alone (remote read from 10s): a and b, 1 sample each.
    expect(await call({ series: 2, samples: 2 }, 10 * S, 20 * S)).toBe('2 series');
    expect(await call({ series: 1, samples: 0 }, 10 * S, 20 * S)).toBe(series);
    expect(await call({ series: 0, samples: 1 }, 10 * S, 20 * S)).toBe(samples);
    // Both: a (10 + 1 samples, sent once), b (1) and c (10); each part alone is within the limits below.
    expect(await call({ series: 3, samples: 22 }, 0, 20 * S)).toBe('3 series');
    expect(await call({ series: 2, samples: 0 }, 0, 20 * S)).toBe(series);
    expect(await call({ series: 0, samples: 21 }, 0, 20 * S)).toBe(samples);
    expect((await dropped.get()).values).toEqual([
      { labels: { reason: 'series' }, value: 3 },
      { labels: { reason: 'samples' }, value: 3 },
    ]);
  });

  it('reads through remote read from where out-of-order samples may still be in the head only', async () => {
    const { got, remoteFrom } = await read({ extLabels: Labels.from({ replica: 'r0' }), minTime: 0, headOnlyFrom: 5 * S });
    expect(remoteFrom).toEqual([5 * S]);
    // The blocks up to 5s: their chunks as they are, whole.
    expect(got).toEqual(['job=a,replica=r0: [0, 9] [1, 2]', 'job=b,replica=r0: [1, 2]', 'job=c,replica=r0: [0, 9]']);
  });
});
