import { Labels } from '@strata/tsdb';

/** One series of a range query's answer, as Prometheus' API writes it (values and histograms by [seconds, …]). */
export interface MatrixSeries {
  metric: Record<string, string>;
  values?: [number, string][];
  histograms?: [number, unknown][];
}

/** A successful range query's answer (`/api/v1/query_range`). */
export interface MatrixAnswer {
  status: 'success';
  data: { resultType: 'matrix'; result: MatrixSeries[] };
  warnings?: string[];
  infos?: string[];
}

/** The answer parsed, if it is a successful matrix (anything else is passed on as it came). */
export function parseMatrixAnswer(body: string): MatrixAnswer | undefined {
  try {
    const a = JSON.parse(body) as Partial<MatrixAnswer>;
    return a.status === 'success' && a.data?.resultType === 'matrix' && Array.isArray(a.data.result) ? (a as MatrixAnswer) : undefined;
  } catch {
    return undefined;
  }
}

/** Points of a series at `[seconds, …]`, in ms, as Prometheus formats them (3 decimals at most). */
const ms = (seconds: number): number => Math.round(seconds * 1000);

/** The answer with only the points in [start, end] (ms); series left without any are dropped. */
export function trimAnswer(a: MatrixAnswer, start: number, end: number): MatrixAnswer {
  const inside = (p: [number, unknown]) => ms(p[0]) >= start && ms(p[0]) <= end;
  const result: MatrixSeries[] = [];
  for (const s of a.data.result) {
    const values = s.values?.filter(inside);
    const histograms = s.histograms?.filter(inside);
    if ((values?.length ?? 0) + (histograms?.length ?? 0) === 0) continue;
    result.push({ metric: s.metric, ...(values?.length ? { values } : {}), ...(histograms?.length ? { histograms } : {}) });
  }
  return { ...a, data: { resultType: 'matrix', result } };
}

/**
 * The answers of consecutive pieces of one range query as the whole query's answer: each series' points
 * joined in time order, series sorted by their labels (as Prometheus sorts a matrix), warnings and infos
 * each said once.
 */
export function mergeAnswers(answers: readonly MatrixAnswer[]): MatrixAnswer {
  if (answers.length === 1) return answers[0] as MatrixAnswer;
  const byLabels = new Map<string, MatrixSeries>();
  for (const a of answers) {
    for (const s of a.data.result) {
      const key = JSON.stringify(s.metric);
      const merged = byLabels.get(key);
      if (merged === undefined) {
        byLabels.set(key, { metric: s.metric, ...(s.values ? { values: [...s.values] } : {}), ...(s.histograms ? { histograms: [...s.histograms] } : {}) });
        continue;
      }
      if (s.values) (merged.values ??= []).push(...s.values);
      if (s.histograms) (merged.histograms ??= []).push(...s.histograms);
    }
  }
  const sorted = [...byLabels.values()].map((s) => ({ s, labels: Labels.from(s.metric) })).sort((x, y) => Labels.compare(x.labels, y.labels));
  return { status: 'success', data: { resultType: 'matrix', result: sorted.map((x) => x.s) }, ...joinedNotes(answers) };
}

/** The warnings and infos of answers put together, each said once (a field only where there are some). */
export function joinedNotes(answers: readonly { warnings?: string[]; infos?: string[] }[]): { warnings?: string[]; infos?: string[] } {
  const warnings = [...new Set(answers.flatMap((a) => a.warnings ?? []))];
  const infos = [...new Set(answers.flatMap((a) => a.infos ?? []))];
  return { ...(warnings.length > 0 ? { warnings } : {}), ...(infos.length > 0 ? { infos } : {}) };
}
