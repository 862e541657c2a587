/** Type checks of Prometheus' parser (checkAST), with its error wording. */
import type { AggregateExpr, BinaryExpr, Call, Expr, ExprType, SubqueryExpr, UnaryExpr, VectorMatching, VectorSelector } from './ast.js';
import { exprType, isComparison, isSetOp } from './ast.js';
import { ParseError } from './errors.js';

function expectType(input: string, e: Expr, want: ExprType, context: string): void {
  const got = exprType(e);
  if (got !== want) throw new ParseError(input, e.pos.start, `expected type ${want} in ${context}, got ${got}`);
}

export function checkVectorSelector(vs: VectorSelector, input: string): void {
  if (vs.matchers.every((m) => m.matchesEmpty())) {
    throw new ParseError(input, vs.pos.start, 'vector selector must contain at least one non-empty matcher');
  }
}

export function checkUnary(e: UnaryExpr, input: string): void {
  const t = exprType(e.expr);
  if (t !== 'scalar' && t !== 'instant vector') {
    throw new ParseError(input, e.pos.start, `unary expression only allowed on expressions of type scalar or instant vector, got ${JSON.stringify(t)}`);
  }
}

export function checkSubquery(e: SubqueryExpr, input: string): void {
  const t = exprType(e.expr);
  if (t !== 'instant vector') throw new ParseError(input, e.pos.start, `subquery is only allowed on instant vector, got ${t} instead`);
}

export function checkCall(c: Call, input: string): void {
  const f = c.func;
  const n = c.args.length;
  const min = f.variadic > 0 ? f.argTypes.length - f.variadic : f.argTypes.length;
  const quoted = JSON.stringify(f.name);
  if (f.variadic === 0 && n !== min) {
    throw new ParseError(input, c.pos.start, `expected ${min} argument(s) in call to ${quoted}, got ${n}`);
  }
  if (f.variadic !== 0 && n < (f.variadic < 0 ? f.argTypes.length - 1 : min)) {
    const atLeast = f.variadic < 0 ? f.argTypes.length - 1 : min;
    throw new ParseError(input, c.pos.start, `expected at least ${atLeast} argument(s) in call to ${quoted}, got ${n}`);
  }
  if (f.variadic > 0 && n > f.argTypes.length) {
    throw new ParseError(input, c.pos.start, `expected at most ${f.argTypes.length} argument(s) in call to ${quoted}, got ${n}`);
  }
  if (f.name === 'info' && c.args[1] !== undefined) checkInfoLabelSelector(c.args[1], c, input);
  c.args.forEach((a, i) => {
    const want = f.argTypes[Math.min(i, f.argTypes.length - 1)] as ExprType;
    expectType(input, a, want, `call to function ${quoted}`);
  });
  // Thanos' engine reads a baseline before the range from storage, which a subquery does not have.
  let arg = c.args[0];
  while (arg?.kind === 'paren') arg = arg.expr;
  if (f.thanos === true && arg?.kind === 'subquery') throw new ParseError(input, c.pos.start, `${quoted} takes a range selector, not a subquery`);
}

/** info()'s second argument is a bare label selector (`{…}`), as Prometheus' checkAST requires, with its wording. */
function checkInfoLabelSelector(arg: Expr, c: Call, input: string): void {
  const t = exprType(arg);
  if (t !== 'instant vector') throw new ParseError(input, c.pos.start, `expected type instant vector in call to function "info", got ${t}`);
  if (arg.kind !== 'vectorSelector') throw new ParseError(input, arg.pos.start, 'expected label selectors only');
  if (arg.name !== null) throw new ParseError(input, arg.pos.start, 'expected label selectors only, got vector selector instead');
}

export function checkAggregate(a: AggregateExpr, input: string): void {
  if (exprType(a.expr) !== 'instant vector') {
    throw new ParseError(input, a.expr.pos.start, `expected type instant vector in aggregation expression, got ${exprType(a.expr)}`);
  }
  if (a.param !== null) expectType(input, a.param, a.op === 'count_values' ? 'string' : 'scalar', 'aggregation parameter');
}

export function checkBinary(b: BinaryExpr, input: string, clause: VectorMatching | null, opPos: number): void {
  const lt = exprType(b.lhs);
  const rt = exprType(b.rhs);
  const valid = (t: ExprType): boolean => t === 'scalar' || t === 'instant vector';
  if (b.returnBool && !isComparison(b.op)) throw new ParseError(input, opPos, 'bool modifier can only be used on comparison operators');
  if (isComparison(b.op) && !b.returnBool && lt === 'scalar' && rt === 'scalar') {
    throw new ParseError(input, opPos, 'comparisons between scalars must use BOOL modifier');
  }
  if (clause?.on === true) {
    for (const l of clause.include) {
      if (clause.matchingLabels.includes(l)) throw new ParseError(input, opPos, `label "${l}" must not occur in ON and GROUP clause at once`);
    }
  }
  // At the operand of the wrong type, as Prometheus' checkAST.
  if (!valid(lt)) throw new ParseError(input, b.lhs.pos.start, 'binary expression must contain only scalar and instant vector types');
  if (!valid(rt)) throw new ParseError(input, b.rhs.pos.start, 'binary expression must contain only scalar and instant vector types');
  if (clause !== null && clause.matchingLabels.length > 0 && (lt !== 'instant vector' || rt !== 'instant vector')) {
    throw new ParseError(input, b.pos.start, 'vector matching only allowed between instant vectors');
  }
  if (isSetOp(b.op) && b.matching !== null && b.matching.card !== 'many-to-many') {
    throw new ParseError(input, b.pos.start, `no grouping allowed for "${b.op}" operation`);
  }
  if (isSetOp(b.op) && (lt === 'scalar' || rt === 'scalar')) {
    throw new ParseError(input, b.pos.start, `set operator "${b.op}" not allowed in binary scalar expression`);
  }
}
