import type { Expr, TimeModifiers } from '../parser/ast.js';
import { AT_MODIFIER_UNSAFE_FUNCTIONS } from '../parser/functions.js';

const invariance = new WeakMap<Expr, boolean>();

/**
 * Whether a subtree has the same value at every step of a query (Prometheus' preprocessExpr rules): it
 * reads data only through `@` and calls no function of the evaluation time. Such a subtree is evaluated
 * once and its value repeated.
 */
export function isStepInvariant(e: Expr): boolean {
  const cached = invariance.get(e);
  if (cached !== undefined) return cached;
  let r: boolean;
  switch (e.kind) {
    case 'number':
    case 'string':
      r = true;
      break;
    case 'vectorSelector':
    case 'subquery':
      r = pinned(e);
      break;
    case 'matrixSelector':
      r = pinned(e.vs);
      break;
    case 'call':
      r = !AT_MODIFIER_UNSAFE_FUNCTIONS.has(e.func.name) && e.args.every(isStepInvariant);
      break;
    case 'aggregate':
      r = isStepInvariant(e.expr) && (e.param === null || isStepInvariant(e.param));
      break;
    case 'binary':
      r = isStepInvariant(e.lhs) && isStepInvariant(e.rhs);
      break;
    default:
      r = isStepInvariant(e.expr);
  }
  invariance.set(e, r);
  return r;
}

function pinned(m: TimeModifiers): boolean {
  return m.timestamp !== null || m.atAnchor !== null;
}
