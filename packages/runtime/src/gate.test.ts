import { seededRandom } from '@strata/testing/random';
import { describe, expect, it } from 'vitest';
import { gate } from './gate.js';

/** A task that ends when told to, recording when it starts. */
function deferred(log: string[], name: string) {
  let end!: (v: string) => void;
  let fail!: (e: Error) => void;
  const task = () => {
    log.push(`start ${name}`);
    return new Promise<string>((resolve, reject) => {
      end = resolve;
      fail = reject;
    });
  };
  return { task, end: (v = name) => end(v), fail: (e: Error) => fail(e) };
}

const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await Promise.resolve();
};

describe('gate', () => {
  it('starts a task under the limit in the caller’s turn, and one over it when a slot frees, in order', async () => {
    const run = gate(2);
    const log: string[] = [];
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => deferred(log, n)) as [ReturnType<typeof deferred>, ReturnType<typeof deferred>, ReturnType<typeof deferred>, ReturnType<typeof deferred>];
    const pa = run(a.task);
    const pb = run(b.task);
    const pc = run(c.task);
    const pd = run(d.task);
    expect(log).toEqual(['start a', 'start b']);
    b.end();
    await turns();
    expect(log).toEqual(['start a', 'start b', 'start c']);
    a.fail(new Error('a failed'));
    await turns();
    expect(log).toEqual(['start a', 'start b', 'start c', 'start d']);
    c.end();
    d.end();
    await expect(pa).rejects.toThrow('a failed');
    expect(await Promise.all([pb, pc, pd])).toEqual(['b', 'c', 'd']);
  });

  it('gives a freed slot to the task waiting, not to one that comes after', async () => {
    const run = gate(1);
    const log: string[] = [];
    const [a, b, c] = ['a', 'b', 'c'].map((n) => deferred(log, n)) as [ReturnType<typeof deferred>, ReturnType<typeof deferred>, ReturnType<typeof deferred>];
    void run(a.task);
    void run(b.task);
    a.end();
    await Promise.resolve();
    void run(c.task);
    await turns();
    expect(log).toEqual(['start a', 'start b']);
    b.end();
    await turns();
    expect(log).toEqual(['start a', 'start b', 'start c']);
  });

  it('rejects for a task that throws before returning its promise, and frees its slot', async () => {
    const run = gate(1);
    await expect(
      run(() => {
        throw new Error('thrown at once');
      }),
    ).rejects.toThrow('thrown at once');
    expect(await run(async () => 'next')).toBe('next');
  });

  it('never runs more than the limit at once and runs every task, on random durations and arrivals', async () => {
    const rnd = seededRandom(11);
    for (const limit of [1, 3, 8]) {
      const run = gate(limit);
      let active = 0;
      let most = 0;
      const results: Promise<number>[] = [];
      for (let i = 0; i < 200; i++) {
        if (rnd() < 0.3) await new Promise((r) => setTimeout(r, 0));
        const ms = Math.floor(rnd() * 3);
        results.push(
          run(async () => {
            active++;
            most = Math.max(most, active);
            await new Promise((r) => setTimeout(r, ms));
            active--;
            if (i % 17 === 0) throw new Error(`task ${i}`);
            return i;
          }).catch(() => -i),
        );
      }
      const got = await Promise.all(results);
      expect(got).toEqual(got.map((_, i) => (i % 17 === 0 ? -i : i)));
      expect(most).toBe(limit);
      expect(active).toBe(0);
    }
  });

  it('refuses a limit below 1', () => {
    expect(() => gate(0)).toThrow('at least 1');
    expect(() => gate(Number.NaN)).toThrow('at least 1');
  });
});
