/**
 * Binary operators: scalar/scalar, vector/scalar and vector/vector with Prometheus' vector matching, over
 * floats and native histograms; unary minus.
 */
import { dropMetricName, type NameRules } from './names.js';
import { type ArithmeticOutcome, CounterResetHint, type FloatHistogram, IncompatibleSchemaError, Labels, METRIC_NAME } from '@strata/tsdb';
import type { BinaryOp, VectorMatching } from '../parser/ast.js';
import { isComparison, isTrimOp } from '../parser/ast.js';
import { goPow } from '../functions/kahan.js';
import { EvalError } from './errors.js';
import { trimHistogram } from './histogram-trim.js';
import { SeriesBuilder, type StepSeries, type VectorValue } from './steps.js';

/** Reports an annotation of the binary expression. */
export type Annotate = (message: string) => void;

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

/** Arithmetic and `bool` comparisons drop the metric name; 2.x left atan2 out. A trimmed histogram keeps it. */
function dropsName(op: BinaryOp, returnBool: boolean, compat: 2 | 3): boolean {
  if (isTrimOp(op)) return false;
  return isComparison(op) ? returnBool : op !== 'atan2' || compat === 3;
}

/**
 * What an operation on a pair of samples with a histogram (or any pair, for a trim operator) gives, as
 * Prometheus' vectorElemBinop: `value` null drops the pair, `annotation` (if any) says why or, with a
 * value, what else happened.
 */
interface HistogramOutcome {
  readonly value: FloatHistogram | null;
  /** False when == or != does not hold. */
  readonly keep: boolean;
  readonly annotation: string | null;
}

function dropped(annotation: string): HistogramOutcome {
  return { value: null, keep: false, annotation };
}

function computed(value: FloatHistogram): HistogramOutcome {
  return { value, keep: true, annotation: null };
}

function sampleType(h: FloatHistogram | undefined): string {
  return h === undefined ? 'float' : 'histogram';
}

/**
 * `l op r` where l or r (the floats `fl`, `fr` unless `hl`, `hr` are set) is a histogram: + and − of two
 * histograms, * of a histogram and a float, histogram / float, the trims histogram </ float and
 * histogram >/ float, == and != of two histograms. Every other combination has no result.
 */
function histogramBinop(op: BinaryOp, fl: number, fr: number, hl: FloatHistogram | undefined, hr: FloatHistogram | undefined): HistogramOutcome {
  if (hl !== undefined && hr !== undefined) {
    switch (op) {
      case '+':
      case '-':
        return addHistograms(op, hl, hr);
      // Histograms are compared compacted, as selectors and operations leave them.
      case '==':
        return { value: hl, keep: hl.equals(hr), annotation: null };
      case '!=':
        return { value: hl, keep: !hl.equals(hr), annotation: null };
    }
  } else if (hl !== undefined) {
    switch (op) {
      case '*':
        return computed(hl.copy().mul(fr).compact(0));
      case '/':
        return computed(hl.copy().div(fr).compact(0));
      case '</':
      case '>/':
        return computed(trimHistogram(hl, fr, op === '</'));
    }
  } else if (hr !== undefined && op === '*') {
    return computed(hr.copy().mul(fl).compact(0));
  }
  return dropped(
    `PromQL info: incompatible sample types encountered for binary operator ${JSON.stringify(op)}: ${sampleType(hl)} ${op} ${sampleType(hr)}`,
  );
}

/**
 * `hl + hr` or `hl - hr`. A difference is a gauge. Mixed exponential and custom buckets, and a counter
 * reset hint meeting a not-counter-reset one, give no result (the latter as in Prometheus, which returns
 * it as an error).
 */
function addHistograms(op: '+' | '-', hl: FloatHistogram, hr: FloatHistogram): HistogramOutcome {
  const res = hl.copy();
  let outcome: ArithmeticOutcome;
  try {
    outcome = op === '+' ? res.add(hr) : res.sub(hr);
  } catch (e) {
    if (e instanceof IncompatibleSchemaError) return dropped(`PromQL warning: incompatible bucket layout encountered for binary operator ${op}`);
    throw e;
  }
  const operation = op === '+' ? 'addition' : 'subtraction';
  if (outcome.counterResetCollision) return dropped(`PromQL warning: conflicting counter resets during histogram ${operation}`);
  if (op === '-') res.counterResetHint = CounterResetHint.Gauge;
  const annotation = outcome.nhcbBoundsReconciled ? `PromQL info: mismatched custom buckets were reconciled during ${operation}` : null;
  return { value: res.compact(0), keep: true, annotation };
}

