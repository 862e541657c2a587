import { Encoding, type Chunk } from './chunk.js';
import { XORChunk } from './xor.js';
import { AggrChunk } from './aggr.js';
import { HistogramChunk } from './histogram.js';
import { FloatHistogramChunk } from './floathistogram.js';

/** A chunk over encoded bytes, by encoding (Prometheus' chunkenc.FromData): XOR, histogram, float histogram and Thanos' aggregate chunks. */
export function chunkFromBytes(encoding: number, bytes: Uint8Array): Chunk {
  if (encoding === Encoding.XOR) return XORChunk.fromBytes(bytes);
  if (encoding === Encoding.Histogram) return HistogramChunk.fromBytes(bytes);
  if (encoding === Encoding.FloatHistogram) return FloatHistogramChunk.fromBytes(bytes);
  if (encoding === Encoding.Aggr) return AggrChunk.fromBytes(bytes);
  throw new Error(`unknown chunk encoding ${encoding}`);
}
