import { describe, expect, it } from 'vitest';
import { ValueType } from './chunk.js';
import { floatFromBits, floatHi, floatLo, isStaleNaN, STALE_NAN } from './floatbits.js';
import { chunkFromBytes } from './frombytes.js';
import { XORChunk, xorSamplesBytes } from './xor.js';
import { CorruptionError } from '../encoding/decbuf.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bitsOf = (v: number): string => floatHi(v).toString(16).padStart(8, '0') + floatLo(v).toString(16).padStart(8, '0');

interface Sample {
  t: number;
  v: number;
}

function encode(samples: readonly Sample[]): XORChunk {
  const c = new XORChunk();
  const app = c.appender();
  for (const s of samples) app.append(s.t, s.v);
  return c;
}

/** Decodes a chunk, keeping value bits (a JS array would quiet signalling NaNs). */
function decode(bytes: Uint8Array): { ts: number[]; bits: string[] } {
  const it = XORChunk.fromBytes(bytes).iterator();
  const ts: number[] = [];
  const bits: string[] = [];
  while (it.next() === ValueType.Float) {
    ts.push(it.atT());
    bits.push(bitsOf(it.atFloat()));
  }
  expect(it.err()).toBeNull();
  return { ts, bits };
}

/** xorSamplesBytes over the samples, placed after one unrelated sample so that `from` is not 0. */
function encodeBulk(samples: readonly Sample[]): Uint8Array {
  const ts = new Float64Array(samples.length + 1);
  const vs = new Float64Array(samples.length + 1);
  ts[0] = -1;
  vs[0] = 0.5;
  samples.forEach((s, i) => {
    ts[i + 1] = s.t;
    vs[i + 1] = s.v;
  });
  return xorSamplesBytes(ts, vs, 1, samples.length + 1);
}

/** Encodes with the appender, checks the bulk encoder writes the same bytes, and decodes. */
function expectRoundTrip(samples: readonly Sample[]): XORChunk {
  const c = encode(samples);
  expect(c.numSamples()).toBe(samples.length);
  expect(hex(encodeBulk(samples))).toBe(hex(c.bytes));
  const got = decode(c.bytes);
  expect(got.ts).toEqual(samples.map((s) => s.t));
  expect(got.bits).toEqual(samples.map((s) => bitsOf(s.v)));
  return c;
}

/** Bit length of a decoded chunk's stream (header included). */
function bitLength(c: XORChunk): number {
  const it = c.iterator();
  while (it.next() !== ValueType.None);
  return it.bitPos;
}

describe('XOR chunk: exact bytes', () => {
  it('one sample: varint t0, raw value, and the spare 0x00 byte', () => {
    // zigzag(1000) = 2000 = uvarint d0 0f; 1.0 = 3ff0000000000000.
    expect(hex(encode([{ t: 1000, v: 1 }]).bytes)).toBe('0001' + 'd00f' + '3ff0000000000000' + '00');
  });

  it('second sample: uvarint delta fills the spare byte; a new window 11|00001|001011|11 bits', () => {
    // xor(1.0, 2.0) = 7ff0000000000000: 1 leading zero, 52 trailing, 11 significant bits 0x7ff.
    expect(hex(encode([{ t: 1000, v: 1 }, { t: 1015, v: 2 }]).bytes)).toBe('0002d00f3ff0000000000000' + '0f' + 'c25fff');
  });

  it('repeated values and dod 0 are single 0 bits', () => {
    const c = encode([0, 15, 30].map((t) => ({ t: 1000 + t, v: 1 })));
    expect(hex(c.bytes)).toBe('0003d00f3ff0000000000000' + '0f' + '00');
  });

  it('dod +8192 uses the 14-bit bucket: 10|10000000000000', () => {
    const c = encode([0, 10, 20 + 8192].map((t) => ({ t, v: 0 })));
    // after uvarint 0a: value 0 | 10 | 10 0000 0000 0000 | value 0
    expect(hex(c.bytes)).toBe('0003' + '00' + '0000000000000000' + '0a' + '500000');
  });

  it('a 64-bit significant window is written as sig 0', () => {
    // xor(0, -5e-324) = 8000000000000001: 0 leading and 0 trailing zeros.
    const c = expectRoundTrip([
      { t: 0, v: 0 },
      { t: 1, v: floatFromBits(0x80000000, 1) },
    ]);
    // 11 | 00000 | 000000 | 1000…0001 (64 bits)
    expect(hex(c.bytes.subarray(12))).toBe('c004' + '00000000000000' + '08');
  });

  it('an appender rebuilt on a one-sample chunk starts from the decoder window (0,0): 10 + 64 bits', () => {
    const c = encode([{ t: 1000, v: 1 }]);
    c.appender().append(1015, 2);
    expect(hex(c.bytes)).toBe('0002d00f3ff0000000000000' + '0f' + '9ffc' + '00000000000000');
    expect(decode(c.bytes).bits).toEqual([bitsOf(1), bitsOf(2)]);
  });
});

