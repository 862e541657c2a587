import { AggrType, CounterResetsIterator, ValueType, type AggrChunk, type Chunk } from '@strata/tsdb';
import { describe, expect, it } from 'vitest';
import { downsampleAggr, downsampleRaw, RES_1H, RES_5M, SampleBuffer } from './downsample.js';

function decode(c: Chunk | undefined): [number, number][] {
  const out: [number, number][] = [];
  if (c === undefined) return out;
  const it = c.iterator();
  while (it.next() === ValueType.Float) out.push([it.atT(), it.atFloat()]);
  return out;
}

/** Two days of a counter scraped every 15s (with jitter and a gap), reset twice. */
function rawCounter(): SampleBuffer {
  const b = new SampleBuffer();
  let v = 0;
  for (let t = 1_000, i = 0; t < 48 * RES_1H; t += 15_000, i++) {
    if (t > 7 * RES_1H && t < 7.5 * RES_1H) continue;
    v = i === 3000 || i === 7777 ? 1 : v + (i % 13);
    b.push(t + (i % 3) * 100, v);
  }
  return b;
}

describe('downsampling', () => {
  const raw = rawCounter();
  const samples: [number, number][] = Array.from({ length: raw.n }, (_, i) => [raw.ts[i]!, raw.vs[i]!]);
  const five = downsampleRaw(raw, RES_5M);
  const hour = downsampleAggr(five.map((c) => c.chunk as AggrChunk), five[0]!.minTime, five[five.length - 1]!.maxTime, RES_5M, RES_1H);

  for (const [name, res, chunks] of [['raw → 5m', RES_5M, five], ['5m → 1h', RES_1H, hour]] as const) {
    it(`${name}: count, sum, min and max are those of the raw samples in each window`, () => {
      let points = 0;
      for (const c of chunks) {
        const a = c.chunk as AggrChunk;
        const [count, sum, min, max] = [AggrType.Count, AggrType.Sum, AggrType.Min, AggrType.Max].map((t) => decode(a.get(t)));
        for (let i = 0; i < count!.length; i++) {
          const t = count![i]![0];
          const w = samples.filter(([ts]) => ts >= t - (t % res) && ts <= t).map(([, v]) => v);
          expect(count![i]![1]).toBe(w.length);
          expect(sum![i]![1]).toBe(w.reduce((x, y) => x + y, 0));
          expect(min![i]![1]).toBe(Math.min(...w));
          expect(max![i]![1]).toBe(Math.max(...w));
          points++;
        }
        expect(c.minTime).toBe(count![0]![0]);
        expect(c.maxTime).toBe(count![count!.length - 1]![0]);
      }
      // Every window with samples is represented: 48h minus the 30-minute gap.
      expect(points).toBe(res === RES_5M ? 48 * 12 - 6 : 48);
      for (let i = 1; i < chunks.length; i++) expect(chunks[i]!.minTime).toBeGreaterThan(chunks[i - 1]!.maxTime);
    });

    it(`${name}: the counter, resets folded in, matches the raw counter at every stamp`, () => {
      const folded: [number, number][] = [];
      let total = 0;
      samples.forEach(([t, v], i) => {
        total = i === 0 ? v : total + (v < samples[i - 1]![1] ? v : v - samples[i - 1]![1]);
        folded.push([t, total]);
      });
      const it = new CounterResetsIterator(chunks.map((c) => (c.chunk as AggrChunk).get(AggrType.Counter)!));
      let k = 0;
      let n = 0;
      while (it.next() === ValueType.Float) {
        while (k < folded.length - 1 && folded[k + 1]![0] <= it.atT()) k++;
        expect(it.atFloat()).toBe(folded[k]![1]);
        n++;
      }
      expect(n).toBeGreaterThan(res === RES_5M ? 500 : 40);
      expect(it.lastRawValue).toBe(samples[samples.length - 1]![1]);
      // Each chunk's counter starts with a true raw value.
      for (const c of chunks) expect(samples.some(([, v]) => v === decode((c.chunk as AggrChunk).get(AggrType.Counter))[0]![1])).toBe(true);
    });
  }
});
