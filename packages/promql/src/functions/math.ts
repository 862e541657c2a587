/** Elementwise functions: math, clamping, rounding. All drop the metric name. */
import { SeriesBuilder, type StepSeries, type StepValue, type VectorValue } from '../engine/steps.js';
import { scalarArg, vectorArg, type FunctionContext, type VectorFunction } from './context.js';

/**
 * Applies `f(value, step)` to every float sample; undefined drops the sample. Histogram samples have no
 * output, as in Prometheus' float functions. Drops `__name__`.
 */
export function mapSamples(
  v: VectorValue, steps: number, delayedNameRemoval: boolean, f: (x: number, i: number) => number | undefined,
): VectorValue {
  const out = new SeriesBuilder(steps);
  for (const s of v.series) {
    let o: StepSeries | null = null;
    const present = s.floatPresence();
    for (let i = 0; i < steps; i++) {
      if (present[i] !== 1) continue;
      const r = f(s.vals[i] as number, i);
      if (r === undefined) continue;
      o ??= out.seriesWithoutName(s.labels, delayedNameRemoval);
      out.set(o, i, r);
    }
  }
  return out.result();
}

function unary(f: (x: number) => number): VectorFunction {
  return (args: StepValue[], ctx: FunctionContext) => mapSamples(vectorArg(args, 0), ctx.range.steps, ctx.delayedNameRemoval, f);
}

/** Go's math.Round-free rounding used by PromQL: floor(x·(1/n)+0.5)/(1/n), ties up. */
function roundTo(x: number, toNearest: number): number {
  const inverse = 1 / toNearest;
  return Math.floor(x * inverse + 0.5) / inverse;
}

export const MATH_FUNCTIONS: Record<string, VectorFunction> = {
  abs: unary(Math.abs),
  ceil: unary(Math.ceil),
  floor: unary(Math.floor),
  exp: unary(Math.exp),
  sqrt: unary(Math.sqrt),
  ln: unary(Math.log),
  log2: unary(Math.log2),
  log10: unary(Math.log10),
  sgn: unary((x) => (x > 0 ? 1 : x < 0 ? -1 : x)),
  deg: unary((x) => (x * 180) / Math.PI),
  rad: unary((x) => (x * Math.PI) / 180),
  sin: unary(Math.sin),
  cos: unary(Math.cos),
  tan: unary(Math.tan),
  asin: unary(Math.asin),
  acos: unary(Math.acos),
  atan: unary(Math.atan),
  sinh: unary(Math.sinh),
  cosh: unary(Math.cosh),
  tanh: unary(Math.tanh),
  asinh: unary(Math.asinh),
  acosh: unary(Math.acosh),
  atanh: unary(Math.atanh),
  clamp: (args, ctx) => {
    const min = scalarArg(args, 1);
    const max = scalarArg(args, 2);
    return mapSamples(vectorArg(args, 0), ctx.range.steps, ctx.delayedNameRemoval, (x, i) => {
      const lo = min[i] as number;
      const hi = max[i] as number;
      if (hi < lo) return undefined;
      return Math.max(lo, Math.min(hi, x));
    });
  },
  clamp_min: (args, ctx) => {
    const min = scalarArg(args, 1);
    return mapSamples(vectorArg(args, 0), ctx.range.steps, ctx.delayedNameRemoval, (x, i) => Math.max(min[i] as number, x));
  },
  clamp_max: (args, ctx) => {
    const max = scalarArg(args, 1);
    return mapSamples(vectorArg(args, 0), ctx.range.steps, ctx.delayedNameRemoval, (x, i) => Math.min(max[i] as number, x));
  },
  round: (args, ctx) => {
    const to = args.length > 1 ? scalarArg(args, 1) : null;
    return mapSamples(vectorArg(args, 0), ctx.range.steps, ctx.delayedNameRemoval, (x, i) => roundTo(x, to === null ? 1 : (to[i] as number)));
  },
};
