/**
 * chunkwasm.wat compiled (wabt's wat2wasm; how to rebuild it is in that file): the store gateway's
 * xxhash64 of many chunks and the Series.chunks fields that carry them, each in one call for many
 * chunks; the sidecar's remote-read chunks to StoreAPI chunks, one call per series.
 */
const WASM = 'AGFzbQEAAAABMQhgAAF/YAJ/fwF+YAN/f38Bf2ABfgF/YAJ/fgF/YAJ/fwBgA39/fAF/YAR/f39/AX8DDAsAAAECAwQBBQYCBwUDAQABBhADfwFBAAt/AUEAC38BQQALB0UGBm1lbW9yeQIAB2JhZFR5cGUAAAlsYXN0T3RoZXIAAQhoYXNoTWFueQAHC3dyaXRlQ2h1bmtzAAkJdHJhbnNjb2RlAAoKlxELBAAjAQsEACMCC1ECAn4BfwNAIAAgAU8gA0LGAFpyBEBBfyQAQgAPCyAALQAAIQQgAEEBaiEAIAIgBEH/AHGtIAOGhCECIANCB3whAyAEQYABTw0ACyAAJAAgAgtqAQF+AkAgAEUEQCABIAIQAhojAA8LIABBAUYEQEIIIQMMAQsgAEEFRgRAQgQhAwwBCyAAQQJHBEBBfw8LIAEgAhACIQMjACEBIAFBAEgEQEF/DwsLIAMgAiABa61WBEBBfw8LIAEgA6dqCxMAQcYAIABCAYR5p2tBJWxBCHYLNwACQANAIAFCgAFUDQEgACABQoABhDwAACAAQQFqIQAgAUIHiCEBDAALCyAAIAE8AAAgAEEBaguGBgICfwV+IAAgAWohAiABQSBPBEAgAkEgayEDQtbrgu7q/Yn14AAhBULP1tO+0ser2UIhBkL56tDQ58mh5OEAIQgDQCAFIAApAwBCz9bTvtLHq9lCfnxCH4lCh5Wvr5i23puef34hBSAGIAApAwhCz9bTvtLHq9lCfnxCH4lCh5Wvr5i23puef34hBiAHIAApAxBCz9bTvtLHq9lCfnxCH4lCh5Wvr5i23puef34hByAIIAApAxhCz9bTvtLHq9lCfnxCH4lCh5Wvr5i23puef34hCCAAQSBqIQAgACADTQ0ACyAFQgGJIAZCB4l8IAdCDIkgCEISiXx8IQQgBCAFQs/W077Sx6vZQn5CH4lCh5Wvr5i23puef36FQoeVr6+Ytt6bnn9+QuPcypX8zvL1hX98IQQgBCAGQs/W077Sx6vZQn5CH4lCh5Wvr5i23puef36FQoeVr6+Ytt6bnn9+QuPcypX8zvL1hX98IQQgBCAHQs/W077Sx6vZQn5CH4lCh5Wvr5i23puef36FQoeVr6+Ytt6bnn9+QuPcypX8zvL1hX98IQQgBCAIQs/W077Sx6vZQn5CH4lCh5Wvr5i23puef36FQoeVr6+Ytt6bnn9+QuPcypX8zvL1hX98IQQFQsXP2bLx5brqJyEECyAEIAGtfCEEAkADQCAAQQhqIAJLDQEgBCAAKQMAQs/W077Sx6vZQn5CH4lCh5Wvr5i23puef36FIQQgBEIbiUKHla+vmLbem55/fkLj3MqV/M7y9YV/fCEEIABBCGohAAwACwsgAEEEaiACTQRAIAQgADUCAEKHla+vmLbem55/foUhBCAEQheJQs/W077Sx6vZQn5C+fPd8Zn2masWfCEEIABBBGohAAsCQANAIAAgAk8NASAEIAAxAABCxc/ZsvHluuonfoUhBCAEQguJQoeVr6+Ytt6bnn9+IQQgAEEBaiEADAALCyAEIARCIYiFQs/W077Sx6vZQn4hBCAEIARCHYiFQvnz3fGZ9pmrFn4hBCAEIARCIIiFCzsBAX8gACABQQN0aiECAkADQCAAIAJPDQEgACAAKAIAIAAoAgQgACgCAGsQBjcDACAAQQhqIQAMAAsLCyYAIAJEAAAAAAAAAABhBEAgAA8LIAAgAToAACAAQQFqIAL8BhAFC8ABAgJ/AX4gACABQShsaiEDAkADQCAAIANPDQEgAkESOgAAIAJBAWogADUCIBAFIQIgAkEIIAArAwAQCCECIAJBECAAKwMIEAghAiACQRo6AAAgAkEBaiAANQIkEAUhAiAAKAIcIQQgBARAIAJBEjoAACACQQFqIAStEAUhAiACIAAoAhggBPwKAAAgAiAEaiECCyAAKQMQIQUgBUIAUgRAIAJBGDoAACACQQFqIAUQBSECCyAAQShqIQAMAAsLIAIL1AYFAn8Bfgh/AX4Ef0EAJAICQANAIAAgAU8NASAAIQUgACABEAKnIQQjACEAIABBAEgEQEF/DwsgBEESRwRAIAUkAiAEQQdxIAAgARADIQAgAEEASARAQX8PCwwBCyAAIAEQAiEGIwAhACAAQQBIBEBBfw8LIAYgASAAa61WBEBBfw8LIAAgBqdqIQdBACEIQQAhCUEAIQpBACELQQAhDEEAIQ1BACEOAkADQCAAIAdPDQEgACEFIAAtAAAhBCAEQYABSQRAIABBAWohAAUgACAHEAKnIQQjACEAIABBAEgEQEF/DwsLAkAgBEEIRiAEQRBGcgRAA0AgACAHTwRAQX8PCyAALQAAIRIgAEEBaiEAIBJBgAFPDQALIAAgBWtBC0sEQEF/DwsgBEEIRgRAIAUhCCAAIQkFIAUhCiAAIQsLDAELIARBGEYEQCAAIAcQAiEGIwAhACAGp0F/IAZCgICAgAhUGyEMDAELIARBIkYEQEEAIQ5BACETA0AgACAHTyATQRVLcgRAQX8PCyAALQAAIRIgAEEBaiEAIA4gEkH/AHEgE3RyIQ4gE0EHaiETIBJBgAFPDQALIA4gByAAa0sEQEF/DwsgACENIAAgDmohAAwBCyAEQQdxIAAgBxADIQALIABBAEgEQEF/DwsMAAsLIAxBAWtBAksEQCAMJAFBfQ8LIA0gDhAGIQ9BAEECIAxBAUYbQQEgDq0QBGogDmpBACAOG2ohECAPQgBSBEAgEEEBIA8QBGpqIRALIAkgCGsgCyAKa2pBASAQrRAEaiAQamohEUERIBGtEARqIBFqIAMgAmtLBEBBfg8LIAJBEjoAACACQQFqIBGtEAUhAiACIAgpAwA3AwAgAiAIKQMINwMIIAIgCSAIa2ohAiACIAopAwA3AwAgAiAKKQMINwMIIAIgCyAKa2ohAiACQRo6AAAgAkEBaiAQrRAFIQIgDEEBRwRAIAJBCDoAACACIAxBAWs6AAEgAkECaiECCyAOBEAgAkESOgAAIAJBAWogDq0QBSECQQAhEgNAIAIgEmogDSASav0ABAD9CwQAIBJBEGohEiASIA5JDQALIAIgDmohAgsgD0IAUgRAIAJBGDoAACACQQFqIA8QBSECCwwACwsgAgs=';

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
  /**
   * Writes the chunks of the ChunkedSeries content at [start, end) as Series.chunks fields from `out` on,
   * not past `limit`; returns the output's end, or -1 (malformed), -2 (output limit reached), -3
   * (encoding: badType()).
   */
  transcode(start: number, end: number, out: number, limit: number): number;
  /** The chunk encoding of the last -3 result. */
  badType(): number;
  /** Where the last field other than a chunk began in the last transcode call, 0 if none. */
  lastOther(): number;
}

/** A module instance of its own (its memory is the caller's to lay out). */
export function chunkWasm(): ChunkWasm {
  return new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(WASM, 'base64'))).exports as unknown as ChunkWasm;
}
