/** The time and duration formats of Prometheus' HTTP API parameters (`start`, `time`, `step`, `lookback_delta`…). */
import { parseDuration } from './parser/literals.js';

/** Prometheus' parseTime: float seconds (rounded to ms) or RFC3339. */
export function parseTime(s: string): number | undefined {
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) {
    const f = Number(s);
    const whole = Math.trunc(f);
    return whole * 1000 + Math.round((f - whole) * 1000);
  }
  if (!/^\d{4}-\d\d-\d\dT/.test(s)) return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
}

/** Prometheus' parseDuration for API parameters: float seconds, or a duration such as `1h30m`. */
export function parseDurationParam(s: string): number | undefined {
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) {
    const ms = Number(s) * 1000;
    return Number.isFinite(ms) && Math.abs(ms) < 2 ** 63 / 1e6 ? Math.round(ms) : undefined;
  }
  return parseDuration(s) ?? undefined;
}
