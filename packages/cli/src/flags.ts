/**
 * Flag value parsers shared by every command, with Prometheus' and Thanos' syntax: durations like
 * `1h30m`, `2w`, `500ms`; times as RFC3339, Unix seconds, or relative to now (`-2w`, `now`).
 */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };

/** A Prometheus duration (`1h30m`, `15s`, `2w`) in milliseconds. */
export function parseDuration(s: string): number {
  if (s === '0') return 0;
  const re = /(\d+)(ms|s|m|h|d|w|y)/gy;
  let total = 0;
  let pos = 0;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) {
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    pos = re.lastIndex;
  }
  if (pos === 0 || pos !== s.length) throw new Error(`invalid duration ${JSON.stringify(s)}: want e.g. 30s, 5m, 1h30m, 2w`);
  return total;
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
