/**
 * `--query.mode=distributed`: a query is planned over the leaf queriers (plan.ts) and its pushed-down
 * parts asked of them (remote.ts), when that can give the answer local evaluation gives:
 * - every endpoint serves the Query API (data behind one that does not would be left out);
 * - the query's times and step are whole seconds, as the Query API carries them (Thanos' querier
 *   truncates them; here such a query is evaluated locally instead);
 * - every step of each leaf query is answered, in each partition, by a leaf that holds all the data the
 *   step reads (leaves of one partition may hold different times: one over a region's sidecars, one
 *   over its history; each is asked for the steps it holds whole, as Thanos' distributed engine asks
 *   its remote engines from the first step their data covers).
 * Otherwise, and for what the plan keeps, the query reads raw data over the leaves' StoreAPI as in
 * local mode.
 */
import { walk, type Engine, type Expr, type PlanNode, type Queryable, type VectorSelector } from '@strata/promql';
import { EngineType } from '@strata/storeapi';
import type { Counter } from 'prom-client';
import type { Endpoint, EndpointScope, EndpointSet } from '../endpoints/endpointset.js';
import type { ReadOptions } from '../queryable.js';
import type { Logger } from '@strata/runtime';
import { distribute, type LeafQuery, type Partitioning } from './plan.js';
import { needsLeaf, RemoteQueryable, remoteLeaf, type StepSpan } from './remote.js';

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

/** Whether a query is planned to be evaluated, or only explained (not counted then). */
export type QueryPurpose = 'evaluate' | 'explain';

