import pLimit from 'p-limit';

/** Runs `fn` over `items` with at most `limit` in flight; results keep the input order. The first failure rejects. */
export async function mapLimit<T, R>(items: Iterable<T>, limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const run = pLimit(Math.max(1, limit));
  return Promise.all([...items].map((item, i) => run(() => fn(item, i))));
}

/** Like mapLimit, but runs every item and reports all outcomes instead of stopping at the first failure. */
export async function settleLimit<T, R>(items: Iterable<T>, limit: number, fn: (item: T, index: number) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const run = pLimit(Math.max(1, limit));
  return Promise.allSettled([...items].map((item, i) => run(() => fn(item, i))));
}
