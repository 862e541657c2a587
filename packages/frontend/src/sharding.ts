import { exprType, parseExpr, walk, type Expr } from '@strata/promql';
import { goJson } from '@strata/runtime';
import { shardInfoJson } from '@strata/storeapi';
import { Labels } from '@strata/tsdb';
import type { SeriesAnswer } from './answer.js';
import type { DownstreamAnswer } from './downstream.js';

/**
 * The labels a query can be sharded by (Thanos' vertical query sharding): `by`, the series are spread
 * over shards by the values of `labels`; otherwise by the values of every label but `labels`.
 */
export interface ShardingKey {
  readonly by: boolean;
  readonly labels: readonly string[];
}

/**
 * Functions that fold every series into one value or make a series for their absence: evaluated per
 * shard, each would answer for its part only (`scalar`, `absent`). `info` joins series with others
 * (target_info) that another shard may hold. (Functions that make series out of none, `vector(1)` or
 * `hour()`, are told by their arguments.)
 */
const UNSHARDABLE_FUNCTIONS = new Set(['absent', 'absent_over_time', 'scalar', 'info']);
/** Functions that group classic histogram buckets by every label but `le`. */
const BUCKET_FUNCTIONS = new Set(['histogram_quantile', 'histogram_quantiles', 'histogram_fraction']);
/** Functions whose second argument names the label they write. */
const LABEL_WRITING_FUNCTIONS = new Set(['label_replace', 'label_join']);

/**
 * How `query` can be sharded so that evaluating it over each shard's series and putting the answers
 * together gives its answer over all series; undefined when it cannot (or does not parse).
 *
 * Every step that combines series (an aggregation's groups, a binary operation's matching, a bucket
 * function's buckets) must only combine series of the same shard: series are sharded by labels each
 * such step holds equal among the series it combines. `by (…)` and `on (…)` keep the labels named,
 * `without (…)` and `ignoring (…)` (or no clause) rule out the labels named. Labels a step writes
 * (label_replace's, count_values', and the metric name, which functions drop and aggregations leave
 * out) are ruled out too: they no longer hold the values the series were sharded by. A query left with
 * labels to keep shards by those labels; one left with none (`sum(x)`, `x / on() y`) is not sharded;
 * one with none to keep shards by every label but those ruled out.
 *
 * This shards queries Thanos' analyzer leaves whole (`rate(x[5m])`, `a / b`, label_replace where its
 * label is not a key), and rules out the metric name where Thanos does not: `sum without (pod)
 * ({__name__=~"a|b"})` joins series of both names in one group.
 * `ordered`: the answer's order counts (an instant query's vector), so a query that sorts (`sort`,
 * `sort_desc`, `sort_by_label`, `topk`, `bottomk`) is left whole; shards put together are sorted by labels.
 */
export function shardingOf(query: string, opts: { ordered?: boolean } = {}): ShardingKey | undefined {
  let expr: Expr;
  try {
    expr = parseExpr(query, { experimentalFunctions: true, extendedRangeSelectors: true, binopFillModifiers: true, xFunctions: true });
  } catch {
    return undefined;
  }
  // A scalar is answered alike by every shard; only series can be put together.
  if (exprType(expr) !== 'instant vector' && exprType(expr) !== 'range vector') return undefined;
  /** The labels to keep (undefined: every label). */
  let kept: Set<string> | undefined;
  const ruledOut = new Set(['__name__']);
  const keep = (labels: readonly string[]) => {
    kept = new Set(labels.filter((l) => kept === undefined || kept.has(l)));
  };
  const ruleOut = (labels: readonly string[]) => {
    for (const l of labels) ruledOut.add(l);
  };
  let shardable = true;
  walk(expr, (node) => {
    switch (node.kind) {
      case 'aggregate':
        if (node.without) ruleOut(node.grouping);
        else keep(node.grouping);
        if (opts.ordered === true && (node.op === 'topk' || node.op === 'bottomk')) shardable = false;
        if (node.op === 'count_values') {
          const label = stringValue(node.param);
          if (label === undefined) shardable = false;
          else ruleOut([label]);
        }
        return;
      case 'binary':
        // Only between two instant vectors; with a scalar, each series on its own.
        if (node.matching === null) return;
        if (node.matching.on) keep(node.matching.matchingLabels);
        else ruleOut(node.matching.matchingLabels);
        return;
      case 'call': {
        const name = node.func.name;
        // Series made of none (`vector(1)`, `hour()`): every shard would answer them.
        const madeOfNone = node.func.returnType === 'instant vector' && !node.args.some((a) => exprType(a) === 'instant vector' || exprType(a) === 'range vector');
        if (madeOfNone || UNSHARDABLE_FUNCTIONS.has(name) || (opts.ordered === true && name.startsWith('sort'))) shardable = false;
        else if (BUCKET_FUNCTIONS.has(name)) ruleOut(['le']);
        else if (LABEL_WRITING_FUNCTIONS.has(name)) {
          const label = stringValue(node.args[1]);
          if (label === undefined) shardable = false;
          else ruleOut([label]);
        }
        return;
      }
      default:
        return;
    }
  });
  if (!shardable) return undefined;
  if (kept === undefined) return { by: false, labels: [...ruledOut].sort() };
  const labels = [...kept].filter((l) => !ruledOut.has(l)).sort();
  return labels.length === 0 ? undefined : { by: true, labels };
}

/** The value of a string literal argument, in parentheses or not. */
function stringValue(e: Expr | null | undefined): string | undefined {
  while (e?.kind === 'paren') e = e.expr;
  return e?.kind === 'string' ? e.value : undefined;
}

/** The `shard_info` parameter of each of `total` shards of a query sharded by `key`, as Thanos' frontend sends it. */
export function shardInfoParams(key: ShardingKey, total: number): [string, string][] {
  return Array.from({ length: total }, (_, shardIndex) => ['shard_info', shardInfoJson({ shardIndex, totalShards: total, by: key.by, labels: [...key.labels] })]);
}

/**
 * The error answer for the shards of one query when two of them answered the same series, which a
 * downstream that honours shard_info never does (Prometheus ignores it and answers every shard whole):
 * put together, they would count that series twice. Undefined when the shards are disjoint.
 */
export function overlappingShardsError(shards: readonly SeriesAnswer[]): DownstreamAnswer | undefined {
  const seen = new Set<string>();
  for (const a of shards) {
    const keys = a.data.result.map((s) => Labels.from(s.metric).toString());
    const twice = keys.find((k) => seen.has(k));
    if (twice !== undefined) {
      const error = `the downstream querier does not shard: two shards of the query both answered ${twice}; --query-frontend.vertical-shards needs a querier that honours shard_info (Strata's or Thanos')`;
      return { status: 500, contentType: 'application/json', headers: [], body: Buffer.from(goJson(JSON.stringify({ status: 'error', errorType: 'internal', error }))) };
    }
    for (const k of keys) seen.add(k);
  }
  return undefined;
}
