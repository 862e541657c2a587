/**
 * What the two native histogram chunk encodings share (Prometheus' tsdb/chunkenc/histogram_meta.go and
 * the header of histogram.go): the chunk header with its counter reset hint, and the bucket layout
 * written once at the start of the bit stream.
 *
 *   chunk  := BE16 numSamples | header byte | bitstream          (the bit stream starts at byte 3)
 *   header := 2 bits counter reset hint, 6 bits 0:  '10' reset, '01' not a reset, '00' unknown, '11' gauge
 *
 *   layout := zeroThreshold | varbit_int schema | spans (positive) | spans (negative) | [customBounds]
 *   zeroThreshold := byte 0                 the threshold 0
 *                  | byte e + 244           the threshold 2^e, −243 ≤ e ≤ 10 (default 2^−128: 116)
 *                  | byte 255, 64 bits      any other threshold, as raw float64 bits
 *   spans  := varbit_uint count, then per span: varbit_uint length, varbit_int offset
 *   customBounds (schema −53 only, as current Prometheus writes it; 2.42 has no schema −53):
 *            varbit_uint count, then per bound:
 *              varbit_uint (x·1000 + 1)  when x·1000 is a whole number in [0, 33554430]
 *              '0' 64 bits               otherwise (the raw float64 bits)
 *
 * varbit_int/varbit_uint: varbit.ts. A stale sample (sum = StaleNaN) that starts a chunk writes the
 * empty layout: threshold 0, schema 0, no spans.
 */
import type { BitReader, BitWriter } from './bstream.js';
import { floatFromBits, floatHi, floatLo } from './floatbits.js';
import { checkEnd, readVarbitInt, readVarbitUint, writeVarbitInt, writeVarbitUint } from './varbit.js';
import { CorruptionError } from '../encoding/decbuf.js';
import { CounterResetHint, CUSTOM_BUCKETS_SCHEMA, type Span } from '../histogram/types.js';

/** The counter reset hint in the top 2 bits of byte 2 (Prometheus' CounterResetHeader). */
export const CounterResetHeader = { Unknown: 0x00, CounterReset: 0x80, NotCounterReset: 0x40, Gauge: 0xc0 } as const;
export type CounterResetHeader = (typeof CounterResetHeader)[keyof typeof CounterResetHeader];
export const COUNTER_RESET_HEADER_MASK = 0xc0;
/** Bytes before the bit stream: sample count and header byte. */
export const HISTOGRAM_HEADER_SIZE = 3;

/**
 * The hint a decoded sample carries (Prometheus' counterResetHint): a gauge chunk's samples are gauges;
 * after the first sample of a counter chunk there are no resets; the first sample is a reset if the chunk
 * says so, and otherwise unknown (the previous chunk may be gone).
 */
export function sampleHint(header: CounterResetHeader, numRead: number): CounterResetHint {
  if (header === CounterResetHeader.Gauge) return CounterResetHint.Gauge;
  if (numRead > 1) return CounterResetHint.NotCounterReset;
  return header === CounterResetHeader.CounterReset ? CounterResetHint.CounterReset : CounterResetHint.Unknown;
}

/** What every histogram sample of a chunk shares. */
export interface HistogramLayout {
  schema: number;
  zeroThreshold: number;
  positiveSpans: Span[];
  negativeSpans: Span[];
  /** Only for schema −53; empty otherwise. */
  customValues: number[];
}

/** The layout of a stale sample that starts a chunk. */
export const EMPTY_LAYOUT: Readonly<HistogramLayout> = { schema: 0, zeroThreshold: 0, positiveSpans: [], negativeSpans: [], customValues: [] };

export function writeLayout(w: BitWriter, l: HistogramLayout): void {
  writeZeroThreshold(w, l.zeroThreshold);
  writeVarbitInt(w, l.schema);
  writeSpans(w, l.positiveSpans);
  writeSpans(w, l.negativeSpans);
  if (l.schema === CUSTOM_BUCKETS_SCHEMA) {
    writeVarbitUint(w, l.customValues.length);
    for (const b of l.customValues) writeCustomBound(w, b);
  }
}

/** The bytes writeLayout may take at most, for BitWriter.reserve. */
export function layoutBound(l: HistogramLayout): number {
  return 30 + 18 * (l.positiveSpans.length + l.negativeSpans.length) + 9 * l.customValues.length;
}

/** Reads a layout; throws a CorruptionError on data that cannot be one. */
export function readLayout(r: BitReader): HistogramLayout {
  checkEnd(r);
  const zeroThreshold = readZeroThreshold(r);
  const schema = readVarbitInt(r);
  const positiveSpans = readSpans(r);
  const negativeSpans = readSpans(r);
  let customValues: number[] = [];
  if (schema === CUSTOM_BUCKETS_SCHEMA) {
    const n = readCount(r, 1, 'custom bounds');
    customValues = new Array<number>(n);
    for (let i = 0; i < n; i++) customValues[i] = readCustomBound(r);
  }
  checkEnd(r);
  return { schema, zeroThreshold, positiveSpans, negativeSpans, customValues };
}

function writeSpans(w: BitWriter, spans: readonly Span[]): void {
  writeVarbitUint(w, spans.length);
  for (const s of spans) {
    writeVarbitUint(w, s.length);
    writeVarbitInt(w, s.offset);
  }
}

function readSpans(r: BitReader): Span[] {
  const n = readCount(r, 2, 'spans');
  const spans = new Array<Span>(n);
  for (let i = 0; i < n; i++) {
    const length = readVarbitUint(r);
    spans[i] = { offset: readVarbitInt(r), length };
  }
  return spans;
}

/** Reads a count of items that take at least `minBits` each, rejecting counts the data cannot hold. */
function readCount(r: BitReader, minBits: number, what: string): number {
  const n = readVarbitUint(r);
  if (n * minBits > r.end - r.pos) throw new CorruptionError('bit stream', r.pos >>> 3, `${n} ${what} cannot fit in the data`);
  return n;
}

function writeZeroThreshold(w: BitWriter, threshold: number): void {
  if (threshold === 0) {
    w.writeBits(0, 8);
    return;
  }
  const hi = floatHi(threshold);
  const lo = floatLo(threshold);
  // A positive power of two has no mantissa bits; its binary exponent e is the biased exponent − 1023.
  const e = (hi >>> 20) - 1023;
  if (lo === 0 && (hi & 0xfffff) === 0 && hi >>> 31 === 0 && e >= -243 && e <= 10) {
    w.writeBits(e + 244, 8);
    return;
  }
  w.writeBits(255, 8);
  w.writeBits64(hi, lo, 64);
}

function readZeroThreshold(r: BitReader): number {
  const b = r.readByte();
  if (b === 0) return 0;
  if (b === 255) return floatFromBits(r.readBits(32), r.readBits(32));
  return 2 ** (b - 244);
}

/** The largest bound·1000 written as a varbit (2^25 − 2: the +1 still fits 25 bits). */
const MAX_SCALED_BOUND = 33554430;

function writeCustomBound(w: BitWriter, f: number): void {
  const tf = f * 1000;
  if (tf < 0 || tf > MAX_SCALED_BOUND || Math.round(tf) / 1000 !== f) {
    w.writeBit(0);
    w.writeBits64(floatHi(f), floatLo(f), 64);
    return;
  }
  writeVarbitUint(w, Math.round(tf) + 1);
}

function readCustomBound(r: BitReader): number {
  const b = readVarbitUint(r);
  if (b === 0) return floatFromBits(r.readBits(32), r.readBits(32));
  return (b - 1) / 1000;
}
