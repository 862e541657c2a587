import { quoteGo } from '@strata/tsdb';
import { invalidParam } from './errors.js';
import type { Params } from './params.js';

/** The warning Prometheus adds when `limit` cut an answer short (Grafana looks for this text). */
export const TRUNCATED_WARNING = 'results truncated due to limit';

const MAX_INT64 = 2n ** 63n - 1n;

/**
 * The `limit` parameter of the query, series and label endpoints as Prometheus' parseLimitParam reads
 * it: a non-negative integer (Go's strconv.Atoi), 0 or absent for none.
 */
export function parseLimit(p: Params): number {
  const v = p.get('limit');
  if (v === undefined || v === '') return 0;
  if (!/^[+-]?\d+$/.test(v)) throw invalidParam('limit', `strconv.Atoi: parsing ${quoteGo(v)}: invalid syntax`);
  const n = BigInt(v);
  if (n > MAX_INT64 || n < -MAX_INT64 - 1n) throw invalidParam('limit', `strconv.Atoi: parsing ${quoteGo(v)}: value out of range`);
  if (n < 0n) throw invalidParam('limit', 'limit must be non-negative');
  return Number(n);
}

/**
 * A parameter as Go's strconv.Atoi reads it: an integer, sign allowed; undefined for any other text or
 * one beyond what a number holds exactly.
 */
export function atoi(text: string): number | undefined {
  if (!/^[+-]?\d+$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** What to ask each store for: one beyond the limit, so that a cut answer can be told from a full one. */
export function storeLimit(limit: number): number {
  return limit > 0 ? limit + 1 : 0;
}

/** The first `limit` items (all for 0), noting in `warnings` when more were cut. */
export function firstOf<T>(items: T[], limit: number, warnings: string[]): T[] {
  if (limit <= 0 || items.length <= limit) return items;
  warnings.push(TRUNCATED_WARNING);
  return items.slice(0, limit);
}
