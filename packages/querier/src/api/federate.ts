/**
 * Prometheus' federation endpoint (GET /federate?match[]=…) over everything the querier reads: each
 * series that a match[] selects, with its latest sample within the lookback delta, replicas
 * deduplicated, so that a Prometheus can scrape the global view (hierarchical federation), which Thanos'
 * querier does not serve. Written as Prometheus' federation handler writes it: a family per metric name
 * (and sample type), floats untyped, its series sorted, each with its sample's timestamp; stale markers
 * left out; `instance=""` added to a series without an instance (Prometheus adds it as an external
 * label, so that a scraper with honor_labels keeps no instance of its own for it). In the text format
 * (0.0.4), or the delimited protobuf format when the client's Accept prefers it (a Prometheus scraping
 * native histograms does), which alone carries native histograms: integer ones as integers (what every
 * Prometheus with native histograms reads), others with float counts. The URL's query string may carry
 * the query API's dedup, partial_response, replicaLabels[] and storeMatch[].
 */
import { goFloat } from '@strata/promql';
import { ProtoWriter, putVarint32, writeSpans } from '@strata/storeapi';
import { clientGone } from '@strata/runtime';
import { CounterResetHint, isStaleNaN, Labels, METRIC_NAME, ValueType, type FloatHistogram, type Matcher, type Series } from '@strata/tsdb';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { StoreQueryable } from '../queryable.js';
import { engineFor, readOptions, type ApiContext } from './context.js';
import { Params } from './params.js';
import { sendTextError } from './respond.js';

const TEXT_FORMAT = 'text/plain; version=0.0.4; charset=utf-8';
const PROTOBUF_FORMAT = 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';

const federateSchema = { querystring: { type: 'object', properties: { 'match[]': { type: 'array', items: { type: 'string' } } } } } as const;

export function federateRoutes(ctx: ApiContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/federate', { schema: federateSchema }, (req, reply) => federate(ctx, req, reply));
  };
}

/** A series' latest sample: a float `v`, or a native histogram `h`. */
interface Latest {
  readonly labels: Labels;
  readonly t: number;
  readonly v: number;
  readonly h?: FloatHistogram;
}

async function federate(ctx: ApiContext, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const p = Params.from(req.query, undefined);
  let selectors: Matcher[][];
  let queryable: StoreQueryable;
  let lookbackDelta: number;
  try {
    const engine = engineFor(ctx, p);
    lookbackDelta = engine.lookbackDelta;
    selectors = p.all('match[]').map((s) => engine.parseMetricSelector(s));
    queryable = new StoreQueryable(ctx.proxy, readOptions(ctx, req, p, engine));
  } catch (e) {
    return sendTextError(reply, (e as Error).message, 400);
  }
  const maxt = Date.now();
  const mint = maxt - lookbackDelta;
  const querier = queryable.querier();
  const hints = { start: mint, end: maxt, step: 0, func: '', range: 0, grouping: [], by: false };
  const signal = clientGone(reply);
  // The union of the selections: a series two of them select, once.
  const series = new Map<string, Latest>();
  try {
    for (const set of await Promise.all(selectors.map((ms) => querier.select(hints, ms, signal)))) {
      for (const w of set.warnings ?? []) ctx.logger.warn('warnings on federation', { err: w });
      for (const s of set.series) {
        const key = s.labels.key();
        if (series.has(key)) continue;
        const latest = latestSample(s, mint, maxt);
        if (latest !== undefined) series.set(key, latest);
      }
    }
  } catch (e) {
    return sendTextError(reply, (e as Error).message, 500);
  }
  const byName = [...series.values()].sort((a, b) => {
    const an = a.labels.get(METRIC_NAME);
    const bn = b.labels.get(METRIC_NAME);
    return an < bn ? -1 : an > bn ? 1 : Labels.compare(a.labels, b.labels);
  });
  return prefersProtobuf(req.headers.accept) ? reply.type(PROTOBUF_FORMAT).send(protobufFormat(byName)) : reply.type(TEXT_FORMAT).send(textFormat(byName));
}

/** The latest sample from mint to maxt, unless it is a stale marker (the exposition formats have none). */
function latestSample(s: Series, mint: number, maxt: number): Latest | undefined {
  const it = s.iterator();
  let latest: Latest | undefined;
  for (let vt = it.seek(mint); vt !== ValueType.None && it.atT() <= maxt; vt = it.next()) {
    latest = vt === ValueType.Float ? { labels: s.labels, t: it.atT(), v: it.atFloat() } : { labels: s.labels, t: it.atT(), v: 0, h: (it as Required<typeof it>).atFloatHistogram() };
  }
  const err = it.err();
  if (err !== null) throw err;
  if (latest === undefined) return undefined;
  return (latest.h === undefined ? isStaleNaN(latest.v) : isStaleNaN(latest.h.sum)) ? undefined : latest;
}

/**
 * Whether the client's Accept prefers the delimited protobuf format to the text format (client_golang's
 * expfmt.Negotiate: the first acceptable type by quality); the text format otherwise.
 */
