/**
 * PromQL's experimental info(): adds to each series the data labels of the info series (`target_info`
 * unless the label selector names others) that share its identifying labels, as Prometheus' info.go.
 *
 * The engine selects every series before evaluating, so info series are selected up front by the info
 * metric and data label matchers alone (infoSelector); the narrowing by the identifying label values of
 * the base series that Prometheus puts in its select is applied here, after the base is evaluated.
 */
import { Labels, Matcher, METRIC_NAME } from '@strata/tsdb';
import type { Call, Expr, TimeModifiers, VectorSelector } from '../parser/ast.js';
import { children, exprType } from '../parser/ast.js';
import { EvalError } from './errors.js';
import { SeriesBuilder, type StepSeries, type VectorValue } from './steps.js';

/** The labels that tie a series to its info series (hard-coded in Prometheus too). */
const IDENTIFYING_LABELS = ['instance', 'job'] as const;
const TARGET_INFO = 'target_info';

/** What info()'s label selector asks for. */
interface InfoMatchers {
  /** Which metrics are info metrics (Prometheus' effectiveInfoNameMatchers), all to be met. */
  readonly names: readonly Matcher[];
  /** The data labels to add, with their matchers, by label name; empty for all of them. */
  readonly data: ReadonlyMap<string, readonly Matcher[]>;
}

function infoMatchers(call: Call): InfoMatchers {
  const selector = call.args[1];
  const given = selector?.kind === 'vectorSelector' ? selector.matchers : [];
  const data = new Map<string, Matcher[]>();
  for (const m of given) {
    if (m.name === METRIC_NAME) continue;
    const list = data.get(m.name);
    if (list === undefined) data.set(m.name, [m]);
    else list.push(m);
  }
  return { names: effectiveNameMatchers(given.filter((m) => m.name === METRIC_NAME)), data };
}

function effectiveNameMatchers(given: readonly Matcher[]): readonly Matcher[] {
  if (given.some((m) => m.type === '=' || m.type === '=~')) return given;
  // Negated names alone would take any metric for an info metric: they only narrow the `_info` ones.
  if (given.length > 0) return [new Matcher('=~', METRIC_NAME, '.+_info'), ...given];
  return [Matcher.equal(METRIC_NAME, TARGET_INFO)];
}

/**
 * When a step's info series are looked up: where the base expression reads its samples, when all its
 * series come from selectors reading at the same time relative to the step (a fixed time for `@`, the
 * step time less an offset); at the step time otherwise ('step': mixed times, or series not read from
 * storage, as vector(1)).
 */
type Reference = { readonly kind: 'at'; readonly t: number } | { readonly kind: 'offset'; readonly d: number } | { readonly kind: 'step' };

const AT_STEP: Reference = { kind: 'step' };

type AtOf = (m: TimeModifiers) => number | null;

function selectorReference(m: TimeModifiers, atOf: AtOf): Reference {
  const at = atOf(m);
  return at === null ? { kind: 'offset', d: m.offset } : { kind: 'at', t: at - m.offset };
}

function sameReference(a: Reference, b: Reference): boolean {
  if (a.kind === 'at') return b.kind === 'at' && a.t === b.t;
  if (a.kind === 'offset') return b.kind === 'offset' && a.d === b.d;
  return b.kind === 'step';
}

/** The reference of an expression's series; null for scalars and strings, whose selectors make no series. */
function referenceOf(e: Expr, atOf: AtOf): Reference | null {
  const type = exprType(e);
  if (type === 'scalar' || type === 'string') return null;
  switch (e.kind) {
    case 'vectorSelector':
      return selectorReference(e, atOf);
    case 'matrixSelector':
      return selectorReference(e.vs, atOf);
    case 'subquery': {
      // An `@` inside wins; offsets inside add to the subquery's own.
      const inner = referenceOf(e.expr, atOf) ?? AT_STEP;
      if (inner.kind !== 'offset') return inner;
      const at = atOf(e);
      return at === null ? { kind: 'offset', d: e.offset + inner.d } : { kind: 'at', t: at - e.offset - inner.d };
    }
    case 'call':
      // A nested info()'s label selector is no series of its own.
      if (e.func.name === 'info') return referenceOf(e.args[0] as Expr, atOf);
      break;
    default:
      break;
  }
  const refs = children(e).map((c) => referenceOf(c, atOf)).filter((r): r is Reference => r !== null);
  const first = refs[0];
  if (first === undefined) return AT_STEP;
  return refs.every((r) => sameReference(r, first)) ? first : AT_STEP;
}

/**
 * The selection of an info() call's info series: the info metric and data label matchers, read at the
 * base expression's reference (so that, evaluated as a selector, it looks each step's info series up
 * where the base series were read). `atOf` resolves `@ start()`/`@ end()`.
 */
export function infoSelector(call: Call, atOf: AtOf): VectorSelector {
  const { names, data } = infoMatchers(call);
  const ref = referenceOf(call.args[0] as Expr, atOf) ?? AT_STEP;
  return {
    kind: 'vectorSelector',
    name: null,
    matchers: [...names, ...[...data.values()].flat()],
    offset: ref.kind === 'offset' ? ref.d : 0,
    timestamp: ref.kind === 'at' ? ref.t : null,
    atAnchor: null,
    pos: call.pos,
  };
}

