import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { type CallContext, exemplarsRequest, GrpcStatus, MAX_INT64, MIN_INT64, StoreError } from '@strata/storeapi';
import { type Label, Labels, Matcher } from '@strata/tsdb';
import { BLOCK, BLOCK_START, localTsdbFixture, MINUTE } from '@strata/testing/localtsdb';
import { LocalTSDB, type SeriesSamples } from './db.js';
import { EXEMPLAR_MAX_LABELS_LENGTH, type Exemplar, ExemplarStorage } from './exemplars.js';

/** Ten minutes into a 2 h block (a fixed time). */
const T0 = BLOCK_START + 10 * MINUTE;
const EXT = Labels.from({ replica: 'r1' });
const ctx: CallContext = { signal: new AbortController().signal };
const ALL = [[new Matcher('=~', '__name__', '.+')]];

const fx = localTsdbFixture('strata-exemplars-', { blockDurationMs: BLOCK, retentionMs: 0, externalLabels: EXT, maxExemplars: 3 });


const series = (name: string, extra: Record<string, string> = {}) => Labels.from({ __name__: name, ...extra });

/** An exemplar of one trace. */
const ex = (ts: number, value = 1, trace = `t${ts}`): Exemplar => ({ labels: [{ name: 'trace_id', value: trace }], value, ts });

/** What a storage selects, as `{labels}: [ts, ...]`. */
function selected(storage: ExemplarStorage, mint = -Infinity, maxt = Infinity, matcherSets: readonly (readonly Matcher[])[] = ALL): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const s of storage.select(mint, maxt, matcherSets)) {
    const key = s.labels.toString();
    expect(out[key], `${key} selected twice`).toBeUndefined();
    out[key] = s.exemplars.map((e) => e.ts);
  }
  return out;
}

/** A label value of `n` copies of `c`. */
const repeat = (c: string, n: number) => Array.from({ length: n }, () => c).join('');

