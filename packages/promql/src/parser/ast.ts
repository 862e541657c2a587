/**
 * The PromQL syntax tree, shaped after Prometheus' promql/parser AST. Times and durations are
 * milliseconds. Positions are character offsets into the query text.
 */
import type { Matcher } from '@strata/tsdb';
import type { FunctionDef } from './functions.js';

/** Prometheus' names of expression types, as they appear in its error messages. */
export type ExprType = 'scalar' | 'instant vector' | 'range vector' | 'string';

export interface PosRange {
  readonly start: number;
  readonly end: number;
}

export type Expr =
  | NumberLiteral
  | StringLiteral
  | VectorSelector
  | MatrixSelector
  | SubqueryExpr
  | Call
  | AggregateExpr
  | BinaryExpr
  | UnaryExpr
  | ParenExpr;

export interface NumberLiteral {
  readonly kind: 'number';
  readonly value: number;
  readonly pos: PosRange;
}

export interface StringLiteral {
  readonly kind: 'string';
  readonly value: string;
  readonly pos: PosRange;
}

/** `@ start()` / `@ end()`: resolved to the query's start or end before evaluation. */
export type AtAnchor = 'start' | 'end';

/** The query parameters a duration expression may use (`step()`, `range()`), in ms. */
export interface QueryParams {
  readonly start: number;
  readonly end: number;
  /** 0 for instant queries. */
  readonly step: number;
}

/** A duration (ms) that depends on the query parameters; resolved before each evaluation. */
export interface DurationFn {
  (q: QueryParams): number;
  /** The duration expression as written, for printing the query. */
  readonly source: string;
}

/** What `offset` and `@` set on a selector or subquery. */
export interface TimeModifiers {
  /** Offset in ms (negative allowed). */
  offset: number;
  /** Set when the offset uses `step()`/`range()`; `offset` then holds the last resolved value. */
  offsetFn?: DurationFn;
  /** The `@` time in ms, or null. Set from `atAnchor` once the query's start and end are known. */
  timestamp: number | null;
  atAnchor: AtAnchor | null;
}

/** Prometheus' experimental extended range selectors (promql-extended-range-selectors). */
export type RangeExtension = 'anchored' | 'smoothed';

export interface VectorSelector extends TimeModifiers {
  readonly kind: 'vectorSelector';
  readonly name: string | null;
  readonly matchers: readonly Matcher[];
  /** `anchored` / `smoothed` after the selector (or its range). */
  extension?: RangeExtension;
  readonly pos: PosRange;
}

export interface MatrixSelector {
  readonly kind: 'matrixSelector';
  readonly vs: VectorSelector;
  /** Range in ms. */
  range: number;
  /** Set when the range uses `step()`/`range()`. */
  rangeFn?: DurationFn;
  readonly pos: PosRange;
}

export interface SubqueryExpr extends TimeModifiers {
  readonly kind: 'subquery';
  readonly expr: Expr;
  range: number;
  /** Step in ms; 0 means the engine's default subquery step. */
  step: number;
  /** Set when the range or step uses `step()`/`range()`. */
  rangeFn?: DurationFn;
  stepFn?: DurationFn;
  readonly pos: PosRange;
}

export interface Call {
  readonly kind: 'call';
  readonly func: FunctionDef;
  args: Expr[];
  readonly pos: PosRange;
}

export type AggregateOp =
  | 'sum'
  | 'avg'
  | 'count'
  | 'min'
  | 'max'
  | 'group'
  | 'stddev'
  | 'stdvar'
  | 'topk'
  | 'bottomk'
  | 'quantile'
  | 'count_values'
  | 'limitk'
  | 'limit_ratio';

export interface AggregateExpr {
  readonly kind: 'aggregate';
  readonly op: AggregateOp;
  expr: Expr;
  param: Expr | null;
  readonly grouping: readonly string[];
  readonly without: boolean;
  readonly pos: PosRange;
}

export type ArithmeticOp = '+' | '-' | '*' | '/' | '%' | '^' | 'atan2';
export type ComparisonOp = '==' | '!=' | '>' | '<' | '>=' | '<=';
export type SetOp = 'and' | 'or' | 'unless';
/** Prometheus 3.x's experimental trim operators: `h </ x` keeps the observations below x, `h >/ x` those above. */
export type TrimOp = '</' | '>/';
export type BinaryOp = ArithmeticOp | ComparisonOp | SetOp | TrimOp;

