import { parseDurationParam, parseTime } from '@strata/promql';
import { invalidParam } from './errors.js';

/**
 * The schema of a parameter Prometheus reads with FormValue: one value, or several of which the first
 * counts (Params.get), as Go's FormValue takes it.
 */
export const SINGLE = { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] } as const;

/**
 * Request parameters as Prometheus reads them: from the query string and, for POST, a form body;
 * the body wins for single values, repeated values (match[]) come from both.
 */
export class Params {
  constructor(private readonly params: URLSearchParams) {}

  static from(query: unknown, body: unknown): Params {
    const out = new URLSearchParams();
    if (body instanceof URLSearchParams) for (const [k, v] of body) out.append(k, v);
    if (typeof query === 'object' && query !== null) {
      for (const [k, v] of Object.entries(query as Record<string, string | string[]>)) {
        for (const x of Array.isArray(v) ? v : [v]) out.append(k, String(x));
      }
    }
    return new Params(out);
  }

  get(name: string): string | undefined {
    const v = this.params.get(name);
    return v === null ? undefined : v;
  }

  all(name: string): string[] {
    return this.params.getAll(name);
  }

  /** Every parameter as a name and value, repeated ones once per value. */
  pairs(): Iterable<[string, string]> {
    return this.params;
  }

  /** Every parameter name with its values. */
  names(): string[] {
    return [...new Set(this.params.keys())];
  }

  /** A time parameter (float Unix seconds or RFC3339) in ms; `fallback` when absent. */
  time(name: string, fallback?: number): number {
    const v = this.get(name);
    if (v === undefined || v === '') {
      if (fallback !== undefined) return fallback;
      throw invalidParam(name, `cannot parse "" to a valid timestamp`);
    }
    const t = parseTime(v);
    // With a default it is Prometheus' parseTimeParam (instant queries, metadata, exemplars), whose
    // error says more than query_range's required start and end.
    const what = fallback !== undefined ? `Invalid time value for '${name}': ` : '';
    if (t === undefined) throw invalidParam(name, `${what}cannot parse ${JSON.stringify(v)} to a valid timestamp`);
    return t;
  }

  /** A duration parameter (float seconds or a Prometheus duration) in ms. */
  duration(name: string): number | undefined {
    const v = this.get(name);
    if (v === undefined || v === '') return undefined;
    const d = parseDurationParam(v);
    if (d === undefined) throw invalidParam(name, `cannot parse ${JSON.stringify(v)} to a valid duration`);
    return d;
  }

  /** A boolean parameter (Go's strconv.ParseBool), `fallback` when absent. */
  bool(name: string, fallback: boolean): boolean {
    const v = this.get(name);
    if (v === undefined || v === '') return fallback;
    if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(v)) return true;
    if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(v)) return false;
    throw invalidParam(name, `cannot parse ${JSON.stringify(v)} to a boolean`);
  }
}
