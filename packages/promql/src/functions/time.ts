/** time(), pi(), the query parameters start()/end()/range()/step() and the date functions (UTC). */
import { Labels } from '@strata/tsdb';
import { SeriesBuilder, StepSeries, stepTime, type ScalarValue, type StepRange, type StepValue, type VectorValue } from '../engine/steps.js';
import { vectorArg, type FunctionContext, type VectorFunction } from './context.js';
import { mapSamples } from './math.js';

/** Seconds a Date holds (±100,000,000 days around 1970). */
const DATE_MAX_SECONDS = 8.64e12;
const SECONDS_PER_400_YEARS = 146_097n * 86_400n;
/** Go's time adds this to Unix seconds (to count from its absolute zero year) as a wrapping uint64. */
const UNIX_TO_ABSOLUTE = 9_223_372_028_715_321_600n;

/**
 * Prometheus' `time.Unix(int64(v), 0).UTC()` for any sample value: Go on amd64 converts NaN, ±Inf and
 * values past int64 to its lowest, whose time wraps to year 292277026596. Past a Date's range the time
 * is moved by whole 400-year cycles (the calendar, weekdays included, repeats after each), which `years` gives back.
 */
function goTime(x: number): { date: Date; years: number } {
  if (Math.abs(x) < DATE_MAX_SECONDS) return { date: new Date(Math.trunc(x) * 1000), years: 0 };
  const secs = Number.isFinite(x) && x < 2 ** 63 && x >= -(2 ** 63) ? BigInt(Math.trunc(x)) : -(2n ** 63n);
  const unix = BigInt.asUintN(64, secs + UNIX_TO_ABSOLUTE) - UNIX_TO_ABSOLUTE;
  let cycles = unix / SECONDS_PER_400_YEARS;
  if (unix < cycles * SECONDS_PER_400_YEARS) cycles--;
  return { date: new Date(Number(unix - cycles * SECONDS_PER_400_YEARS) * 1000), years: Number(cycles) * 400 };
}

/** `f` of a UTC date, `years` (whole 400-year cycles) past it. */
function dateFunction(f: (d: Date, years: number) => number): VectorFunction {
  return (args: StepValue[], ctx: FunctionContext) => {
    if (args.length === 0) {
      // Without an argument: the evaluation time, as vector(time()).
      const out = new Float64Array(ctx.range.steps);
      for (let i = 0; i < out.length; i++) out[i] = f(new Date(Math.floor(stepTime(ctx.range, i) / 1000) * 1000), 0);
      return timeVector(out, ctx.range.steps);
    }
    return mapSamples(vectorArg(args, 0), ctx.range.steps, ctx.delayedNameRemoval, (x) => {
      const t = goTime(x);
      return f(t.date, t.years);
    });
  };
}

/**
 * timestamp() of a computed vector: a sample's time is its step's, for floats and histograms alike (a
 * selector's samples have their own times instead). Drops `__name__`.
 */
export function stepTimes(v: VectorValue, range: StepRange, delayedNameRemoval: boolean): VectorValue {
  const out = new SeriesBuilder(range.steps);
  for (const s of v.series) {
    let o: StepSeries | null = null;
    for (let i = 0; i < range.steps; i++) {
      if (s.has[i] !== 1) continue;
      o ??= out.seriesWithoutName(s.labels, delayedNameRemoval);
      out.set(o, i, stepTime(range, i) / 1000);
    }
  }
  return out.result();
}

function timeVector(vals: Float64Array, steps: number): VectorValue {
  const s = new StepSeries(Labels.EMPTY, steps);
  s.vals.set(vals);
  s.has.fill(1);
  return { type: 'vector', series: [s] };
}

function constant(ctx: FunctionContext, v: number): ScalarValue {
  return { type: 'scalar', vals: new Float64Array(ctx.range.steps).fill(v) };
}

function daysInMonth(d: Date): number {
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
}

function dayOfYear(d: Date): number {
  return Math.floor((Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86400000) + 1;
}

export const TIME_FUNCTIONS: Record<string, VectorFunction> = {
  time: (_args, ctx) => {
    const vals = new Float64Array(ctx.range.steps);
    for (let i = 0; i < vals.length; i++) vals[i] = stepTime(ctx.range, i) / 1000;
    return { type: 'scalar', vals };
  },
  pi: (_args, ctx) => constant(ctx, Math.PI),
  start: (_args, ctx) => constant(ctx, ctx.query.start / 1000),
  end: (_args, ctx) => constant(ctx, ctx.query.end / 1000),
  range: (_args, ctx) => constant(ctx, (ctx.query.end - ctx.query.start) / 1000),
  step: (_args, ctx) => constant(ctx, ctx.query.step / 1000),
  minute: dateFunction((d) => d.getUTCMinutes()),
  hour: dateFunction((d) => d.getUTCHours()),
  day_of_week: dateFunction((d) => d.getUTCDay()),
  day_of_month: dateFunction((d) => d.getUTCDate()),
  day_of_year: dateFunction(dayOfYear),
  days_in_month: dateFunction(daysInMonth),
  month: dateFunction((d) => d.getUTCMonth() + 1),
  year: dateFunction((d, years) => d.getUTCFullYear() + years),
};
