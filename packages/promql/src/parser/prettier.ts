/**
 * Prometheus' PromQL prettifier (promql/parser/prettier.go, `/api/v1/format_query`): a node whose
 * normalized text (printer.ts) fits in 100 characters stays on one line; a longer one is split, its
 * children one level deeper, each level indented by two spaces. Where Prometheus' output has quirks
 * they are kept (a subquery short enough to stay whole is not indented), so that answers are
 * Prometheus' own.
 */
import type { Expr } from './ast.js';
import { aggregateOp, binaryOp, exprString, subquerySuffix, type PrintCompat } from './printer.js';

const MAX_CHARACTERS_PER_LINE = 100;

export function prettify(e: Expr, compat: PrintCompat): string {
  return pretty(e, 0, compat);
}

function pretty(e: Expr, level: number, compat: PrintCompat): string {
  const indent = '  '.repeat(level);
  const text = exprString(e, compat);
  // Go measures bytes.
  const fits = Buffer.byteLength(text) <= MAX_CHARACTERS_PER_LINE;
  switch (e.kind) {
    case 'aggregate': {
      if (fits) return indent + text;
      const param = e.param !== null ? `${pretty(e.param, level + 1, compat)},\n` : '';
      return `${indent}${aggregateOp(e)}(\n${param}${pretty(e.expr, level + 1, compat)}\n${indent})`;
    }
    case 'binary':
      if (fits) return indent + text;
      return `${pretty(e.lhs, level + 1, compat)}\n${indent}${binaryOp(e, compat)}\n${pretty(e.rhs, level + 1, compat)}`;
    case 'call':
      if (fits) return indent + text;
      return `${indent}${e.func.name}(\n${e.args.map((a) => pretty(a, level + 1, compat)).join(',\n')}\n${indent})`;
    case 'paren':
      if (fits) return indent + text;
      return `${indent}(\n${pretty(e.expr, level + 1, compat)}\n${indent})`;
    case 'subquery':
      return fits ? text : pretty(e.expr, level, compat) + subquerySuffix(e);
    case 'unary':
      return indent + e.op + pretty(e.expr, level, compat).trim();
    case 'number':
    case 'string':
    case 'vectorSelector':
    case 'matrixSelector':
      return indent + text;
  }
}
