/**
 * Prometheus' federation endpoint (GET /federate?match[]=…) over everything the querier reads: each
 * series that a match[] selects, with its latest sample within the lookback delta, replicas
 * deduplicated, so that a Prometheus can scrape the global view (hierarchical federation), which Thanos'
 * querier does not serve. Written as Prometheus' federation handler writes it, in the text format
 * (0.0.4): a family per metric name, typed untyped, its series sorted, each with its sample's timestamp;
 * stale markers left out; `instance=""` added to a series without an instance (Prometheus adds it as an
 * external label, so that a scraper with honor_labels keeps no instance of its own for it). Native
 * histograms are left out, as Prometheus leaves them out of the text format. The URL's query string may
 * carry the query API's dedup, partial_response, replicaLabels[] and storeMatch[].
 */
import { goFloat } from '@strata/promql';
import { isStaleNaN, Labels, METRIC_NAME, ValueType, type Series } from '@strata/tsdb';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { StoreQueryable } from '../queryable.js';
import { engineFor, readOptions, type ApiContext } from './context.js';
import { Params } from './params.js';
import { sendTextError } from './respond.js';

const TEXT_FORMAT = 'text/plain; version=0.0.4; charset=utf-8';

const federateSchema = { querystring: { type: 'object', properties: { 'match[]': { type: 'array', items: { type: 'string' } } } } } as const;

export function federateRoutes(ctx: ApiContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/federate', { schema: federateSchema }, (req, reply) => federate(ctx, req, reply));
  };
}

/** A series' latest sample. */
interface Latest {
  readonly labels: Labels;
  readonly t: number;
  readonly v: number;
}

async function federate(ctx: ApiContext, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const p = Params.from(req.query, undefined);
  let selectors;
  let queryable: StoreQueryable;
  const engine = engineFor(ctx, p);
  try {
    selectors = p.all('match[]').map((s) => engine.parseMetricSelector(s));
    queryable = new StoreQueryable(ctx.proxy, readOptions(ctx, req, p, engine));
  } catch (e) {
    return sendTextError(reply, (e as Error).message, 400);
  }
  const maxt = Date.now();
  const mint = maxt - engine.lookbackDelta;
  const querier = queryable.querier();
  const hints = { start: mint, end: maxt, step: 0, func: '', range: 0, grouping: [], by: false };
  let sets;
  try {
    sets = await Promise.all(selectors.map((ms) => querier.select(hints, ms)));
  } catch (e) {
    return sendTextError(reply, (e as Error).message, 500);
  }
  // The union of the selections: a series two of them select, once.
  const series = new Map<string, Latest>();
  for (const set of sets) {
    for (const w of set.warnings ?? []) ctx.logger.warn('warnings on federation', { err: w });
    for (const s of set.series) {
      const key = s.labels.key();
      if (series.has(key)) continue;
      const latest = latestSample(s, mint, maxt);
      if (latest !== undefined) series.set(key, latest);
    }
  }
  const byName = [...series.values()].sort((a, b) => {
    const an = a.labels.get(METRIC_NAME);
    const bn = b.labels.get(METRIC_NAME);
    return an < bn ? -1 : an > bn ? 1 : Labels.compare(a.labels, b.labels);
  });
  return reply.type(TEXT_FORMAT).send(textFormat(byName));
}

/** The latest float sample from mint to maxt, unless it is a stale marker (the text format has none). */
function latestSample(s: Series, mint: number, maxt: number): Latest | undefined {
  const it = s.iterator();
  let t = 0;
  let v = 0;
  let found = false;
  for (let vt = it.seek(mint); vt !== ValueType.None && it.atT() <= maxt; vt = it.next()) {
    found = vt === ValueType.Float;
    if (found) {
      t = it.atT();
      v = it.atFloat();
    }
  }
  const err = it.err();
  if (err !== null) throw err;
  return found && !isStaleNaN(v) ? { labels: s.labels, t, v } : undefined;
}

/** The series in the text exposition format, a `# TYPE name untyped` line before each metric name's series. */
function textFormat(series: readonly Latest[]): string {
  const lines: string[] = [];
  let family = '';
  for (const s of series) {
    const name = s.labels.get(METRIC_NAME);
    // A nameless series has no place in an exposition (Prometheus logs and skips it).
    if (name === '') continue;
    if (name !== family) lines.push(`# TYPE ${name} untyped`);
    family = name;
    const pairs: string[] = [];
    for (const l of s.labels) if (l.name !== METRIC_NAME && l.value !== '') pairs.push(`${l.name}="${escapeLabelValue(l.value)}"`);
    if (!s.labels.has('instance')) pairs.push('instance=""');
    // The text format writes -0 as 0.
    lines.push(`${name}{${pairs.join(',')}} ${s.v === 0 ? '0' : goFloat(s.v)} ${s.t}`);
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}
