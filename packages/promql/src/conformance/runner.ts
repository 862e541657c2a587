/**
 * Runs Prometheus' PromQL test scripts against the engine, with the checks Prometheus' own harness adds to
 * every instant eval: re-running with `@ <eval time>` on every selector at several times, and agreement
 * of the range-query middle step with the instant result.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type FloatHistogram, Labels, STALE_NAN, type Matcher } from '@strata/tsdb';
import { Engine, type EngineOptions } from '../engine/engine.js';
import { almostEqual } from '../float.js';
import { formatValue } from '../format.js';
import { type Expr, walk } from '../parser/ast.js';
import { UnsupportedError } from '../parser/errors.js';
import { AT_MODIFIER_UNSAFE_FUNCTIONS } from '../parser/functions.js';
import { parseExpr } from '../parser/parse.js';
import { MemoryStorage } from '../storage/memory.js';
import type { FPoint, HPoint, QueryResult, QueryValue, Sample } from '../value.js';
import { histogramsMatch } from './histograms.js';
import { NhcbCollector } from './nhcb.js';
import { type EvalCommand, type Expectation, type LoadCommand, parseScript, type SeriesLine } from './script.js';

export type CaseStatus = 'passed' | 'failed' | 'skipped';

export interface CaseResult {
  readonly line: number;
  readonly expr: string;
  readonly status: CaseStatus;
  /** Why a case failed (expected vs got) or was skipped. */
  readonly reason?: string;
}

export interface FileResult {
  readonly file: string;
  readonly cases: CaseResult[];
}

const EPSILON = 1e-6;

class CaseFailure extends Error {}
class CaseSkip extends Error {}

function labelsOf(selector: string, compat: 2 | 3): Labels {
  if (selector === '{}' || selector === '') return Labels.EMPTY;
  const e = parseExpr(selector, { compat });
  if (e.kind !== 'vectorSelector') throw new Error(`not a series descriptor: ${selector}`);
  return Labels.from(e.matchers.filter((m: Matcher) => m.type === '=').map((m) => ({ name: m.name, value: m.value })));
}

export class ScriptRunner {
  readonly #engine: Engine;
  readonly #compat: 2 | 3;
  readonly #storage = new MemoryStorage();

