import type { DedupFunc } from '@strata/dedup';
import { Engine, type PromqlFeatures } from '@strata/promql';
import { StoreError, GrpcStatus, parseShardInfoJson, type CallContext, type ShardInfo } from '@strata/storeapi';
import { logIfSlow, requestTenant, type Logger } from '@strata/runtime';
import { Labels, type Matcher } from '@strata/tsdb';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { EndpointSet } from '../endpoints/endpointset.js';
import type { ProxyStore } from '../proxy/proxy.js';
import type { EndpointFilter } from '../proxy/proxy.js';
import type { ReadOptions } from '../queryable.js';
import type { DistributedMode } from '../distributed/mode.js';
import { ApiError, invalidParam } from './errors.js';
import type { ActiveQueryTracker } from './activequeries.js';
import type { EngineMetrics, QueryGate } from './metrics.js';
import { Params } from './params.js';
import { tenantMatcher, type TenancyConfig } from '../tenancy.js';
import { sendError } from './respond.js';
import type { RemoteReadContext } from './remoteread.js';

/** What every API route group needs: the proxy over the endpoints and the querier's defaults. */
export interface ApiContext {
  proxy: ProxyStore;
  endpoints: EndpointSet;
  logger: Logger;
  /** Admission gate for PromQL queries (`--query.max-concurrent`), as Thanos gates them: around their evaluation only. */
  gate: QueryGate;
  engineMetrics: EngineMetrics;
  /** The queries being evaluated, in a file that outlives a crash (--query.active-query-path). */
  activeQueries?: ActiveQueryTracker;
  defaults: {
    replicaLabels: readonly string[];
    dedupFunc: DedupFunc;
    partialResponse: boolean;
    autoDownsampling: boolean;
    lookbackDelta: number;
    /** Most samples a query may hold at once (--query.max-samples). */
    maxSamples: number;
    /** Requests taking longer are logged (ms; 0: none; below 0: all; --query.log-queries-longer-than). */
    logQueriesLongerThanMs: number;
    /** Selects a query reads at once (--query.max-concurrent-select). */
    maxConcurrentSelect: number;
    /** The range /series and /labels read without start and end (ms; 0: all time; --query.metadata.default-time-range). */
    metadataTimeRange: number;
    /** Step of subqueries without one (--query.default-evaluation-interval). */
    subqueryStep: number;
    timeout: number;
    compat: 2 | 3;
    /**
     * PromQL features turned on with --enable-feature (Prometheus' names); `xFunctions` with
     * --query.enable-x-functions, offered to queries evaluated with the thanos engine only.
     */
    features?: PromqlFeatures;
    /** --query.promql-engine: the engine a query names when it names none (Thanos' `engine` parameter). */
    engine: PromqlEngineName;
  };
  /** Origins whose browser requests get CORS headers (--web.cors.origin); undefined: none (--web.disable-cors). */
  corsOrigin: RegExp | undefined;
  /** Every flag with its value, for /api/v1/status/flags. */
  flags: Record<string, string>;
  /** Whose request it is, and whether it sees only its tenant's series (--query.tenant-header, --query.enforce-tenancy…). */
  tenancy: TenancyConfig;
  /** --query.mode=distributed: queries pushed down to the leaf queriers where they can be. */
  distributed?: DistributedMode;
  /** Prometheus' --storage.remote.read-* limits of /api/v1/read, and its gate. */
  remoteRead: RemoteReadContext;
}

/** Thanos' PromQL engines. Strata evaluates with its own either way; the thanos one offers the x-functions. */
export type PromqlEngineName = 'prometheus' | 'thanos';

/** An engine with the request's lookback delta, timeout (bounded by the querier's) and Thanos' `engine`. */
export function engineFor(ctx: ApiContext, p: Params): Engine {
  const res = p.get('max_source_resolution') === 'auto' ? undefined : p.duration('max_source_resolution');
  const name = p.get('engine') ?? '';
  if (name !== '' && name !== 'prometheus' && name !== 'thanos') throw new ApiError('bad_data', `'${name}' bad engine`);
  return engineWith(ctx, p.duration('lookback_delta'), res, p.duration('timeout'), name === '' ? undefined : name);
}

