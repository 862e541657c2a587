import { Labels, Matcher, ValueType } from '@strata/tsdb';
import { describe, expect, it } from 'vitest';
import { isStaleNaN, STALE_NAN } from '@strata/tsdb';
import { MemoryStorage } from './memory.js';

const hints = { start: 0, end: 100_000, step: 0, func: '', range: 0, grouping: [], by: false };

describe('MemoryStorage', () => {
  it('selects by matchers in label order, with or without a metric name', async () => {
    const st = new MemoryStorage();
    st.append(Labels.from({ __name__: 'b', x: '1' }), 0, 1);
    st.append(Labels.from({ __name__: 'a', x: '2' }), 0, 2);
    st.append(Labels.from({ __name__: 'a', x: '1' }), 0, 3);
    const q = st.querier(0, 100_000);
    const byName = await q.select(hints, [Matcher.equal('__name__', 'a')]);
    expect(byName.series.map((s) => s.labels.toString())).toEqual(['{__name__="a", x="1"}', '{__name__="a", x="2"}']);
    const byLabel = await q.select(hints, [new Matcher('=~', 'x', '1')]);
    expect(byLabel.series.map((s) => s.labels.toString())).toEqual(['{__name__="a", x="1"}', '{__name__="b", x="1"}']);
    expect(await q.labelValues?.('x', [])).toEqual(['1', '2']);
  });

  it('iterates and seeks samples; a repeated timestamp replaces the value, an older one is refused', async () => {
    const st = new MemoryStorage();
    const l = Labels.from({ __name__: 'a' });
    for (let t = 0; t < 10; t++) st.append(l, t * 1000, t);
    st.append(l, 9000, 99);
    expect(() => st.append(l, 1000, 1)).toThrow(/out of order sample/);
    const [s] = (await st.querier(0, 100_000).select(hints, [Matcher.equal('__name__', 'a')])).series;
    const it = s?.iterator();
    expect(it?.seek(4500)).toBe(ValueType.Float);
    expect([it?.atT(), it?.atFloat()]).toEqual([5000, 5]);
    expect(it?.seek(1000)).toBe(ValueType.Float);
    expect(it?.atT()).toBe(5000);
    expect(it?.seek(9000)).toBe(ValueType.Float);
    expect(it?.atFloat()).toBe(99);
    expect(it?.next()).toBe(ValueType.None);
  });

  it('keeps the stale marker bits apart from other NaNs', () => {
    expect(isStaleNaN(STALE_NAN)).toBe(true);
    expect(isStaleNaN(NaN)).toBe(false);
    expect(isStaleNaN(0)).toBe(false);
  });
});
