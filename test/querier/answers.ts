/** Comparing a Strata querier's HTTP answers with Prometheus' own. */
import { expect } from 'vitest';
import { diffMatrices, type MatrixSeries } from './compliance.js';

export interface Answer {
  status: string;
  data: { resultType: string; result: Record<string, unknown>[] };
}

export async function query(base: string, path: 'query' | 'query_range', params: Record<string, string>): Promise<Answer> {
  const res = await fetch(`${base}/api/v1/${path}?${new URLSearchParams(params)}`);
  return (await res.json()) as Answer;
}

/**
 * Strata's answer with the external label the querier adds removed (`external`: none where Prometheus has
 * it too), every number string within a relative 1e-9 of Prometheus' (bucket bounds must be the same
 * strings: they are computed bit for bit).
 */
export function expectSameAnswer(got: Answer, want: Answer, what: string, external: readonly string[] = ['cluster']): void {
  expect(want.status, what).toBe('success');
  const strip = (r: Record<string, unknown>) => {
    const metric = Object.fromEntries(Object.entries(r.metric as Record<string, string>).filter(([k]) => !external.includes(k)));
    return { ...r, metric };
  };
  const sort = (rs: Record<string, unknown>[]) => [...rs].sort((a, b) => JSON.stringify(a.metric).localeCompare(JSON.stringify(b.metric)));
  const ours = sort(got.data.result.map(strip));
  const theirs = sort(want.data.result);
  expect(got.status, what).toBe('success');
  expect(got.data.resultType, what).toBe(want.data.resultType);
  expect(ours.map((r) => r.metric), what).toEqual(theirs.map((r) => r.metric));
  const close = (a: unknown, b: unknown, path: string): void => {
    if (typeof b === 'string' && typeof a === 'string' && !Number.isNaN(Number(b)) && a !== b) {
      const x = Number(a);
      const y = Number(b);
      expect(Math.abs(x - y) <= 1e-9 * Math.max(Math.abs(x), Math.abs(y)), `${what} ${path}: ${a} vs ${b}`).toBe(true);
    } else if (Array.isArray(b) && Array.isArray(a)) {
      expect(a.length, `${what} ${path} length`).toBe(b.length);
      b.forEach((v, i) => close(a[i], v, `${path}[${i}]`));
    } else if (typeof b === 'object' && b !== null && typeof a === 'object' && a !== null) {
      expect(Object.keys(a).sort(), `${what} ${path} keys`).toEqual(Object.keys(b).sort());
      for (const [k, v] of Object.entries(b)) close((a as Record<string, unknown>)[k], v, `${path}.${k}`);
    } else {
      expect(a, `${what} ${path}`).toEqual(b);
    }
  };
  close(ours, theirs, 'result');
}

/** An HTTP API answer's body, any status. */
export interface ApiBody {
  status: string;
  data?: { resultType: string; result: unknown };
  warnings?: string[];
  errorType?: string;
  error?: string;
}

/** An HTTP API answer: its status code and body. */
export interface ApiResponse {
  code: number;
  body: ApiBody;
}

/** GET `path` at `base` with `params` (repeated for arrays), whatever the status. */
export async function apiGet(base: string, path: string, params: Record<string, string | string[]>): Promise<ApiResponse> {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const x of Array.isArray(v) ? v : [v]) qs.append(k, x);
  const res = await fetch(`${base}${path}?${qs}`);
  return { code: res.status, body: (await res.json()) as ApiBody };
}

/** Where an answer differs from the expected one (status, error, series, points; `dropLabels` left out of its series), or null. */
export function answerDiff(want: ApiResponse, got: ApiResponse, dropLabels = ['cluster']): string | null {
  if (got.code !== want.code) return `status ${got.code} (${got.body.error ?? 'success'}), Prometheus ${want.code} (${want.body.error ?? 'success'})`;
  if (want.body.status !== 'success') {
    if (got.body.errorType !== want.body.errorType) return `error type ${got.body.errorType}, Prometheus ${want.body.errorType}`;
    // A parse error's text is Prometheus'; an execution error may name series in Go's map order.
    return want.code === 400 && got.body.error !== want.body.error ? `error ${got.body.error}, Prometheus ${want.body.error}` : null;
  }
  const [w, g] = [want.body.data, got.body.data];
  if (g?.resultType !== w?.resultType) return `result type ${g?.resultType}, Prometheus ${w?.resultType}`;
  return diffMatrices(asMatrix(w), asMatrix(g), { dropLabels });
}

/** An instant query's vector or scalar as a matrix of one point per series. */
function asMatrix(data: ApiBody['data']): MatrixSeries[] {
  if (data?.resultType === 'matrix') return data.result as MatrixSeries[];
  if (data?.resultType === 'scalar') return [{ metric: {}, values: [data.result as [number, string]] }];
  return (data?.result as { metric: Record<string, string>; value: [number, string] }[]).map((s) => ({ metric: s.metric, values: [s.value] }));
}