/**
 * An engine with a request's lookback delta (ms; undefined: the querier's, widened for `maxSourceResolution`),
 * timeout (ms; bounded by the querier's) and Thanos engine (undefined: --query.promql-engine's).
 */
export function engineWith(
  ctx: ApiContext, lookbackDelta: number | undefined, maxSourceResolution: number | undefined, timeout: number | undefined, engine?: PromqlEngineName,
): Engine {
  const { xFunctions, ...features } = ctx.defaults.features ?? {};
  return new Engine({
    lookbackDelta: lookbackDelta ?? dynamicLookbackDelta(ctx.defaults.lookbackDelta, maxSourceResolution),
    timeout: timeout === undefined ? ctx.defaults.timeout : Math.min(timeout, ctx.defaults.timeout),
    compat: ctx.defaults.compat,
    subqueryStep: ctx.defaults.subqueryStep,
    maxSamples: ctx.defaults.maxSamples,
    ...features,
    // As in Thanos, --query.enable-x-functions has effect with its engine only.
    xFunctions: xFunctions === true && (engine ?? ctx.defaults.engine) === 'thanos',
  });
}

/**
 * Thanos' dynamic lookback delta (its --query.dynamic-lookback-delta, on by default): downsampled points
 * are 5m or 1h apart, so a max_source_resolution above max(configured, 5m) widens the lookback to
 * max(configured, 1h), and one above the configured lookback to max(configured, 5m).
 */
function dynamicLookbackDelta(configured: number, res: number | undefined): number {
  if (res === undefined) return configured;
  if (res > Math.max(configured, 5 * 60_000)) return Math.max(configured, 60 * 60_000);
  if (res > configured) return Math.max(configured, 5 * 60_000);
  return configured;
}

/** Thanos' per-request read parameters: dedup, replicaLabels[], partial_response, max_source_resolution, storeMatch[], shard_info. */
export function readOptions(ctx: ApiContext, req: FastifyRequest, p: Params, engine: Engine): ReadOptions {
  const replicaLabels = p.all('replicaLabels[]');
  const res = p.get('max_source_resolution');
  let maxSourceResolution = 0;
  let autoDownsampling = ctx.defaults.autoDownsampling;
  if (res === 'auto') autoDownsampling = true;
  else if (res !== undefined && res !== '') {
    maxSourceResolution = p.duration('max_source_resolution') as number;
    autoDownsampling = false;
  }
  // As Thanos: unnamed in the error, and a selector may match every store.
  const storeMatchers = p.all('storeMatch[]').map((s) => parseSelector(engine, s, (reason) => new ApiError('bad_data', reason)));
  const shardInfo = p.get('shard_info');
  const matcher = tenantMatcherOf(ctx, req);
  return {
    dedup: p.bool('dedup', true),
    replicaLabels: replicaLabels.length > 0 ? replicaLabels : ctx.defaults.replicaLabels,
    dedupFunc: ctx.defaults.dedupFunc,
    maxConcurrentSelect: ctx.defaults.maxConcurrentSelect,
    partialResponse: p.bool('partial_response', ctx.defaults.partialResponse),
    maxSourceResolution,
    autoDownsampling,
    ...(storeMatchers.length > 0 ? { endpointFilter: storeMatchFilter(storeMatchers) } : {}),
    ...(shardInfo !== undefined && shardInfo !== '' ? { shardInfo: shardInfoParam(shardInfo) } : {}),
    tenant: tenantOf(ctx, req),
    ...(matcher !== undefined ? { tenantMatcher: matcher } : {}),
  };
}

/** Whose request it is (--query.tenant-header, --query.default-tenant-id…), as the stores are told. */
export function tenantOf(ctx: ApiContext, req: FastifyRequest): string {
  try {
    return requestTenant(req, ctx.tenancy);
  } catch (e) {
    throw new ApiError('bad_data', (e as Error).message);
  }
}