export type Cardinality = 'one-to-one' | 'many-to-one' | 'one-to-many' | 'many-to-many';

export interface VectorMatching {
  readonly card: Cardinality;
  /** Labels of `on(…)` or `ignoring(…)`. */
  readonly matchingLabels: readonly string[];
  /** True for `on`, false for `ignoring` (or no clause). */
  readonly on: boolean;
  /** Extra labels of `group_left(…)`/`group_right(…)`. */
  readonly include: readonly string[];
  /**
   * Values standing in for a missing match (`fill`, `fill_left`, `fill_right`; Prometheus' experimental
   * promql-binop-fill-modifiers): `lhs` for a missing left sample, `rhs` for a missing right one.
   */
  readonly fill?: FillValues;
}

export interface FillValues {
  readonly lhs: number | null;
  readonly rhs: number | null;
}

export interface BinaryExpr {
  readonly kind: 'binary';
  readonly op: BinaryOp;
  lhs: Expr;
  rhs: Expr;
  readonly returnBool: boolean;
  /** Set when both sides are instant vectors. */
  readonly matching: VectorMatching | null;
  readonly pos: PosRange;
}

export interface UnaryExpr {
  readonly kind: 'unary';
  readonly op: '-' | '+';
  expr: Expr;
  readonly pos: PosRange;
}

export interface ParenExpr {
  readonly kind: 'paren';
  expr: Expr;
  readonly pos: PosRange;
}

export function isComparison(op: BinaryOp): op is ComparisonOp {
  return op === '==' || op === '!=' || op === '>' || op === '<' || op === '>=' || op === '<=';
}

export function isSetOp(op: BinaryOp): op is SetOp {
  return op === 'and' || op === 'or' || op === 'unless';
}

export function isTrimOp(op: BinaryOp): op is TrimOp {
  return op === '</' || op === '>/';
}

/** The type an expression evaluates to. */
export function exprType(e: Expr): ExprType {
  switch (e.kind) {
    case 'number':
      return 'scalar';
    case 'string':
      return 'string';
    case 'vectorSelector':
    case 'aggregate':
      return 'instant vector';
    case 'matrixSelector':
    case 'subquery':
      return 'range vector';
    case 'call':
      return e.func.returnType;
    case 'binary':
      return exprType(e.lhs) === 'scalar' && exprType(e.rhs) === 'scalar' ? 'scalar' : 'instant vector';
    case 'unary':
    case 'paren':
      return exprType(e.expr);
  }
}

/** The direct children of a node, in evaluation order. */
export function children(e: Expr): Expr[] {
  switch (e.kind) {
    case 'number':
    case 'string':
    case 'vectorSelector':
      return [];
    case 'matrixSelector':
      return [e.vs];
    case 'subquery':
    case 'unary':
    case 'paren':
      return [e.expr];
    case 'call':
      return e.args;
    case 'aggregate':
      return e.param === null ? [e.expr] : [e.param, e.expr];
    case 'binary':
      return [e.lhs, e.rhs];
  }
}

/** Sets every duration that uses `step()`/`range()` for a query with these parameters. */
export function resolveDurations(e: Expr, q: QueryParams): void {
  walk(e, (node) => {
    if (node.kind === 'vectorSelector' && node.offsetFn !== undefined) node.offset = node.offsetFn(q);
    if (node.kind === 'matrixSelector' && node.rangeFn !== undefined) node.range = node.rangeFn(q);
    if (node.kind === 'subquery') {
      if (node.offsetFn !== undefined) node.offset = node.offsetFn(q);
      if (node.rangeFn !== undefined) node.range = node.rangeFn(q);
      if (node.stepFn !== undefined) node.step = node.stepFn(q);
    }
  });
}

/** Calls `visit` on every node, parents first, with the chain of ancestors. */
export function walk(e: Expr, visit: (node: Expr, path: readonly Expr[]) => void, path: Expr[] = []): void {
  visit(e, path);
  path.push(e);
  for (const c of children(e)) walk(c, visit, path);
  path.pop();
}