  /** `engine`: options beyond the harness' own (features the scripts do not turn on themselves). */
  constructor(compat: 2 | 3, engine: EngineOptions = {}) {
    this.#compat = compat;
    // Prometheus' harness settings; its current version also enables delayed name removal.
    // promqltest also enables every experimental parser feature (its TestParserOpts).
    this.#engine = new Engine({
      compat, maxSamples: 10000, lookbackDelta: 5 * 60_000, subqueryStep: 60_000, delayedNameRemoval: compat === 3,
      extendedRangeSelectors: compat === 3, binopFillModifiers: compat === 3, ...engine,
    });
  }

  async run(text: string): Promise<CaseResult[]> {
    const results: CaseResult[] = [];
    // A load that could not be read leaves the data incomplete until the next clear: its evals fail, or are
    // skipped when the load used notation this runner does not implement.
    let loadError: CaseResult['status'] | null = null;
    let loadReason = '';
    for (const cmd of parseScript(text)) {
      if (cmd.kind === 'clear') {
        this.#storage.clear();
        loadError = null;
      } else if (cmd.kind === 'load') {
        try {
          if (cmd.error !== null) throw cmd.error;
          this.#load(cmd);
        } catch (e) {
          loadError = e instanceof UnsupportedError ? 'skipped' : 'failed';
          loadReason = `load at line ${cmd.line}: ${(e as Error).message}`;
        }
      } else if (loadError !== null) {
        results.push({ line: cmd.line, expr: cmd.expr, status: loadError, reason: loadReason });
      } else {
        results.push(await this.#evalCase(cmd));
      }
    }
    return results;
  }

  #load(cmd: LoadCommand): void {
    const nhcb = cmd.nhcb ? new NhcbCollector() : undefined;
    for (const s of cmd.series) {
      const labels = labelsOf(s.selector, this.#compat);
      s.values.forEach((v, k) => {
        if (v === null) return;
        const t = k * cmd.interval;
        if (typeof v !== 'number') {
          this.#storage.appendHistogram(labels, t, v);
          return;
        }
        const f = s.stale.has(k) ? STALE_NAN : v;
        this.#storage.append(labels, t, f);
        nhcb?.add(labels, t, f);
      });
    }
    if (nhcb !== undefined) for (const { labels, t, h } of nhcb.histograms()) this.#storage.appendHistogram(labels, t, h);
  }

  async #evalCase(cmd: EvalCommand): Promise<CaseResult> {
    const base = { line: cmd.line, expr: cmd.expr };
    try {
      await this.#runEval(cmd);
      return { ...base, status: 'passed' };
    } catch (e) {
      if (e instanceof CaseSkip || e instanceof UnsupportedError) return { ...base, status: 'skipped', reason: (e as Error).message };
      if (e instanceof CaseFailure) return { ...base, status: 'failed', reason: e.message };
      return { ...base, status: 'failed', reason: `unexpected error: ${(e as Error).stack ?? String(e)}` };
    }
  }

  async #runEval(cmd: EvalCommand): Promise<void> {
    const expectFail = cmd.expects.find((e) => e.kind === 'fail');
    let result: QueryResult;
    try {
      result = cmd.range === null
        ? await this.#engine.instantQuery(this.#storage, cmd.expr, cmd.at)
        : await this.#engine.rangeQuery(this.#storage, cmd.expr, cmd.range.start, cmd.range.end, cmd.range.step);
    } catch (e) {
      if (e instanceof UnsupportedError) throw e;
      if (expectFail === undefined) throw new CaseFailure(`expected success, got error: ${(e as Error).message}`);
      checkFailMessage(expectFail, (e as Error).message);
      return;
    }
    if (expectFail !== undefined) throw new CaseFailure(`expected an error${expectFail.message ? ` (${expectFail.message})` : ''}, got success`);
    this.#checkAnnotations(cmd.expects, result.annotations);
    const ordered = cmd.expects.some((e) => e.kind === 'ordered');
    const stringExpect = cmd.expects.find((e) => e.kind === 'string');
    if (cmd.range !== null) {
      this.#compareMatrix(cmd, result.value, cmd.range);
      return;
    }
    const rangeVector = cmd.expects.find((e) => e.kind === 'range')?.range;
    if (rangeVector !== undefined) {
      this.#compareMatrix(cmd, result.value, rangeVector);
      return;
    }
    if (stringExpect !== undefined) {
      if (result.value.type !== 'string' || result.value.v !== stringExpect.message) {
        throw new CaseFailure(`expected string ${JSON.stringify(stringExpect.message)}, got ${describe(result.value)}`);
      }
      return;
    }
    this.#compareInstant(cmd, result.value, ordered, '');
    await this.#atModifierChecks(cmd, ordered);
    // Queries of the query's own parameters (step(), range(), …) answer differently as range queries.
    const usesQueryParameters = /\b(start|end|range|step)\s*\(\s*\)/.test(cmd.expr.replace(/@\s*(start|end)\s*\(\s*\)/g, ''));
    if (!ordered && !usesQueryParameters && (result.value.type === 'vector' || result.value.type === 'scalar')) await this.#rangeModeCheck(cmd);
  }

  #checkAnnotations(expects: readonly Expectation[], annotations: readonly string[]): void {
    const warnings = annotations.filter((a) => !a.startsWith('PromQL info'));
    const infos = annotations.filter((a) => a.startsWith('PromQL info'));
    for (const e of expects) {
      const list = e.kind === 'warn' || e.kind === 'no_warn' ? warnings : infos;
      if (e.kind === 'no_warn' || e.kind === 'no_info') {
        if (list.length > 0) throw new CaseFailure(`expected no ${e.kind.slice(3)} annotations, got ${JSON.stringify(list)}`);
      } else if (e.kind === 'warn' || e.kind === 'info') {
        const ok = e.message === undefined
          ? list.length > 0
          : list.some((a) => (e.regex === true ? new RegExp(e.message as string).test(a) : a === e.message));
        if (!ok) throw new CaseFailure(`expected ${e.kind} annotation${e.message ? ` ${JSON.stringify(e.message)}` : ''}, got ${JSON.stringify(list)}`);
      }
    }
  }

  /** Prometheus' atModifierTestCases: `@ <eval time>` on every selector and subquery, at other eval times. */
  async #atModifierChecks(cmd: EvalCommand, ordered: boolean): Promise<void> {
    const ts = cmd.at;
    const times = ts === 0 ? [-1000, 0, 1000] : [-10 * ts, 0, Math.trunc(ts / 5), ts, 10 * ts];
    for (const t of times) {
      const expr = this.#engine.parse(cmd.expr);
      if (!pinSelectors(expr, ts)) return;
      let r: QueryResult;
      try {
        r = await this.#engine.instantQuery(this.#storage, expr, t);
      } catch (e) {
        throw new CaseFailure(`with @ ${ts / 1000} at eval time ${t / 1000}s: ${(e as Error).message}`);
      }
      this.#compareInstant(cmd, r.value, ordered, `with @ ${ts / 1000} at eval time ${t / 1000}s: `);
    }
  }

  /** The instant result must equal the middle step of a range query from T−1m to T+1m. */
  async #rangeModeCheck(cmd: EvalCommand): Promise<void> {
    let r: QueryResult;
    try {
      r = await this.#engine.rangeQuery(this.#storage, cmd.expr, cmd.at - 60_000, cmd.at + 60_000, 60_000);
    } catch (e) {
      throw new CaseFailure(`in range mode: ${(e as Error).message}`);
    }
    if (r.value.type !== 'matrix') throw new CaseFailure(`range mode returned ${r.value.type}`);
    const samples: Sample[] = [];
    for (const s of r.value.series) {
      const p = s.floats.find((f) => f.t === cmd.at);
      if (p !== undefined) samples.push({ labels: s.labels, t: p.t, f: p.f });
      const h = s.histograms.find((x) => x.t === cmd.at);
      if (h !== undefined) samples.push({ labels: s.labels, t: h.t, f: 0, h: h.h });
    }
    const isScalar = cmd.results.length === 1 && (cmd.results[0] as SeriesLine).selector === '';
    const v: QueryValue = isScalar && samples.length === 1
      ? { type: 'scalar', t: cmd.at, v: (samples[0] as { f: number }).f }
      : { type: 'vector', samples };
    this.#compareInstant(cmd, v, false, 'in range mode: ');
  }

  #compareInstant(cmd: EvalCommand, v: QueryValue, ordered: boolean, context: string): void {
    const fail = (msg: string): never => {
      throw new CaseFailure(context + msg);
    };
    if (cmd.results.length === 1 && (cmd.results[0] as SeriesLine).selector === '') {
      const want = (cmd.results[0] as SeriesLine).values[0];
      if (typeof want !== 'number') return fail(`expected a histogram scalar, which no query returns; got ${describe(v)}`);
      if (v.type !== 'scalar') return fail(`expected scalar ${formatValue(want)}, got ${describe(v)}`);
      if (!almostEqual(want, v.v, EPSILON)) fail(`expected scalar ${formatValue(want)}, got ${formatValue(v.v)}`);
      return;
    }
    if (v.type === 'scalar' || v.type === 'string') return fail(`expected a vector, got ${describe(v)}`);
    if (v.type === 'matrix') return fail(`expected a vector, got ${describe(v)}`);
    const expected = cmd.results.map((r) => ({ labels: labelsOf(r.selector, this.#compat), value: r.values[0] as number | FloatHistogram }));
    if (expected.length !== v.samples.length) {
      fail(`expected ${expected.length} samples ${describeExpected(expected)}, got ${v.samples.length}: ${describe(v)}`);
    }
    const byKey = new Map(expected.map((e, i) => [e.labels.key(), { ...e, index: i }]));
    v.samples.forEach((s, i) => {
      const e = byKey.get(s.labels.key());
      if (e === undefined) return fail(`unexpected sample ${s.labels.toString()} ${sampleText(s)}; expected ${describeExpected(expected)}`);
      if (ordered && e.index !== i) fail(`expected ${e.labels.toString()} at position ${e.index}, got position ${i}`);
      const ok = typeof e.value === 'number'
        ? s.h === undefined && almostEqual(e.value, s.f, EPSILON)
        : s.h !== undefined && histogramsMatch(e.value, s.h, EPSILON);
      if (!ok) fail(`expected ${e.labels.toString()} ${valueText(e.value)}, got ${sampleText(s)}`);
    });
  }

  #compareMatrix(cmd: EvalCommand, v: QueryValue, range: { start: number; end: number; step: number }): void {
    if (v.type !== 'matrix') throw new CaseFailure(`expected a matrix, got ${describe(v)}`);
    const got = new Map(v.series.map((s) => [s.labels.key(), s]));
    const seen = new Set<string>();
    for (const line of cmd.results) {
      const labels = labelsOf(line.selector, this.#compat);
      const s = got.get(labels.key());
      const want: FPoint[] = [];
      const wantHistograms: HPoint[] = [];
      line.values.forEach((x, k) => {
        const t = range.start + k * range.step;
        if (typeof x === 'number') want.push({ t, f: x });
        else if (x !== null) wantHistograms.push({ t, h: x });
      });
      if (want.length + wantHistograms.length === 0 && s === undefined) continue;
      if (s === undefined) throw new CaseFailure(`missing series ${labels.toString()}; got ${describe(v)}`);
      seen.add(labels.key());
      const ok = s.floats.length === want.length && want.every((w, k) => {
        const p = s.floats[k] as FPoint;
        return p.t === w.t && almostEqual(w.f, p.f, EPSILON);
      }) && s.histograms.length === wantHistograms.length && wantHistograms.every((w, k) => {
        const p = s.histograms[k] as HPoint;
        return p.t === w.t && histogramsMatch(w.h, p.h, EPSILON);
      });
      if (!ok) throw new CaseFailure(`series ${labels.toString()}: expected ${pointsText(want, wantHistograms)}, got ${pointsText(s.floats, s.histograms)}`);
    }
    for (const s of v.series) if (!seen.has(s.labels.key())) throw new CaseFailure(`unexpected series ${s.labels.toString()}: ${describe(v)}`);
  }
}

/** Functions of the query's start, end and step, which differ between the re-run eval times. */
const QUERY_PARAMETER_FUNCTIONS = new Set(['start', 'end', 'range', 'step']);

/** Sets `@ ts` on selectors and subqueries without one (not inside a pinned subquery); false if unsafe. */
function pinSelectors(expr: Expr, ts: number): boolean {
  let unsafe = false;
  walk(expr, (node, path) => {
    if (path.some((p) => p.kind === 'subquery' && (p.timestamp !== null || p.atAnchor !== null))) return;
    if (node.kind === 'vectorSelector' || node.kind === 'subquery') {
      if (node.timestamp === null && node.atAnchor === null) node.timestamp = ts;
    } else if (node.kind === 'call' && (AT_MODIFIER_UNSAFE_FUNCTIONS.has(node.func.name) || QUERY_PARAMETER_FUNCTIONS.has(node.func.name))) {
      unsafe = true;
    }
  });
  return !unsafe;
}

function checkFailMessage(e: Expectation, message: string): void {
  if (e.message === undefined || e.message === '') return;
  const ok = e.regex === true ? new RegExp(e.message).test(message) : message === e.message;
  if (!ok) throw new CaseFailure(`expected error ${JSON.stringify(e.message)}, got ${JSON.stringify(message)}`);
}

function valueText(v: number | FloatHistogram): string {
  return typeof v === 'number' ? formatValue(v) : v.toString();
}

function sampleText(s: Sample): string {
  return s.h === undefined ? formatValue(s.f) : s.h.toString();
}

function pointsText(floats: readonly FPoint[], histograms: readonly HPoint[]): string {
  return [...floats.map((p) => `${formatValue(p.f)}@${p.t / 1000}`), ...histograms.map((p) => `${p.h.toString()}@${p.t / 1000}`)].join(' ');
}

function describeExpected(list: { labels: Labels; value: number | FloatHistogram }[]): string {
  return `[${list.map((e) => `${e.labels.toString()} ${valueText(e.value)}`).join(', ')}]`;
}

function describe(v: QueryValue): string {
  switch (v.type) {
    case 'scalar':
      return `scalar ${formatValue(v.v)}`;
    case 'string':
      return `string ${JSON.stringify(v.v)}`;
    case 'vector':
      return `[${v.samples.map((s) => `${s.labels.toString()} ${sampleText(s)}`).join(', ')}]`;
    case 'matrix':
      return `matrix [${v.series.map((s) => `${s.labels.toString()} ${pointsText(s.floats, s.histograms)}`).join('; ')}]`;
  }
}

/** Runs every `.test` file of a suite directory, in name order. */
export async function runSuite(dir: string, compat: 2 | 3): Promise<FileResult[]> {
  const files = readdirSync(dir).filter((f) => f.endsWith('.test')).sort();
  const out: FileResult[] = [];
  for (const file of files) {
    const cases = await new ScriptRunner(compat).run(readFileSync(join(dir, file), 'utf8'));
    out.push({ file, cases });
  }
  return out;
}

export function countStatuses(cases: readonly CaseResult[]): Record<CaseStatus, number> {
  const c = { passed: 0, failed: 0, skipped: 0 };
  for (const x of cases) c[x.status]++;
  return c;
}
