import { Labels, parseHistogramNotation, type Matcher } from '@strata/tsdb';
import { describe, expect, it } from 'vitest';
import type { Querier, Queryable, SelectHints, SeriesSet } from '../storage.js';
import { MemoryStorage } from '../storage/memory.js';
import type { QueryValue } from '../value.js';
import { Engine } from './engine.js';
import { QueryCanceledError, QueryTimeoutError, TooManySamplesError } from './errors.js';

function storage(series: Record<string, [number, number][]>): MemoryStorage {
  const st = new MemoryStorage();
  for (const [name, samples] of Object.entries(series)) {
    const labels = Labels.from({ __name__: name.split('{')[0] as string, ...(name.includes('{') ? { job: name.slice(name.indexOf('{') + 1, -1) } : {}) });
    for (const [t, v] of samples) st.append(labels, t, v);
  }
  return st;
}

/** A Queryable that answers asynchronously and records what the engine asked for. */
class RecordingQueryable implements Queryable {
  readonly hints: SelectHints[] = [];
  closed = 0;
  constructor(private readonly inner: MemoryStorage) {}
  querier(mint: number, maxt: number): Promise<Querier> {
    const q = this.inner.querier(mint, maxt);
    return Promise.resolve({
      select: async (hints: SelectHints, matchers: readonly Matcher[]): Promise<SeriesSet> => {
        this.hints.push(hints);
        await new Promise((r) => setTimeout(r, 1));
        return q.select(hints, matchers);
      },
      close: () => {
        this.closed++;
      },
    });
  }
}

function values(v: QueryValue): number[] {
  if (v.type === 'vector') return v.samples.map((s) => s.f);
  if (v.type === 'scalar') return [v.v];
  if (v.type === 'matrix') return v.series.flatMap((s) => s.floats.map((p) => p.f));
  return [];
}

const every15s = (n: number, f: (i: number) => number): [number, number][] => Array.from({ length: n }, (_, i) => [i * 15_000, f(i)]);

