import xxhash from 'xxhash-wasm';

const { h64Raw } = await xxhash();

/** The StoreAPI chunk hash: xxhash64 (seed 0) of the chunk bytes, as Thanos' hashChunk computes it. */
export function chunkHash(data: Uint8Array): bigint {
  return h64Raw(data, 0n);
}
