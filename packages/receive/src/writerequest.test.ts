import { encodeTimeSeries } from '@strata/storeapi';
import { timeSeriesMessages as timeseries } from '@strata/testing/remotewrite';
import { describe, expect, it } from 'vitest';
import { decodeTimeSeries, SeriesLabelsCache } from './writerequest.js';


describe('decodeTimeSeries with a labels cache', () => {
  it('decodes a known series to the same labels, its own samples each time', () => {
    const cache = new SeriesLabelsCache();
    const write = (v: number) => decodeTimeSeries(timeseries([{ labels: { __name__: 'up', job: 'a' }, samples: [{ t: v, v }] }]), cache).series[0];
    const first = write(1);
    const second = write(2);
    expect(second?.labels).toBe(first?.labels);
    expect(second?.labels.toRecord()).toEqual({ __name__: 'up', job: 'a' });
    expect(second?.samples).toEqual([{ timestamp: 2, value: 2 }]);
  });

  it('counts a series with bad labels every time it is sent', () => {
    const cache = new SeriesLabelsCache();
    const bad = () => decodeTimeSeries(timeseries([{ labels: { __name__: 'up', job: '' }, samples: [{ t: 1, v: 1 }] }]), cache);
    expect(bad().labelsEmpty).toBe(1);
    expect(bad().labelsEmpty).toBe(1);
    expect(bad().series).toEqual([]);
  });

  it('reads labels sent after the samples, and starts over when full', () => {
    const cache = new SeriesLabelsCache(1);
    // Samples first, then labels: an order no client writes, read whole.
    const raw = encodeTimeSeries({ labels: [], samples: [{ timestamp: 5, value: 1 }], histograms: [] });
    const label = encodeTimeSeries({ labels: [{ name: '__name__', value: 'late' }], samples: [], histograms: [] });
    const late = decodeTimeSeries([Buffer.concat([raw, label])], cache).series[0];
    expect([late?.labels.toRecord(), late?.samples]).toEqual([{ __name__: 'late' }, [{ timestamp: 5, value: 1 }]]);
    const two = decodeTimeSeries(timeseries([{ labels: { __name__: 'a' }, samples: [{ t: 1, v: 1 }] }, { labels: { __name__: 'b' }, samples: [{ t: 1, v: 1 }] }]), cache);
    expect(two.series.map((s) => s.labels.toRecord())).toEqual([{ __name__: 'a' }, { __name__: 'b' }]);
  });
});