/** The store's Exemplars API answer: `{series labels}` → exemplars, the series sorted by their labels. */
async function queryExemplars(db: LocalTSDB, query: string, start = 0, end = MAX_INT64): Promise<[string, Exemplar[]][]> {
  const call = db.store.exemplars;
  if (call === undefined) throw new Error('no Exemplars API');
  const res = await call(exemplarsRequest({ query, start, end }), ctx);
  expect(res.warnings).toEqual([]);
  return res.data.map((d): [string, Exemplar[]] => [Labels.from(d.seriesLabels).toString(), d.exemplars]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The value of an unlabelled metric in the registry's exposition. */
async function metric(registry: Registry, name: string): Promise<number | undefined> {
  const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

async function exemplarMetrics(registry: Registry): Promise<Record<string, number | undefined>> {
  return {
    appended: await metric(registry, 'prometheus_tsdb_exemplar_exemplars_appended_total'),
    outOfOrder: await metric(registry, 'prometheus_tsdb_exemplar_out_of_order_exemplars_total'),
    inStorage: await metric(registry, 'prometheus_tsdb_exemplar_exemplars_in_storage'),
    max: await metric(registry, 'prometheus_tsdb_exemplar_max_exemplars'),
  };
}

describe('ExemplarStorage', () => {
  it('evicts the oldest exemplar of all series when full, a series going with its last one, the others keeping theirs in order', () => {
    const s = new ExemplarStorage(3);
    const [a, b, c] = [series('a'), series('b'), series('c')];
    expect(s.add(a, ex(1))).toBe('added');
    expect(s.add(b, ex(2))).toBe('added');
    expect(s.add(a, ex(3))).toBe('added');
    expect(selected(s)).toEqual({ '{__name__="a"}': [1, 3], '{__name__="b"}': [2] });

    // a's oldest goes; a keeps its newer one.
    expect(s.add(c, ex(4))).toBe('added');
    expect(selected(s)).toEqual({ '{__name__="a"}': [3], '{__name__="b"}': [2], '{__name__="c"}': [4] });
    // b's only one goes, and b with it.
    expect(s.add(c, ex(5))).toBe('added');
    expect(selected(s)).toEqual({ '{__name__="a"}': [3], '{__name__="c"}': [4, 5] });
    expect(s.select(-Infinity, Infinity, [[Matcher.equal('__name__', 'b')]])).toEqual([]);
    // A series evicting its own oldest keeps the rest of its chain.
    expect(s.add(c, ex(6))).toBe('added');
    expect(selected(s)).toEqual({ '{__name__="c"}': [4, 5, 6] });
    expect(s.add(c, ex(7))).toBe('added');
    expect(selected(s)).toEqual({ '{__name__="c"}': [5, 6, 7] });
    // A series gone takes exemplars again, from any time (it has no newest to follow), and b's earlier one is no longer there to refuse it.
    expect(s.add(b, ex(1))).toBe('added');
    expect(s.add(a, ex(8))).toBe('added');
    expect(selected(s)).toEqual({ '{__name__="b"}': [1], '{__name__="a"}': [8], '{__name__="c"}': [7] });
    expect(s.select(-Infinity, Infinity, [[Matcher.equal('__name__', 'c')]])[0]?.exemplars).toEqual([ex(7)]);
  });

  it('drops an exemplar equal to its series’ newest as a duplicate (a NaN value never equal, as Go compares) and refuses one not later than it as out of order', () => {
    const s = new ExemplarStorage(10);
    const a = series('a');
    const b = series('b');
    expect(s.add(a, ex(100, 1, 'x'))).toBe('added');
    expect(s.add(a, ex(100, 1, 'x'))).toBe('duplicate');
    // Same time, another value or other labels: out of order.
    expect(s.add(a, ex(100, 2, 'x'))).toBe('outOfOrder');
    expect(s.add(a, ex(100, 1, 'y'))).toBe('outOfOrder');
    expect(s.add(a, { labels: [], value: 1, ts: 100 })).toBe('outOfOrder');
    // Earlier: out of order, even when equal to an older one of the series.
    expect(s.add(a, ex(99, 1, 'x'))).toBe('outOfOrder');
    expect(s.add(a, ex(200, Number.NaN, 'x'))).toBe('added');
    expect(s.add(a, ex(200, Number.NaN, 'x'))).toBe('outOfOrder');
    // Only the newest counts: the older one resent is out of order.
    expect(s.add(a, ex(100, 1, 'x'))).toBe('outOfOrder');
    // Another series is not compared with a's.
    expect(s.add(b, ex(200, Number.NaN, 'x'))).toBe('added');
    expect(s.add(b, ex(150, 1, 'x'))).toBe('outOfOrder');
    expect(s.add(a, ex(201, 1, 'x'))).toBe('added');
    expect(selected(s)).toEqual({ '{__name__="a"}': [100, 200, 201], '{__name__="b"}': [200] });
    expect(s.size).toBe(4);
    // `check` tells without adding.
    expect(s.check(a, ex(300))).toBe('added');
    expect(s.check(a, ex(201, 1, 'x'))).toBe('duplicate');
    expect(s.check(a, ex(5))).toBe('outOfOrder');
    expect(s.size).toBe(4);
  });

  it('refuses exemplars whose label names and values are longer than 128 characters together, counting characters, not bytes or UTF-16 units', () => {
    expect(EXEMPLAR_MAX_LABELS_LENGTH).toBe(128);
    const s = new ExemplarStorage(10);
    const a = series('a');
    const labels = (...l: [string, string][]): Label[] => l.map(([name, value]) => ({ name, value }));
    // 'trace_id' is 8 characters.
    expect(s.add(a, { labels: labels(['trace_id', repeat('x', 121)]), value: 1, ts: 1 })).toBe('labelsTooLong');
    expect(s.add(a, { labels: labels(['trace_id', repeat('x', 120)]), value: 1, ts: 2 })).toBe('added');
    // Names count, summed over the labels: 8 + 60 + 7 + 54 = 129, then 128.
    expect(s.add(a, { labels: labels(['trace_id', repeat('x', 60)], ['span_id', repeat('y', 54)]), value: 1, ts: 3 })).toBe('labelsTooLong');
    expect(s.add(a, { labels: labels(['trace_id', repeat('x', 60)], ['span_id', repeat('y', 53)]), value: 1, ts: 4 })).toBe('added');
    // 'é' is 2 bytes in UTF-8, '😀' 4 bytes and 2 UTF-16 units: one character each.
    expect(s.add(a, { labels: labels(['é', repeat('😀', 127)]), value: 1, ts: 5 })).toBe('added');
    expect(s.add(a, { labels: labels(['é', repeat('😀', 128)]), value: 1, ts: 6 })).toBe('labelsTooLong');
    expect(s.add(a, { labels: labels(['id', `${repeat('é', 63)}${repeat('😀', 63)}`]), value: 1, ts: 7 })).toBe('added');
    expect(s.add(a, { labels: labels(['id', `${repeat('é', 64)}${repeat('😀', 63)}`]), value: 1, ts: 8 })).toBe('labelsTooLong');
    // Too long is told before anything else, even for what would be a duplicate.
    const long: Exemplar = { labels: labels(['id', repeat('z', 127)]), value: 1, ts: 7 };
    expect(s.add(a, long)).toBe('labelsTooLong');
    expect(selected(s)).toEqual({ '{__name__="a"}': [2, 4, 5, 7] });
  });

  it('selects the exemplars in [mint, maxt] of the series any of the matcher sets selects, each series once, oldest first', () => {
    const s = new ExemplarStorage(20);
    const ax = series('a', { job: 'x' });
    const bx = series('b', { job: 'x' });
    const by = series('b', { job: 'y' });
    const c = series('c');
    for (const t of [10, 20, 30]) s.add(ax, ex(t));
    for (const t of [15, 25]) s.add(bx, ex(t));
    s.add(by, ex(5));
    s.add(c, ex(40));

    // Inclusive at both ends; series with none in the range are left out.
    expect(selected(s, 15, 25)).toEqual({ '{__name__="a", job="x"}': [20], '{__name__="b", job="x"}': [15, 25] });
    expect(selected(s, 20, 20)).toEqual({ '{__name__="a", job="x"}': [20] });
    expect(selected(s, 41, 100)).toEqual({});
    expect(selected(s, 30, 10)).toEqual({});
    expect(selected(s)).toEqual({ '{__name__="a", job="x"}': [10, 20, 30], '{__name__="b", job="x"}': [15, 25], '{__name__="b", job="y"}': [5], '{__name__="c"}': [40] });

    // The union of the matcher sets, a series two of them select given once.
    const eq = Matcher.equal;
    expect(selected(s, 0, 100, [[eq('__name__', 'a')], [eq('__name__', 'b'), eq('job', 'x')]])).toEqual({ '{__name__="a", job="x"}': [10, 20, 30], '{__name__="b", job="x"}': [15, 25] });
    expect(selected(s, 0, 100, [[eq('job', 'x')], [new Matcher('=~', '__name__', 'a|b')], [eq('__name__', 'a')]])).toEqual({
      '{__name__="a", job="x"}': [10, 20, 30],
      '{__name__="b", job="x"}': [15, 25],
      '{__name__="b", job="y"}': [5],
    });
    // A missing label is empty.
    expect(selected(s, 0, 100, [[eq('job', '')]])).toEqual({ '{__name__="c"}': [40] });
    expect(selected(s, 0, 100, [[eq('__name__', 'nope')]])).toEqual({});
    expect(selected(s, 0, 100, [])).toEqual({});
    // The exemplars as they were added.
    expect(s.select(25, 25, [[eq('__name__', 'b')]])).toEqual([{ labels: bx, exemplars: [ex(25)] }]);
  });

  it('grows in size up to max and stays there', () => {
    const s = new ExemplarStorage(3);
    expect(s.max).toBe(3);
    const sizes = [s.size];
    for (let t = 1; t <= 7; t++) {
      s.add(series(t % 2 === 0 ? 'a' : 'b'), ex(t));
      sizes.push(s.size);
    }
    expect(sizes).toEqual([0, 1, 2, 3, 3, 3, 3, 3]);
    // Refused ones take no room.
    s.add(series('a'), ex(1));
    expect(s.size).toBe(3);
    const one = new ExemplarStorage(1);
    expect(one.add(series('a'), ex(1))).toBe('added');
    expect(one.add(series('a'), ex(2))).toBe('added');
    expect(one.add(series('b'), ex(3))).toBe('added');
    expect(one.size).toBe(1);
    expect(selected(one)).toEqual({ '{__name__="b"}': [3] });
    expect(one.add(series('a'), ex(1))).toBe('added');
    expect(selected(one)).toEqual({ '{__name__="a"}': [1] });
  });

  it('refuses to be made with no room', () => {
    for (const max of [0, -1, Number.NaN]) expect(() => new ExemplarStorage(max)).toThrow(RangeError);
  });
});

describe('LocalTSDB exemplars', () => {
  it('keeps the exemplars of a series there is or that the call creates, and drops those of a series that gets no sample', async () => {
    const db = await fx.openDB();
    const a = series('a');
    const r = db.appendSeries([
      { labels: a, samples: [{ timestamp: T0, value: 1 }], exemplars: [ex(T0, 1)] },
      { labels: series('ghost'), samples: [], exemplars: [ex(T0, 2)] },
    ]);
    expect(r.appended).toBe(1);
    // A series there is takes exemplars without samples.
    db.appendSeries([{ labels: a, samples: [], exemplars: [ex(T0 + 1000, 3)] }]);
    // A series whose only samples are refused is not created: nor are its exemplars kept.
    expect(db.appendSeries([{ labels: series('late'), samples: [{ timestamp: T0 - BLOCK, value: 1 }], exemplars: [ex(T0 - BLOCK)] }]).outOfBounds).toBe(1);
    // A series created by an earlier entry of the call takes the exemplars of a later one.
    db.appendSeries([
      { labels: series('b'), samples: [{ timestamp: T0, value: 1 }] },
      { labels: series('b'), samples: [], exemplars: [ex(T0 + 5)] },
    ]);
    expect(await queryExemplars(db, '{__name__=~".+"}')).toEqual([
      ['{__name__="a", replica="r1"}', [ex(T0, 1), ex(T0 + 1000, 3)]],
      ['{__name__="b", replica="r1"}', [ex(T0 + 5)]],
    ]);
  });

  it('refuses an exemplar of a call not later than one before it in the call, or than the stored newest, and counts it', async () => {
    const registry = new Registry();
    const db = await fx.openDB({ registry, maxExemplars: 10 });
    const a = series('a');
    db.appendSeries([{ labels: a, samples: [{ timestamp: T0, value: 1 }], exemplars: [ex(T0 + 2000, 1), ex(T0 + 1500, 2), ex(T0 + 2000, 1), ex(T0 + 3000, 3)] }]);
    expect(await queryExemplars(db, 'a')).toEqual([['{__name__="a", replica="r1"}', [ex(T0 + 2000, 1), ex(T0 + 3000, 3)]]]);
    expect(await exemplarMetrics(registry)).toMatchObject({ appended: 2, outOfOrder: 1 });

    // Against the stored newest: at its time with another value, or earlier; and in a later entry of the call for the same series.
    db.appendSeries([
      { labels: a, samples: [], exemplars: [ex(T0 + 3000, 4), ex(T0 + 3000, 3)] },
      { labels: a, samples: [{ timestamp: T0 + 1000, value: 2 }], exemplars: [ex(T0 + 4000), ex(T0 + 2500)] },
      { labels: a, samples: [], exemplars: [ex(T0 + 3500)] },
    ]);
    expect(await queryExemplars(db, 'a')).toEqual([['{__name__="a", replica="r1"}', [ex(T0 + 2000, 1), ex(T0 + 3000, 3), ex(T0 + 4000)]]]);
    expect(await exemplarMetrics(registry)).toMatchObject({ appended: 3, outOfOrder: 4 });
  });

  it('serves the exemplars of the series the query’s selectors select, with the external labels, in the time range asked', async () => {
    const db = await fx.openDB({ maxExemplars: 10 });
    const ax = series('a', { job: 'x' });
    const bx = series('b', { job: 'x' });
    const by = series('b', { job: 'y' });
    // A series' own label the external labels name is overridden, as for its samples.
    const clash = series('c', { replica: 'own' });
    db.appendSeries([ax, bx, by, clash].map((labels, i): SeriesSamples => ({ labels, samples: [{ timestamp: T0, value: i }], exemplars: [ex(T0 + i), ex(T0 + 100 + i)] })));

    const A = '{__name__="a", job="x", replica="r1"}';
    const BX = '{__name__="b", job="x", replica="r1"}';
    const BY = '{__name__="b", job="y", replica="r1"}';
    expect(await queryExemplars(db, '{__name__="a"} + b{job="x"}')).toEqual([
      [A, [ex(T0), ex(T0 + 100)]],
      [BX, [ex(T0 + 1), ex(T0 + 101)]],
    ]);
    // Each series once, whatever selects it; a function's argument is a selector too.
    expect((await queryExemplars(db, 'sum(rate(b[5m])) / b{job=~"x|y"} or a')).map(([l]) => l)).toEqual([A, BX, BY]);
    expect(await queryExemplars(db, 'c')).toEqual([['{__name__="c", replica="r1"}', [ex(T0 + 3), ex(T0 + 103)]]]);
    // Inclusive time range; series with none in it are left out.
    expect(await queryExemplars(db, 'b', T0 + 2, T0 + 101)).toEqual([
      [BX, [ex(T0 + 101)]],
      [BY, [ex(T0 + 2)]],
    ]);
    expect(await queryExemplars(db, 'b', T0 + 200, T0 + 300)).toEqual([]);
    expect(await queryExemplars(db, 'nope')).toEqual([]);
    expect(await queryExemplars(db, '1 + 1')).toEqual([]);
  });

  it('takes matchers on external labels as Thanos does: matching ones left out, others selecting nothing', async () => {
    const db = await fx.openDB();
    db.appendSeries([{ labels: series('a'), samples: [{ timestamp: T0, value: 1 }], exemplars: [ex(T0)] }]);
    expect(await queryExemplars(db, 'a{replica="r1"}')).toEqual([['{__name__="a", replica="r1"}', [ex(T0)]]]);
    expect(await queryExemplars(db, 'a{replica="r2"}')).toEqual([]);
    expect(await queryExemplars(db, '{replica="r2"}')).toEqual([]);
  });

  it('refuses an unparsable query, or a selector with matchers on external labels alone, as an invalid argument', async () => {
    const db = await fx.openDB();
    const call = db.store.exemplars;
    expect(call).toBeDefined();
    for (const query of ['a{', 'sum(', '{}', '{replica="r1"}']) {
      const err: unknown = await call?.(exemplarsRequest({ query, start: 0, end: MAX_INT64 }), ctx).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, query).toBeInstanceOf(StoreError);
      expect((err as StoreError).code, query).toBe(GrpcStatus.INVALID_ARGUMENT);
    }
  });

  it('advertises and serves exemplars only when it keeps them', async () => {
    const on = await fx.openDB();
    expect((await on.store.info(ctx)).exemplars).toEqual({ minTime: MIN_INT64, maxTime: MAX_INT64 });

    for (const maxExemplars of [undefined, 0]) {
      const registry = new Registry();
      const off = await fx.openDB({ dir: join(fx.dir, `off-${String(maxExemplars)}`), maxExemplars, registry });
      expect(off.store.exemplars).toBeUndefined();
      const info = await off.store.info(ctx);
      expect(info.exemplars).toBeUndefined();
      expect('exemplars' in info).toBe(false);
      // Exemplars sent are dropped, the samples kept.
      expect(off.appendSeries([{ labels: series('a'), samples: [{ timestamp: T0, value: 1 }], exemplars: [ex(T0), ex(T0 - 1)] }]).appended).toBe(1);
      // Nothing counted, nothing held, no room (prom-client shows an unlabelled metric at 0 when it has no value).
      for (const [name, v] of Object.entries(await exemplarMetrics(registry))) expect(v ?? 0, name).toBe(0);
    }
  });

  it('replays its exemplars from the WAL on open, and drops the same ones sent again as duplicates', async () => {
    let db = await fx.openDB();
    const a = series('a');
    const b = series('b', { job: 'x' });
    const multi: Exemplar = { labels: [{ name: 'span_id', value: 's1' }, { name: 'trace_id', value: 'é😀' }], value: 1e-300, ts: T0 + 2 };
    const calls: SeriesSamples[][] = [
      [
        { labels: a, samples: [{ timestamp: T0, value: 1 }], exemplars: [ex(T0, 0.5)] },
        { labels: b, samples: [{ timestamp: T0, value: 2 }], exemplars: [ex(T0 + 1, -3)] },
      ],
      // Exemplars only.
      [{ labels: a, samples: [], exemplars: [multi] }],
    ];
    for (const c of calls) db.appendSeries(c);
    const before = await queryExemplars(db, '{__name__=~"a|b"}');
    expect(before).toEqual([
      ['{__name__="a", replica="r1"}', [ex(T0, 0.5), multi]],
      ['{__name__="b", job="x", replica="r1"}', [ex(T0 + 1, -3)]],
    ]);

    const registry = new Registry();
    db = await fx.reopen(db, { registry });
    expect(await queryExemplars(db, '{__name__=~"a|b"}')).toEqual(before);
    // Replayed, not appended.
    expect(await exemplarMetrics(registry)).toEqual({ appended: 0, outOfOrder: 0, inStorage: 3, max: 3 });

    // Each series' newest sent again (a remote-write retry): dropped, neither appended nor out of order.
    db.appendSeries([
      { labels: a, samples: [{ timestamp: T0, value: 1 }], exemplars: [multi] },
      { labels: b, samples: [{ timestamp: T0, value: 2 }], exemplars: [ex(T0 + 1, -3)] },
    ]);
    expect(await queryExemplars(db, '{__name__=~"a|b"}')).toEqual(before);
    expect(await exemplarMetrics(registry)).toEqual({ appended: 0, outOfOrder: 0, inStorage: 3, max: 3 });
    // An older one than a's newest, resent, is out of order (as in Prometheus, only the newest is compared).
    db.appendSeries(calls[0] as SeriesSamples[]);
    expect(await queryExemplars(db, '{__name__=~"a|b"}')).toEqual(before);
    expect(await exemplarMetrics(registry)).toEqual({ appended: 0, outOfOrder: 1, inStorage: 3, max: 3 });
    // Each series' newest is known again: an earlier one is out of order, a later one taken.
    db.appendSeries([{ labels: b, samples: [], exemplars: [ex(T0), ex(T0 + 10)] }]);
    expect(await exemplarMetrics(registry)).toEqual({ appended: 1, outOfOrder: 2, inStorage: 3, max: 3 });

    // Opened with less room, the newest are kept.
    db = await fx.reopen(db, { maxExemplars: 2 });
    expect(await queryExemplars(db, '{__name__=~"a|b"}')).toEqual([
      ['{__name__="a", replica="r1"}', [multi]],
      ['{__name__="b", job="x", replica="r1"}', [ex(T0 + 10)]],
    ]);
    expect(fx.warnings).toEqual([]);
  });

  it('reports exemplars appended, refused as out of order, held and the room for them', async () => {
    const registry = new Registry();
    const db = await fx.openDB({ registry });
    expect(await exemplarMetrics(registry)).toEqual({ appended: 0, outOfOrder: 0, inStorage: 0, max: 3 });
    const a = series('a');
    db.appendSeries([{ labels: a, samples: [{ timestamp: T0, value: 1 }], exemplars: [ex(T0), ex(T0 + 1)] }]);
    expect(await exemplarMetrics(registry)).toEqual({ appended: 2, outOfOrder: 0, inStorage: 2, max: 3 });
    // A duplicate and a too long one are refused without being counted as out of order.
    const tooLong: Exemplar = { labels: [{ name: 'trace_id', value: repeat('x', 121) }], value: 1, ts: T0 + 5 };
    db.appendSeries([{ labels: a, samples: [], exemplars: [ex(T0 + 1), ex(T0 - 1), tooLong, ex(T0 + 2), ex(T0 + 3), ex(T0 + 3, 2)] }]);
    expect(await exemplarMetrics(registry)).toEqual({ appended: 4, outOfOrder: 2, inStorage: 3, max: 3 });
    expect((await queryExemplars(db, 'a'))[0]?.[1]).toEqual([ex(T0 + 1), ex(T0 + 2), ex(T0 + 3)]);
  });
});
