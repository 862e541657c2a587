import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { STRATA_VERSION } from '@strata/runtime';
import { engineFor, handle, parseMatchSelectors, readOptions, type ApiContext } from './context.js';
import { Matcher, METRIC_NAME } from '@strata/tsdb';
import { CardinalityStats } from './cardinality.js';
import { selectorSchema, selectSeries } from './labels.js';
import { withTenant } from '../tenancy.js';
import { formatInt64, metricMetadataRequest, PartialResponseStrategy } from '@strata/storeapi';
import { ApiError } from './errors.js';
import { atoi } from './limit.js';
import { Params, SINGLE } from './params.js';
import { sendData, sendSuccess } from './respond.js';

const metadataSchema = {
  querystring: { type: 'object', properties: { metric: SINGLE, limit: SINGLE, partial_response: SINGLE } },
} as const;

/**
 * The Prometheus version whose HTTP API Strata answers as. Grafana turns Prometheus features on by the
 * version buildinfo reports (label values by match[] from 2.24, …), so buildinfo reports this one, as
 * other Prometheus-compatible stores do; Strata's own version goes in `revision`. Like Prometheus',
 * the answer has no `features`: Grafana takes a buildinfo with any `features` object, even an empty
 * one, for Mimir's (its alerting's discoverDataSourceFeatures).
 */
const PROMETHEUS_API_VERSION = '2.42.0';

/**
 * Status, and metric metadata from the endpoints that have it (sidecars: their Prometheus' targets').
 * `/api/v1/stores` lists the endpoints as Thanos does, grouped by component type.
 */
export function statusRoutes(ctx: ApiContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/api/v1/status/buildinfo', { schema: {} }, async (_req, reply) =>
      sendData(reply, { version: PROMETHEUS_API_VERSION, revision: `strata-${STRATA_VERSION}`, branch: '', buildUser: '', buildDate: '', goVersion: '' }),
    );
    app.get('/api/v1/status/flags', { schema: {} }, async (_req, reply) => sendData(reply, ctx.flags));
    app.get('/api/v1/status/tsdb', { schema: selectorSchema }, (req, reply) => tsdbStatus(ctx, req, reply));
    app.get('/api/v1/metadata', { schema: metadataSchema }, (req, reply) => metadata(ctx, req, reply));
    app.get('/api/v1/stores', { schema: {} }, async (_req, reply) => {
      const byType = new Map<string, string[]>();
      for (const s of ctx.endpoints.status()) {
        const type = s.info?.componentType ?? 'unknown';
        const fields = JSON.stringify({
          name: s.address,
          lastCheck: new Date(s.lastCheck).toISOString(),
          lastError: s.lastError,
          labelSets: (s.info?.labelSets ?? []).map((ls) => Object.fromEntries(ls.map((l) => [l.name, l.value]))),
        });
        const range = `"minTime":${int64Json(s.info?.store?.minTime)},"maxTime":${int64Json(s.info?.store?.maxTime)}`;
        byType.set(type, [...(byType.get(type) ?? []), `${fields.slice(0, -1)},${range}}`]);
      }
      return sendSuccess(reply, `{${[...byType].map(([type, list]) => `${JSON.stringify(type)}:[${list.join(',')}]`).join(',')}}`);
    });
  };
}

/**
 * `/api/v1/metadata` as Prometheus answers it (`metric`, `limit`: at most that many metrics, none for
 * 0, all when negative or absent), merged over the endpoints as Thanos' querier merges it, with
 * Thanos' `partial_response`.
 */
function metadata(ctx: ApiContext, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  return handle(ctx, req, reply, async (call) => {
    const p = Params.from(req.query, req.body);
    const limitText = p.get('limit');
    const limit = limitText === undefined || limitText === '' ? -1 : atoi(limitText);
    if (limit === undefined) throw new ApiError('bad_data', 'limit must be a number');
    const partial = p.bool('partial_response', ctx.defaults.partialResponse);
    const res = await ctx.proxy.metricMetadata(
      // The Metadata API's limit is an int32: one beyond it is no limit.
      metricMetadataRequest({ metric: p.get('metric') ?? '', limit: limit < 0 || limit > 0x7fffffff ? -1 : limit, partialResponseStrategy: partial ? PartialResponseStrategy.WARN : PartialResponseStrategy.ABORT }),
      call,
    );
    return sendData(reply, Object.fromEntries([...res.metadata].map(([name, metas]) => [name, metas.map((m) => ({ type: m.type, help: m.help, unit: m.unit }))])), res.warnings);
  });
}

/** The range `/api/v1/status/tsdb` covers when not given one: about what a Prometheus head holds. */
const TSDB_STATUS_RANGE_MS = 2 * 3600_000;

/** Every series that has a metric name. */
const ALL_SERIES = new Matcher('=~', METRIC_NAME, '.+');

/**
 * `/api/v1/status/tsdb`: Prometheus' cardinality statistics (its TSDB status page), over the series
 * every endpoint holds in a range, replicas merged: the global view's cardinality, where Prometheus
 * gives its head's. Prometheus 3's `limit` (10 by default) sets the length of each list; the range is
 * `start` and `end` (the last 2 hours by default), `match[]` narrows the series (all by default), and
 * the series endpoint's Thanos parameters apply. `headStats` counts the range's series and label
 * pairs, its times are the range's, and its `chunkCount` is 0: the series are read without chunks.
 */
function tsdbStatus(ctx: ApiContext, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  return handle(ctx, req, reply, async (call) => {
    const p = Params.from(req.query, undefined);
    const limitText = p.get('limit');
    const limit = limitText === undefined || limitText === '' ? 10 : atoi(limitText);
    if (limit === undefined || limit < 1) throw new ApiError('bad_data', 'limit must be a positive number');
    const engine = engineFor(ctx, p);
    const end = p.time('end', Date.now());
    const start = p.time('start', end - TSDB_STATUS_RANGE_MS);
    const opts = readOptions(ctx, req, p, engine);
    const given = parseMatchSelectors(engine, p, true);
    const selectors = (given.length > 0 ? given : [[ALL_SERIES]]).map((ms) => withTenant(ms, opts.tenantMatcher));
    const { series, warnings } = await selectSeries(ctx, opts, selectors, { start, end }, 0, call);
    const stats = new CardinalityStats();
    for (const s of series) stats.add(s);
    const headStats = { numSeries: stats.numSeries, numLabelPairs: stats.numLabelPairs, chunkCount: 0, minTime: start, maxTime: end };
    return sendData(reply, { headStats, ...stats.lists(limit) }, warnings);
  });
}

/** An int64 time in JSON as Thanos writes it (formatInt64). */
function int64Json(ms: number | undefined): string {
  return ms === undefined ? 'null' : formatInt64(ms);
}
