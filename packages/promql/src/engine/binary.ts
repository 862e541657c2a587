/** Binary operators: scalar/scalar, vector/scalar and vector/vector with Prometheus' vector matching. */
import { dropMetricName, type NameRules } from './names.js';
import { Labels, METRIC_NAME } from '@strata/tsdb';
import type { BinaryOp, VectorMatching } from '../parser/ast.js';
import { isComparison } from '../parser/ast.js';
import { goPow } from '../functions/kahan.js';
import { EvalError } from './errors.js';
import { SeriesBuilder, type StepSeries, type VectorValue } from './steps.js';

/** The arithmetic value of `l op r`, or for comparisons 1/0. */
export function arith(op: BinaryOp, l: number, r: number): number {
  switch (op) {
    case '+': return l + r;
    case '-': return l - r;
    case '*': return l * r;
    case '/': return l / r;
    case '%': return l % r;
    case '^': return goPow(l, r);
    case 'atan2': return Math.atan2(l, r);
    case '==': return l === r ? 1 : 0;
    case '!=': return l !== r ? 1 : 0;
    case '>': return l > r ? 1 : 0;
    case '<': return l < r ? 1 : 0;
    case '>=': return l >= r ? 1 : 0;
    case '<=': return l <= r ? 1 : 0;
    default: throw new EvalError(`operator "${op}" not allowed for scalar operations`);
  }
}

export function scalarBinop(op: BinaryOp, a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = arith(op, a[i] as number, b[i] as number);
  return out;
}

/** Arithmetic and `bool` comparisons drop the metric name; 2.x left atan2 out. */
function dropsName(op: BinaryOp, returnBool: boolean, compat: 2 | 3): boolean {
  return isComparison(op) ? returnBool : op !== 'atan2' || compat === 3;
}

/** Vector op scalar (or scalar op vector when `scalarLeft`). */
export function vectorScalarBinop(
  op: BinaryOp, vec: VectorValue, scalar: Float64Array, scalarLeft: boolean, returnBool: boolean, steps: number, rules: NameRules,
): VectorValue {
  const cmp = isComparison(op);
  const dropName = dropsName(op, returnBool, rules.compat);
  const out = new SeriesBuilder(steps);
  for (const s of vec.series) {
    let o: StepSeries | null = null;
    for (let i = 0; i < steps; i++) {
      if (s.has[i] !== 1) continue;
      const v = s.vals[i] as number;
      const c = scalar[i] as number;
      let r = scalarLeft ? arith(op, c, v) : arith(op, v, c);
      if (cmp) {
        if (!returnBool && r === 0) continue;
        if (!returnBool) r = v;
      }
      o ??= dropName ? out.seriesWithoutName(s.labels, rules.delayedNameRemoval) : out.series(s.labels, s.dropName);
      out.set(o, i, r);
    }
  }
  return out.result();
}

/** The names signatureLabels keeps (`on`) or drops. */
function signatureNames(m: VectorMatching): Set<string> {
  return new Set(m.on ? m.matchingLabels : [...m.matchingLabels, METRIC_NAME]);
}

/** The signature function of a matching: the labels that must agree for two samples to match. */
function signatureLabels(m: VectorMatching, l: Labels, names = signatureNames(m)): Labels {
  return m.on ? l.keep(names) : l.without(names);
}

function signatures(series: readonly StepSeries[], m: VectorMatching): string[] {
  const cache = new Map<Labels, string>();
  const names = signatureNames(m);
  return series.map((s) => {
    let k = cache.get(s.labels);
    if (k === undefined) {
      k = signatureLabels(m, s.labels, names).key();
      cache.set(s.labels, k);
    }
    return k;
  });
}

export function setBinop(op: 'and' | 'or' | 'unless', lhs: VectorValue, rhs: VectorValue, m: VectorMatching, steps: number): VectorValue {
  const ls = signatures(lhs.series, m);
  const rs = signatures(rhs.series, m);
  const out = new SeriesBuilder(steps);
  // Per step, the signatures present on each side.
  const rightAt: Set<string>[] = [];
  const leftAt: Set<string>[] = [];
  for (let i = 0; i < steps; i++) {
    const r = new Set<string>();
    rhs.series.forEach((s, j) => s.has[i] === 1 && r.add(rs[j] as string));
    rightAt.push(r);
    if (op === 'or') {
      const l = new Set<string>();
      lhs.series.forEach((s, j) => s.has[i] === 1 && l.add(ls[j] as string));
      leftAt.push(l);
    }
  }
  const copy = (s: StepSeries, keep: (i: number) => boolean): void => {
    let o: StepSeries | null = null;
    for (let i = 0; i < steps; i++) {
      if (s.has[i] !== 1 || !keep(i)) continue;
      o ??= out.series(s.labels, s.dropName);
      out.set(o, i, s.vals[i] as number);
    }
  };
  lhs.series.forEach((s, j) => {
    const sig = ls[j] as string;
    if (op === 'and') copy(s, (i) => (rightAt[i] as Set<string>).has(sig));
    else if (op === 'unless') copy(s, (i) => !(rightAt[i] as Set<string>).has(sig));
    else copy(s, () => true);
  });
  if (op === 'or') rhs.series.forEach((s, j) => copy(s, (i) => !(leftAt[i] as Set<string>).has(rs[j] as string)));
  return out.result();
}

