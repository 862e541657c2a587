import { Labels } from '@strata/tsdb';
import { describe, expect, it } from 'vitest';
import { CardinalityStats, type CardinalityStat } from './cardinality.js';

describe('CardinalityStats', () => {
  const stats = new CardinalityStats();
  const series: Record<string, string>[] = [
    { __name__: 'up', job: 'a', instance: 'x' },
    { __name__: 'up', job: 'a', instance: 'y' },
    { __name__: 'up', job: 'bb', instance: 'x' },
    { __name__: 'temp_°C', job: 'bb' },
  ];
  for (const l of series) stats.add(Labels.from(l));

  it('counts series and distinct label pairs', () => {
    expect([stats.numSeries, stats.numLabelPairs]).toEqual([4, 6]);
  });

  it('lists the largest of each, ties by name, as Prometheus computes them from its postings', () => {
    expect(stats.lists(10)).toEqual({
      seriesCountByMetricName: [{ name: 'up', value: 3 }, { name: 'temp_°C', value: 1 }],
      labelValueCountByLabelName: [{ name: '__name__', value: 2 }, { name: 'instance', value: 2 }, { name: 'job', value: 2 }],
      // The UTF-8 bytes of each distinct value: "temp_°C" is 8, "up" 2.
      memoryInBytesByLabelName: [{ name: '__name__', value: 10 }, { name: 'job', value: 3 }, { name: 'instance', value: 2 }],
      seriesCountByLabelValuePair: [{ name: '__name__=up', value: 3 }, { name: 'instance=x', value: 2 }, { name: 'job=a', value: 2 }, { name: 'job=bb', value: 2 }, { name: '__name__=temp_°C', value: 1 }, { name: 'instance=y', value: 1 }],
    });
  });

  it('cuts each list at the limit', () => {
    const lists = stats.lists(1);
    expect(Object.values(lists).map((l: CardinalityStat[]) => l.map((s) => s.name))).toEqual([['up'], ['__name__'], ['__name__'], ['__name__=up']]);
  });
});
