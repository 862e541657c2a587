/**
 * Thanos' distributed query mode, as a plan: which parts of a query the leaf queriers evaluate (each over
 * its own partition of the data, through the Query API) and what the central querier does with their
 * answers. The parts that are not pushed down stay in the query as they were and are evaluated here
 * from raw data, read over the leaves' StoreAPI, so a plan changes where work is done, never the answer.
 *
 * A partition is a set of external label values (`--query.partition-label`, or every external label of
 * the leaves but the replica labels); every series lives in one. An expression is pushed down whole when
 * its value is the union of its values over the partitions:
 * - selectors, and functions of one series at a time over them (rate, label_replace, …);
 * - aggregations whose groups never span two partitions (`by` every partition label, `without` none);
 * - binary operations matching on every partition label (or ignoring none), or with a scalar literal.
 * An aggregation over partitions that is associative is split: each leaf aggregates by the partition
 * labels too, and the central querier aggregates their answers (`count` by summing the counts, `topk` by
 * `topk` of each leaf's). Other aggregations (avg, quantile, …) get their operand pushed down.
 *
 * Not pushed down: functions whose value needs every partition's series (`absent`, `sort`, `vector`,
 * `scalar`), `info`, and subqueries over what is not pushed down whole (a leaf answers at the query's
 * steps, not a subquery's).
 */
import { exprString, exprType, walk, type AggregateExpr, type AggregateOp, type Call, type Expr, type VectorSelector } from '@strata/promql';
import { Matcher } from '@strata/tsdb';

/** The label of the selector that stands for a leaf query's answer in a distributed plan. */
export const REMOTE_LABEL = '__strata_remote__';

/** A part of a query the leaves evaluate. */
export interface LeafQuery {
  /** As PromQL. */
  readonly query: string;
  /** As parsed: the part of the central query it was printed from. */
  readonly expr: Expr;
  /** The matchers of each of its selectors: a leaf none of whose label sets any of them can match holds nothing for it. */
  readonly selectors: readonly (readonly Matcher[])[];
}

export interface DistributedPlan {
  /** The query with each pushed-down part replaced by a selector on REMOTE_LABEL = its index in `remote`. */
  readonly expr: Expr;
  readonly remote: readonly LeafQuery[];
}

export interface Partitioning {
  /** Labels whose values tell partitions apart. */
  readonly labels: ReadonlySet<string>;
  /**
   * Whether answers from different partitions can be told apart: there are partition labels, or one
   * partition. Without, only selectors and functions of one series are pushed down.
   */
  readonly known: boolean;
}

/** What a subexpression needs: no data (a literal), data of one partition at a time, or all of it at once. */
type Locality = 'constant' | 'partition' | 'global';

/** Functions whose answer needs all the data at once, or reads its argument's syntax (absent's labels, info's selectors). */
const GLOBAL_FUNCTIONS = new Set(['absent', 'absent_over_time', 'sort', 'sort_desc', 'sort_by_label', 'sort_by_label_desc', 'info', 'vector', 'scalar']);
/** Of those, the ones whose arguments must stay as written. */
const OPAQUE_FUNCTIONS = new Set(['absent', 'absent_over_time', 'info']);
/** Aggregations computed from partial aggregations, and the central aggregation that combines them. */
const SPLIT: Partial<Record<AggregateOp, AggregateOp>> = { sum: 'sum', min: 'min', max: 'max', group: 'group', count: 'sum', topk: 'topk', bottomk: 'bottomk' };

