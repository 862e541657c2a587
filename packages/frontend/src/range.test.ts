import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_MEMCACHED_CLIENT_CONFIG, DEFAULT_REDIS_CLIENT_CONFIG, nopLogger } from '@strata/runtime';
import { startMemcached } from '@strata/testing/memcached';
import { startRedis } from '@strata/testing/redis';
import { sleep } from '@strata/testing/process';
import { parseShardInfoJson, ShardMatcher } from '@strata/storeapi';
import { Labels } from '@strata/tsdb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start, type Frontend } from './frontend.js';
import { DEFAULT_RANGE_OPTIONS } from './frontend.js';
import { splitInterval, type RangeOptions } from './range.js';

const MIN = 60_000;
const DAY = 86_400_000;
const BASE = 20_000 * DAY;

/** Range queries the stand-in querier answered, and the partial_response and shard_info each asked for. */
let asked = 0;
const partialResponses: (string | null)[] = [];
const shardInfos: (string | null)[] = [];
/** The headers of the last request the stand-in querier answered. */
let lastHeaders: Record<string, string | string[] | undefined> = {};

/**
 * A stand-in querier whose range answers follow from the parameters alone: series {s="all"} at every
 * step (its value the step's time), {s="some"} at steps whose minute of the day is below 600. The
 * query `volatile` it answers with Cache-Control: no-store, `warned` with a warning (as an endpoint
 * missing from a partial response gives one) and `informed` with an info (as `rate` of a gauge gives one).
 * The query `retained` has raw data (max_source_resolution auto or none) from the third day on, 5m data
 * from the second and 1h data from the first, as per-resolution retention leaves a bucket; its values
 * say which resolution answered. Asked with shard_info, it answers the shard's series only.
 */
function fakeQuerier(): Server {
  return createServer((req, res) => {
    asked++;
    lastHeaders = req.headers;
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const p = new URLSearchParams(body);
      partialResponses.push(p.get('partial_response'));
      shardInfos.push(p.get('shard_info'));
      const shard = ShardMatcher.of(p.has('shard_info') ? parseShardInfoJson(p.get('shard_info') as string) : undefined);
      const [startS, endS, stepS] = ['start', 'end', 'step'].map((k) => Number(p.get(k)));
      const all: [number, string][] = [];
      const some: [number, string][] = [];
      for (let t = Math.round((startS as number) * 1000); t <= (endS as number) * 1000; t += (stepS as number) * 1000) {
        all.push([t / 1000, String(t)]);
        if ((t % DAY) / MIN < 600) some.push([t / 1000, '1']);
      }
      if (p.get('query') === 'retained') {
        const resolution = p.get('max_source_resolution') ?? 'auto';
        const from = BASE + ({ '300s': 1, '3600s': 0 }[resolution] ?? 2) * DAY;
        const values = all.filter(([t]) => t * 1000 >= from).map(([t]): [number, string] => [t, resolution]);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: values.length > 0 ? [{ metric: { s: 'all' }, values }] : [] } }));
        return;
      }
      // `html` names its one series with the characters Go's JSON escapes.
      const series = p.get('query') === 'html' ? [{ metric: { s: '<&>' }, values: all }] : [{ metric: { s: 'all' }, values: all }, ...(some.length > 0 ? [{ metric: { s: 'some' }, values: some }] : [])];
      const result = series.filter((x) => shard?.matches(Labels.from(x.metric)) ?? true);
      const notes = { warned: { warnings: ['store 127.0.0.1:1 is down'] }, informed: { infos: ['PromQL info: metric might not be a counter (1:6)'] } }[p.get('query') ?? ''];
      res.writeHead(200, { 'content-type': 'application/json', ...(p.get('query') === 'volatile' ? { 'cache-control': 'no-store' } : {}) }).end(JSON.stringify({ status: 'success', data: { resultType: 'matrix', result }, ...notes }));
    });
  });
}

let downstream: Server;
let downstreamUrl: string;
let frontend: Frontend;

