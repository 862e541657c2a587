/** Signatures of the PromQL functions, as in Prometheus' parser.Functions. */
import type { ExprType } from './ast.js';

export interface FunctionDef {
  readonly name: string;
  readonly argTypes: readonly ExprType[];
  /** 0: exact arity; n > 0: up to n trailing arguments optional; -1: the last type repeats without bound. */
  readonly variadic: number;
  readonly returnType: ExprType;
  /** Behind Prometheus' experimental-functions flag (enabled in its test suite). */
  readonly experimental?: boolean;
  /** Only in Prometheus 2.x (`holt_winters`, renamed in 3.0), or only in 3.x (added after 2.42, which does not know it). */
  readonly only?: 2 | 3;
  /** One of Thanos' extended rate functions (`xrate`, `xincrease`, `xdelta`), known only where they are enabled. */
  readonly thanos?: boolean;
}

const S: ExprType = 'scalar';
const V: ExprType = 'instant vector';
const M: ExprType = 'range vector';
const STR: ExprType = 'string';

function def(name: string, argTypes: ExprType[], returnType: ExprType, variadic = 0, flags: Partial<FunctionDef> = {}): FunctionDef {
  return { name, argTypes, returnType, variadic, ...flags };
}

const elementwise = [
  'abs', 'ceil', 'floor', 'exp', 'sqrt', 'ln', 'log2', 'log10', 'sgn', 'deg', 'rad',
  'sin', 'cos', 'tan', 'asin', 'acos', 'atan', 'sinh', 'cosh', 'tanh', 'asinh', 'acosh', 'atanh',
];
const overTime = [
  'avg_over_time', 'count_over_time', 'sum_over_time', 'min_over_time', 'max_over_time', 'last_over_time',
  'present_over_time', 'stddev_over_time', 'stdvar_over_time', 'absent_over_time', 'changes', 'resets',
  'deriv', 'rate', 'irate', 'increase', 'delta', 'idelta',
];
const experimentalOverTime = [
  'first_over_time', 'mad_over_time', 'ts_of_first_over_time', 'ts_of_last_over_time', 'ts_of_min_over_time',
  'ts_of_max_over_time',
];
const dateFunctions = ['days_in_month', 'day_of_month', 'day_of_week', 'day_of_year', 'hour', 'minute', 'month', 'year'];
const histogramFunctions = ['histogram_avg', 'histogram_count', 'histogram_sum', 'histogram_stddev', 'histogram_stdvar'];

const defs: FunctionDef[] = [
  ...elementwise.map((n) => def(n, [V], V)),
  ...overTime.map((n) => def(n, [M], V)),
  ...experimentalOverTime.map((n) => def(n, [M], V, 0, { experimental: true, only: 3 })),
  ...['xrate', 'xincrease', 'xdelta'].map((n) => def(n, [M], V, 0, { thanos: true })),
  ...dateFunctions.map((n) => def(n, [V], V, 1)),
  ...histogramFunctions.map((n) => def(n, [V], V, 0, ['histogram_count', 'histogram_sum'].includes(n) ? {} : { only: 3 })),
  def('absent', [V], V),
  def('clamp', [V, S, S], V),
  def('clamp_max', [V, S], V),
  def('clamp_min', [V, S], V),
  def('histogram_fraction', [S, S, V], V),
  def('histogram_quantile', [S, V], V),
  def('histogram_quantiles', [V, STR, S], V, -1, { experimental: true, only: 3 }),
  // The second argument is a label selector (`{…}`), read for its matchers only, never evaluated.
  def('info', [V, V], V, 1, { experimental: true, only: 3 }),
  def('double_exponential_smoothing', [M, S, S], V, 0, { experimental: true, only: 3 }),
  def('holt_winters', [M, S, S], V, 0, { only: 2 }),
  def('label_replace', [V, STR, STR, STR, STR], V),
  def('label_join', [V, STR, STR, STR], V, -1),
  def('pi', [], S),
  def('predict_linear', [M, S], V),
  def('quantile_over_time', [S, M], V),
  def('round', [V, S], V, 1),
  def('scalar', [V], S),
  def('sort', [V], V),
  def('sort_desc', [V], V),
  def('sort_by_label', [V, STR], V, -1, { experimental: true, only: 3 }),
  def('sort_by_label_desc', [V, STR], V, -1, { experimental: true, only: 3 }),
  def('time', [], S),
  // The query's own parameters, in seconds (experimental; `range()` and `step()` are 0 for instant queries).
  ...['start', 'end', 'range', 'step'].map((n) => def(n, [], S, 0, { experimental: true, only: 3 })),
  def('min_of', [S, S], S, 0, { experimental: true, only: 3 }),
  def('max_of', [S, S], S, 0, { experimental: true, only: 3 }),
  def('timestamp', [V], V),
  def('vector', [S], V),
];

export const FUNCTIONS: ReadonlyMap<string, FunctionDef> = new Map(defs.map((d) => [d.name, d]));

/** Functions whose value depends on the evaluation time even when their arguments do not. */
export const AT_MODIFIER_UNSAFE_FUNCTIONS: ReadonlySet<string> = new Set([...dateFunctions, 'predict_linear', 'time', 'timestamp']);