/** The labels of an output sample; `matching` is m.matchingLabels as a set. */
function resultLabels(l: Labels, r: Labels, op: BinaryOp, m: VectorMatching, matching: ReadonlySet<string>, returnBool: boolean, rules: NameRules): Labels {
  let out = l;
  if (dropsName(op, returnBool, rules.compat) && !rules.delayedNameRemoval) out = dropMetricName(out);
  if (m.card === 'one-to-one') out = m.on ? out.keep(matching) : out.without(matching);
  for (const name of m.include) out = out.with(name, r.get(name));
  return out;
}

/** Numbers the signatures of both sides: equal signatures get equal ids. */
function signatureIds(lhs: readonly string[], rhs: readonly string[]): { l: Int32Array; r: Int32Array; count: number } {
  const ids = new Map<string, number>();
  const number = (sigs: readonly string[]): Int32Array => {
    const out = new Int32Array(sigs.length);
    sigs.forEach((sig, j) => {
      let id = ids.get(sig);
      if (id === undefined) ids.set(sig, (id = ids.size));
      out[j] = id;
    });
    return out;
  };
  const r = number(rhs);
  const l = number(lhs);
  return { l, r, count: ids.size };
}

/**
 * Arithmetic and comparison between two vectors, matched per step by signature. Signatures are numbered
 * once; per step, arrays stamped with the step number say which right-hand series has a signature, which
 * signatures matched and which outputs were written, so a step costs no hashing.
 */
export function vectorBinop(
  op: BinaryOp, lhsIn: VectorValue, rhsIn: VectorValue, m: VectorMatching, returnBool: boolean, steps: number, rules: NameRules,
): VectorValue {
  // The "one" side is always the right one below; swap for group_right.
  const swapped = m.card === 'one-to-many';
  const lhs = swapped ? rhsIn.series : lhsIn.series;
  const rhs = swapped ? lhsIn.series : rhsIn.series;
  const sigs = signatureIds(signatures(lhs, m), signatures(rhs, m));
  const cmp = isComparison(op);
  const oneToOne = m.card === 'one-to-one';
  const out = new SeriesBuilder(steps);
  const nR = rhs.length;
  // Step stamps (step + 1) and the right-hand series per signature.
  const rightStamp = new Int32Array(sigs.count);
  const rightOf = new Int32Array(sigs.count);
  const matchedStamp = new Int32Array(sigs.count);
  // Output series by (left, right) pair: the last pair of each left series, then all pairs.
  const outputs: StepSeries[] = [];
  const outputId = new Map<StepSeries, number>();
  const outputStamp: number[] = [];
  const pairs = new Map<number, number>();
  const lastRight = new Int32Array(lhs.length).fill(-1);
  const lastOutput = new Int32Array(lhs.length);
  const matching = new Set(m.matchingLabels);
  const outputFor = (j: number, k: number): number => {
    const key = j * nR + k;
    let id = pairs.get(key);
    if (id === undefined) {
      const l = lhs[j] as StepSeries;
      const delayedDrop = rules.delayedNameRemoval && (dropsName(op, returnBool, rules.compat) || l.dropName);
      const o = out.series(resultLabels(l.labels, (rhs[k] as StepSeries).labels, op, m, matching, returnBool, rules), delayedDrop);
      id = outputId.get(o);
      if (id === undefined) {
        id = outputs.length;
        outputs.push(o);
        outputId.set(o, id);
        outputStamp.push(0);
      }
      pairs.set(key, id);
    }
    return id;
  };
  for (let i = 0; i < steps; i++) {
    const stamp = i + 1;
    for (let k = 0; k < nR; k++) {
      const s = rhs[k] as StepSeries;
      if (s.has[i] !== 1) continue;
      const sig = sigs.r[k] as number;
      if (rightStamp[sig] === stamp) {
        const side = swapped ? 'left' : 'right';
        const group = signatureLabels(m, s.labels);
        throw new EvalError(
          `found duplicate series for the match group ${group.toString()} on the ${side} hand-side of the operation: ` +
            `[${[s.labels, (rhs[rightOf[sig] as number] as StepSeries).labels].sort(Labels.compare).map((l) => l.toString()).join(', ')}]` +
            ';many-to-many matching not allowed: matching labels must be unique on one side',
        );
      }
      rightStamp[sig] = stamp;
      rightOf[sig] = k;
    }
    for (let j = 0; j < lhs.length; j++) {
      const s = lhs[j] as StepSeries;
      if (s.has[i] !== 1) continue;
      const sig = sigs.l[j] as number;
      if (rightStamp[sig] !== stamp) continue;
      const k = rightOf[sig] as number;
      const a = s.vals[i] as number;
      const b = (rhs[k] as StepSeries).vals[i] as number;
      const fl = swapped ? b : a;
      const fr = swapped ? a : b;
      // Checked before filtering: a many-to-one match is an error even if the comparison drops it.
      if (oneToOne) {
        if (matchedStamp[sig] === stamp) {
          throw new EvalError('multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)');
        }
        matchedStamp[sig] = stamp;
      }
      let v = arith(op, fl, fr);
      if (cmp) {
        if (returnBool) {
          // v is already 0 or 1.
        } else if (v === 0) continue;
        else v = fl;
      }
      let id: number;
      if (lastRight[j] === k) id = lastOutput[j] as number;
      else {
        id = outputFor(j, k);
        lastRight[j] = k;
        lastOutput[j] = id;
      }
      if (outputStamp[id] === stamp) throw new EvalError('multiple matches for labels: grouping labels must ensure unique matches');
      outputStamp[id] = stamp;
      out.set(outputs[id] as StepSeries, i, v);
    }
  }
  return out.result();
}