/** Joins info series to base series: the info metric's name and the identifying labels the series has. */
function signature(infoName: string, labels: Labels): string {
  return JSON.stringify([infoName, ...IDENTIFYING_LABELS.map((l) => labels.get(l))]);
}

/** The identifying label values of the series, by label; info series must have one of them on each. */
function identifyingValues(series: readonly StepSeries[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const s of series) {
    for (const l of IDENTIFYING_LABELS) {
      const v = s.labels.get(l);
      if (v === '') continue;
      const values = out.get(l);
      if (values === undefined) out.set(l, new Set([v]));
      else values.add(v);
    }
  }
  return out;
}

/** The sample time (ms) of an info series at step i; its step values are sample times in seconds. */
function sampleTime(s: StepSeries, i: number): number {
  return Math.round((s.vals[i] as number) * 1000);
}

/**
 * info() over evaluated series: `base`, and `info`, the selected info series whose float steps hold
 * the time (s) of the sample looked up (histogram steps keep the histogram, which info() rejects).
 */
export function enrichWithInfo(base: VectorValue, info: readonly StepSeries[], call: Call, steps: number): VectorValue {
  const { names, data } = infoMatchers(call);
  // Info series in the base are passed through, not enriched.
  const passThrough = base.series.map((s) => names.every((m) => m.matches(s.labels.get(METRIC_NAME))));
  const wanted = identifyingValues(base.series.filter((s, k) => !passThrough[k] && s.has.includes(1)));
  const candidates = wanted.size === 0 ? [] : info.filter((s) => [...wanted].every(([l, values]) => values.has(s.labels.get(l))));
  const infoNames = [...new Set(candidates.map((s) => s.labels.get(METRIC_NAME)))].sort();
  const infoSignatures = candidates.map((s) => signature(s.labels.get(METRIC_NAME), s.labels));
  const baseSignatures = base.series.map((s) => infoNames.map((name) => signature(name, s.labels)));
  const keepUnmatched = [...data.values()].every((ms) => ms.every((m) => m.matchesEmpty()));

  const out = new SeriesBuilder(steps);
  // Per base series, the output series of the info series it was last joined with (null: dropped).
  const joined: ({ key: string; target: StepSeries | null } | undefined)[] = [];
  const latest = new Map<string, number>();
  for (let i = 0; i < steps; i++) {
    if (!base.series.some((s) => s.has[i] === 1)) continue;
    // The latest sample per signature; two at the same time are ambiguous.
    latest.clear();
    candidates.forEach((s, k) => {
      if (s.has[i] !== 1) return;
      if (s.histAt(i) !== undefined) throw new EvalError('info sample should be float');
      const sig = infoSignatures[k] as string;
      const seen = latest.get(sig);
      if (seen === undefined) {
        latest.set(sig, k);
        return;
      }
      const other = candidates[seen] as StepSeries;
      const [t, u] = [sampleTime(other, i), sampleTime(s, i)];
      if (t === u) throw new EvalError(`found duplicate series for info metric: existing ${other.labels.toString()} @ ${t}, new ${s.labels.toString()} @ ${u}`);
      if (u > t) latest.set(sig, k);
    });
    base.series.forEach((b, k) => {
      if (b.has[i] !== 1) return;
      if (passThrough[k] === true) {
        out.copyStep(out.series(b.labels, b.dropName), i, b);
        return;
      }
      const matches = (baseSignatures[k] as string[]).map((sig) => latest.get(sig)).filter((m): m is number => m !== undefined);
      const key = matches.join(',');
      let j = joined[k];
      if (j === undefined || j.key !== key) {
        j = { key, target: joinedSeries(b, matches.map((m) => candidates[m] as StepSeries), data, keepUnmatched, out) };
        joined[k] = j;
      }
      if (j.target !== null) out.copyStep(j.target, i, b);
    });
  }
  return out.result();
}

/** The output series of base series `b` joined with `matches` (one info series per info metric), or null when dropped. */
function joinedSeries(
  b: StepSeries, matches: readonly StepSeries[], data: ReadonlyMap<string, readonly Matcher[]>, keepUnmatched: boolean, out: SeriesBuilder,
): StepSeries | null {
  if (matches.length === 0) return keepUnmatched ? out.series(b.labels, b.dropName) : null;
  const added = new Map<string, string>();
  for (const s of matches) {
    for (const { name, value } of s.labels) {
      if (name === METRIC_NAME || (data.size > 0 && !data.has(name))) continue;
      const prior = added.get(name);
      if (prior !== undefined && prior !== value) throw new EvalError(`conflicting label: ${name}`);
      // The base series' own labels stay as they are.
      if (!b.labels.has(name)) added.set(name, value);
    }
  }
  return out.series(b.labels.merge(Labels.from([...added].map(([name, value]) => ({ name, value })))), b.dropName);
}