/** Unary minus: floats negated, histograms multiplied by −1 (which makes them gauges); the name goes. */
export function negate(v: VectorValue, steps: number, delayedNameRemoval: boolean): VectorValue {
  const out = new SeriesBuilder(steps);
  for (const s of v.series) {
    let o: StepSeries | null = null;
    const hists = s.hists;
    for (let i = 0; i < steps; i++) {
      if (s.has[i] !== 1) continue;
      o ??= out.seriesWithoutName(s.labels, delayedNameRemoval);
      const h = hists === null ? undefined : hists[i];
      if (h === undefined) out.set(o, i, -(s.vals[i] as number));
      else out.setHist(o, i, h.copy().mul(-1));
    }
  }
  return out.result();
}

/** Vector op scalar (or scalar op vector when `scalarLeft`). */
export function vectorScalarBinop(
  op: BinaryOp, vec: VectorValue, scalar: Float64Array, scalarLeft: boolean, returnBool: boolean, steps: number, rules: NameRules,
  annotate: Annotate,
): VectorValue {
  const cmp = isComparison(op);
  const trim = isTrimOp(op);
  const dropName = dropsName(op, returnBool, rules.compat);
  const out = new SeriesBuilder(steps);
  const outputOf = (s: StepSeries): StepSeries =>
    dropName ? out.seriesWithoutName(s.labels, rules.delayedNameRemoval) : out.series(s.labels, s.dropName);
  for (const s of vec.series) {
    let o: StepSeries | null = null;
    // Float samples go through this loop, free of histogram checks; a trim takes none of them (below).
    if (!trim) {
      const has = s.floatPresence();
      for (let i = 0; i < steps; i++) {
        if (has[i] !== 1) continue;
        const v = s.vals[i] as number;
        const c = scalar[i] as number;
        let r = scalarLeft ? arith(op, c, v) : arith(op, v, c);
        if (cmp) {
          if (!returnBool && r === 0) continue;
          if (!returnBool) r = v;
        }
        o ??= outputOf(s);
        out.set(o, i, r);
      }
    }
    if (!trim && s.hists === null) continue;
    for (let i = 0; i < steps; i++) {
      if (s.has[i] !== 1) continue;
      const h = s.histAt(i);
      if (h === undefined && !trim) continue;
      // No comparison holds with a histogram here, so `bool` and filtering have nothing to do.
      const v = s.vals[i] as number;
      const c = scalar[i] as number;
      const res = scalarLeft ? histogramBinop(op, c, v, undefined, h) : histogramBinop(op, v, c, h, undefined);
      if (res.annotation !== null) annotate(res.annotation);
      if (res.value === null) continue;
      o ??= outputOf(s);
      out.setHist(o, i, res.value);
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
    const floatsOnly = s.hists === null;
    for (let i = 0; i < steps; i++) {
      if (s.has[i] !== 1 || !keep(i)) continue;
      o ??= out.series(s.labels, s.dropName);
      if (floatsOnly) out.set(o, i, s.vals[i] as number);
      else out.copyStep(o, i, s);
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
  annotate: Annotate,
): VectorValue {
  // The "one" side is always the right one below; swap for group_right.
  const swapped = m.card === 'one-to-many';
  const lhs = swapped ? rhsIn.series : lhsIn.series;
  const rhs = swapped ? lhsIn.series : rhsIn.series;
  const sigs = signatureIds(signatures(lhs, m), signatures(rhs, m));
  const cmp = isComparison(op);
  const trim = isTrimOp(op);
  // Only trims and operands with histograms look at the sample types.
  const typed = trim || lhs.some((s) => s.hists !== null) || rhs.some((s) => s.hists !== null);
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
  const outputOf = (leftLabels: Labels, leftDropName: boolean, rightLabels: Labels): number => {
    const delayedDrop = rules.delayedNameRemoval && (dropsName(op, returnBool, rules.compat) || leftDropName);
    const o = out.series(resultLabels(leftLabels, rightLabels, op, m, matching, returnBool, rules), delayedDrop);
    let id = outputId.get(o);
    if (id === undefined) {
      id = outputs.length;
      outputs.push(o);
      outputId.set(o, id);
      outputStamp.push(0);
    }
    return id;
  };
  const outputFor = (j: number, k: number): number => {
    const key = j * nR + k;
    let id = pairs.get(key);
    if (id === undefined) {
      const l = lhs[j] as StepSeries;
      id = outputOf(l.labels, l.dropName, (rhs[k] as StepSeries).labels);
      pairs.set(key, id);
    }
    return id;
  };
  // fill modifiers: a missing sample is one with this value and the labels of its match group, as in
  // Prometheus (which applies them after swapping the sides of group_right).
  const fillRight = m.fill?.rhs ?? null;
  const fillLeft = m.fill?.lhs ?? null;
  const filledOutputs = new Map<string, number>();
  const filledOutput = (side: 'l' | 'r', index: number): number => {
    const key = side + index;
    let id = filledOutputs.get(key);
    if (id === undefined) {
      const present = ((side === 'l' ? rhs : lhs)[index] as StepSeries).labels;
      const filled = signatureLabels(m, present);
      id = side === 'l' ? outputOf(filled, false, present) : outputOf(present, false, filled);
      filledOutputs.set(key, id);
    }
    return id;
  };
  /** The output of left series j and right series k, either −1 when filled in. */
  const outputIndex = (j: number, k: number): number => {
    if (j < 0) return filledOutput('l', k);
    if (k < 0) return filledOutput('r', j);
    if (lastRight[j] === k) return lastOutput[j] as number;
    const id = outputFor(j, k);
    lastRight[j] = k;
    lastOutput[j] = id;
    return id;
  };
  let i = 0;
  let stamp = 0;
  // As Prometheus, a step reports only the last annotation of its pairs.
  let problem: string | null = null;
  const checkBeforeFilter = rules.compat !== 2;
  /** Marks the match group `sig` matched at this step (fill_left fills the others); one-to-one, a second match is an error. */
  const matched = (sig: number): void => {
    if (oneToOne && matchedStamp[sig] === stamp) throw new EvalError('multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)');
    matchedStamp[sig] = stamp;
  };
  /**
   * `a op b` (a of the left side as swapped, b of the right) at step i for the match group `sig`, from
   * left series j and right series k (−1: filled in).
   */
  const apply = (a: number, b: number, ha: FloatHistogram | undefined, hb: FloatHistogram | undefined, sig: number, j: number, k: number): void => {
    const fl = swapped ? b : a;
    const fr = swapped ? a : b;
    const hl = swapped ? hb : ha;
    const hr = swapped ? ha : hb;
    let v: number;
    let h: FloatHistogram | undefined;
    let keep = true;
    if (trim || hl !== undefined || hr !== undefined) {
      const res = histogramBinop(op, fl, fr, hl, hr);
      if (res.annotation !== null) problem = res.annotation;
      // A pair without result does not count as a match.
      if (res.value === null) return;
      v = 0;
      h = res.value;
      keep = res.keep;
    } else {
      v = arith(op, fl, fr);
      if (cmp) {
        keep = v === 1;
        v = fl;
      }
    }
    // 3.x checks before filtering (a many-to-one match is an error even if the comparison drops it), 2.x after.
    if (checkBeforeFilter) matched(sig);
    if (returnBool) {
      v = keep ? 1 : 0;
      h = undefined;
    } else if (!keep) return;
    if (!checkBeforeFilter) matched(sig);
    const o = outputIndex(j, k);
    if (outputStamp[o] === stamp) throw new EvalError('multiple matches for labels: grouping labels must ensure unique matches');
    outputStamp[o] = stamp;
    if (h === undefined) out.set(outputs[o] as StepSeries, i, v);
    else out.setHist(outputs[o] as StepSeries, i, h);
  };
  const present = (side: readonly StepSeries[]): boolean => side.some((s) => s.has[i] === 1);
  for (i = 0; i < steps; i++) {
    stamp = i + 1;
    problem = null;
    // As Prometheus: with a side empty at this step (and nothing to fill in for it), nothing matches and nothing is checked.
    if ((fillLeft === null && !present(lhs)) || (fillRight === null && !present(rhs))) continue;
    for (let k = 0; k < nR; k++) {
      const s = rhs[k] as StepSeries;
      if (s.has[i] !== 1) continue;
      const sig = sigs.r[k] as number;
      if (rightStamp[sig] === stamp) {
        const side = swapped ? 'left' : 'right';
        const group = signatureLabels(m, s.labels);
        // 3.x names the two series sorted; 2.x this one, then the one before it.
        const both = [s.labels, (rhs[rightOf[sig] as number] as StepSeries).labels];
        if (rules.compat !== 2) both.sort(Labels.compare);
        throw new EvalError(
          `found duplicate series for the match group ${group.toString()} on the ${side} hand-side of the operation: ` +
            `[${both.map((l) => l.toString()).join(', ')}]` +
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
      const ha = typed ? s.histAt(i) : undefined;
      if (rightStamp[sig] !== stamp) {
        if (fillRight !== null) apply(s.vals[i] as number, fillRight, ha, undefined, sig, j, -1);
        continue;
      }
      const k = rightOf[sig] as number;
      const r = rhs[k] as StepSeries;
      apply(s.vals[i] as number, r.vals[i] as number, ha, typed ? r.histAt(i) : undefined, sig, j, k);
    }
    if (fillLeft !== null) {
      for (let k = 0; k < nR; k++) {
        const r = rhs[k] as StepSeries;
        const sig = sigs.r[k] as number;
        if (r.has[i] !== 1 || matchedStamp[sig] === stamp) continue;
        apply(fillLeft, r.vals[i] as number, undefined, typed ? r.histAt(i) : undefined, sig, -1, k);
      }
    }
    if (problem !== null) annotate(problem);
  }
  return out.result();
}
