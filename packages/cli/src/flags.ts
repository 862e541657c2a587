/**
 * Flag value parsers shared by every command, with Prometheus' and Thanos' syntax: durations like
 * `1h30m`, `2w`, `500ms`; times as RFC3339, Unix seconds, or relative to now (`-2w`, `now`).
 */

import { parseDuration as parsePromDuration } from '@strata/promql';

/** A Prometheus duration (`1h30m`, `15s`, `2w`) in milliseconds. */
export function parseDuration(s: string): number {
  const ms = parsePromDuration(s);
  if (ms === null) throw new Error(`invalid duration ${JSON.stringify(s)}: want e.g. 30s, 5m, 1h30m, 2w`);
  return ms;
}

/** A time flag in Unix milliseconds: RFC3339, Unix seconds, `now`, or a duration relative to now (`-2w`, `+1h`). */
export function parseTime(s: string, now = Date.now()): number {
  if (s === 'now') return now;
  if (/^[+-]\d/.test(s) && !/^[+-]?\d+(\.\d+)?$/.test(s)) {
    const d = parseDuration(s.slice(1));
    return s[0] === '-' ? now - d : now + d;
  }
  if (/^-?\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new Error(`invalid time ${JSON.stringify(s)}: want RFC3339, Unix seconds or a relative duration like -2w`);
  return t;
}

/** A path prefix as given (`thanos`, `/thanos/`) in the form routes and links use: `/thanos`; '' for none. */
export function parseUrlPath(p: string): string {
  const trimmed = p.replace(/^\/+|\/+$/g, '');
  return trimmed === '' ? '' : `/${trimmed}`;
}