/** The matcher that keeps a request to its tenant's series, under --query.enforce-tenancy. */
export function tenantMatcherOf(ctx: ApiContext, req: FastifyRequest): Matcher | undefined {
  return ctx.tenancy.enforce ? tenantMatcher(tenantOf(ctx, req), ctx.tenancy) : undefined;
}

/** Thanos' `shard_info`: the shard of a query frontend's vertically sharded query, as JSON. */
function shardInfoParam(json: string): ShardInfo {
  try {
    return parseShardInfoJson(json);
  } catch (e) {
    throw invalidParam('shard_info', (e as Error).message);
  }
}

/**
 * Thanos' storeMatch[]: an endpoint is used if any selector matches one of its external label sets,
 * where `__address__` is the endpoint's address.
 */
export function storeMatchFilter(selectors: readonly Matcher[][]): EndpointFilter {
  return (e) => {
    const labelSets = e.labelSets.length > 0 ? e.labelSets : [Labels.EMPTY];
    return selectors.some((ms) => labelSets.some((ls) => ms.every((m) => m.matches(m.name === '__address__' ? e.address : ls.get(m.name)))));
  };
}

/**
 * A series selector parameter (match[], storeMatch[]): a vector selector alone, read as Prometheus'
 * ParseMetricSelector reads it. `reject` makes the error of one that is not.
 */
function parseSelector(engine: Engine, text: string, reject: (reason: string) => ApiError): Matcher[] {
  try {
    return engine.parseMetricSelector(text);
  } catch (e) {
    throw reject((e as Error).message);
  }
}

/**
 * Prometheus' match[] (parseMatchersParam): every selector parsed, each with a matcher that does not
 * match the empty string. Its series endpoint names the parameter in the error, its label endpoints
 * do not (`named`).
 */
export function parseMatchSelectors(engine: Engine, p: Params, named: boolean): Matcher[][] {
  const reject = (reason: string) => (named ? invalidParam('match[]', reason) : new ApiError('bad_data', reason));
  const sets = p.all('match[]').map((s) => parseSelector(engine, s, reject));
  if (sets.some((ms) => ms.every((m) => m.matches('')))) throw reject('match[] must contain at least one non-empty matcher');
  return sets;
}

/** Maps a failure to Prometheus' error type; unexpected ones are logged and reported as execution errors. */
export function toApiError(err: unknown, logger: Logger): ApiError {
  if (err instanceof ApiError) return err;
  const e = err as Error;
  switch (e.name) {
    case 'ParseError':
      return invalidParam('query', e.message);
    case 'QueryTimeoutError':
      return new ApiError('timeout', e.message);
    case 'QueryCanceledError':
      return new ApiError('canceled', e.message);
    case 'EvalError':
    case 'TooManySamplesError':
    case 'SeriesLimitError':
      return new ApiError('execution', e.message);
  }
  if (err instanceof StoreError && err.code === GrpcStatus.UNAVAILABLE) return new ApiError('unavailable', e.message);
  logger.warn('query failed', { err: e });
  return new ApiError('execution', e.message);
}

/**
 * Runs a route body with an AbortSignal that fires when the client goes away, answering its errors in
 * Prometheus' error JSON and logging it if slow.
 */
export async function handle(ctx: ApiContext, req: FastifyRequest, reply: FastifyReply, body: (call: CallContext) => Promise<FastifyReply>): Promise<FastifyReply> {
  const arrived = performance.now();
  const ac = new AbortController();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) ac.abort();
  });
  try {
    return await body({ signal: ac.signal, tenant: tenantOf(ctx, req) });
  } catch (err) {
    return sendError(reply, toApiError(err, ctx.logger));
  } finally {
    logIfSlow(ctx.logger, ctx.defaults.logQueriesLongerThanMs, req, reply, performance.now() - arrived, Params.from(req.query, req.body).pairs());
  }
}
