import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';

/**
 * The PromQL compliance query list (../shared/promql-compliance, read in place) expanded as the
 * compliance tester expands it, and its comparison rule for range-query results.
 */
export const COMPLIANCE_DIR = join(import.meta.dirname, '..', '..', '..', 'shared', 'promql-compliance');

export function complianceAvailable(): boolean {
  return existsSync(join(COMPLIANCE_DIR, 'promql-test-queries.yml'));
}

/** The value lists the tester's expand.go substitutes for each placeholder. */
const VARIANTS: Record<string, string[]> = {
  range: ['1s', '15s', '1m', '5m', '15m', '1h'],
  offset: ['1m', '5m', '10m'],
  simpleAggrOp: ['sum', 'avg', 'max', 'min', 'count', 'stddev', 'stdvar'],
  simpleTimeAggrOp: ['sum', 'avg', 'max', 'min', 'count', 'stddev', 'stdvar', 'absent', 'last'],
  topBottomOp: ['topk', 'bottomk'],
  quantile: ['-0.5', '0.1', '0.5', '0.75', '0.95', '0.90', '0.99', '1', '1.5'],
  arithBinOp: ['+', '-', '*', '/', '%', '^'],
  compBinOp: ['==', '!=', '<', '>', '<=', '>='],
  binOp: ['+', '-', '*', '/', '%', '^', '==', '!=', '<', '>', '<=', '>='],
  simpleMathFunc: ['abs', 'ceil', 'floor', 'exp', 'sqrt', 'ln', 'log2', 'log10', 'round'],
  extrapolatedRateFunc: ['delta', 'rate', 'increase'],
  clampFunc: ['clamp_min', 'clamp_max'],
  instantRateFunc: ['idelta', 'irate'],
  dateFunc: ['day_of_month', 'day_of_week', 'days_in_month', 'hour', 'minute', 'month', 'year'],
  smoothingFactor: ['0.1', '0.5', '0.8'],
  trendFactor: ['0.1', '0.5', '0.8'],
};

export interface ComplianceCase {
  query: string;
  shouldFail: boolean;
  skipComparison: boolean;
}

interface RawCase {
  query: string;
  variant_args?: string[];
  should_fail?: boolean;
  skip_comparison?: boolean;
}

export async function loadComplianceCases(): Promise<ComplianceCase[]> {
  const doc = parse(await readFile(join(COMPLIANCE_DIR, 'promql-test-queries.yml'), 'utf8')) as { test_cases: RawCase[] };
  const out: ComplianceCase[] = [];
  for (const c of doc.test_cases) {
    let queries = [c.query];
    for (const arg of c.variant_args ?? []) {
      const values = VARIANTS[arg];
      if (values === undefined) throw new Error(`compliance query ${c.query}: unknown variant ${arg}`);
      queries = queries.flatMap((q) => values.map((v) => q.replaceAll(`{{.${arg}}}`, v)));
    }
    for (const query of queries) out.push({ query, shouldFail: c.should_fail === true, skipComparison: c.skip_comparison === true });
  }
  return out;
}

export interface MatrixSeries {
  metric: Record<string, string>;
  values: [number, string][];
}

/**
 * The tester's comparison: the same label sets (after dropping `dropLabels` from the target), the same
 * timestamps, and values within a relative tolerance (NaN equals NaN). Returns a description of the
 * first difference, or null.
 */
export function diffMatrices(expected: MatrixSeries[], got: MatrixSeries[], opts: { dropLabels?: string[]; fraction?: number } = {}): string | null {
  const fraction = opts.fraction ?? 1e-5;
  const key = (m: Record<string, string>) => JSON.stringify(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const strip = (m: Record<string, string>) => Object.fromEntries(Object.entries(m).filter(([k]) => !(opts.dropLabels ?? []).includes(k)));
  const want = new Map(expected.map((s) => [key(s.metric), s]));
  const have = new Map(got.map((s) => [key(strip(s.metric)), s]));
  if (have.size !== got.length) return `target returned ${got.length - have.size} duplicate series after dropping ${opts.dropLabels?.join(',')}`;
  for (const k of want.keys()) if (!have.has(k)) return `missing series ${k}`;
  for (const k of have.keys()) if (!want.has(k)) return `unexpected series ${k}`;
  for (const [k, w] of want) {
    const h = have.get(k) as MatrixSeries;
    if (w.values.length !== h.values.length) return `series ${k}: ${w.values.length} points expected, ${h.values.length} got`;
    for (let i = 0; i < w.values.length; i++) {
      const [wt, wv] = w.values[i] as [number, string];
      const [ht, hv] = h.values[i] as [number, string];
      if (wt !== ht) return `series ${k}: point ${i} at ${ht}, expected ${wt}`;
      const x = Number(wv);
      const y = Number(hv);
      if (Number.isNaN(x) && Number.isNaN(y)) continue;
      if (x === y) continue;
      if (Math.abs(x - y) > fraction * Math.min(Math.abs(x), Math.abs(y))) return `series ${k} at ${wt}: expected ${wv}, got ${hv}`;
    }
  }
  return null;
}