function prefersProtobuf(accept: string | undefined): boolean {
  const types = (accept ?? '')
    .split(',')
    .map((part, i) => {
      const [type = '', ...params] = part.split(';').map((x) => x.trim());
      const p = new Map(params.map((x) => [x.slice(0, x.indexOf('=')).trim(), x.slice(x.indexOf('=') + 1).trim().replace(/^"|"$/g, '')]));
      return { type: type.toLowerCase(), p, q: Number(p.get('q') ?? 1), i };
    })
    .sort((a, b) => b.q - a.q || a.i - b.i);
  for (const t of types) {
    if (t.type === 'application/vnd.google.protobuf' && t.p.get('proto') === 'io.prometheus.client.MetricFamily' && t.p.get('encoding') === 'delimited') return true;
    if (t.type === 'text/plain' && (t.p.get('version') ?? '0.0.4') === '0.0.4') return false;
  }
  return false;
}

/** A sample's labels as an exposition writes them: the name left out, empty values too, `instance=""` added where there is none. */
function exposedLabels(l: Labels): [string, string][] {
  const out: [string, string][] = [];
  for (const { name, value } of l) if (name !== METRIC_NAME && value !== '') out.push([name, value]);
  if (!l.has('instance')) out.push(['instance', '']);
  return out;
}

/** The series in the text exposition format, a `# TYPE name untyped` line before each metric name's series. */
function textFormat(series: readonly Latest[]): string {
  const lines: string[] = [];
  let family = '';
  for (const s of series) {
    const name = s.labels.get(METRIC_NAME);
    // A nameless series has no place in an exposition (Prometheus logs and skips it), nor a histogram in the text format.
    if (name === '' || s.h !== undefined) continue;
    if (name !== family) lines.push(`# TYPE ${name} untyped`);
    family = name;
    const pairs = exposedLabels(s.labels).map(([n, v]) => `${n}="${escapeLabelValue(v)}"`);
    // The text format writes -0 as 0.
    lines.push(`${name}{${pairs.join(',')}} ${s.v === 0 ? '0' : goFloat(s.v)} ${s.t}`);
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/** io.prometheus.client.MetricType values. */
const UNTYPED = 3;
const HISTOGRAM = 4;
const GAUGE_HISTOGRAM = 5;

/**
 * The series in the delimited protobuf format: MetricFamily messages (name 1, type 3, metric 4), each
 * after its length as a varint; a new family where the name or the sample type changes. A Metric holds
 * label 1 (LabelPair: name 1, value 2), untyped 5 (value 1) or histogram 7, and timestamp_ms 6.
 */
function protobufFormat(series: readonly Latest[]): Buffer {
  const families: Buffer[] = [];
  let w: ProtoWriter | undefined;
  let family = '';
  const flush = () => {
    if (w === undefined) return;
    const body = w.finish();
    const head = Buffer.allocUnsafe(5);
    families.push(head.subarray(0, putVarint32(head, 0, body.length)), body);
  };
  for (const s of series) {
    const name = s.labels.get(METRIC_NAME);
    if (name === '') continue;
    const type = s.h === undefined ? UNTYPED : s.h.counterResetHint === CounterResetHint.Gauge ? GAUGE_HISTOGRAM : HISTOGRAM;
    const key = `${name}\u0000${type}`;
    if (key !== family) {
      flush();
      w = new ProtoWriter().string(1, name).uint32(3, type);
      family = key;
    }
    const m = (w as ProtoWriter).fork(4);
    for (const [n, v] of exposedLabels(s.labels)) m.fork(1).string(1, n).string(2, v, true).ldelim();
    if (s.h === undefined) m.fork(5).double(1, s.v).ldelim();
    else writeHistogram(m, s.h);
    m.int64(6, s.t).ldelim();
  }
  flush();
  return Buffer.concat(families);
}

/**
 * A native histogram (io.prometheus.client.Histogram, field 7 of Metric): sample_sum 2, schema 5,
 * zero_threshold 6, the spans 9 and 12; counts as integers (sample_count 1, zero_count 7, bucket deltas
 * 10 and 13) where they are whole, else as floats (4, 8, absolute counts 11 and 14).
 */
function writeHistogram(w: ProtoWriter, h: FloatHistogram): void {
  w.fork(7);
  const whole = [h.count, h.zeroCount, ...h.positiveBuckets, ...h.negativeBuckets].every(Number.isSafeInteger);
  if (whole) w.uint64(1, BigInt(h.count));
  else w.double(4, h.count, true);
  w.double(2, h.sum, true).sint32(5, h.schema).double(6, h.zeroThreshold);
  if (whole) w.uint64(7, BigInt(h.zeroCount));
  else w.double(8, h.zeroCount, true);
  writeSpans(w, 9, h.negativeSpans);
  if (whole) w.packedSint64(10, deltas(h.negativeBuckets));
  else w.packedDouble(11, h.negativeBuckets);
  writeSpans(w, 12, h.positiveSpans);
  if (whole) w.packedSint64(13, deltas(h.positiveBuckets));
  else w.packedDouble(14, h.positiveBuckets);
  w.ldelim();
}

/** Absolute bucket counts as the deltas the integer form holds. */
function deltas(counts: readonly number[]): number[] {
  return counts.map((c, i) => c - (i === 0 ? 0 : (counts[i - 1] as number)));
}
