/**
 * chunkwasm.wat compiled (wabt's wat2wasm; how to rebuild it is in that file): xxhash64 of many chunks
 * and the Series.chunks fields that carry them, each in one call for many chunks.
 */
const WASM = 'AGFzbQEAAAABIAVgAn9+AX9gAn9/AX5gAn9/AGADf398AX9gA39/fwF/AwYFAAECAwQFAwEAAQcjAwZtZW1vcnkCAAhoYXNoTWFueQACC3dyaXRlQ2h1bmtzAAQK5ggFNwACQANAIAFCgAFUDQEgACABQoABhDwAACAAQQFqIQAgAUIHiCEBDAALCyAAIAE8AAAgAEEBaguGBgICfwV+IAAgAWohAiABQSBPBEAgAkEgayEDQtbrgu7q/Yn14AAhBULP1tO+0ser2UIhBkL56tDQ58mh5OEAIQgDQCAFIAApAwBCz9bTvtLHq9lCfnxCH4lCh5Wvr5i23puef34hBSAGIAApAwhCz9bTvtLHq9lCfnxCH4lCh5Wvr5i23puef34hBiAHIAApAxBCz9bTvtLHq9lCfnxCH4lCh5Wvr5i23puef34hByAIIAApAxhCz9bTvtLHq9lCfnxCH4lCh5Wvr5i23puef34hCCAAQSBqIQAgACADTQ0ACyAFQgGJIAZCB4l8IAdCDIkgCEISiXx8IQQgBCAFQs/W077Sx6vZQn5CH4lCh5Wvr5i23puef36FQoeVr6+Ytt6bnn9+QuPcypX8zvL1hX98IQQgBCAGQs/W077Sx6vZQn5CH4lCh5Wvr5i23puef36FQoeVr6+Ytt6bnn9+QuPcypX8zvL1hX98IQQgBCAHQs/W077Sx6vZQn5CH4lCh5Wvr5i23puef36FQoeVr6+Ytt6bnn9+QuPcypX8zvL1hX98IQQgBCAIQs/W077Sx6vZQn5CH4lCh5Wvr5i23puef36FQoeVr6+Ytt6bnn9+QuPcypX8zvL1hX98IQQFQsXP2bLx5brqJyEECyAEIAGtfCEEAkADQCAAQQhqIAJLDQEgBCAAKQMAQs/W077Sx6vZQn5CH4lCh5Wvr5i23puef36FIQQgBEIbiUKHla+vmLbem55/fkLj3MqV/M7y9YV/fCEEIABBCGohAAwACwsgAEEEaiACTQRAIAQgADUCAEKHla+vmLbem55/foUhBCAEQheJQs/W077Sx6vZQn5C+fPd8Zn2masWfCEEIABBBGohAAsCQANAIAAgAk8NASAEIAAxAABCxc/ZsvHluuonfoUhBCAEQguJQoeVr6+Ytt6bnn9+IQQgAEEBaiEADAALCyAEIARCIYiFQs/W077Sx6vZQn4hBCAEIARCHYiFQvnz3fGZ9pmrFn4hBCAEIARCIIiFCzsBAX8gACABQQN0aiECAkADQCAAIAJPDQEgACAAKAIAIAAoAgQgACgCAGsQATcDACAAQQhqIQAMAAsLCyYAIAJEAAAAAAAAAABhBEAgAA8LIAAgAToAACAAQQFqIAL8BhAAC8ABAgJ/AX4gACABQShsaiEDAkADQCAAIANPDQEgAkESOgAAIAJBAWogADUCIBAAIQIgAkEIIAArAwAQAyECIAJBECAAKwMIEAMhAiACQRo6AAAgAkEBaiAANQIkEAAhAiAAKAIcIQQgBARAIAJBEjoAACACQQFqIAStEAAhAiACIAAoAhggBPwKAAAgAiAEaiECCyAAKQMQIQUgBUIAUgRAIAJBGDoAACACQQFqIAUQACECCyAAQShqIQAMAAsLIAIL';

// The global WebAssembly API, typed here: the workspace's libs (ES2022, Node) leave it out.
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: object };
};

export interface ChunkWasm {
  readonly memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  /** Replaces each (u32 start, u32 end) pair at `desc + 8k`, k < n, by the xxhash64 (seed 0) of those bytes, a little-endian u64. */
  hashMany(desc: number, n: number): void;
  /** Writes n chunks described at `desc` (40 bytes each, see chunkwasm.wat) as Series.chunks fields from `out` on; returns the end. */
  writeChunks(desc: number, n: number, out: number): number;
}

/** A module instance of its own (its memory is the caller's to lay out). */
export function chunkWasm(): ChunkWasm {
  return new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(WASM, 'base64'))).exports as unknown as ChunkWasm;
}
