import { seededRandom } from '@strata/testing/random';
import { describe, expect, it } from 'vitest';
import { CorruptionError } from '../encoding/decbuf.js';
import { isDeleted, type Interval } from '../tombstones/tombstones.js';
import { ValueType } from './chunk.js';
import { floatFromBits, floatHi, floatLo, STALE_NAN } from './floatbits.js';
import { appendXORSamples, XORChunk, xorAppendedNaN, type XORSampleFilter } from './xor.js';

interface Sample {
  t: number;
  v: number;
}

const bitsOf = (v: number): string => floatHi(v).toString(16).padStart(8, '0') + floatLo(v).toString(16).padStart(8, '0');

function encode(samples: readonly Sample[]): Uint8Array {
  const c = new XORChunk();
  const app = c.appender();
  for (const s of samples) app.append(s.t, s.v);
  return c.bytes.slice();
}

/** What a filter keeps of chunks read with XORIterator (by default all, else what downsampling keeps: no NaNs, nothing going back in time or deleted). */
function reference(chunks: readonly Uint8Array[], filtered = true, deleted?: readonly Interval[]): { ts: number[]; bits: string[] } {
  const ts: number[] = [];
  const bits: string[] = [];
  let last = Number.NEGATIVE_INFINITY;
  for (const c of chunks) {
    const it = XORChunk.fromBytes(c).iterator();
    while (it.next() === ValueType.Float) {
      const t = it.atT();
      const v = it.atFloat();
      if (filtered && (Number.isNaN(v) || t < last || (deleted !== undefined && isDeleted(deleted, t)))) continue;
      ts.push(t);
      bits.push(bitsOf(v));
      last = t;
    }
    expect(it.err()).toBeNull();
  }
  return { ts, bits };
}

function decodeAll(chunks: readonly Uint8Array[], filtered = true, deleted?: readonly Interval[]): { ts: number[]; bits: string[] } {
  const filter: XORSampleFilter = filtered ? { dropNaN: true, dropBackwards: true, deleted } : {};
  const total = chunks.reduce((n, c) => n + ((c[0]! << 8) | c[1]!), 0);
  const ts = new Float64Array(total);
  const vs = new Float64Array(total);
  let n = 0;
  for (const c of chunks) n = appendXORSamples(c, ts, vs, n, filter);
  return { ts: Array.from(ts.subarray(0, n)), bits: Array.from(vs.subarray(0, n), bitsOf) };
}

describe('appendXORSamples', () => {
  it('decodes what XORIterator decodes, bit for bit, over every timestamp and value shape', () => {
    const rnd = seededRandom(42);
    const specials = [0, -0, 1, -1, Infinity, -Infinity, Number.MAX_VALUE, Number.MIN_VALUE, 2 ** 53, floatFromBits(0x80000000, 1)];
    // Delta-of-delta buckets: 0, 14, 17, 20 and 64 bits, both signs; timestamps around and below 0.
    const steps = [15_000, 15_000, 15_001, 14_999, 8_000, 60_000, 100_000, 600_000, 5_000_000, 1, 0];
    for (let round = 0; round < 200; round++) {
      const chunks: Uint8Array[] = [];
      let t = Math.floor((rnd() - 0.5) * 4e12);
      let v = rnd() * 100;
      for (let c = 0; c < 1 + Math.floor(rnd() * 4); c++) {
        const samples: Sample[] = [];
        const n = Math.floor(rnd() * 150);
        for (let i = 0; i < n; i++) {
          const r = rnd();
          t += r < 0.05 ? -Math.floor(rnd() * 50_000) : steps[Math.floor(rnd() * steps.length)]!;
          if (r < 0.5) v = Math.round((v + (rnd() - 0.5) * 10) * 100) / 100;
          else if (r < 0.6) v = specials[Math.floor(rnd() * specials.length)]!;
          else if (r < 0.65) v = STALE_NAN;
          else if (r < 0.7) v = NaN;
          else if (r < 0.9) v = rnd() * 1e6;
          samples.push({ t, v });
        }
        chunks.push(encode(samples));
      }
      expect(decodeAll(chunks)).toEqual(reference(chunks));
      expect(decodeAll(chunks, false)).toEqual(reference(chunks, false));
      const deleted = [{ mint: t - 3_000_000, maxt: t - 1_000_000 }, { mint: t - 500, maxt: t }];
      expect(decodeAll(chunks, true, deleted)).toEqual(reference(chunks, true, deleted));
    }
  });

  it('keeps only samples within [mint, maxt] and drops only stale markers when asked (as the PromQL engine reads windows), and tells whether it kept a NaN', () => {
    const rnd = seededRandom(7);
    for (let round = 0; round < 200; round++) {
      const samples: Sample[] = [];
      let t = 1_700_000_000_000 + Math.floor(rnd() * 1e6);
      for (let i = Math.floor(rnd() * 150); i > 0; i--) {
        t += 1 + Math.floor(rnd() * 30_000);
        const r = rnd();
        samples.push({ t, v: r < 0.1 ? STALE_NAN : r < 0.2 ? NaN : rnd() * 100 });
      }
      const chunk = encode(samples);
      const first = samples[0]?.t ?? 0;
      const mint = first + Math.floor((rnd() - 0.2) * (t - first));
      const maxt = mint + Math.floor(rnd() * (t - first));
      const dropStale = rnd() < 0.5;
      const want = samples.filter((s) => s.t >= mint && s.t <= maxt && !(dropStale && bitsOf(s.v) === bitsOf(STALE_NAN)));
      const ts = new Float64Array(samples.length);
      const vs = new Float64Array(samples.length);
      const n = appendXORSamples(chunk, ts, vs, 0, { mint, maxt, dropStale });
      expect(Array.from(ts.subarray(0, n))).toEqual(want.map((s) => s.t));
      expect(Array.from(vs.subarray(0, n), bitsOf)).toEqual(want.map((s) => bitsOf(s.v)));
      expect(xorAppendedNaN()).toBe(want.some((s) => Number.isNaN(s.v)));
    }
  });

  it('a 64-bit delta-of-delta and a negative first delta', () => {
    const chunks = [encode([{ t: 0, v: 1 }, { t: -5, v: 2 }, { t: 2 ** 50, v: 3 }, { t: 2 ** 50 + 1, v: 3 }, { t: -(2 ** 50), v: 4 }])];
    expect(decodeAll(chunks)).toEqual(reference(chunks));
  });

  it('reports corrupt chunks as XORIterator does', () => {
    const good = encode(Array.from({ length: 50 }, (_, i) => ({ t: i * 15_000, v: i * 1.5 })));
    for (let cut = 2; cut < good.length - 1; cut++) {
      const bytes = good.subarray(0, cut);
      const it = XORChunk.fromBytes(bytes).iterator();
      while (it.next() === ValueType.Float);
      expect(() => decodeAll([bytes])).toThrow(CorruptionError);
      expect(() => decodeAll([bytes])).toThrow(it.err()!.message);
    }
    expect(() => appendXORSamples(new Uint8Array(1), new Float64Array(1), new Float64Array(1), 0)).toThrow(/shorter than its 2-byte sample count/);
    // Sample 1 with a new window of 31 leading zeros and 63 significant bits.
    const window = new Uint8Array([...encode([{ t: 0, v: 1 }]).subarray(0, 11), 0x01, 0b11111111, 0b11111000, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    window[1] = 2;
    expect(() => decodeAll([window])).toThrow(/invalid value window: 31 leading zeros and 63 significant bits reading sample 1 of 2/);
  });
});
