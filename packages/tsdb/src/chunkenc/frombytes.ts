import { Encoding, type Chunk } from './chunk.js';
import { XORChunk } from './xor.js';
import { AggrChunk } from './aggr.js';

const ENCODING_NAMES: Record<number, string> = { [Encoding.Histogram]: 'histogram', [Encoding.FloatHistogram]: 'float histogram' };

/** A chunk over encoded bytes, by encoding (Prometheus' chunkenc.FromData). XOR and Thanos' aggregate chunks are supported. */
export function chunkFromBytes(encoding: number, bytes: Uint8Array): Chunk {
  if (encoding === Encoding.XOR) return XORChunk.fromBytes(bytes);
  if (encoding === Encoding.Aggr) return AggrChunk.fromBytes(bytes);
  const name = ENCODING_NAMES[encoding];
  throw new Error(
    name === undefined ? `unknown chunk encoding ${encoding}` : `chunk encoding ${encoding} (${name}) is not supported: Strata reads float (XOR) chunks only`,
  );
}
