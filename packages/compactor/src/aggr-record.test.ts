import { AggrChunk, encodeChunkRecord, floatFromBits, STALE_NAN, XORChunk } from '@strata/tsdb';
import { describe, expect, it } from 'vitest';
import { putAggrRecord, RecordBuffer } from './aggr-record.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** The record tsdb's appender and AggrChunk.encode make of the same points. */
function reference(t: Float64Array, values: Float64Array[], m: number): Uint8Array {
  const part = (vs: Float64Array, from: number, to: number): XORChunk => {
    const c = new XORChunk();
    const app = c.appender();
    for (let i = from; i < to; i++) app.append(t[i]!, vs[i]!);
    return c;
  };
  const [count, sum, min, max, counter] = values as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  return encodeChunkRecord(AggrChunk.encode([part(count, 1, m + 1), part(sum, 1, m + 1), part(min, 1, m + 1), part(max, 1, m + 1), part(counter, 0, m + 2)]));
}

describe('putAggrRecord', () => {
  it('writes what tsdb’s appender and AggrChunk.encode write, byte for byte', () => {
    let seed = 11;
    const rnd = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const specials = [0, -0, 1, -1, Infinity, -Infinity, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, 2 ** 53, STALE_NAN, NaN, floatFromBits(0x80000000, 1)];
    // Timestamp steps reaching every delta-of-delta bucket, both signs, and negative timestamps.
    const bounds = [8192, 8193, -8191, -8192, 65536, 65537, -65535, -65536, 524288, 524289, -524287, -524288];
    const steps = [300_000, 300_000, 300_000, 299_999, 310_000, 250_000, 600_000, 900_000, 4_000_000, 1, 0, -70_000, ...bounds.map((d) => 300_000 + d)];
    const w = new RecordBuffer();
    for (let round = 0; round < 300; round++) {
      // Several records into one buffer, which grows from time to time: earlier views stay intact.
      if (round % 50 === 0) w.reset();
      const m = round < 5 ? round : Math.floor(rnd() * 400);
      const t = new Float64Array(m + 2);
      const values = Array.from({ length: 5 }, () => new Float64Array(m + 2));
      let ts = Math.floor((rnd() - 0.5) * 4e12);
      let v = rnd() * 1000;
      for (let i = 0; i < m + 2; i++) {
        ts += steps[Math.floor(rnd() * steps.length)]!;
        t[i] = ts;
        for (const vs of values) {
          const r = rnd();
          if (r < 0.4) v = Math.round((v + (rnd() - 0.5) * 10) * 100) / 100;
          else if (r < 0.5) v = specials[Math.floor(rnd() * specials.length)]!;
          else if (r < 0.7) v = rnd() * 2 ** Math.floor(rnd() * 100 - 50);
          vs[i] = v;
        }
      }
      const bits = values.map((vs) => new Uint32Array(vs.buffer));
      const got = putAggrRecord(w, { t, count: bits[0]!, sum: bits[1]!, min: bits[2]!, max: bits[3]!, counter: bits[4]! }, m);
      const copy = got.slice();
      expect(hex(got)).toBe(hex(reference(t, values, m)));
      putAggrRecord(w, { t, count: bits[4]!, sum: bits[3]!, min: bits[2]!, max: bits[1]!, counter: bits[0]! }, m);
      expect(hex(got)).toBe(hex(copy));
    }
  });

  it('rejects timestamps that are not safe integers', () => {
    const t = new Float64Array([0, 1.5, 2]);
    const z = new Uint32Array(6);
    expect(() => putAggrRecord(new RecordBuffer(), { t, count: z, sum: z, min: z, max: z, counter: z }, 1)).toThrow(/not a safe integer/);
  });
});
