/** Comparing a Strata querier's HTTP answers with Prometheus' own. */
import { expect } from 'vitest';

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
