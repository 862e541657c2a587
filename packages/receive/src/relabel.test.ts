import { Relabeler } from '@strata/block';
import { timeSeriesMessages } from '@strata/testing/remotewrite';
import { describe, expect, it } from 'vitest';
import { relabelSeries } from './relabel.js';
import { decodeTimeSeries, type ReceivedSeries } from './writerequest.js';

/** The series of a remote write as the handler decodes them. */
const received = (series: Parameters<typeof timeSeriesMessages>[0]): ReceivedSeries[] => decodeTimeSeries(timeSeriesMessages(series)).series;

describe('relabelSeries', () => {
  const relabeler = Relabeler.fromYaml(`
- {action: drop, source_labels: [__name__], regex: go_.*}
- {action: labeldrop, regex: pod}
- {action: replace, source_labels: [job], target_label: cluster, replacement: eu-1}
`);

  it('drops, rewrites and keeps series, and what it forwards is the rewritten series', () => {
    const out = relabelSeries(
      received([
        { labels: { __name__: 'go_goroutines', job: 'api' }, samples: [{ t: 1000, v: 1 }] },
        { labels: { __name__: 'up', job: 'api', pod: 'api-1' }, samples: [{ t: 1000, v: 1 }, { t: 2000, v: 0 }] },
      ]),
      relabeler,
    );
    expect(out.map((s) => s.labels.toRecord())).toEqual([{ __name__: 'up', cluster: 'eu-1', job: 'api' }]);
    const forwarded = decodeTimeSeries(out.map((s) => s.raw)).series;
    expect(forwarded.map((s) => [s.labels.toRecord(), s.samples])).toEqual([
      [{ __name__: 'up', cluster: 'eu-1', job: 'api' }, [{ timestamp: 1000, value: 1 }, { timestamp: 2000, value: 0 }]],
    ]);
  });

  it('keeps a series it does not change as it came, bytes and all', () => {
    const keep = Relabeler.fromYaml('- {action: keep, source_labels: [job], regex: api}');
    const series = received([{ labels: { __name__: 'up', job: 'api' }, samples: [{ t: 1000, v: 1 }] }]);
    expect(relabelSeries(series, keep)[0]).toBe(series[0]);
  });
});