describe('XOR chunk: delta-of-delta buckets', () => {
  // Each dod with the stream bits its encoding takes (prefix + payload).
  const cases: [number, number][] = [
    [0, 1],
    [1, 16],
    [-1, 16],
    [8192, 16],
    [-8191, 16],
    [8193, 20],
    [-8192, 20],
    [65536, 20],
    [-65535, 20],
    [65537, 24],
    [-65536, 24],
    [524288, 24],
    [-524287, 24],
    [524289, 68],
    [-524288, 68],
    [2 ** 40, 68],
    [-(2 ** 40) - 12345, 68],
    [2 ** 48, 68],
  ];
  for (const [dod, bits] of cases) {
    it(`dod ${dod} takes ${bits} bits and round-trips`, () => {
      const t0 = 1_700_000_000_000;
      const d = 2 ** 51 + 1000; // large first delta so t stays positive for negative dods
      const c = expectRoundTrip([
        { t: t0, v: 1 },
        { t: t0 + d, v: 1 },
        { t: t0 + 2 * d + dod, v: 1 },
        { t: t0 + 3 * d + 2 * dod, v: 1 }, // dod 0 after it
      ]);
      const base = bitLength(encode([{ t: t0, v: 1 }, { t: t0 + d, v: 1 }]));
      expect(bitLength(c) - base).toBe(bits + 1 + 1 + 1);
    });
  }

  it('first delta may be negative or zero (64-bit uvarint) as Prometheus stores it', () => {
    const c = expectRoundTrip([
      { t: 5000, v: 1 },
      { t: 4000, v: 2 },
      { t: 4000, v: 3 },
    ]);
    // uvarint of 2^64 − 1000 takes 10 bytes.
    expect(c.bytes.length).toBeGreaterThan(2 + 2 + 8 + 10);
  });

  it('negative and huge timestamps', () => {
    expectRoundTrip([
      { t: -(2 ** 53) + 1, v: 1 },
      { t: -5, v: 2 },
      { t: 2 ** 52, v: 3 },
      { t: 2 ** 53 - 1, v: 4 },
    ]);
  });
});

