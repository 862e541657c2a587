import { PartialResponseStrategy, labelNamesRequest, seriesRequest, MAX_INT64, MIN_INT64, type CallContext } from '@strata/storeapi';
import { compareStrings, Labels, type Matcher } from '@strata/tsdb';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { fromMatcher } from '../proxy/proxy.js';
import { engineFor, handle, parseMatchSelectors, readOptions, type ApiContext } from './context.js';
import { ApiError } from './errors.js';
import { firstOf, parseLimit, storeLimit } from './limit.js';
import { Params, SINGLE } from './params.js';
import { withTenant } from '../tenancy.js';
import type { ReadOptions } from '../queryable.js';
import { labelsJson, sendData, sendSuccess } from './respond.js';

/** The parameters of requests that select series by `match[]` over a time range. */
export const selectorSchema = {
  querystring: {
    type: 'object',
    properties: {
      'match[]': { type: 'array', items: { type: 'string' } },
      start: SINGLE,
      end: SINGLE,
      dedup: SINGLE,
      partial_response: SINGLE,
      'replicaLabels[]': { type: 'array', items: { type: 'string' } },
      'storeMatch[]': { type: 'array', items: { type: 'string' } },
      limit: SINGLE,
    },
  },
} as const;

/** `/api/v1/series`, `/api/v1/labels` and `/api/v1/label/:name/values`, answered from every endpoint. */
export function labelRoutes(ctx: ApiContext): FastifyPluginAsync {
  return async (app) => {
    const series = (req: FastifyRequest, reply: FastifyReply) =>
      handle(ctx, req, reply, async (call) => {
        const p = Params.from(req.query, req.body);
        const engine = engineFor(ctx, p);
        if (p.all('match[]').length === 0) throw new ApiError('bad_data', 'no match[] parameter provided');
        const limit = parseLimit(p);
        const { start, end } = timeRange(ctx, p);
        const opts = readOptions(ctx, req, p, engine);
        const selectors = parseMatchSelectors(engine, p, true).map((ms) => withTenant(ms, opts.tenantMatcher));
        const { series, warnings } = await selectSeries(ctx, opts, selectors, { start, end }, storeLimit(limit), call);
        const sorted = firstOf(series.sort(Labels.compare), limit, warnings);
        return sendSuccess(reply, `[${sorted.map(labelsJson).join(',')}]`, warnings);
      });

    const labels = (req: FastifyRequest, reply: FastifyReply) =>
      handle(ctx, req, reply, async (call) => {
        const p = Params.from(req.query, req.body);
        const { names, warnings } = await fanOutLabels(ctx, req, p, call, undefined);
        return sendData(reply, names, warnings);
      });

    const values = (req: FastifyRequest<{ Params: { name: string } }>, reply: FastifyReply) =>
      handle(ctx, req, reply, async (call) => {
        const p = Params.from(req.query, undefined);
        const name = req.params.name;
        if (!validLabelName(name, ctx.defaults.compat)) throw new ApiError('bad_data', `invalid label name: ${JSON.stringify(name)}`);
        const { names, warnings } = await fanOutLabels(ctx, req, p, call, name);
        return sendData(reply, names, warnings);
      });

    app.get('/api/v1/series', { schema: selectorSchema }, series);
    app.post('/api/v1/series', { schema: selectorSchema }, series);
    app.get('/api/v1/labels', { schema: selectorSchema }, labels);
    app.post('/api/v1/labels', { schema: selectorSchema }, labels);
    app.get('/api/v1/label/:name/values', { schema: { ...selectorSchema, params: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } } }, values);
  };
}

/**
 * The series the selectors match in [start, end], labels only, from every endpoint the read options
 * take, each once: replicas merged when deduplicating. `storeLimit`: at most that many from each store (0: all).
 */
export async function selectSeries(
  ctx: ApiContext,
  opts: ReadOptions,
  selectors: readonly (readonly Matcher[])[],
  range: { start: number; end: number },
  storeLimit: number,
  call: CallContext,
): Promise<{ series: Labels[]; warnings: string[] }> {
  const dedup = opts.dedup && opts.replicaLabels.length > 0;
  const seen = new Map<string, Labels>();
  const warnings: string[] = [];
  for (const sel of selectors) {
    const req = seriesRequest({
      minTime: range.start,
      maxTime: range.end,
      matchers: sel.map(fromMatcher),
      skipChunks: true,
      partialResponseStrategy: opts.partialResponse ? PartialResponseStrategy.WARN : PartialResponseStrategy.ABORT,
      partialResponseDisabled: !opts.partialResponse,
      withoutReplicaLabels: dedup ? [...opts.replicaLabels] : [],
      limit: storeLimit,
    });
    const res = await ctx.proxy.fetchSeries(req, call, opts.endpointFilter);
    for (const s of res.series) seen.set(s.labels.key(), s.labels);
    warnings.push(...res.warnings);
  }
  return { series: [...seen.values()], warnings };
}

/** Label names (label = undefined) or one label's values, unioned over every match[] selector. */
async function fanOutLabels(ctx: ApiContext, req: FastifyRequest, p: Params, call: CallContext, label: string | undefined): Promise<{ names: string[]; warnings: string[] }> {
  const engine = engineFor(ctx, p);
  const limit = parseLimit(p);
  const { start, end } = timeRange(ctx, p);
  const opts = readOptions(ctx, req, p, engine);
  const dedup = opts.dedup && opts.replicaLabels.length > 0;
  const selectors = parseMatchSelectors(engine, p, false);
  const out = new Set<string>();
  const warnings: string[] = [];
  for (const matchers of selectors.length > 0 ? selectors : [[]]) {
    const base = labelNamesRequest({
      start,
      end,
      matchers: withTenant(matchers, opts.tenantMatcher).map(fromMatcher),
      partialResponseStrategy: opts.partialResponse ? PartialResponseStrategy.WARN : PartialResponseStrategy.ABORT,
      partialResponseDisabled: !opts.partialResponse,
      withoutReplicaLabels: dedup ? [...opts.replicaLabels] : [],
      limit: storeLimit(limit),
    });
    const res =
      label === undefined
        ? await ctx.proxy.labelNames(base, call).then((r) => ({ values: r.names, warnings: r.warnings }))
        : await ctx.proxy.labelValues({ ...base, label }, call);
    for (const v of res.values) out.add(v);
    warnings.push(...res.warnings);
  }
  return { names: firstOf([...out].sort(compareStrings), limit, warnings), warnings };
}

/**
 * A metadata request's `start` and `end`; absent, all of time as Prometheus, or the last
 * --query.metadata.default-time-range as Thanos.
 */
function timeRange(ctx: ApiContext, p: Params): { start: number; end: number } {
  const range = ctx.defaults.metadataTimeRange;
  const now = Date.now();
  return { start: p.time('start', range > 0 ? now - range : MIN_INT64), end: p.time('end', range > 0 ? now : MAX_INT64) };
}

function validLabelName(name: string, compat: 2 | 3): boolean {
  return compat === 2 ? /^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name) : name.length > 0;
}
