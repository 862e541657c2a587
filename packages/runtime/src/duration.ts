/**
 * A duration as Go's time.Duration prints it, for answers and messages Thanos writes that way: `0s`,
 * `750ns`, `1.5µs`, `12.345678ms`, `1m30s`, `721h0m0s`. The fraction is exact to the nanosecond, with
 * its trailing zeros left out.
 */
export function formatGoDuration(ns: number): string {
  let n = Math.round(Math.abs(ns));
  if (n === 0) return '0s';
  const sign = ns < 0 ? '-' : '';
  if (n < 1e3) return `${sign}${n}ns`;
  if (n < 1e6) return `${sign}${decimal(n, 3)}µs`;
  if (n < 1e9) return `${sign}${decimal(n, 6)}ms`;
  const h = Math.floor(n / 3.6e12);
  n -= h * 3.6e12;
  const m = Math.floor(n / 6e10);
  n -= m * 6e10;
  const s = `${decimal(n, 9)}s`;
  return sign + (h > 0 ? `${h}h${m}m${s}` : m > 0 ? `${m}m${s}` : s);
}

/** `n` / 10^digits, its fraction exact and without trailing zeros. */
function decimal(n: number, digits: number): string {
  const unit = 10 ** digits;
  const whole = Math.floor(n / unit);
  const fraction = String(n - whole * unit).padStart(digits, '0').replace(/0+$/, '');
  return fraction === '' ? `${whole}` : `${whole}.${fraction}`;
}
