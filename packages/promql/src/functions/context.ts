import type { Call } from '../parser/ast.js';
import type { ScalarValue, StepRange, StepValue, VectorValue } from '../engine/steps.js';

/** What a function over evaluated arguments sees of the evaluation. */
export interface FunctionContext {
  readonly range: StepRange;
  /** The query's start, end and step (ms; step 0 for instant queries), which subqueries do not change. */
  readonly query: { readonly start: number; readonly end: number; readonly step: number };
  readonly call: Call;
  readonly compat: 2 | 3;
  /** Operations flag `__name__` for removal at the end instead of removing it (see StepSeries.dropName). */
  readonly delayedNameRemoval: boolean;
  /** Records a warning or info; with `pos`, Prometheus' ` (line:col)` of that query offset is appended. */
  annotate(message: string, pos?: number): void;
}

export type VectorFunction = (args: StepValue[], ctx: FunctionContext) => StepValue;

export function vectorArg(args: StepValue[], i: number): VectorValue {
  return args[i] as VectorValue;
}

export function scalarArg(args: StepValue[], i: number): Float64Array {
  return (args[i] as ScalarValue).vals;
}

export function stringArg(args: StepValue[], i: number): string {
  const a = args[i];
  return a !== undefined && a.type === 'string' ? a.value : '';
}