beforeAll(async () => {
  downstream = fakeQuerier();
  await new Promise<void>((resolve) => downstream.listen(0, '127.0.0.1', resolve));
  downstreamUrl = `http://127.0.0.1:${(downstream.address() as AddressInfo).port}`;
  // "Now" in the middle of the third day: ranges run into the uncached last minute and past it.
  frontend = await start({ httpAddress: '127.0.0.1:0', downstreamUrl, range: { cacheBytes: 64 << 10 }, logger: nopLogger, now: () => BASE + 2 * DAY + 7 * 3_600_000 + 12_345 });
});

afterAll(async () => {
  await frontend.stop();
  await new Promise((resolve) => downstream.close(resolve));
});

async function rangeAnswer(base: string, start: number, end: number, step: number, opts: { query?: string; headers?: Record<string, string> } = {}): Promise<unknown> {
  const params = new URLSearchParams({ query: opts.query ?? 'x', start: String(start / 1000), end: String(end / 1000), step: String(step / 1000) });
  const res = await fetch(`${base}/api/v1/query_range`, { method: 'POST', body: params, ...(opts.headers !== undefined ? { headers: opts.headers } : {}) });
  return res.json();
}

/** `n` seeded random ranges through the frontend at `base`, each answered as the stand-in querier answers it whole. */
async function expectRandomRanges(base: string, n: number, seed: number): Promise<void> {
  const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  for (let i = 0; i < n; i++) {
    const step = [MIN, 5 * MIN, 7 * MIN][Math.floor(random() * 3)] as number;
    const start = BASE + Math.floor(random() * 3 * DAY);
    const end = start + Math.floor(random() * 1.5 * DAY);
    const aligned = [Math.floor(start / step) * step, Math.floor(end / step) * step] as const;
    expect(await rangeAnswer(base, start, end, step), `${start}..${end} step ${step}`).toEqual(await rangeAnswer(downstreamUrl, ...aligned, step));
  }
}

