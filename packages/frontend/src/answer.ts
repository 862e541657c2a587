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
  return { status: 'success', data: { resultType: 'matrix', result: sortedByLabels([...byLabels.values()]) }, ...joinedNotes(answers) };
}

/** One series of an instant query's answer. */
export interface VectorSample {
  metric: Record<string, string>;
  value?: [number, string];
  histogram?: [number, unknown];
}

/** A successful instant query's answer of series (`/api/v1/query`): a vector, or a matrix for a range selector. */
export type SeriesAnswer = MatrixAnswer | { status: 'success'; data: { resultType: 'vector'; result: VectorSample[] }; warnings?: string[]; infos?: string[] };

/** The answer parsed, if it is a successful vector or matrix; undefined for anything else. */
export function parseSeriesAnswer(body: string): SeriesAnswer | undefined {
  try {
    const a = JSON.parse(body) as Partial<SeriesAnswer>;
    return a.status === 'success' && (a.data?.resultType === 'vector' || a.data?.resultType === 'matrix') && Array.isArray(a.data.result) ? (a as SeriesAnswer) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The answers of one instant query over disjoint sets of series (vertical shards) as its whole answer:
 * all their series, sorted by labels (the order of an instant vector that is not sorted is its
 * evaluation's, which no shard knows), warnings and infos each said once.
 */
export function unionAnswers(answers: readonly SeriesAnswer[]): SeriesAnswer {
  const first = answers[0] as SeriesAnswer;
  if (answers.length === 1) return first;
  if (first.data.resultType === 'matrix') return mergeAnswers(answers as MatrixAnswer[]);
  return { status: 'success', data: { resultType: 'vector', result: sortedByLabels(answers.flatMap((a) => a.data.result as VectorSample[])) }, ...joinedNotes(answers) };
}

/** Series sorted by their labels, as Prometheus sorts a matrix. */
function sortedByLabels<S extends { metric: Record<string, string> }>(series: readonly S[]): S[] {
  return series
    .map((s) => ({ s, labels: Labels.from(s.metric) }))
    .sort((x, y) => Labels.compare(x.labels, y.labels))
    .map((x) => x.s);
}

/** The warnings and infos of answers put together, each said once (a field only where there are some). */
export function joinedNotes(answers: readonly { warnings?: string[]; infos?: string[] }[]): { warnings?: string[]; infos?: string[] } {
  const warnings = [...new Set(answers.flatMap((a) => a.warnings ?? []))];
  const infos = [...new Set(answers.flatMap((a) => a.infos ?? []))];
  return { ...(warnings.length > 0 ? { warnings } : {}), ...(infos.length > 0 ? { infos } : {}) };
}
