import { Labels, parseHistogramNotation, STALE_NAN, type Matcher } from '@strata/tsdb';
import { describe, expect, it } from 'vitest';
import type { Call } from '../parser/ast.js';
import { parseExpr } from '../parser/parse.js';
import type { Querier, Queryable, SelectHints, SeriesSet } from '../storage.js';
import { MemoryStorage } from '../storage/memory.js';
import { Engine } from './engine.js';
import { TooManySamplesError } from './errors.js';
import { enrichWithInfo } from './info.js';
import { StepSeries } from './steps.js';

const MIN = 60_000;

/** metric{instance="a", job="1"} = i at i minutes; target_info's version is "old" until 3m, then "new". */
function churning(): MemoryStorage {
  const st = new MemoryStorage();
  const metric = Labels.from({ __name__: 'metric', instance: 'a', job: '1' });
  const other = Labels.from({ __name__: 'other', instance: 'a', job: '1' });
  const old = Labels.from({ __name__: 'target_info', instance: 'a', job: '1', version: 'old' });
  const current = Labels.from({ __name__: 'target_info', instance: 'a', job: '1', version: 'new' });
  for (let i = 0; i < 10; i++) {
    st.append(metric, i * MIN, i);
    st.append(other, i * MIN, 10 * i);
    if (i <= 3) st.append(old, i * MIN, i < 3 ? 1 : STALE_NAN);
    if (i >= 3) st.append(current, i * MIN, 1);
  }
  return st;
}

/** The version label and value of each sample of an instant query. */
async function versions(st: Queryable, query: string, t: number): Promise<string[]> {
  const v = (await new Engine().instantQuery(st, query, t)).value;
  if (v.type !== 'vector') throw new Error(`got ${v.type}`);
  return v.samples.map((s) => `${s.labels.get('version')}=${s.f}`).sort();
}

/** A Queryable that records each select's hints and matchers. */
class RecordingQueryable implements Queryable {
  readonly selects: { hints: SelectHints; matchers: string }[] = [];
  constructor(private readonly inner: MemoryStorage) {}
  querier(mint: number, maxt: number): Querier {
    const q = this.inner.querier(mint, maxt);
    return {
      select: (hints: SelectHints, matchers: readonly Matcher[]): Promise<SeriesSet> => {
        this.selects.push({ hints, matchers: matchers.map((m) => m.toString()).join(',') });
        return q.select(hints, matchers);
      },
      close: () => undefined,
    };
  }
}

describe('info()', () => {
  it('selects its info series once, through the Queryable, over the times the base expression reads', async () => {
    const infoSelect = async (query: string): Promise<{ hints: SelectHints; matchers: string }[]> => {
      const q = new RecordingQueryable(churning());
      await new Engine().rangeQuery(q, query, 10 * MIN, 11 * MIN, 30_000);
      return q.selects.filter((s) => s.hints.func === 'info' && s.matchers.includes('target_info'));
    };
    const lookback = 5 * MIN;
    const hints = (start: number, end: number): SelectHints => ({ start, end, step: 30_000, func: 'info', range: 0, grouping: [], by: false });
    expect(await infoSelect('info(metric offset 1m, {version=~".+"})')).toEqual([
      { hints: hints(9 * MIN - lookback, 10 * MIN), matchers: '__name__="target_info",version=~".+"' },
    ]);
    expect((await infoSelect('info(metric @ 120)'))[0]?.hints).toEqual(hints(2 * MIN - lookback, 2 * MIN));
    expect((await infoSelect('info(last_over_time(metric[5m:1m] offset 6m))'))[0]?.hints).toEqual(hints(4 * MIN - lookback, 5 * MIN));
    // Selectors reading at different times: the info series are read at the steps.
    expect((await infoSelect('info(metric @ 120 or other offset 1m)'))[0]?.hints).toEqual(hints(10 * MIN - lookback, 11 * MIN));
    // Negated info metric names alone mean info metrics other than those.
    const q = new RecordingQueryable(churning());
    await new Engine().instantQuery(q, 'info(metric, {__name__!="build_info", version!=""})', 10 * MIN);
    expect(q.selects.map((s) => s.matchers)).toEqual(['__name__="metric"', '__name__=~".+_info",__name__!="build_info",version!=""']);
  });

  it('looks the info series up where the base series were read', async () => {
    const st = churning();
    expect(await versions(st, 'info(metric @ 180 offset 1m)', 9 * MIN)).toEqual(['old=2']);
    expect(await versions(st, 'info(rate(metric[2m] offset 6m))', 8 * MIN)).toEqual(['old=0.016666666666666666']);
    expect(await versions(st, 'info(max_over_time((metric @ 240)[2m:1m] offset 5m))', 9 * MIN)).toEqual(['new=4']);
    // A selector that only makes a scalar does not decide the time; nor does one of several times.
    expect(await versions(st, 'info(scalar(other @ 120) * metric)', 8 * MIN)).toEqual(['new=160']);
    expect(await versions(st, 'info(metric @ 120 or other offset 1m)', 8 * MIN)).toEqual(['new=2']);
    expect(await versions(st, 'info(metric offset 6m or vector(1))', 8 * MIN)).toEqual(['=1', 'new=2']);
  });

  it('finds only info series with the identifying label values of the series it enriches, as Prometheus selects them', async () => {
    const st = new MemoryStorage();
    st.append(Labels.from({ __name__: 'metric', instance: 'a' }), 0, 1);
    st.append(Labels.from({ __name__: 'other', instance: 'a', job: '1' }), 0, 2);
    st.append(Labels.from({ __name__: 'custom_info', instance: 'a', version: 'v1' }), 0, 1);
    expect(await versions(st, 'info(metric, {__name__="custom_info"})', 0)).toEqual(['v1=1']);
    // With a job among the series, an info series without one is not selected for any of them.
    expect(await versions(st, 'info({__name__=~"metric|other"}, {__name__="custom_info"})', 0)).toEqual(['=1', '=2']);
  });

  it('counts the info series it holds towards the sample limit', async () => {
    const engine = new Engine({ maxSamples: 15 });
    // 10 steps of metric, and 10 of target_info held alongside them.
    await expect(engine.rangeQuery(churning(), 'metric', 0, 9 * MIN, MIN)).resolves.toBeDefined();
    await expect(engine.rangeQuery(churning(), 'info(metric)', 0, 9 * MIN, MIN)).rejects.toThrow(TooManySamplesError);
  });

  it('fails on two info series for one series at one time', async () => {
    const st = new MemoryStorage();
    st.append(Labels.from({ __name__: 'metric', instance: 'a', job: '1' }), 0, 1);
    st.append(Labels.from({ __name__: 'target_info', instance: 'a', job: '1', version: 'v1' }), 0, 1);
    st.append(Labels.from({ __name__: 'target_info', instance: 'a', job: '1', version: 'v2' }), 0, 1);
    await expect(new Engine().instantQuery(st, 'info(metric)', 0)).rejects.toThrow(
      'found duplicate series for info metric: existing {__name__="target_info", instance="a", job="1", version="v1"} @ 0, ' +
        'new {__name__="target_info", instance="a", job="1", version="v2"} @ 0',
    );
  });
});

