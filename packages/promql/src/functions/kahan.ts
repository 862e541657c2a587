/** Neumaier-compensated summation, as Prometheus' kahanSumInc (3.x resets the compensation on overflow). */

/**
 * The compensation of the last call, in a typed array: a number held in a module variable is boxed
 * anew on every write (a heap allocation per summed sample, in V8 as Node 20 ships it).
 */
const compensation = new Float64Array(1);

/** Adds `inc` to `sum` with compensation `c`; returns the new sum and leaves the new compensation in `kahanC()`. */
export function kahanSumInc(inc: number, sum: number, c: number): number {
  const t = sum + inc;
  if (!Number.isFinite(t) && !Number.isNaN(t)) c = 0;
  else if (Math.abs(sum) >= Math.abs(inc)) c += sum - t + inc;
  else c += inc - t + sum;
  compensation[0] = c;
  return t;
}

/** The compensation term of the last kahanSumInc call. */
export function kahanC(): number {
  return compensation[0] as number;
}

/** Go's math.Pow special cases, which differ from `**` for a base of ±1 with NaN or infinite exponents. */
export function goPow(x: number, y: number): number {
  if (y === 0 || x === 1) return 1;
  if ((x === -1) && !Number.isFinite(y) && !Number.isNaN(y)) return 1;
  return x ** y;
}
