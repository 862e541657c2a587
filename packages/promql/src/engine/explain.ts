/**
 * A query's evaluation as a tree of operators (Thanos' explain), and, when it was analyzed, what each
 * one cost (Thanos' analyze). Operators are named as Thanos' engine names its own (`[aggregate] sum by
 * (job)`, `[matrixSelector] x[5m]`), so that its UI and users read them alike; the tree follows the
 * expression as Strata's evaluator runs it (parentheses are no operator; a step-invariant subtree is
 * evaluated once, under `[stepInvariant]`).
 */
import type { Expr, VectorSelector } from '../parser/ast.js';
import { aggregateOp, binaryOp, exprString, subquerySuffix } from '../parser/printer.js';
import { isStepInvariant } from './invariant.js';

/** What evaluating a node cost, its children included. */
export interface NodeTelemetry {
  /**
   * Time (ms). As the engine measures it, the node's evaluation's, undefined for a range vector (which its
   * function's call times); in a PlanNode, that and the longest selection beneath it, which all ran
   * before evaluation, at once: the time the node's value took to be ready.
   */
  timeMs?: number;
  /** A selector's: how long selecting its series took (ms). In a PlanNode: the longest selection beneath it. */
  fetchMs?: number;
  /** Samples read. */
  samples: number;
  /** Most samples held at once. */
  peakSamples: number;
}

export interface PlanNode {
  readonly name: string;
  readonly children: readonly PlanNode[];
  /** When the query was analyzed. */
  readonly telemetry?: NodeTelemetry;
}

export interface ExplainOptions {
  /** The query's steps: with more than one, step-invariant subtrees are marked as evaluated once. */
  readonly steps: number;
  /** Prometheus semantics the expression is printed with. */
  readonly compat: 2 | 3;
  /** A node of the caller's own for a selector (a distributed plan's remote query), if it has one. */
  readonly describe?: (vs: VectorSelector) => PlanNode | undefined;
  /** What each node cost, from an analyzed evaluation. */
  readonly telemetry?: ReadonlyMap<Expr, NodeTelemetry>;
}

/** The operator tree of `expr`. */
export function explain(expr: Expr, opts: ExplainOptions): PlanNode {
  return node(expr, opts, opts.steps > 1);
}

function node(e: Expr, opts: ExplainOptions, varying: boolean): PlanNode {
  if (e.kind === 'paren') return node(e.expr, opts, varying);
  const telemetry = opts.telemetry?.get(e);
  if (varying && e.kind !== 'number' && e.kind !== 'string' && isStepInvariant(e)) {
    // Evaluated once and repeated: one step's evaluation below, timed (and counted) as the whole.
    const once = node(e, opts, false);
    return withTelemetry({ name: '[stepInvariant]', children: [{ name: once.name, children: once.children }] }, telemetry, once.telemetry?.fetchMs);
  }
  const own = e.kind === 'vectorSelector' ? opts.describe?.(e) : undefined;
  if (own !== undefined) return withTelemetry(own, telemetry);
  // A range selector's series are its vector selector's selection.
  if (e.kind === 'matrixSelector') {
    const selection = opts.telemetry?.get(e.vs);
    return withTelemetry({ name: `[matrixSelector] ${exprString(e, opts.compat)}`, children: [] }, telemetry, selection?.fetchMs);
  }
  const children = (...es: Expr[]) => es.map((c) => node(c, opts, varying));
  switch (e.kind) {
    case 'number':
      return withTelemetry({ name: `[numberLiteral] ${exprString(e, opts.compat)}`, children: [] }, telemetry);
    case 'string':
      return withTelemetry({ name: `[stringLiteral] ${exprString(e, opts.compat)}`, children: [] }, telemetry);
    case 'vectorSelector':
      return withTelemetry({ name: `[vectorSelector] ${exprString(e, opts.compat)}`, children: [] }, telemetry);
    case 'subquery':
      return withTelemetry({ name: `[subquery] ${subquerySuffix(e)}`, children: children(e.expr) }, telemetry);
    case 'call':
      return withTelemetry({ name: `[functionCall] ${e.func.name}`, children: children(...e.args) }, telemetry);
    case 'aggregate':
      return withTelemetry({ name: `[aggregate] ${aggregateOp(e).trim()}`, children: children(...(e.param === null ? [e.expr] : [e.param, e.expr])) }, telemetry);
    case 'binary':
      return withTelemetry({ name: `[binary] ${binaryOp(e, opts.compat)}`, children: children(e.lhs, e.rhs) }, telemetry);
    case 'unary':
      return withTelemetry({ name: `[unary] ${e.op}`, children: children(e.expr) }, telemetry);
  }
}

/** `n` with what it cost, its time made the time its value took to be ready (the longest selection beneath it first). */
function withTelemetry(n: PlanNode, telemetry: NodeTelemetry | undefined, ownFetchMs = telemetry?.fetchMs): PlanNode {
  if (telemetry === undefined) return n;
  const fetches = [ownFetchMs, ...n.children.map((c) => c.telemetry?.fetchMs)].filter((ms): ms is number => ms !== undefined);
  if (fetches.length === 0) return { ...n, telemetry };
  const fetchMs = Math.max(...fetches);
  return { ...n, telemetry: { ...telemetry, fetchMs, timeMs: (telemetry.timeMs ?? 0) + fetchMs } };
}

/** Adds one evaluation's cost of `e` to what it cost before. */
export function addTelemetry(into: Map<Expr, NodeTelemetry>, e: Expr, cost: NodeTelemetry): void {
  const t = into.get(e);
  if (t === undefined) {
    into.set(e, { ...cost });
    return;
  }
  if (cost.timeMs !== undefined) t.timeMs = (t.timeMs ?? 0) + cost.timeMs;
  if (cost.fetchMs !== undefined) t.fetchMs = Math.max(t.fetchMs ?? 0, cost.fetchMs);
  t.samples += cost.samples;
  t.peakSamples = Math.max(t.peakSamples, cost.peakSamples);
}