/** The plan of `expr`, or undefined when nothing of it can be pushed down. */
export function distribute(expr: Expr, partitioning: Partitioning, compat: 2 | 3): DistributedPlan | undefined {
  const remote: LeafQuery[] = [];
  const leaf = (e: Expr): VectorSelector => {
    const selectors: (readonly Matcher[])[] = [];
    walk(e, (node) => {
      if (node.kind === 'vectorSelector') selectors.push(node.matchers);
    });
    remote.push({ query: exprString(e, compat), expr: e, selectors });
    return { kind: 'vectorSelector', name: null, matchers: [new Matcher('=', REMOTE_LABEL, String(remote.length - 1))], offset: 0, timestamp: null, atAnchor: null, pos: e.pos };
  };
  const locality = (e: Expr) => localityOf(e, partitioning);

  const rewrite = (e: Expr): Expr => {
    const where = locality(e);
    if (where === 'constant') return e;
    if (where === 'partition' && exprType(e) === 'instant vector') return leaf(e);
    switch (e.kind) {
      case 'aggregate': {
        const central = SPLIT[e.op];
        if (central !== undefined && partitioning.known && locality(e.expr) === 'partition' && (e.param === null || locality(e.param) === 'constant')) {
          return { ...e, op: central, expr: leaf({ ...e, grouping: partitionGrouping(e, partitioning.labels) }) };
        }
        return { ...e, expr: rewrite(e.expr), param: e.param === null ? null : rewrite(e.param) };
      }
      case 'call':
        return OPAQUE_FUNCTIONS.has(e.func.name) ? e : { ...e, args: e.args.map(rewrite) };
      case 'binary':
        return { ...e, lhs: rewrite(e.lhs), rhs: rewrite(e.rhs) };
      case 'unary':
      case 'paren':
        return { ...e, expr: rewrite(e.expr) };
      default:
        // Selectors outside a function, subqueries over more than one partition: read here.
        return e;
    }
  };
  const planned = rewrite(expr);
  return remote.length > 0 ? { expr: planned, remote } : undefined;
}

/** An aggregation's grouping widened to keep partitions apart: `by` the partition labels too, `without` none of them. */
function partitionGrouping(e: AggregateExpr, partition: ReadonlySet<string>): string[] {
  if (e.without) return e.grouping.filter((l) => !partition.has(l));
  return [...new Set([...e.grouping, ...partition])].sort();
}

function localityOf(e: Expr, p: Partitioning): Locality {
  switch (e.kind) {
    case 'number':
    case 'string':
      return 'constant';
    case 'vectorSelector':
    case 'matrixSelector':
      return 'partition';
    case 'subquery':
    case 'unary':
    case 'paren':
      return localityOf(e.expr, p);
    case 'call':
      return callLocality(e, p);
    case 'aggregate': {
      if (e.param !== null && localityOf(e.param, p) !== 'constant') return 'global';
      const inner = localityOf(e.expr, p);
      if (inner !== 'partition') return 'global';
      return p.known && keepsPartitions(e.grouping, !e.without, p.labels) ? 'partition' : 'global';
    }
    case 'binary': {
      const l = localityOf(e.lhs, p);
      const r = localityOf(e.rhs, p);
      if (l === 'global' || r === 'global') return 'global';
      if (l === 'constant' && r === 'constant') return 'constant';
      if (l === 'constant' || r === 'constant' || e.matching === null) return 'partition';
      // Two vectors: each pair matched must come from one partition.
      return p.known && keepsPartitions(e.matching.matchingLabels, e.matching.on, p.labels) ? 'partition' : 'global';
    }
  }
}

function callLocality(e: Call, p: Partitioning): Locality {
  if (GLOBAL_FUNCTIONS.has(e.func.name)) return 'global';
  const args = e.args.map((a) => localityOf(a, p));
  if (args.includes('global')) return 'global';
  // time(), pi(); but day_of_week() and friends without arguments read vector(time()).
  if (args.every((a) => a === 'constant')) return e.func.returnType === 'scalar' ? 'constant' : 'global';
  // A series renamed into another partition's labels would meet that partition's series only here.
  if ((e.func.name === 'label_replace' || e.func.name === 'label_join') && e.args[1]?.kind === 'string' && p.labels.has(e.args[1].value)) return 'global';
  return 'partition';
}

/** Whether labels kept (`by`/`on`) or dropped (`without`/`ignoring`) leave every partition label in place. */
function keepsPartitions(labels: readonly string[], kept: boolean, partition: ReadonlySet<string>): boolean {
  if (kept) return [...partition].every((l) => labels.includes(l));
  return !labels.some((l) => partition.has(l));
}
