/** absent, scalar, vector, min_of/max_of and sorting. */
import { compareStrings, Labels, METRIC_NAME } from '@strata/tsdb';
import type { Expr } from '../parser/ast.js';
import { StepSeries, type VectorValue } from '../engine/steps.js';
import { scalarArg, stringArg, vectorArg, type VectorFunction } from './context.js';

/** Labels of absent()'s output: the equality matchers of a direct selector, except `__name__`. */
export function absentLabels(arg: Expr): Labels {
  let e = arg;
  while (e.kind === 'paren') e = e.expr;
  const vs = e.kind === 'vectorSelector' ? e : e.kind === 'matrixSelector' ? e.vs : null;
  if (vs === null) return Labels.EMPTY;
  const set = new Map<string, string>();
  const had = new Set<string>();
  for (const m of vs.matchers) {
    if (m.name === METRIC_NAME) continue;
    if (m.type === '=' && !had.has(m.name)) {
      set.set(m.name, m.value);
      had.add(m.name);
    } else set.delete(m.name);
  }
  return Labels.from([...set].map(([name, value]) => ({ name, value })));
}

/** One `labels` series with value 1 at the steps where `present` is false. */
export function absentAt(labels: Labels, steps: number, present: (i: number) => boolean): VectorValue {
  const s = new StepSeries(labels, steps);
  for (let i = 0; i < steps; i++) {
    if (present(i)) continue;
    s.has[i] = 1;
    s.vals[i] = 1;
  }
  return { type: 'vector', series: s.count() > 0 ? [s] : [] };
}

/** The series with their float samples only (sorting by value leaves histograms out), in their order. */
function floatsOnly(series: readonly StepSeries[]): StepSeries[] {
  const out: StepSeries[] = [];
  for (const s of series) {
    if (s.hists === null) {
      out.push(s);
      continue;
    }
    const f = new StepSeries(s.labels, s.has.length);
    f.vals.set(s.vals);
    f.has.set(s.floatPresence());
    f.dropName = s.dropName;
    if (f.count() > 0) out.push(f);
  }
  return out;
}

function sortBy(desc: boolean): VectorFunction {
  return (args) => {
    const v = vectorArg(args, 0);
    // Only meaningful for instant queries (one step); NaN sorts last either way.
    const series = floatsOnly(v.series).sort((a, b) => {
      const x = a.vals[0] as number;
      const y = b.vals[0] as number;
      if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) ? (Number.isNaN(y) ? 0 : 1) : -1;
      return desc ? y - x : x - y;
    });
    return { type: 'vector', series };
  };
}

function sortByLabel(desc: boolean): VectorFunction {
  return (args) => {
    const names = args.slice(1).map((_, i) => stringArg(args, i + 1));
    const series = [...vectorArg(args, 0).series].sort((a, b) => {
      for (const n of names) {
        const c = naturalCompare(a.labels.get(n), b.labels.get(n));
        if (c !== 0) return desc ? -c : c;
      }
      const c = Labels.compare(a.labels, b.labels);
      return desc ? -c : c;
    });
    return { type: 'vector', series };
  };
}

/** Natural order: runs of digits compare by number, the rest byte-wise. */
function naturalCompare(a: string, b: string): number {
  const ca = a.match(/\d+|\D+/g) ?? [];
  const cb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) {
    const x = ca[i] as string;
    const y = cb[i] as string;
    if (x === y) continue;
    const nx = /^\d/.test(x);
    const ny = /^\d/.test(y);
    if (nx && ny) {
      const d = Number(x) - Number(y);
      if (d !== 0) return d;
    }
    return compareStrings(x, y);
  }
  return ca.length - cb.length;
}

export const MISC_FUNCTIONS: Record<string, VectorFunction> = {
  absent: (args, ctx) => {
    const v = vectorArg(args, 0);
    return absentAt(absentLabels(ctx.call.args[0] as Expr), ctx.range.steps, (i) => v.series.some((s) => s.has[i] === 1));
  },
  /** The single float sample of each step, else NaN; histogram samples are not counted. */
  scalar: (args, ctx) => {
    const v = vectorArg(args, 0);
    const present = v.series.map((s) => s.floatPresence());
    const vals = new Float64Array(ctx.range.steps);
    for (let i = 0; i < vals.length; i++) {
      let n = 0;
      let x = NaN;
      for (let j = 0; j < present.length; j++) {
        if ((present[j] as Uint8Array)[i] !== 1) continue;
        const s = v.series[j] as StepSeries;
        n++;
        x = s.vals[i] as number;
      }
      vals[i] = n === 1 ? x : NaN;
    }
    return { type: 'scalar', vals };
  },
  vector: (args, ctx) => {
    const s = new StepSeries(Labels.EMPTY, ctx.range.steps);
    s.vals.set(scalarArg(args, 0));
    s.has.fill(1);
    return { type: 'vector', series: [s] };
  },
  min_of: (args) => {
    const b = scalarArg(args, 1);
    return { type: 'scalar', vals: scalarArg(args, 0).map((a, i) => Math.min(a, b[i] as number)) };
  },
  max_of: (args) => {
    const b = scalarArg(args, 1);
    return { type: 'scalar', vals: scalarArg(args, 0).map((a, i) => Math.max(a, b[i] as number)) };
  },
  sort: sortBy(false),
  sort_desc: sortBy(true),
  sort_by_label: sortByLabel(false),
  sort_by_label_desc: sortByLabel(true),
};