describe('Engine', () => {
  it('passes Prometheus-style select hints and closes the querier', async () => {
    const q = new RecordingQueryable(storage({ x_total: every15s(40, (i) => i) }));
    await new Engine().rangeQuery(q, 'sum by (job) (rate(x_total[5m] offset 1m))', 600_000, 660_000, 30_000);
    expect(q.hints).toEqual([{ start: 600_000 - 60_000 - 300_000, end: 660_000 - 60_000, step: 30_000, func: 'rate', range: 300_000, grouping: ['job'], by: true }]);
    expect(q.closed).toBe(1);
  });

  it('uses closed boundaries in 2.x mode and left-open ones in 3.x mode', async () => {
    const st = storage({ c_total: every15s(20, (i) => i) });
    const at60 = async (compat: 2 | 3, q: string): Promise<number[]> => values((await new Engine({ compat }).instantQuery(st, q, 60_000)).value);
    expect(await at60(2, 'count_over_time(c_total[1m])')).toEqual([5]);
    expect(await at60(3, 'count_over_time(c_total[1m])')).toEqual([4]);
    expect(await at60(2, 'count_over_time(c_total[1m:15s])')).toEqual([5]);
    expect(await at60(3, 'count_over_time(c_total[1m:15s])')).toEqual([4]);
  });

  it('extrapolates rates in the order of each version', async () => {
    // Zero point (10s before the first sample) lies between half the average interval and the threshold.
    const st = storage({ c_total: [[20_000, 10], [35_000, 25], [50_000, 40]] });
    const inc = async (compat: 2 | 3): Promise<number[]> => values((await new Engine({ compat }).instantQuery(st, 'increase(c_total[50s])', 50_000)).value);
    expect(await inc(2)).toEqual([40]);
    expect(await inc(3)).toEqual([37.5]);
  });

  it('sums plainly in 2.x mode and with compensation in 3.x mode', async () => {
    const st = new MemoryStorage();
    [1e100, 1, -1e100].forEach((v, i) => st.append(Labels.from({ __name__: 'x', i: String(i) }), 0, v));
    expect(values((await new Engine({ compat: 2 }).instantQuery(st, 'sum(x)', 0)).value)).toEqual([0]);
    expect(values((await new Engine({ compat: 3 }).instantQuery(st, 'sum(x)', 0)).value)).toEqual([1]);
  });

  it('matches nothing and checks nothing at a step where one side of a vector operation is empty, as Prometheus', async () => {
    const st = new MemoryStorage();
    for (const i of ['a', 'b']) st.append(Labels.from({ __name__: 'dup', i }), 0, 1);
    st.append(Labels.from({ __name__: 'x' }), 60_000, 1);
    // At 0 the left side is empty: no error for the duplicates on the right.
    expect((await new Engine().instantQuery(st, 'x == on() group_left dup', 0)).value).toEqual({ type: 'vector', samples: [] });
    // Where both sides have samples, the duplicates fail the query: 2.x names this one and the one before it, 3.x both sorted.
    const fail = (compat: 2 | 3) => new Engine({ compat }).instantQuery(st, 'x * on() group_left dup', 60_000);
    await expect(fail(2)).rejects.toThrow('match group {} on the right hand-side of the operation: [{__name__="dup", i="b"}, {__name__="dup", i="a"}]');
    await expect(fail(3)).rejects.toThrow('match group {} on the right hand-side of the operation: [{__name__="dup", i="a"}, {__name__="dup", i="b"}]');
  });

  it('finds a many-to-one match before a comparison filters it in 3.x mode, and only among the kept pairs in 2.x', async () => {
    const st = new MemoryStorage();
    [1, 2].forEach((v, i) => st.append(Labels.from({ __name__: 'many', i: String(i), job: 'a' }), 0, v));
    st.append(Labels.from({ __name__: 'one', job: 'a' }), 0, 5);
    const q = 'many == on(job) one';
    expect((await new Engine({ compat: 2 }).instantQuery(st, q, 0)).value).toEqual({ type: 'vector', samples: [] });
    await expect(new Engine({ compat: 3 }).instantQuery(st, q, 0)).rejects.toThrow('multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)');
    await expect(new Engine({ compat: 2 }).instantQuery(st, 'many != on(job) one', 0)).rejects.toThrow('multiple matches for labels');
  });

  it("compiles label_replace's regex as Prometheus, anchored only, and names only the pattern when it fails", async () => {
    const st = new MemoryStorage();
    st.append(Labels.from({ __name__: 'x', c: 'ab' }), 0, 1);
    const at0 = async (q: string) => ((await new Engine({ compat: 2 }).instantQuery(st, q, 0)).value as Extract<QueryValue, { type: 'vector' }>).samples.map((s) => s.labels.get('d'));
    // Inside `^(?:…)$` the stray `)` closes the anchoring group: `^(?:a)|(b)$` matches a leading a.
    expect(await at0('label_replace(x, "d", "y", "c", "a)|(b")')).toEqual(['y']);
    await expect(new Engine({ compat: 2 }).instantQuery(st, 'label_replace(x, "d", "y", "c", "(")', 0)).rejects.toThrow(/^invalid regular expression in label_replace\(\): \($/);
  });

  it("refuses a topk of NaN as each version words it (2.42 as an int64 overflow), and infinities in Go's %v", async () => {
    const st = new MemoryStorage();
    await expect(new Engine({ compat: 2 }).instantQuery(st, 'topk(NaN, x)', 0)).rejects.toThrow(/^Scalar value NaN overflows int64$/);
    await expect(new Engine({ compat: 3 }).instantQuery(st, 'topk(NaN, x)', 0)).rejects.toThrow(/^Parameter value is NaN$/);
    await expect(new Engine({ compat: 2 }).instantQuery(st, 'bottomk(-Inf, x)', 0)).rejects.toThrow(/^Scalar value -Inf overflows int64$/);
    await expect(new Engine({ compat: 2 }).instantQuery(st, 'topk(1e19, x)', 0)).rejects.toThrow(/^Scalar value 1e\+19 overflows int64$/);
  });

  it('count_values without its own label counts all values of a group together, as Prometheus', async () => {
    const st = new MemoryStorage();
    [1, 2, 2].forEach((v, i) => st.append(Labels.from({ __name__: 'x', i: String(i), job: 'a' }), 0, v));
    const at0 = async (q: string) => ((await new Engine().instantQuery(st, q, 0)).value as Extract<QueryValue, { type: 'vector' }>).samples.map((s) => `${s.labels.toString()} ${s.f}`).sort();
    expect(await at0('count_values without (i, le) ("le", x)')).toEqual(['{job="a"} 3']);
    expect(await at0('count_values without (i) ("le", x)')).toEqual(['{job="a", le="1"} 1', '{job="a", le="2"} 2']);
    expect(await at0('count_values by (le) ("le", x)')).toEqual(['{le="1"} 1', '{le="2"} 2']);
  });

  it("reads sample values as dates as Prometheus' time.Unix(int64(v)) on amd64, NaN, ±Inf and values past int64 at its lowest", async () => {
    const st = new MemoryStorage();
    const at0 = async (q: string): Promise<number[]> => values((await new Engine().instantQuery(st, q, 0)).value);
    // Checked against Prometheus 2.42 on this machine.
    for (const q of ['year(vector(NaN))', 'year(vector(Inf))', 'year(vector(-1e19))']) expect(await at0(q)).toEqual([292277026596]);
    expect(await at0('year(vector(1e19))')).toEqual([292277026596]);
    expect(await at0('year(vector(9e18))')).toEqual([285198648531]);
    expect(await at0('year(vector(-9.22337203e18))')).toEqual([292277026814]);
    expect(await at0('year(vector(1e13))')).toEqual([318857]);
    expect(await at0('month(vector(1e17))')).toEqual([9]);
    expect(await at0('day_of_week(vector(NaN))')).toEqual([0]);
    expect(await at0('year(vector(-62135596801))')).toEqual([0]);
  });

  it('evaluates @ pinned expressions once and repeats them at every step', async () => {
    const st = storage({ x: every15s(40, (i) => i) });
    const r = await new Engine().rangeQuery(st, 'x @ 100 + 0 * x', 300_000, 420_000, 60_000);
    expect(values(r.value)).toEqual([6, 6, 6]);
  });

  it('fails with Prometheus\' error when a query needs too many samples', async () => {
    const st = storage({ x: every15s(100, (i) => i) });
    await expect(new Engine({ maxSamples: 10 }).rangeQuery(st, 'x', 0, 1_000_000, 15_000)).rejects.toThrow(TooManySamplesError);
    await expect(new Engine({ maxSamples: 10 }).rangeQuery(st, 'x', 0, 1_000_000, 15_000)).rejects.toThrow(
      'query processing would load too many samples into memory in query execution',
    );
  });

  it('stops on abort and on timeout', async () => {
    const st = storage({ x: every15s(10, (i) => i) });
    const ac = new AbortController();
    ac.abort();
    await expect(new Engine().instantQuery(st, 'x', 0, { signal: ac.signal })).rejects.toThrow(QueryCanceledError);
    await expect(new Engine({ timeout: -1 }).instantQuery(st, 'x', 0)).rejects.toThrow(QueryTimeoutError);
    // A request's timeout=0 has run out at once, as Prometheus' context (503 "query timed out in query execution").
    await expect(new Engine({ timeout: 0 }).instantQuery(st, 'x', 0)).rejects.toThrow(new QueryTimeoutError('query execution'));
  });

  it('hands selection a signal that fires on timeout and on abort', async () => {
    // A store that answers only when told to stop, and says when a select has started.
    let selecting: () => void = () => undefined;
    const started = new Promise<void>((resolve) => {
      selecting = resolve;
    });
    const hanging: Queryable = {
      querier: () => ({
        select: (_h: SelectHints, _m: readonly Matcher[], signal?: AbortSignal) =>
          new Promise<SeriesSet>((_resolve, reject) => {
            selecting();
            if (signal?.aborted === true) reject(new Error('select aborted'));
            signal?.addEventListener('abort', () => reject(new Error('select aborted')));
          }),
        close: () => undefined,
      }),
    };
    await expect(new Engine({ timeout: 20 }).instantQuery(hanging, 'x', 0)).rejects.toThrow(new QueryTimeoutError('query preparation'));
    const ac = new AbortController();
    const q = new Engine().instantQuery(hanging, 'x', 0, { signal: ac.signal });
    await started;
    ac.abort();
    await expect(q).rejects.toThrow(new QueryCanceledError('query preparation'));
  });

  it('reports samples read and peak samples', async () => {
    const st = storage({ x: every15s(10, (i) => i) });
    const r = await new Engine().instantQuery(st, 'sum_over_time(x[1m])', 60_000);
    expect(r.stats.samplesRead).toBe(4);
    expect(r.stats.peakSamples).toBeGreaterThanOrEqual(4);
  });

  it('counts a histogram as Prometheus does in statistics and the max-samples limit: by its size', async () => {
    const st = new MemoryStorage();
    // 168 bytes + 8 per span and bucket (1 + 3) + 8 for the time = 208 bytes = 13 samples of 16 bytes.
    for (let i = 0; i < 10; i++) st.appendHistogram(Labels.from({ __name__: 'h' }), i * 15_000, parseHistogramNotation(`{{schema:0 count:${i} sum:1 buckets:[1 1 1]}}`));
    const r = await new Engine().instantQuery(st, 'count_over_time(h[1m])', 60_000);
    expect(r.stats.samplesRead).toBe(4 * 13);
    expect(r.stats.peakSamples).toBeGreaterThanOrEqual(4 * 13);
    expect((await new Engine().instantQuery(st, 'h', 60_000)).stats.samplesRead).toBe(13);
    await expect(new Engine({ maxSamples: 40 }).instantQuery(st, 'count_over_time(h[1m])', 60_000)).rejects.toThrow(TooManySamplesError);
  });

  it('removes metric names at once by default and at the end with delayed name removal', async () => {
    const st = new MemoryStorage();
    for (const name of ['a_total', 'b_total']) for (let i = 0; i < 5; i++) st.append(Labels.from({ __name__: name, env: '1' }), i * 15_000, i);
    const q = 'label_replace(rate({env="1"}[1m]), "metric", "$1", "__name__", "(.+)")';
    await expect(new Engine().instantQuery(st, q, 60_000)).rejects.toThrow('vector cannot contain metrics with the same labelset');
    const r = await new Engine({ delayedNameRemoval: true }).instantQuery(st, q, 60_000);
    if (r.value.type !== 'vector') throw new Error(r.value.type);
    expect(r.value.samples.map((s) => s.labels.toString()).sort()).toEqual(['{env="1", metric="a_total"}', '{env="1", metric="b_total"}']);
    const named = await new Engine({ delayedNameRemoval: true }).instantQuery(st, 'label_replace(-a_total, "__name__", "neg", "", "")', 60_000);
    if (named.value.type !== 'vector') throw new Error(named.value.type);
    expect(named.value.samples.map((s) => s.labels.toString())).toEqual(['{__name__="neg", env="1"}']);
  });

  it('rejects range queries of range vectors with Prometheus\' message', async () => {
    await expect(new Engine().rangeQuery(new MemoryStorage(), 'x[5m]', 0, 60_000, 15_000)).rejects.toThrow(
      'invalid expression type "range vector" for range query, must be Scalar or instant Vector',
    );
  });

  it('notes possible non-counters in 3.x mode', async () => {
    const st = storage({ x: every15s(10, (i) => i) });
    const r = await new Engine().instantQuery(st, 'rate(x[1m])', 60_000);
    expect(r.annotations).toEqual(['PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: "x" (1:6)']);
  });

  it('limit_ratio splits the series by their labels hash, the same at every step', async () => {
    const st = new MemoryStorage();
    for (let k = 0; k < 200; k++) for (let t = 0; t <= 60_000; t += 15_000) st.append(Labels.from({ __name__: 'x', k: String(k) }), t, k);
    const engine = new Engine();
    const keys = async (q: string, t = 60_000): Promise<string[]> => {
      const r = await engine.instantQuery(st, q, t);
      return r.value.type === 'vector' ? r.value.samples.map((s) => s.labels.get('k')).sort() : [];
    };
    const all = await keys('x');
    const low = await keys('limit_ratio(0.3, x)');
    const high = await keys('limit_ratio(-0.7, x)');
    // Complements: together every series, exactly once; roughly in proportion.
    expect([...low, ...high].sort()).toEqual(all);
    expect(low.length).toBeGreaterThan(30);
    expect(low.length).toBeLessThan(90);
    expect(await keys('limit_ratio(0.3, x)', 15_000)).toEqual(low);
    expect(await keys('limit_ratio(0.5, x)')).toEqual(expect.arrayContaining(low));
    expect(await keys('limit_ratio(0, x)')).toEqual([]);
    expect(await keys('limit_ratio(1, x)')).toEqual(all);
    const capped = await engine.instantQuery(st, 'limit_ratio(-1.5, x)', 60_000);
    expect(capped.value.type === 'vector' && capped.value.samples.length).toBe(200);
    expect(capped.annotations).toEqual(['PromQL warning: ratio value should be between -1 and 1, got -1.5, capping to -1 (1:13)']);
    await expect(engine.instantQuery(st, 'limit_ratio(NaN, x)', 60_000)).rejects.toThrow('Ratio value is NaN');
  });
});

describe('topk and bottomk', () => {
  it('choose at each step the first k series of a stable sort by value, NaN last, ties in label order', async () => {
    let seed = 5;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const values = [1, 2, 2, 3, NaN, Infinity, -Infinity, 0, -0, 5.5];
    const names = Array.from({ length: 14 }, (_, j) => `x{${String(j).padStart(2, '0')}}`);
    const data: Record<string, [number, number][]> = {};
    for (const n of names) data[n] = Array.from({ length: 20 }, (_, i): [number, number] => [i * 60_000, values[Math.floor(rnd() * values.length)] as number]);
    const st = storage(data);
    for (const op of ['topk', 'bottomk'] as const) {
      for (const k of [1, 2, 3, 8, 9, 13, 20]) {
        const r = await new Engine().rangeQuery(st, `${op}(${k}, x)`, 0, 19 * 60_000, 60_000);
        if (r.value.type !== 'matrix') throw new Error('expected a matrix');
        const got = new Set(r.value.series.flatMap((s) => s.floats.map((p) => `${s.labels.get('job')}@${p.t}`)));
        const want = new Set<string>();
        for (let i = 0; i < 20; i++) {
          const at = names.map((n) => ({ job: n.slice(2, 4), v: (data[n] as [number, number][])[i]![1] }));
          const rank = (v: number): number => (Number.isNaN(v) ? Number.NEGATIVE_INFINITY : v);
          at.sort((a, b) => {
            if (Number.isNaN(a.v) || Number.isNaN(b.v)) return Number.isNaN(a.v) ? (Number.isNaN(b.v) ? 0 : 1) : -1;
            return op === 'topk' ? rank(b.v) - rank(a.v) || 0 : rank(a.v) - rank(b.v) || 0;
          });
          for (const s of at.slice(0, k)) want.add(`${s.job}@${i * 60_000}`);
        }
        expect([...got].sort(), `${op}(${k}, x)`).toEqual([...want].sort());
      }
    }
  });
});