describe('enrichWithInfo', () => {
  const call = parseExpr('info(m, {version=~".+"})') as Call;
  const series = (labels: Record<string, string>, vals: (number | null)[], dropName = false): StepSeries => {
    const s = new StepSeries(Labels.from(labels), vals.length);
    vals.forEach((v, i) => {
      if (v === null) return;
      s.has[i] = 1;
      s.vals[i] = v;
    });
    s.dropName = dropName;
    return s;
  };
  const result = (v: { series: StepSeries[] }): string[] =>
    v.series.map((s) => `${s.labels.toString()}${s.dropName ? ' (name dropped)' : ''}: ${[...s.vals].map((x, i) => (s.has[i] === 1 ? x : '_')).join(' ')}`).sort();

  it('takes the latest info sample at each step, adds only the selected data labels, and keeps the base name flag', () => {
    const base = { type: 'vector' as const, series: [series({ __name__: 'm', instance: 'a', version: 'mine' }, [1, 2, 3], true), series({ __name__: 'm', instance: 'b' }, [4, 5, 6])] };
    // Info series steps hold the time (s) of the sample looked up.
    const info = [
      series({ __name__: 'target_info', instance: 'b', version: 'v1', other: 'x' }, [0, 60, 60]),
      series({ __name__: 'target_info', instance: 'b', version: 'v2', other: 'x' }, [null, null, 120]),
    ];
    expect(result(enrichWithInfo(base, info, call, 3))).toEqual([
      '{__name__="m", instance="b", version="v1"}: 4 5 _',
      '{__name__="m", instance="b", version="v2"}: _ _ 6',
    ]);
    // Data labels the series has stay as they are; a series without info series is dropped only when a data matcher needs a value.
    const all = parseExpr('info(m)') as Call;
    expect(result(enrichWithInfo(base, [], all, 3))).toEqual([
      '{__name__="m", instance="a", version="mine"} (name dropped): 1 2 3',
      '{__name__="m", instance="b"}: 4 5 6',
    ]);
  });

  it('rejects histogram info samples and conflicting data labels of two info metrics', () => {
    const base = { type: 'vector' as const, series: [series({ __name__: 'm', instance: 'a' }, [1])] };
    const histogram = series({ __name__: 'target_info', instance: 'a' }, [null]);
    histogram.setHist(0, parseHistogramNotation('{{count:1 sum:1}}'));
    expect(() => enrichWithInfo(base, [histogram], call, 1)).toThrow('info sample should be float');
    const both = parseExpr('info(m, {__name__=~".+_info"})') as Call;
    const info = [series({ __name__: 'a_info', instance: 'a', x: '1' }, [0]), series({ __name__: 'b_info', instance: 'a', x: '2' }, [0])];
    expect(() => enrichWithInfo(base, info, both, 1)).toThrow('conflicting label: x');
  });
});
