import { exprString, parseExpr, rangeQueryTypeError, resolveDurations, walk, type Expr, type QueryParams } from '@strata/promql';

/**
 * The query as each piece of a split range query must be sent: what depends on the whole query's range
 * is fixed to it. `@ start()` and `@ end()` become the range's start and end, and duration expressions
 * (`range()`, `step()`) their values, since every piece has a start, end and range of its own. The same
 * string when nothing depends on them; undefined when the query does not parse or is no instant vector
 * or scalar (the downstream querier then answers it whole, with its own error).
 */
export function pinnedQuery(query: string, q: QueryParams): string | undefined {
  let expr: Expr;
  try {
    expr = parseExpr(query, { experimentalFunctions: true, extendedRangeSelectors: true, binopFillModifiers: true, xFunctions: true });
  } catch {
    return undefined;
  }
  // Nothing a range query can evaluate (`x[5m]`, a string): refused whole, not once per piece.
  if (rangeQueryTypeError(expr) !== undefined) return undefined;
  resolveDurations(expr, q);
  let pinned = false;
  walk(expr, (node) => {
    const modifiers = node.kind === 'matrixSelector' ? node.vs : node.kind === 'vectorSelector' || node.kind === 'subquery' ? node : undefined;
    if (modifiers === undefined) return;
    if (modifiers.atAnchor !== null) {
      modifiers.timestamp = modifiers.atAnchor === 'start' ? q.start : q.end;
      modifiers.atAnchor = null;
      pinned = true;
    }
    // resolveDurations has set the values: printed as durations from here on.
    if (modifiers.offsetFn !== undefined) {
      delete modifiers.offsetFn;
      pinned = true;
    }
    const ranged = node.kind === 'matrixSelector' || node.kind === 'subquery' ? node : undefined;
    if (ranged?.rangeFn !== undefined) {
      delete ranged.rangeFn;
      pinned = true;
    }
    if (node.kind === 'subquery' && node.stepFn !== undefined) {
      delete node.stepFn;
      pinned = true;
    }
  });
  return pinned ? exprString(expr, 3) : query;
}
