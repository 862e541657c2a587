/**
 * The StoreAPI acceptance suite (after Thanos' pkg/store/acceptance_test.go): one fixed data set and
 * the answers every StoreAPI server must give for it, derived from the data rather than hard-coded.
 *
 * A server under test loads `acceptanceFixture(...)` its own way (the sidecar through promtool-made
 * blocks in Prometheus, the store gateway through blocks in a bucket), then each case runs against a
 * StoreClient and throws an AssertionError on a wrong answer:
 *
 *   for (const c of storeAcceptanceCases(fixture)) it(c.name, () => c.run(client));
 */
import { deepStrictEqual, ok } from 'node:assert/strict';
import { compareStrings, Labels, Matcher, matchLabels, type MatchType, ValueType } from '@strata/tsdb';
import type { StoreClient } from './client.js';
import { readChunkSeries } from './convert.js';
import { ShardMatcher } from './shard.js';
import { type LabelMatcher, labelNamesRequest, labelValuesRequest, type SeriesRequest, seriesRequest } from './messages.js';

export interface AcceptanceSeries {
  /** Labels as stored (without external labels). */
  labels: Record<string, string>;
  /** [timestamp ms, value], ascending. */
  samples: [number, number][];
}

export interface AcceptanceFixture {
  extLabels: Record<string, string>;
  /** The external label that names the replica (exercised with without_replica_labels). */
  replicaLabel: string;
  series: AcceptanceSeries[];
  /** First and last sample timestamp over all series. */
  minTime: number;
  maxTime: number;
}

const STEP_MS = 15_000;

/**
 * Deterministic data: 13 series of two metrics over `hours` hours at 15s, starting at `startMs`
 * (whole seconds), with label values that need escaping and a label only some series have.
 */
export function acceptanceFixture(startMs: number, opts: { hours?: number; extLabels?: Record<string, string>; replicaLabel?: string } = {}): AcceptanceFixture {
  const start = Math.floor(startMs / 1000) * 1000;
  const n = Math.round(((opts.hours ?? 2) * 3_600_000) / STEP_MS);
  const series: AcceptanceSeries[] = [];
  let s = 0;
  for (const metric of ['acc_gauge', 'acc_requests']) {
    for (const job of ['api', 'db', 'web']) {
      for (const instance of ['a:9100', 'b:9100']) {
        const labels: Record<string, string> = { __name__: metric, job, instance };
        if (job === 'api') labels.zone = instance.startsWith('a') ? 'eu' : 'us';
        if (job === 'web' && instance.startsWith('b')) labels.note = 'say "hi" \\ ü';
        const samples: [number, number][] = [];
        for (let i = 0; i < n; i++) {
          const v = metric === 'acc_gauge' ? Math.round(Math.sin((i + s) / 20) * 100_000) / 1000 : i * (s + 1);
          samples.push([start + i * STEP_MS, v]);
        }
        series.push({ labels, samples });
        s++;
      }
    }
  }
  const extLabels = opts.extLabels ?? { cluster: 'acceptance', replica: 'r0' };
  // A stored label with an external label's name: the external value must win.
  const clash = Object.keys(extLabels)[0]!;
  series.push({
    labels: { __name__: 'acc_gauge', job: 'clash', instance: 'a:9100', [clash]: 'stored' },
    samples: Array.from({ length: n }, (_, i): [number, number] => [start + i * STEP_MS, i % 7]),
  });
  return {
    extLabels,
    replicaLabel: opts.replicaLabel ?? 'replica',
    series,
    minTime: start,
    maxTime: start + (n - 1) * STEP_MS,
  };
}

