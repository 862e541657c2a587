/**
 * `--query.mode=distributed`: a query is planned over the leaf queriers (plan.ts) and its pushed-down
 * parts asked of them (remote.ts), when that can give the answer local evaluation gives:
 * - every endpoint serves the Query API (data behind one that does not would be left out);
 * - the query's times and step are whole seconds, as the Query API carries them (Thanos' querier
 *   truncates them; here such a query is evaluated locally instead);
 * - the leaves of each partition hold the same time range (replicas of one another).
 * Otherwise, and for what the plan keeps, the query reads raw data over the leaves' StoreAPI as in
 * local mode.
 */
import type { Engine, Expr, Queryable } from '@strata/promql';
import { EngineType } from '@strata/storeapi';
import type { Counter } from 'prom-client';
import type { Endpoint, EndpointScope, EndpointSet } from '../endpoints/endpointset.js';
import type { ReadOptions } from '../queryable.js';
import type { Logger } from '@strata/runtime';
import { distribute, type Partitioning } from './plan.js';
import { RemoteQueryable } from './remote.js';

export interface DistributedMode {
  /** --query.partition-label: the external labels that tell the leaves' partitions apart; none: all but the replica labels. */
  readonly partitionLabels: readonly string[];
  /** Queries by how they were evaluated: `mode` distributed or local. */
  readonly queries: Counter<'mode'>;
}

/** A query's times in ms; step 0 for an instant query at `start`. */
export interface QueryTimes {
  readonly start: number;
  readonly end: number;
  readonly step: number;
}

/** The expression and queryable a query is evaluated with: its distributed plan's, or `expr` over `local`. */
export function planQuery(
  mode: DistributedMode,
  endpoints: EndpointSet,
  logger: Logger,
  engine: Engine,
  read: ReadOptions,
  local: Queryable,
  expr: Expr,
  times: QueryTimes,
): { expr: Expr; queryable: Queryable } {
  const asked = (e: EndpointScope) => read.endpointFilter === undefined || read.endpointFilter(e);
  const engines = endpoints.endpoints().filter(asked);
  const whole = [times.start, times.end, times.step, engine.lookbackDelta].every((ms) => ms % 1000 === 0);
  const partitions = partitioning(mode, engines, read.replicaLabels);
  const plan = whole && engines.length > 0 && engines.every((e) => e.query) && partitions.replicated ? distribute(expr, partitions, engine.compat) : undefined;
  mode.queries.inc({ mode: plan !== undefined ? 'distributed' : 'local' });
  if (plan === undefined) return { expr, queryable: local };
  logger.debug('distributed query', { remote: plan.remote.map((r) => r.query).join('; ') });
  const maxResolutionMs = read.autoDownsampling ? times.step / 5 : read.maxSourceResolution;
  const queryable = new RemoteQueryable(local, engines, plan.remote, {
    ...times,
    // Leaves whose health check failed: their partitions would be left out without a word.
    unavailable: endpoints.unavailable().filter(asked),
    options: {
      timeoutSeconds: 0,
      maxResolutionSeconds: Math.floor(maxResolutionMs / 1000),
      replicaLabels: [...read.replicaLabels],
      storeMatchers: [],
      enableDedup: read.dedup,
      enablePartialResponse: read.partialResponse,
      ...(read.shardInfo !== undefined ? { shardInfo: read.shardInfo } : {}),
      lookbackDeltaSeconds: engine.lookbackDelta / 1000,
      engine: EngineType.default,
    },
    tenant: read.tenant,
  });
  return { expr: plan.expr, queryable };
}

/**
 * The partition labels; whether the leaves' answers can be told apart by them (or come from one
 * partition); and whether the leaves of each partition are replicas, holding the same time range. Leaves
 * of one partition over different times (one over its sidecars, one over its history) would each answer
 * from part of a series' samples, which merging their answers cannot mend.
 */
function partitioning(mode: DistributedMode, engines: readonly Endpoint[], replicaLabels: readonly string[]): Partitioning & { replicated: boolean } {
  const labels = new Set(mode.partitionLabels);
  if (labels.size === 0) {
    for (const e of engines) for (const set of e.labelSets) for (const l of set.toArray()) if (!replicaLabels.includes(l.name)) labels.add(l.name);
  }
  const ranges = new Map<string, string>();
  let replicated = true;
  for (const e of engines) {
    const key = e.labelSets.map((s) => s.without(replicaLabels).toString()).join(';');
    const range = `${e.minTime}-${e.maxTime}`;
    if ((ranges.get(key) ?? range) !== range) replicated = false;
    ranges.set(key, range);
  }
  return { labels, known: labels.size > 0 || ranges.size <= 1, replicated };
}
