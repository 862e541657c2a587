/** A copy of `a` with room for at least `n` elements (twice as many, so that growing is rare). */
export function grown<T extends Uint32Array | Float64Array>(a: T, n: number): T {
  const b = new (a.constructor as new (n: number) => T)(Math.max(n, 2 * a.length));
  b.set(a);
  return b;
}
