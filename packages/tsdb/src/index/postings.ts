/**
 * Postings: ascending series IDs (uint32). The set operations the matcher logic needs, over sorted
 * Uint32Arrays, each a single linear merge (intersection gallops through the longer list).
 */

export type Postings = Uint32Array;

export const EMPTY_POSTINGS: Postings = new Uint32Array(0);

/** Series IDs in all lists. */
export function intersect(lists: readonly Postings[]): Postings {
  if (lists.length === 0) return EMPTY_POSTINGS;
  const sorted = [...lists].sort((a, b) => a.length - b.length);
  let acc = sorted[0] as Postings;
  for (let i = 1; i < sorted.length && acc.length > 0; i++) acc = intersect2(acc, sorted[i] as Postings);
  return acc;
}

function intersect2(small: Postings, big: Postings): Postings {
  const out = new Uint32Array(small.length);
  let n = 0;
  let j = 0;
  for (let i = 0; i < small.length; i++) {
    const v = small[i] as number;
    j = seek(big, v, j);
    if (j === big.length) break;
    if (big[j] === v) out[n++] = v;
  }
  return out.subarray(0, n);
}

/** First index ≥ from whose value is ≥ v: exponential then binary search. */
function seek(p: Postings, v: number, from: number): number {
  let step = 1;
  let hi = from;
  while (hi < p.length && (p[hi] as number) < v) {
    from = hi + 1;
    hi += step;
    step *= 2;
  }
  if (hi > p.length) hi = p.length;
  while (from < hi) {
    const mid = (from + hi) >>> 1;
    if ((p[mid] as number) < v) from = mid + 1;
    else hi = mid;
  }
  return from;
}

/** Series IDs in any list. */
export function union(lists: readonly Postings[]): Postings {
  const nonEmpty = lists.filter((l) => l.length > 0);
  if (nonEmpty.length === 0) return EMPTY_POSTINGS;
  if (nonEmpty.length === 1) return nonEmpty[0] as Postings;
  // Pairwise merging keeps the cost at O(total · log(#lists)).
  let level = nonEmpty;
  while (level.length > 1) {
    const next: Postings[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(i + 1 < level.length ? union2(level[i] as Postings, level[i + 1] as Postings) : (level[i] as Postings));
    level = next;
  }
  return level[0] as Postings;
}

function union2(a: Postings, b: Postings): Postings {
  const out = new Uint32Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let n = 0;
  while (i < a.length && j < b.length) {
    const x = a[i] as number;
    const y = b[j] as number;
    if (x < y) {
      out[n++] = x;
      i++;
    } else if (y < x) {
      out[n++] = y;
      j++;
    } else {
      out[n++] = x;
      i++;
      j++;
    }
  }
  while (i < a.length) out[n++] = a[i++] as number;
  while (j < b.length) out[n++] = b[j++] as number;
  return out.subarray(0, n);
}

/** Series IDs in `from` but not in `remove`. */
export function subtract(from: Postings, remove: Postings): Postings {
  if (remove.length === 0 || from.length === 0) return from;
  const out = new Uint32Array(from.length);
  let n = 0;
  let j = 0;
  for (let i = 0; i < from.length; i++) {
    const v = from[i] as number;
    j = seek(remove, v, j);
    if (remove[j] !== v) out[n++] = v;
  }
  return out.subarray(0, n);
}
