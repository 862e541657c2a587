import { chunkFromBytes, encodeChunkRecord, Encoding, type ChunkMeta, type ChunkRecord } from '@strata/tsdb';

/** Bytes of a chunk record's leading uvarint length field. */
export function lengthFieldSize(record: Uint8Array): number {
  let p = 0;
  while (p < record.length && record[p]! >= 0x80) p++;
  return p + 1;
}

/** Samples in a chunk record: an XOR chunk's stored count, or what the decoded chunk says. */
export function recordSamples(record: Uint8Array): number {
  const at = lengthFieldSize(record);
  if (record[at] === Encoding.XOR) return (record[at + 1]! << 8) | record[at + 2]!;
  return chunkFromBytes(record[at]!, record.subarray(at + 1, record.length - 4)).numSamples();
}

/** A new chunk (merged or downsampled) as a record for BlockWriter.addSeriesRecords. */
export function toRecord(c: ChunkMeta): ChunkRecord {
  return { minTime: c.minTime, maxTime: c.maxTime, numSamples: c.chunk.numSamples(), record: encodeChunkRecord(c.chunk) };
}
