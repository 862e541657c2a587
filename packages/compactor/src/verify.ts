import { AGGR_TYPES, AggrChunk, BlockReader, Labels, ValueType, type BlockMeta, type Chunk } from '@strata/tsdb';

/**
 * Reads a local block end to end before it is uploaded or after a merge failed: series in strictly
 * increasing label order, each series' chunks in time order, not overlapping, inside the block's
 * range, every chunk's CRC (checked by the segment reader), and the sample count meta.json states.
 */
export async function verifyLocalBlock(dir: string): Promise<BlockMeta> {
  const r = await BlockReader.openDir(dir);
  try {
    const { meta } = r;
    let prev: Labels | undefined;
    let samples = 0;
    for await (const s of r.chunkSeries([])) {
      if (prev !== undefined && Labels.compare(prev, s.labels) >= 0) throw new Error(`block ${meta.ulid}: series ${s.labels.toString()} out of order after ${prev.toString()}`);
      prev = s.labels;
      let lastMax = Number.NEGATIVE_INFINITY;
      for (const c of s.chunks) {
        if (c.minTime <= lastMax || c.maxTime < c.minTime) throw new Error(`block ${meta.ulid}: series ${s.labels.toString()}: chunk [${c.minTime}, ${c.maxTime}] overlaps or is out of order`);
        if (c.minTime < meta.minTime || c.maxTime >= meta.maxTime) throw new Error(`block ${meta.ulid}: series ${s.labels.toString()}: chunk [${c.minTime}, ${c.maxTime}] outside the block's [${meta.minTime}, ${meta.maxTime})`);
        lastMax = c.maxTime;
        samples += c.chunk.numSamples();
      }
    }
    const want = meta.stats?.numSamples ?? 0;
    if (samples !== want) throw new Error(`block ${meta.ulid}: ${samples} samples in chunks, meta.json says ${want}`);
    return meta;
  } finally {
    await r.close();
  }
}

export interface CorruptBlock {
  dir: string;
  error: Error;
}

/**
 * Which of the local blocks cannot be read through: each is opened and all its chunks decoded, so a
 * merge failure can be pinned on the blocks at fault rather than halting the group for good.
 */
export async function findCorruptBlocks(dirs: readonly string[]): Promise<CorruptBlock[]> {
  const out: CorruptBlock[] = [];
  for (const dir of dirs) {
    try {
      const r = await BlockReader.openDir(dir);
      try {
        for await (const s of r.chunkSeries([])) for (const c of s.chunks) decodeAll(c.chunk);
      } finally {
        await r.close();
      }
    } catch (e) {
      out.push({ dir, error: e instanceof Error ? e : new Error(String(e)) });
    }
  }
  return out;
}

/** Decodes every sample of a chunk (each sub-chunk of an aggregate chunk); throws on corruption. */
function decodeAll(c: Chunk): void {
  if (c instanceof AggrChunk) {
    for (const t of AGGR_TYPES) {
      const sub = c.get(t);
      if (sub !== undefined) decodeAll(sub);
    }
    return;
  }
  const it = c.iterator();
  while (it.next() !== ValueType.None);
  const err = it.err();
  if (err !== null) throw err;
}