describe('XOR chunk: values', () => {
  const special: [string, number][] = [
    ['stale NaN', STALE_NAN],
    ['Prometheus NaN', floatFromBits(0x7ff80000, 1)],
    ['negative quiet NaN', floatFromBits(0xfff80000, 0)],
    ['NaN with high payload', floatFromBits(0x7fffffff, 0xffffffff)],
    ['-0', -0],
    ['+0', 0],
    ['+Inf', Infinity],
    ['-Inf', -Infinity],
    ['1e308', 1e308],
    ['-1e308', -1e308],
    ['MAX_VALUE', Number.MAX_VALUE],
    ['5e-324', 5e-324],
    ['min normal', 2.2250738585072014e-308],
    ['1+ulp', 1.0000000000000002],
    ['0.1', 0.1],
  ];

  it('keeps every special value bit for bit, after every other one', () => {
    const samples: Sample[] = [];
    let t = 1_700_000_000_000;
    for (const [, a] of special) {
      for (const [, b] of special) {
        samples.push({ t, v: a }, { t: t + 15_000, v: b });
        t += 30_000;
      }
    }
    for (let i = 0; i < samples.length; i += 120) expectRoundTrip(samples.slice(i, i + 120));
  });

  for (const [name, v] of special) {
    it(`${name} alone and repeated`, () => {
      expectRoundTrip([{ t: 0, v }]);
      expectRoundTrip([0, 1, 2, 3].map((t) => ({ t, v })));
    });
  }

  it('STALE_NAN has the stale marker bits and survives decoding', () => {
    expect(bitsOf(STALE_NAN)).toBe('7ff0000000000002');
    const it = encode([
      { t: 1, v: 1 },
      { t: 2, v: STALE_NAN },
    ]).iterator();
    it.next();
    expect(isStaleNaN(it.atFloat())).toBe(false);
    it.next();
    expect(isStaleNaN(it.atFloat())).toBe(true);
  });

  it('reuses the window when the xor fits, opens a new one when it does not', () => {
    // 1 → 2: window lead 1, trail 52. 2 → 4: xor 0x0010000000000000 fits (10 + 11 bits).
    const reuse = encode([1, 2, 4].map((v, i) => ({ t: i, v })));
    expect(bitLength(reuse) - bitLength(encode([1, 2].map((v, i) => ({ t: i, v }))))).toBe(1 + 2 + 11);
    // 2 → 2.5: xor 0x0004000000000000 has 50 trailing zeros < 52: new window 11 + 5 + 6 + 1 bits.
    const fresh = encode([1, 2, 2.5].map((v, i) => ({ t: i, v })));
    expect(bitLength(fresh) - bitLength(encode([1, 2].map((v, i) => ({ t: i, v }))))).toBe(1 + 2 + 5 + 6 + 1);
    expectRoundTrip([1, 2, 3, 2.5, 1e-300, 7].map((v, i) => ({ t: i * 15_000, v })));
  });

  it('clamps leading zeros to 31', () => {
    // xor(1, 1+ulp) = 1: 63 leading zeros, clamped to 31, so 33 significant bits.
    const c = encode([1, 1.0000000000000002].map((v, i) => ({ t: i, v })));
    expect(bitLength(c) - bitLength(encode([{ t: 0, v: 1 }])) - 8).toBe(2 + 5 + 6 + 33);
    expectRoundTrip([1, 1.0000000000000002, 1, 3, 1.0000000000000002].map((v, i) => ({ t: i, v })));
  });

  it('round-trips random walks, random values and mixed timestamps', () => {
    let seed = 42;
    const rnd = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let round = 0; round < 200; round++) {
      const n = 1 + Math.floor(rnd() * 240);
      let t = Math.floor(rnd() * 2 ** 41);
      let v = rnd() * 1000;
      const samples: Sample[] = [];
      for (let i = 0; i < n; i++) {
        samples.push({ t, v });
        t += Math.floor(rnd() < 0.1 ? rnd() * 2 ** 31 : 15_000 + (rnd() - 0.5) * 2000);
        v = rnd() < 0.3 ? v : rnd() < 0.5 ? v + Math.round((rnd() - 0.5) * 100) : rnd();
      }
      expectRoundTrip(samples);
    }
  });
});