function escapeOpenMetrics(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** The fixture as OpenMetrics text for `promtool tsdb create-blocks-from openmetrics`. */
export function fixtureOpenMetrics(fx: AcceptanceFixture): string {
  const lines: string[] = [];
  const byMetric = new Map<string, AcceptanceSeries[]>();
  for (const s of fx.series) byMetric.set(s.labels.__name__!, [...(byMetric.get(s.labels.__name__!) ?? []), s]);
  for (const [metric, list] of byMetric) {
    lines.push(`# TYPE ${metric} gauge`);
    for (const s of list) {
      const ls = Object.entries(s.labels)
        .filter(([k]) => k !== '__name__')
        .map(([k, v]) => `${k}="${escapeOpenMetrics(v)}"`)
        .join(',');
      for (const [t, v] of s.samples) lines.push(`${metric}{${ls}} ${v} ${t / 1000}`);
    }
  }
  lines.push('# EOF', '');
  return lines.join('\n');
}

export interface AcceptanceCase {
  name: string;
  run(client: StoreClient): Promise<void>;
}

const TYPES: readonly MatchType[] = ['=', '!=', '=~', '!~'];
const mt = (name: string, value: string, type: LabelMatcher['type'] = 0): LabelMatcher => ({ type, name, value });

/** What a correct store returns: ext labels appended (ext wins), replica labels dropped, the shard's series only, sorted, samples in range. */
function expectedSeries(fx: AcceptanceFixture, req: SeriesRequest): { labels: string; samples: [number, number][] }[] {
  const ext = Labels.from(fx.extLabels);
  const matchers = req.matchers.map((m) => new Matcher(TYPES[m.type]!, m.name, m.value));
  // The shard is of the labels as answered: external labels added, replica labels dropped.
  const shard = ShardMatcher.of(req.shardInfo);
  const out: { labels: Labels; samples: [number, number][] }[] = [];
  for (const s of fx.series) {
    const all = Labels.from(s.labels).merge(ext);
    if (!matchLabels(matchers, all)) continue;
    const samples = s.samples.filter(([t]) => t >= req.minTime && t <= req.maxTime);
    if (samples.length === 0) continue;
    const labels = all.without(req.withoutReplicaLabels);
    if (shard !== undefined && !shard.matches(labels)) continue;
    out.push({ labels, samples: req.skipChunks ? [] : samples });
  }
  out.sort((a, b) => Labels.compare(a.labels, b.labels));
  const limited = req.limit > 0 ? out.slice(0, req.limit) : out;
  return limited.map((x) => ({ labels: x.labels.toString(), samples: x.samples }));
}

async function actualSeries(client: StoreClient, req: SeriesRequest): Promise<{ labels: string; samples: [number, number][] }[]> {
  const out: { labels: string; samples: [number, number][] }[] = [];
  const warnings: string[] = [];
  let prev: Labels | undefined;
  for await (const s of readChunkSeries(client.series(req), (w) => warnings.push(w))) {
    ok(prev === undefined || Labels.compare(prev, s.labels) < 0, `series out of order: ${prev?.toString()} then ${s.labels.toString()}`);
    prev = s.labels;
    if (req.skipChunks) ok(s.chunks.length === 0, `skip_chunks but ${s.labels.toString()} has ${s.chunks.length} chunks`);
    const samples: [number, number][] = [];
    for (const c of s.chunks) {
      const it = c.chunk.iterator();
      while (it.next() === ValueType.Float) {
        // Chunks may extend beyond the requested range; the consumer trims.
        if (it.atT() >= req.minTime && it.atT() <= req.maxTime) samples.push([it.atT(), it.atFloat()]);
      }
      if (it.err()) throw it.err();
    }
    samples.sort((a, b) => a[0] - b[0]);
    if (!req.skipChunks && samples.length === 0) continue;
    out.push({ labels: s.labels.toString(), samples });
  }
  deepStrictEqual(warnings, [], 'unexpected warnings');
  return out;
}

function seriesCase(name: string, fx: AcceptanceFixture, fields: Partial<SeriesRequest>): AcceptanceCase {
  const req = seriesRequest({ minTime: fx.minTime, maxTime: fx.maxTime, ...fields });
  return {
    name: `Series: ${name}`,
    async run(client) {
      const want = expectedSeries(fx, req);
      ok(want.length > 0 || name.includes('no series'), `fixture gives no series for case ${name}`);
      deepStrictEqual(await actualSeries(client, req), want);
    },
  };
}

/** Every case of the suite for a store loaded with `fx`. */
export function storeAcceptanceCases(fx: AcceptanceFixture): AcceptanceCase[] {
  const [extName, extValue] = Object.entries(fx.extLabels).find(([k]) => k !== fx.replicaLabel) ?? Object.entries(fx.extLabels)[0]!;
  const mid = fx.minTime + Math.floor((fx.maxTime - fx.minTime) / 3);
  const allNames = new Set<string>(Object.keys(fx.extLabels));
  for (const s of fx.series) for (const k of Object.keys(s.labels)) allNames.add(k);
  const valuesOf = (label: string, pred: (l: Record<string, string>) => boolean = () => true) =>
    [...new Set(fx.series.filter((s) => pred(s.labels) && s.labels[label] !== undefined).map((s) => s.labels[label]!))].sort(compareStrings);

  return [
    seriesCase('one metric, whole range', fx, { matchers: [mt('__name__', 'acc_gauge')] }),
    seriesCase('regex and negative equality', fx, { matchers: [mt('__name__', 'acc_.+', 2), mt('job', 'api', 1)] }),
    seriesCase('empty-matching matcher selects series without the label', fx, { matchers: [mt('__name__', 'acc_requests'), mt('zone', '')] }),
    seriesCase('negative regex', fx, { matchers: [mt('__name__', 'acc_.*', 2), mt('instance', 'a.*', 3)] }),
    seriesCase('label value needing escapes', fx, { matchers: [mt('note', 'say "hi" \\ ü')] }),
    seriesCase('sub-range', fx, { minTime: mid, maxTime: mid + 600_000, matchers: [mt('job', 'db')] }),
    seriesCase('external label matcher that matches', fx, { matchers: [mt('__name__', 'acc_gauge'), mt(extName, extValue)] }),
    seriesCase('external label matcher that does not match (no series)', fx, { matchers: [mt('__name__', 'acc_gauge'), mt(extName, `not-${extValue}`)] }),
    seriesCase('without_replica_labels', fx, { matchers: [mt('job', 'web')], withoutReplicaLabels: [fx.replicaLabel] }),
    seriesCase('skip_chunks', fx, { matchers: [mt('__name__', 'acc_requests')], skipChunks: true }),
    seriesCase('limit', fx, { matchers: [mt('__name__', 'acc_.*', 2)], limit: 5 }),
    seriesCase('response_batch_size', fx, { matchers: [mt('__name__', 'acc_.*', 2)], responseBatchSize: 4 }),
    ...[0, 1].map((shardIndex) =>
      seriesCase(`shard_info by job, shard ${shardIndex} of 2`, fx, { matchers: [mt('__name__', 'acc_.*', 2)], shardInfo: { shardIndex, totalShards: 2, by: true, labels: ['job'] } }),
    ),
    // Without `by`: every label but those named, after the replica label is dropped (replicas share a shard).
    ...[0, 1, 2].map((shardIndex) =>
      seriesCase(`shard_info without instance, shard ${shardIndex} of 3, replica label dropped`, fx, {
        matchers: [mt('__name__', 'acc_.*', 2)],
        withoutReplicaLabels: [fx.replicaLabel],
        shardInfo: { shardIndex, totalShards: 3, by: false, labels: ['instance'] },
      }),
    ),
    {
      name: 'Series: a request whose only matchers are on external labels is rejected',
      async run(client) {
        let failed = false;
        try {
          for await (const _ of client.series(seriesRequest({ minTime: fx.minTime, maxTime: fx.maxTime, matchers: [mt(extName, extValue)] })));
        } catch {
          failed = true;
        }
        ok(failed, 'a Series request whose only matchers are external labels must fail (InvalidArgument)');
      },
    },
    {
      name: 'LabelNames: all, and with matchers',
      async run(client) {
        const all = await client.labelNames(labelNamesRequest({ start: fx.minTime, end: fx.maxTime }));
        deepStrictEqual(all.names, [...allNames].sort(compareStrings));
        const api = await client.labelNames(labelNamesRequest({ start: fx.minTime, end: fx.maxTime, matchers: [mt('job', 'api')], withoutReplicaLabels: [fx.replicaLabel] }));
        const want = new Set(Object.keys(fx.extLabels).filter((k) => k !== fx.replicaLabel));
        for (const s of fx.series) if (s.labels.job === 'api') for (const k of Object.keys(s.labels)) want.add(k);
        deepStrictEqual(api.names, [...want].sort(compareStrings));
      },
    },
    {
      name: 'LabelValues: stored labels, with matchers, external and replica labels',
      async run(client) {
        const range = { start: fx.minTime, end: fx.maxTime };
        deepStrictEqual((await client.labelValues(labelValuesRequest({ label: 'job', ...range }))).values, valuesOf('job'));
        deepStrictEqual(
          (await client.labelValues(labelValuesRequest({ label: 'instance', ...range, matchers: [mt('zone', 'eu')] }))).values,
          valuesOf('instance', (l) => l.zone === 'eu'),
        );
        deepStrictEqual((await client.labelValues(labelValuesRequest({ label: '__name__', ...range }))).values, valuesOf('__name__'));
        deepStrictEqual((await client.labelValues(labelValuesRequest({ label: extName, ...range }))).values, [extValue]);
        deepStrictEqual((await client.labelValues(labelValuesRequest({ label: fx.replicaLabel, ...range, withoutReplicaLabels: [fx.replicaLabel] }))).values, []);
        deepStrictEqual((await client.labelValues(labelValuesRequest({ label: 'job', ...range, matchers: [mt(extName, `not-${extValue}`)] }))).values, []);
      },
    },
    {
      name: 'Info: external labels and a time range covering the data',
      async run(client) {
        const info = await client.info();
        const ext = Labels.from(fx.extLabels).toString();
        ok(
          info.labelSets.some((set) => Labels.from(set).toString() === ext),
          `label sets ${JSON.stringify(info.labelSets)} lack ${ext}`,
        );
        ok(info.store !== undefined, 'Info must advertise the StoreAPI');
        ok(info.store.minTime <= fx.minTime && info.store.maxTime >= fx.maxTime, `time range [${info.store.minTime}, ${info.store.maxTime}] does not cover the data`);
      },
    },
  ];
}
