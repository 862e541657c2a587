/**
 * Flag value parsers shared by every command, with Prometheus' and Thanos' syntax: durations like
 * `1h30m`, `2w`, `500ms`; times as RFC3339, Unix seconds, or relative to now (`-2w`, `now`).
 */

import { TimeBound } from '@strata/block';
import { parseDuration as parsePromDuration } from '@strata/promql';

/** A Prometheus duration (`1h30m`, `15s`, `2w`) in milliseconds. */
export function parseDuration(s: string): number {
  const ms = parsePromDuration(s);
  if (ms === null) throw new Error(`invalid duration ${JSON.stringify(s)}: want e.g. 30s, 5m, 1h30m, 2w`);
  return ms;
}

/**
 * A time flag as a component keeps it (--min-time, --max-time): RFC3339 or Unix seconds, fixed; `now`
 * or a duration relative to now (`-2w`, `+1h`), read again at every use as Thanos reads it.
 */
export function parseTimeBound(s: string): TimeBound {
  if (s === 'now') return TimeBound.fromNow(0);
  if (/^[+-]\d/.test(s) && !/^[+-]?\d+(\.\d+)?$/.test(s)) {
    const d = parseDuration(s.slice(1));
    return TimeBound.fromNow(s[0] === '-' ? -d : d);
  }
  if (/^-?\d+(\.\d+)?$/.test(s)) return TimeBound.at(Math.round(Number(s) * 1000));
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new Error(`invalid time ${JSON.stringify(s)}: want RFC3339, Unix seconds or a relative duration like -2w`);
  return TimeBound.at(t);
}

/** A time flag in Unix milliseconds as of `now`, for a command that runs once. */
export function parseTime(s: string, now = Date.now()): number {
  return parseTimeBound(s).ms(now);
}

/** A path prefix as given (`thanos`, `/thanos/`) in the form routes and links use: `/thanos`; '' for none. */
export function parseUrlPath(p: string): string {
  const trimmed = p.replace(/^\/+|\/+$/g, '');
  return trimmed === '' ? '' : `/${trimmed}`;
}

/** Parses `name="value"` (quotes optional), as Thanos' --label flags. */
export function parseLabelFlags(flags: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of flags) {
    const m = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^"]*))\s*$/.exec(f);
    if (!m) throw new Error(`invalid label ${JSON.stringify(f)}: want name="value"`);
    out[m[1] as string] = m[2] !== undefined ? (JSON.parse(`"${m[2]}"`) as string) : (m[3] as string);
  }
  return out;
}