/** What a query is evaluated with. */
export interface QueryInput {
  readonly expr: Expr;
  readonly queryable: Queryable;
  /** The operator that stands for a selector of the plan's own: a leaf query asked of the leaves. */
  readonly describe?: (vs: VectorSelector) => PlanNode | undefined;
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
  purpose: QueryPurpose,
): QueryInput {
  const asked = (e: EndpointScope) => read.endpointFilter === undefined || read.endpointFilter(e);
  const engines = endpoints.endpoints().filter(asked);
  const whole = [times.start, times.end, times.step, engine.lookbackDelta].every((ms) => ms % 1000 === 0);
  const plan = whole && engines.length > 0 && engines.every((e) => e.query) ? distribute(expr, partitioning(mode, engines, read.replicaLabels), engine.compat) : undefined;
  const spans = plan?.remote.map((q) => leafSpans(q, engines, engine, times, read.replicaLabels));
  const covered = spans?.every((s) => s !== undefined) === true;
  if (purpose === 'evaluate') mode.queries.inc({ mode: covered ? 'distributed' : 'local' });
  if (plan === undefined || !covered) return { expr, queryable: local };
  logger.debug('distributed query', { remote: plan.remote.map((r) => r.query).join('; ') });
  const maxResolutionMs = read.autoDownsampling ? times.step / 5 : read.maxSourceResolution;
  const queryable = new RemoteQueryable(local, engines, plan.remote, {
    ...times,
    spans: spans as ReadonlyMap<EndpointScope, StepSpan>[],
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
  const describe = (vs: VectorSelector): PlanNode | undefined => {
    const leaf = remoteLeaf(vs.matchers);
    return leaf === undefined ? undefined : queryable.describe(leaf);
  };
  return { expr: plan.expr, queryable, describe };
}

/** The partition labels, and whether the leaves' answers can be told apart by them (or come from one partition). */
function partitioning(mode: DistributedMode, engines: readonly Endpoint[], replicaLabels: readonly string[]): Partitioning {
  const labels = new Set(mode.partitionLabels);
  if (labels.size === 0) {
    for (const e of engines) for (const set of e.labelSets) for (const l of set.toArray()) if (!replicaLabels.includes(l.name)) labels.add(l.name);
  }
  return { labels, known: labels.size > 0 || new Set(engines.map((e) => partitionOf(e, replicaLabels))).size <= 1 };
}

/** A leaf's partition: its external label sets without the replica labels. */
function partitionOf(e: EndpointScope, replicaLabels: readonly string[]): string {
  return e.labelSets.map((s) => s.without(replicaLabels).toString()).join(';');
}

/**
 * The steps leaf query `q` asks each of its leaves for: those whose data (the times the query reads at
 * that step, Engine.dataRange) lies within the leaf's, where the leaf holding its partition's earliest
 * (or latest) data counts as holding everything before (after) it, there being none; undefined when some
 * step of a partition is held whole by none of its leaves. Leaves that hold no data are not asked.
 */
function leafSpans(q: LeafQuery, engines: readonly Endpoint[], engine: Engine, times: QueryTimes, replicaLabels: readonly string[]): Map<EndpointScope, StepSpan> | undefined {
  const steps = times.step > 0 ? Math.floor((times.end - times.start) / times.step) + 1 : 1;
  const stepAt = (i: number) => times.start + i * Math.max(times.step, 1);
  const last = stepAt(steps - 1);
  const first = engine.dataRange(q.expr, times.start, times.start, 0);
  const final = engine.dataRange(q.expr, last, last, 0);
  // What a step reads lies a fixed time around it, except with `@` or under a subquery, whose steps lie on
  // a grid of their own; and a leaf asked for part of the steps would read start(), end() and range()
  // (also in durations) of that part: then a leaf is asked only if it holds what every step reads.
  let fixed = false;
  walk(q.expr, (node) => {
    if (node.kind === 'subquery' || (node.kind === 'call' && ['start', 'end', 'range'].includes(node.func.name))) fixed = true;
    if (node.kind === 'vectorSelector' && (node.timestamp !== null || node.atAnchor !== null || node.offsetFn !== undefined)) fixed = true;
    if (node.kind === 'matrixSelector' && node.rangeFn !== undefined) fixed = true;
  });
  const shifted = !fixed && first !== undefined && final !== undefined && final.mint - first.mint === last - times.start && final.maxt - first.maxt === last - times.start;
  const whole = engine.dataRange(q.expr, times.start, times.end, times.step);
  const asked = engines.filter((x) => needsLeaf(q, x) && x.minTime <= x.maxTime);
  const bounds = new Map<string, { min: number; max: number }>();
  for (const e of asked) {
    const key = partitionOf(e, replicaLabels);
    const b = bounds.get(key);
    bounds.set(key, { min: Math.min(b?.min ?? Infinity, e.minTime), max: Math.max(b?.max ?? -Infinity, e.maxTime) });
  }
  const spans = new Map<EndpointScope, StepSpan>();
  // For each partition the query asks, which of its steps some leaf holds whole.
  const held = new Map([...bounds.keys()].map((key) => [key, new Array<boolean>(steps).fill(false)]));
  for (const e of asked) {
    const key = partitionOf(e, replicaLabels);
    const b = bounds.get(key) as { min: number; max: number };
    const minTime = e.minTime === b.min ? -Infinity : e.minTime;
    const maxTime = e.maxTime === b.max ? Infinity : e.maxTime;
    let from = 0;
    let to = steps - 1;
    if (shifted) {
      // The first and last steps whose data is within [minTime, maxTime].
      from = Math.max(0, Math.ceil((minTime - first.mint) / Math.max(times.step, 1)));
      to = Math.min(steps - 1, Math.floor((maxTime - first.maxt) / Math.max(times.step, 1)));
    } else if (whole !== undefined && (whole.mint < minTime || whole.maxt > maxTime)) {
      continue;
    }
    if (from > to) continue;
    // The query's own start and end where the span reaches them (the whole query: `@ end()` reads them).
    spans.set(e, { from: from === 0 ? times.start : stepAt(from), to: to === steps - 1 ? times.end : stepAt(to) });
    const partition = held.get(key) as boolean[];
    for (let i = from; i <= to; i++) partition[i] = true;
  }
  return [...held.values()].every((partition) => partition.every((h) => h)) ? spans : undefined;
}
