/**
 * An expression back to PromQL text, as Prometheus' promql/parser printer writes it (its nodes'
 * String()): the normalized form that `/api/v1/format_query` (prettier.ts) builds on. Both majors'
 * forms: 2.x writes numbers as Go's %v (`1e+06`), 3.x plainly (`1000000`), and 3.x also writes
 * `ignoring ()` before a bare `group_left`.
 */
import { METRIC_NAME, quoteGo, type Matcher } from '@strata/tsdb';
import { isValidLabelName } from '../engine/names.js';
import { formatFloatPlain, goFloat } from '../format.js';
import type { AggregateExpr, BinaryExpr, Expr, FillValues, SubqueryExpr, TimeModifiers, VectorSelector } from './ast.js';
import { formatDuration } from './literals.js';

export type PrintCompat = 2 | 3;

export function exprString(e: Expr, compat: PrintCompat): string {
  switch (e.kind) {
    case 'number':
      return compat === 2 ? goFloatV(e.value) : formatFloatPlain(e.value);
    case 'string':
      return quoteGo(e.value);
    case 'vectorSelector':
      return selectorString(e) + timeModifiers(e) + extensionString(e);
    case 'matrixSelector':
      return `${selectorString(e.vs)}[${durationString(e.range, e.rangeFn)}]${timeModifiers(e.vs)}${extensionString(e.vs)}`;
    case 'subquery':
      return exprString(e.expr, compat) + subquerySuffix(e);
    case 'call':
      return `${e.func.name}(${e.args.map((a) => exprString(a, compat)).join(', ')})`;
    case 'aggregate':
      return `${aggregateOp(e)}(${e.param !== null ? `${exprString(e.param, compat)}, ` : ''}${exprString(e.expr, compat)})`;
    case 'binary':
      return `${exprString(e.lhs, compat)} ${binaryOp(e, compat)} ${exprString(e.rhs, compat)}`;
    case 'unary':
      return e.op + exprString(e.expr, compat);
    case 'paren':
      return `(${exprString(e.expr, compat)})`;
  }
}

/** `sum by (job) `, `topk`: the operator with its grouping, before the parenthesized arguments. */
export function aggregateOp(e: AggregateExpr): string {
  if (e.without) return `${e.op} without (${labelList(e.grouping)}) `;
  return e.grouping.length > 0 ? `${e.op} by (${labelList(e.grouping)}) ` : e.op;
}

/** `/ on (job) group_left (team)`: the operator with `bool` and its vector matching. */
export function binaryOp(e: BinaryExpr, compat: PrintCompat): string {
  let s = e.returnBool ? `${e.op} bool` : e.op;
  const vm = e.matching;
  if (vm === null) return s;
  const grouped = vm.card === 'many-to-one' || vm.card === 'one-to-many';
  // 2.x writes neither clause for `ignoring () group_left` (its text then reads `a * b`); 3.x writes both.
  if (!(vm.matchingLabels.length > 0 || vm.on || (compat === 3 && grouped))) return s + fillString(vm.fill);
  s += ` ${vm.on ? 'on' : 'ignoring'} (${labelList(vm.matchingLabels)})`;
  if (grouped) s += ` group_${vm.card === 'many-to-one' ? 'left' : 'right'} (${labelList(vm.include)})`;
  return s + fillString(vm.fill);
}

/** ` fill(0)`, ` fill_left(1) fill_right(2)`: the binop fill modifiers. */
function fillString(fill: FillValues | undefined): string {
  if (fill === undefined) return '';
  const { lhs, rhs } = fill;
  if (lhs !== null && rhs !== null && Object.is(lhs, rhs)) return ` fill(${formatFloatPlain(lhs)})`;
  return (lhs === null ? '' : ` fill_left(${formatFloatPlain(lhs)})`) + (rhs === null ? '' : ` fill_right(${formatFloatPlain(rhs)})`);
}

function extensionString(vs: VectorSelector): string {
  return vs.extension === undefined ? '' : ` ${vs.extension}`;
}

/** `[1h:5m] @ 100.000 offset 5m`: what a subquery adds to its expression. */
export function subquerySuffix(e: SubqueryExpr): string {
  const step = e.stepFn !== undefined || e.step !== 0 ? durationString(e.step, e.stepFn) : '';
  return `[${durationString(e.range, e.rangeFn)}:${step}]${timeModifiers(e)}`;
}

function selectorString(vs: VectorSelector): string {
  // A name that is not a legacy identifier (3.x's `{"my.metric"}`) stays a quoted matcher.
  const name = vs.name !== null && /^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(vs.name) ? vs.name : '';
  const matchers = vs.matchers.filter((m) => !(name !== '' && m.name === METRIC_NAME && m.type === '=' && m.value === name)).map(matcherString);
  return matchers.length === 0 ? name : `${name}{${matchers.sort().join(',')}}`;
}

function matcherString(m: Matcher): string {
  return `${labelName(m.name)}${m.type}${quoteGo(m.value)}`;
}

function timeModifiers(t: TimeModifiers): string {
  let s = '';
  if (t.timestamp !== null) s += ` @ ${(t.timestamp / 1000).toFixed(3)}`;
  else if (t.atAnchor !== null) s += ` @ ${t.atAnchor}()`;
  if (t.offsetFn !== undefined) s += ` offset ${durationString(t.offset, t.offsetFn)}`;
  else if (t.offset > 0) s += ` offset ${formatDuration(t.offset)}`;
  else if (t.offset < 0) s += ` offset -${formatDuration(-t.offset)}`;
  return s;
}

/** A duration as written: its expression's text when it depends on the query (`step()`), else normalized. */
function durationString(ms: number, fn: { readonly source?: string } | undefined): string {
  return fn?.source ?? formatDuration(ms);
}

function labelList(names: readonly string[]): string {
  return names.map(labelName).join(', ');
}

/** A label name, quoted when only 3.x's UTF-8 names allow it. */
function labelName(name: string): string {
  return isValidLabelName(name, 2) ? name : quoteGo(name);
}

/**
 * Go's `fmt.Sprint` of a float64 (2.x's number literals): the shortest digits, in exponent form when
 * the exponent is below -4 or at least 6 (`1e+06`, `1.5e-07`), with at least two exponent digits.
 */
function goFloatV(v: number): string {
  if (!Number.isFinite(v)) return goFloat(v);
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const [mantissa, exp] = v.toExponential().split('e') as [string, string];
  const e = Number(exp);
  if (e >= -4 && e < 6) return formatFloatPlain(v);
  return `${mantissa}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}
