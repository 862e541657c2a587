import { Engine } from '@strata/promql';
import { storeChunk, type SeriesRequest } from '@strata/storeapi';
import { Encoding, Labels, Matcher, XORChunk } from '@strata/tsdb';
import { describe, expect, it } from 'vitest';
import type { ProxyStore } from './proxy/proxy.js';
import type { LabeledSeries } from './proxy/merge.js';
import { StoreQueryable } from './queryable.js';

/** Series of `name` for instances i0 and i1, one sample a minute for ten minutes, value `base` + instance. */
function seriesOf(name: string, base: number): LabeledSeries[] {
  return [0, 1].map((i) => {
    const c = new XORChunk();
    const app = c.appender();
    for (let t = 0; t <= 600_000; t += 60_000) app.append(t, base + i);
    return { labels: Labels.from({ __name__: name, instance: `i${i}` }), chunks: [{ minTime: 0, maxTime: 600_000, raw: storeChunk(Encoding.XOR, c.bytes) }] };
  });
}

/** A proxy over a store of metrics a, b and c that records the requests it gets. */
function recordingProxy() {
  const data = [...seriesOf('a', 10), ...seriesOf('b', 100), ...seriesOf('c', 1000)].sort((x, y) => Labels.compare(x.labels, y.labels));
  const requests: SeriesRequest[] = [];
  const calls = { inFlight: 0, most: 0 };
  const proxy = {
    async streamSeries(req: SeriesRequest, _signal: AbortSignal, onSeries: (s: LabeledSeries) => void) {
      requests.push(req);
      calls.most = Math.max(calls.most, ++calls.inFlight);
      await new Promise((r) => setTimeout(r, 5));
      calls.inFlight--;
      const matchers = req.matchers.map((m) => new Matcher((['=', '!=', '=~', '!~'] as const)[m.type], m.name, m.value));
      for (const s of data) if (matchers.every((m) => m.matches(s.labels.get(m.name)))) onSeries(s);
      return { warnings: [], stats: {} };
    },
  } as unknown as ProxyStore;
  return { proxy, requests, calls };
}

const read = { dedup: true, replicaLabels: [], dedupFunc: 'penalty', partialResponse: true, maxSourceResolution: 0, autoDownsampling: false } as const;
const engine = new Engine({ lookbackDelta: 300_000, timeout: 10_000 });
const matcherText = (req: SeriesRequest) => req.matchers.map((m) => `${m.name}${['=', '!=', '=~', '!~'][m.type]}${m.value}`).join(',');

describe('StoreQueryable', () => {
  it('reads selections that differ only in their metric name with one request, and hands each its own series', async () => {
    const { proxy, requests } = recordingProxy();
    const res = await engine.instantQuery(new StoreQueryable(proxy, read), 'b / a + ignoring(x) c - a', 600_000);
    expect(requests.map(matcherText)).toEqual(['__name__=~b|a|c']);
    const got = res.value.type === 'vector' ? res.value.samples.map((s) => [s.labels.get('instance'), s.f]) : [];
    expect(got).toEqual([
      ['i0', 100 / 10 + 1000 - 10],
      ['i1', 101 / 11 + 1001 - 11],
    ]);
  });

  it('reads selections with other matchers, ranges or functions with requests of their own', async () => {
    const { proxy, requests } = recordingProxy();
    await engine.instantQuery(new StoreQueryable(proxy, read), 'a{instance="i0"} / ignoring(instance) b{instance="i1"} + on() sum(rate(c[5m])) + on() sum(rate(a[5m]))', 600_000);
    expect(requests.map(matcherText).sort()).toEqual(['instance=i0,__name__=a', 'instance=i1,__name__=b', '__name__=~c|a'].sort());
  });

  it('reads at most --query.max-concurrent-select selections at once', async () => {
    const query = 'a{instance="i0"} + ignoring(instance) b{instance="i1"} + on() sum(rate(c[5m]))';
    for (const [maxConcurrentSelect, most] of [[1, 1], [2, 2], [4, 3]] as const) {
      const { proxy, calls } = recordingProxy();
      await engine.instantQuery(new StoreQueryable(proxy, { ...read, maxConcurrentSelect }), query, 600_000);
      expect(calls.most).toBe(most);
    }
  });
});