describe('XOR chunk: appender and iterator behaviour', () => {
  const samples: Sample[] = Array.from({ length: 120 }, (_, i) => ({ t: 1_700_000_000_000 + i * 15_000 + ((i * 7919) % 13), v: Math.sin(i) * 100 }));

  it('continuing a chunk read from bytes gives the same bytes as one pass', () => {
    const whole = hex(encode(samples).bytes);
    for (const k of [2, 3, 17, 119]) {
      const c = XORChunk.fromBytes(encode(samples.slice(0, k)).bytes.slice());
      const app = c.appender();
      for (const s of samples.slice(k)) app.append(s.t, s.v);
      expect(hex(c.bytes)).toBe(whole);
    }
  });

  it('continuing after one sample or with an empty chunk decodes correctly', () => {
    for (const k of [0, 1]) {
      const c = k === 0 ? new XORChunk() : XORChunk.fromBytes(encode(samples.slice(0, k)).bytes);
      const app = c.appender();
      for (const s of samples.slice(k)) app.append(s.t, s.v);
      expect(decode(c.bytes).bits).toEqual(samples.map((s) => bitsOf(s.v)));
    }
  });

  it('an appender on a chunk read from bytes leaves the caller bytes alone', () => {
    const bytes = encode(samples.slice(0, 5)).bytes.slice();
    const copy = hex(bytes);
    XORChunk.fromBytes(bytes).appender().append(samples[5]!.t, 1);
    expect(hex(bytes)).toBe(copy);
  });

  it('seeks like Prometheus', () => {
    const it = encode(samples).iterator();
    expect(it.seek(0)).toBe(ValueType.Float);
    expect(it.atT()).toBe(samples[0]!.t);
    expect(it.seek(samples[10]!.t - 1)).toBe(ValueType.Float);
    expect(it.atT()).toBe(samples[10]!.t);
    expect(it.seek(samples[5]!.t)).toBe(ValueType.Float); // never goes back
    expect(it.atT()).toBe(samples[10]!.t);
    expect(it.next()).toBe(ValueType.Float);
    expect(it.atT()).toBe(samples[11]!.t);
    expect(it.seek(samples[119]!.t + 1)).toBe(ValueType.None);
    expect(it.next()).toBe(ValueType.None);
  });

  it('reuses an iterator across chunks', () => {
    const a = encode(samples.slice(0, 10));
    const b = encode(samples.slice(10, 30));
    const it = a.iterator();
    let n = 0;
    while (it.next() === ValueType.Float) n++;
    expect(b.iterator(it)).toBe(it);
    expect(it.next()).toBe(ValueType.Float);
    expect(it.atT()).toBe(samples[10]!.t);
    while (it.next() === ValueType.Float) n++;
    expect(n).toBe(29);
  });

  it('rejects non-integer timestamps and a 65536th sample', () => {
    expect(() => new XORChunk().appender().append(1.5, 1)).toThrow(RangeError);
    const app = new XORChunk().appender();
    for (let i = 0; i < 65535; i++) app.append(i, 1);
    expect(() => app.append(65535, 1)).toThrow(/full/);
  });
});

describe('XOR chunk: corrupt input', () => {
  const good = encode(Array.from({ length: 50 }, (_, i) => ({ t: i * 15_000, v: i * 1.5 }))).bytes.slice();

  it('truncation stops iteration with an error naming the offset, at every cut', () => {
    for (let cut = 2; cut < good.length - 1; cut++) {
      const it = XORChunk.fromBytes(good.subarray(0, cut)).iterator();
      let n = 0;
      while (it.next() === ValueType.Float) n++;
      expect(n).toBeLessThan(50);
      expect(it.err()).toBeInstanceOf(CorruptionError);
      expect(it.err()!.message).toMatch(/^XOR chunk: unexpected end of data reading sample \d+ of 50 at offset \d+$/);
    }
  });

  it('a chunk shorter than its header is an error', () => {
    expect(() => XORChunk.fromBytes(new Uint8Array(1))).toThrow(/shorter than its 2-byte sample count/);
  });

  it('an impossible value window is an error, garbage never hangs', () => {
    // Sample 1 with a new window of 31 leading zeros and 63 significant bits.
    const c = encode([{ t: 0, v: 1 }]);
    const bytes = new Uint8Array([...c.bytes.subarray(0, 11), 0x01, 0b11111111, 0b11111000, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    bytes[1] = 2;
    const it = XORChunk.fromBytes(bytes).iterator();
    expect(it.next()).toBe(ValueType.Float);
    expect(it.next()).toBe(ValueType.None);
    expect(it.err()!.message).toMatch(/invalid value window: 31 leading zeros and 63 significant bits/);

    let seed = 7;
    for (let round = 0; round < 500; round++) {
      const junk = good.slice();
      for (let k = 0; k < 3; k++) {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        junk[2 + (seed % (junk.length - 2))] ^= 1 << (seed % 8);
      }
      const j = XORChunk.fromBytes(junk).iterator();
      let n = 0;
      while (j.next() === ValueType.Float) n++;
      expect(n).toBeLessThanOrEqual(50);
    }
  });

  it('chunkFromBytes rejects unknown encodings', () => {
    expect(chunkFromBytes(1, good).numSamples()).toBe(50);
    expect(() => chunkFromBytes(0, good)).toThrow(/unknown chunk encoding 0/);
    expect(() => chunkFromBytes(0x81, good)).toThrow(/unknown chunk encoding 129/);
  });
});
