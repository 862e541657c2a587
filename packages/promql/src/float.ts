const MIN_NORMAL = 2.2250738585072014e-308;

/** Go's almost.Equal: relative difference below epsilon (absolute near zero); NaN equals NaN. */
export function almostEqual(a: number, b: number, epsilon: number): boolean {
  if (Number.isNaN(a) && Number.isNaN(b)) return true;
  if (a === b) return true;
  const diff = Math.abs(a - b);
  const sum = Math.abs(a) + Math.abs(b);
  if (a === 0 || b === 0 || sum < MIN_NORMAL) return diff < epsilon * MIN_NORMAL;
  return diff / Math.min(sum, Number.MAX_VALUE) < epsilon;
}