describe('RangeHandler over a stand-in querier', () => {
  it('answers random ranges through its cache (small, evicting) as the querier answers them whole', async () => {
    await expectRandomRanges(`http://${frontend.httpAddress}`, 150, 7);
    const metrics = await (await fetch(`http://${frontend.httpAddress}/metrics`)).text();
    expect(metrics).toMatch(/strata_frontend_results_cache_lookups_total\{cache="query_range",result="partial"\} [1-9]/);
    expect(metrics).toMatch(/strata_frontend_results_cache_evicted_bytes_total\{cache="query_range"\} [1-9]/);
  });

  it('neither reads nor keeps the cache for a request with Cache-Control: no-store, nor keeps an answer marked so', async () => {
    const base = `http://${frontend.httpAddress}`;
    const ask = async (opts: { query?: string; headers?: Record<string, string> }) => {
      const before = asked;
      await rangeAnswer(base, BASE, BASE + 3_600_000, MIN, opts);
      return asked - before;
    };
    expect(await ask({ query: 'y' })).toBe(1);
    expect(await ask({ query: 'y' })).toBe(0);
    expect(await ask({ query: 'y', headers: { 'cache-control': 'no-store' } })).toBe(1);
    expect(await ask({ query: 'volatile' })).toBe(1);
    expect(await ask({ query: 'volatile' })).toBe(1);
  });

  it('keeps an answer with infos, and says them again from the cache, but not one with warnings (it may be partial)', async () => {
    const base = `http://${frontend.httpAddress}`;
    const ask = async (query: string) => {
      const before = asked;
      const answer = (await rangeAnswer(base, BASE, BASE + 3_600_000, MIN, { query })) as { warnings?: string[]; infos?: string[] };
      return { asked: asked - before, warnings: answer.warnings, infos: answer.infos };
    };
    const informed = { warnings: undefined, infos: ['PromQL info: metric might not be a counter (1:6)'] };
    expect(await ask('informed')).toEqual({ asked: 1, ...informed });
    expect(await ask('informed')).toEqual({ asked: 0, ...informed });
    const warned = { warnings: ['store 127.0.0.1:1 is down'], infos: undefined };
    expect(await ask('warned')).toEqual({ asked: 1, ...warned });
    expect(await ask('warned')).toEqual({ asked: 1, ...warned });
  });

  it("writes a split answer as Prometheus writes JSON: Go's escapes, typed application/json", async () => {
    const params = new URLSearchParams({ query: 'html', start: String(BASE / 1000), end: String((BASE + 2 * DAY) / 1000), step: '3600' });
    const res = await fetch(`http://${frontend.httpAddress}/api/v1/query_range`, { method: 'POST', body: params });
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.text()).toMatch(/^\{"status":"success","data":\{"resultType":"matrix","result":\[\{"metric":\{"s":"\\u003c\\u0026\\u003e"\},"values":\[\[1728000000,"1728000000000"\],/);
  });

  it('asks for a partial response where a request does not say, as --query-range.partial-response sets it', async () => {
    const strict = await start({ httpAddress: '127.0.0.1:0', downstreamUrl, range: { partialResponse: false }, logger: nopLogger });
    try {
      const ask = async (base: string, extra: Record<string, string>) => {
        partialResponses.length = 0;
        const params = new URLSearchParams({ query: 'z', start: String(BASE / 1000), end: String((BASE + 3_600_000) / 1000), step: '60', ...extra });
        await fetch(`${base}/api/v1/query_range`, { method: 'POST', body: params });
        return [...new Set(partialResponses)];
      };
      expect(await ask(`http://${frontend.httpAddress}`, {})).toEqual(['true']);
      expect(await ask(`http://${strict.httpAddress}`, {})).toEqual(['false']);
      expect(await ask(`http://${strict.httpAddress}`, { partial_response: 'true' })).toEqual(['true']);
    } finally {
      await strict.stop();
    }
  });
});

describe('CORS', () => {
  it("answers browsers from other origins as the querier does, the range queries it answers itself included, unless --web.disable-cors", async () => {
    const params = new URLSearchParams({ query: 'x', start: String(BASE / 1000), end: String((BASE + 3_600_000) / 1000), step: '60' });
    const origin = { origin: 'https://dashboards.example' };
    const answered = await fetch(`http://${frontend.httpAddress}/api/v1/query_range?${params}`, { headers: origin });
    expect(answered.status).toBe(200);
    expect(answered.headers.get('access-control-allow-origin')).toBe('*');
    const preflight = await fetch(`http://${frontend.httpAddress}/api/v1/query_range`, { method: 'OPTIONS', headers: { ...origin, 'access-control-request-method': 'POST' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-methods')).toBe('GET, POST, OPTIONS');
    const closed = await start({ httpAddress: '127.0.0.1:0', downstreamUrl, cors: false, logger: nopLogger });
    try {
      const res = await fetch(`http://${closed.httpAddress}/api/v1/query_range?${params}`, { headers: origin });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await closed.stop();
    }
  });
});

describe('--query-frontend.forward-header', () => {
  it('sends on only the headers named, and every one without it', async () => {
    const headers = { authorization: 'Bearer secret', 'x-scope-orgid': 'team-a', 'x-other': '1' };
    const range = [BASE + 3_600_000, BASE + 2 * 3_600_000, MIN] as const;
    await rangeAnswer(`http://${frontend.httpAddress}`, ...range, { query: 'all-headers', headers });
    expect(lastHeaders).toMatchObject(headers);
    const named = await start({ httpAddress: '127.0.0.1:0', downstreamUrl, forwardHeaders: ['X-Scope-OrgID'], logger: nopLogger });
    try {
      await rangeAnswer(`http://${named.httpAddress}`, ...range, { query: 'named-headers', headers });
      expect(lastHeaders['x-scope-orgid']).toBe('team-a');
      expect(lastHeaders.authorization).toBeUndefined();
      expect(lastHeaders['x-other']).toBeUndefined();
      // Passed-through requests too (one with an invalid step goes to the querier whole).
      await fetch(`http://${named.httpAddress}/api/v1/query_range`, { method: 'POST', body: new URLSearchParams({ query: 'x', start: '1', end: '2', step: 'x' }), headers });
      expect(lastHeaders['x-scope-orgid']).toBe('team-a');
      expect(lastHeaders.authorization).toBeUndefined();
    } finally {
      await named.stop();
    }
  });
});

describe('dynamic horizontal splitting (--query-range.min-split-interval, max-split-interval, horizontal-shards)', () => {
  const HOUR = 3_600_000;
  const dynamic = { splitInterval: 0, minSplitInterval: HOUR, maxSplitInterval: DAY, horizontalShards: 4 };

  it("picks the split interval by the range, as Thanos' dynamicIntervalFn", () => {
    const opts = { ...DEFAULT_RANGE_OPTIONS, ...dynamic };
    const at = (length: number) => splitInterval(opts, { start: BASE, end: BASE + length, step: MIN });
    expect(at(3 * DAY)).toBe(DAY);
    expect(at(2 * DAY)).toBe(DAY);
    expect(at(DAY)).toBe(DAY / 4);
    expect(at(12 * HOUR)).toBe(3 * HOUR);
    expect(at(HOUR)).toBe(HOUR);
    expect(at(10 * MIN)).toBe(HOUR);
    expect(splitInterval({ ...opts, splitInterval: DAY }, { start: BASE, end: BASE + 12 * HOUR, step: MIN })).toBe(DAY);
  });

  it('sends a range as that many pieces and answers as the querier does whole, cached by its interval', async () => {
    const f = await start({ httpAddress: '127.0.0.1:0', downstreamUrl, range: { ...dynamic, cacheBytes: 16 << 20 }, logger: nopLogger });
    try {
      const base = `http://${f.httpAddress}`;
      // Pieces end at multiples of the interval since the epoch, as Thanos cuts them: 12h at 3h from 2h is 5.
      for (const [start, end, pieces] of [
        [BASE + 2 * HOUR, BASE + 14 * HOUR, 5],
        [BASE + 2 * HOUR, BASE + 2 * HOUR + 30 * MIN, 1],
        [BASE, BASE + 2 * DAY + 6 * HOUR, 3],
      ] as const) {
        const before = asked;
        expect(await rangeAnswer(base, start, end, MIN, { query: 'dynamic' })).toEqual(await rangeAnswer(downstreamUrl, start, end, MIN, { query: 'dynamic' }));
        expect(asked - before - 1, `${(end - start) / HOUR}h`).toBe(pieces);
        // Again: all from the cache.
        const again = asked;
        await rangeAnswer(base, start, end, MIN, { query: 'dynamic' });
        expect(asked - again).toBe(0);
      }
    } finally {
      await f.stop();
    }
  });

  it("refuses settings Thanos refuses: with a fixed split interval, or without the other two", async () => {
    await expect(start({ httpAddress: '127.0.0.1:0', downstreamUrl, range: { ...dynamic, splitInterval: DAY }, logger: nopLogger })).rejects.toThrow('cannot both be set');
    await expect(start({ httpAddress: '127.0.0.1:0', downstreamUrl, range: { ...dynamic, horizontalShards: 0 }, logger: nopLogger })).rejects.toThrow('needs --query-range.max-split-interval and --query-range.horizontal-shards');
  });
});

describe('--query-frontend.vertical-shards', () => {
  it("sends a shardable query's pieces as one query per shard and puts the shards' answers together", async () => {
    const sharded = await start({ httpAddress: '127.0.0.1:0', downstreamUrl, range: { verticalShards: 3 }, logger: nopLogger });
    try {
      const base = `http://${sharded.httpAddress}`;
      const ask = async (query: string, extra: Record<string, string> = {}) => {
        const params = new URLSearchParams({ query, start: String(BASE / 1000), end: String((BASE + DAY + 3_600_000) / 1000), step: '60', ...extra });
        const before = shardInfos.length;
        const answer: unknown = await (await fetch(`${base}/api/v1/query_range`, { method: 'POST', body: params })).json();
        return { answer, shards: shardInfos.slice(before) };
      };
      const whole = await rangeAnswer(downstreamUrl, BASE, BASE + DAY + 3_600_000, MIN, { query: 'sum by (s) (x)' });
      // Two pieces (split at midnight), three shards each, by the label its aggregation keeps.
      const bySum = await ask('sum by (s) (x)');
      expect(bySum.answer).toEqual(whole);
      expect(bySum.shards.map((j) => parseShardInfoJson(j as string)).sort((a, b) => a.shardIndex - b.shardIndex)).toEqual(
        [0, 0, 1, 1, 2, 2].map((shardIndex) => ({ shardIndex, totalShards: 3, by: true, labels: ['s'] })),
      );
      // Nothing to shard it by: sent whole.
      expect((await ask('sum(x)')).shards).toEqual([null, null]);
      // A request that names its shard is that shard's.
      expect((await ask('x', { shard_info: '{"total_shards":2}' })).shards).toEqual(['{"total_shards":2}', '{"total_shards":2}']);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(/strata_frontend_vertical_sharding_queries_total\{op="query_range",result="sharded"\} 1$/m);
      expect(metrics).toMatch(/strata_frontend_vertical_sharding_queries_total\{op="query_range",result="whole"\} 2$/m);
    } finally {
      await sharded.stop();
    }
  });
});

describe('--query-range.request-downsampled', () => {
  it('fills what max_source_resolution=auto left empty at the start of each piece from 5m, then 1h data', async () => {
    const ask = async (base: string, params: Record<string, string>) => {
      const body = new URLSearchParams({ query: 'retained', start: String(BASE / 1000), end: String((BASE + 3 * DAY - MIN) / 1000), step: '300', ...params });
      const a = (await (await fetch(`${base}/api/v1/query_range`, { method: 'POST', body })).json()) as { data: { result: { values: [number, string][] }[] } };
      return a.data.result.flatMap((s) => s.values);
    };
    const byResolution = (values: [number, string][]) => values.reduce<Record<string, number>>((n, [, r]) => ({ ...n, [r]: (n[r] ?? 0) + 1 }), {});
    const base = `http://${frontend.httpAddress}`;
    const filled = await ask(base, { max_source_resolution: 'auto' });
    // Each day's piece at its best resolution (auto: step / 5, 1m): the first from 1h, the second from 5m, the third raw; every step once, in order.
    expect(byResolution(filled)).toEqual({ '3600s': 288, '300s': 288, auto: 288 });
    expect(filled.map(([t]) => t)).toEqual(Array.from({ length: 864 }, (_, i) => BASE / 1000 + i * 300));
    const extra = /^strata_frontend_downsampled_extra_queries_total (\d+)/m;
    expect(Number(extra.exec(await frontend.registry.metrics())?.[1])).toBe(3);
    // Not for a fixed resolution, nor with the flag off.
    expect(byResolution(await ask(base, { max_source_resolution: '0s' }))).toEqual({ '0s': 288 });
    const plain = await start({ httpAddress: '127.0.0.1:0', downstreamUrl, range: { requestDownsampled: false }, logger: nopLogger });
    try {
      expect(byResolution(await ask(`http://${plain.httpAddress}`, { max_source_resolution: 'auto' }))).toEqual({ auto: 288 });
    } finally {
      await plain.stop();
    }
  });
});

/** A remote cache server for the frontend, and the range options that point it there. */
interface RemoteBackend {
  readonly system: 'memcached' | 'redis';
  start(): Promise<{ address: string; stop(): Promise<void> }>;
  range(address: string): Partial<RangeOptions>;
}

const BACKENDS: RemoteBackend[] = [
  {
    system: 'memcached',
    start: () => startMemcached(),
    range: (address) => ({ remote: { cache: { type: 'MEMCACHED', client: { ...DEFAULT_MEMCACHED_CLIENT_CONFIG, addresses: [address] } }, expirationMs: 3_600_000 } }),
  },
  {
    system: 'redis',
    start: () => startRedis(),
    range: (address) => ({ remote: { cache: { type: 'REDIS', client: { ...DEFAULT_REDIS_CLIENT_CONFIG, addr: address } }, expirationMs: 3_600_000 } }),
  },
];

describe.each(BACKENDS)('RangeHandler with its results in $system', ({ system, start: startServer, range: remoteRange }) => {
  const now = () => BASE + 2 * DAY + 7 * 3_600_000 + 12_345;

  /** Until the frontend's sets so far have been answered (they are sent after the answer). */
  async function setsDone(f: Frontend): Promise<void> {
    for (let i = 0; i < 200; i++) {
      const text = await f.registry.metrics();
      const sent = new RegExp(`^strata_${system}_operations_total\\{name="query-range",operation="set"\\} (\\d+)`, 'm').exec(text)?.[1];
      const failed = [...text.matchAll(new RegExp(`^strata_${system}_operation_failures_total\\{name="query-range",operation="set",reason="[^"]+"\\} (\\d+)`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
      const done = new RegExp(`^strata_${system}_operation_duration_seconds_count\\{name="query-range",operation="set"\\} (\\d+)`, 'm').exec(text)?.[1];
      if (Number(done) + failed === Number(sent)) return;
      await sleep(10);
    }
    throw new Error(`${system} sets did not finish`);
  }

  /** `range` asked of `from`, then of `to` once `from` has stored its pieces: the same answer, without a query more to the querier. */
  async function answeredFromStore(from: Frontend, to: Frontend, range: readonly [number, number, number]): Promise<unknown> {
    const first = await rangeAnswer(`http://${from.httpAddress}`, ...range);
    await setsDone(from);
    const before = asked;
    expect(await rangeAnswer(`http://${to.httpAddress}`, ...range)).toEqual(first);
    expect(asked - before).toBe(0);
    return first;
  }

  it('answers random ranges as the querier does, and a second frontend answers from what the first kept', async () => {
    const server = await startServer();
    const [a, b] = await Promise.all([0, 1].map(() => start({ httpAddress: '127.0.0.1:0', downstreamUrl, range: remoteRange(server.address), logger: nopLogger, now })));
    try {
      await expectRandomRanges(`http://${a!.httpAddress}`, 60, 11);
      await answeredFromStore(a!, b!, [BASE + 3_600_000, BASE + DAY + 5 * 3_600_000, 5 * MIN]);
      expect(await b!.registry.metrics()).toMatch(/strata_frontend_results_cache_lookups_total\{cache="query_range",result="hit"\} 2/);
    } finally {
      await Promise.all([a!.stop(), b!.stop(), server.stop()]);
    }
  });

  it('keeps answers snappy-compressed with --cache-compression-type, apart from uncompressed ones', async () => {
    const server = await startServer();
    const [a, b, c] = await Promise.all(
      (['snappy', 'snappy', ''] as const).map((cacheCompression) => start({ httpAddress: '127.0.0.1:0', downstreamUrl, range: remoteRange(server.address), cacheCompression, logger: nopLogger, now })),
    );
    try {
      const range = [BASE + 3_600_000, BASE + DAY + 5 * 3_600_000, 7 * MIN] as const;
      const first = await answeredFromStore(a!, b!, range);
      // Uncompressed entries live under keys of their own: c finds none of a's.
      const before = asked;
      expect(await rangeAnswer(`http://${c!.httpAddress}`, ...range)).toEqual(first);
      expect(asked - before).toBeGreaterThan(0);
    } finally {
      await Promise.all([a!.stop(), b!.stop(), c!.stop(), server.stop()]);
    }
  });

  it(`answers as the querier does while ${system} is away, each piece a miss`, async () => {
    const f = await start({ httpAddress: '127.0.0.1:0', downstreamUrl, range: remoteRange('127.0.0.1:1'), logger: nopLogger, now });
    try {
      await expectRandomRanges(`http://${f.httpAddress}`, 10, 13);
      expect(await f.registry.metrics()).toMatch(new RegExp(`strata_${system}_operation_failures_total\\{name="query-range",operation="getmulti",reason="network-error"\\} [1-9]`));
    } finally {
      await f.stop();
    }
  });
});
