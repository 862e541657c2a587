/**
 * Thanos' --store.limits.request-series and --store.limits.request-samples on the sidecar: what one
 * Series call may send. Counted on the frames as they go out, as Thanos' sidecar counts what it sends
 * (its limitedStoreServer), so that one count covers Prometheus' blocks read from disk, its head read
 * through remote read, and the rest of a call remote read takes over from the blocks.
 */
import { aggrChunkSamples, checkSeriesLimits, type EncodedChunks, ProtoReader, ProtoWriter, SeriesLimitError, type SeriesFrame, type SeriesLimits, type StoreSeries } from '@strata/storeapi';
import type { Counter } from 'prom-client';

/** Tags of the fields a series' encoded chunks hold: Series.chunks (2), AggrChunk.raw (3), Chunk.data (2); each length-delimited. */
const SERIES_CHUNKS_TAG = (2 << 3) | 2;
const AGGR_RAW_TAG = (3 << 3) | 2;
const CHUNK_DATA_TAG = (2 << 3) | 2;

/**
 * `frames`, failing the call with ResourceExhausted (naming the limit and its flag) at the first series
 * that would take it past a limit, before that series is sent. A chunk counts as the samples its data
 * opens with (big-endian 16 bits), as Thanos reads them off XOR chunks; `dropped` counts the calls
 * refused, by limit.
 */
export async function* withinLimits(frames: AsyncIterable<SeriesFrame>, limits: SeriesLimits, dropped?: Counter<'reason'>): AsyncGenerator<SeriesFrame> {
  let series = 0;
  let samples = 0;
  const counter = limits.samples > 0 ? new SamplesCounter() : undefined;
  const take = (s: StoreSeries) => {
    series++;
    samples += counter?.samples(s) ?? 0;
    checkSeriesLimits(limits, series, samples);
  };
  try {
    for await (const f of frames) {
      if ('series' in f) take(f.series);
      else if ('run' in f) for (const s of f.run) take(s);
      yield f;
    }
  } catch (e) {
    if (e instanceof SeriesLimitError) dropped?.inc({ reason: e.what });
    throw e;
  }
}

/** Counts the samples of each series sent. */
class SamplesCounter {
  /** Where chunks that encode themselves are written to be counted; grown to the largest series' chunks of the call. */
  #scratch = Buffer.alloc(0);

  samples(s: StoreSeries): number {
    let n = 0;
    for (const c of s.chunks) n += aggrChunkSamples(c);
    if (s.extraChunks !== undefined) n += this.#encodedSamples(s.extraChunks);
    return n;
  }

  /**
   * The samples of chunks that encode themselves (raw chunks passed through from Prometheus' blocks or
   * its remote read), read off their encoding: written out, as only they can, then scanned field by field
   * without an object per chunk.
   */
  #encodedSamples(chunks: EncodedChunks): number {
    if (this.#scratch.length < chunks.size) this.#scratch = Buffer.allocUnsafe(chunks.size);
    const w = new ProtoWriter(this.#scratch);
    chunks.write(w);
    const bytes = w.finishSized(chunks.size);
    const r = new ProtoReader(bytes);
    let samples = 0;
    eachField(r, r.end, SERIES_CHUNKS_TAG, () => {
      const aggrEnd = r.enter();
      eachField(r, aggrEnd, AGGR_RAW_TAG, () => {
        const rawEnd = r.enter();
        eachField(r, rawEnd, CHUNK_DATA_TAG, () => {
          const start = r.skipBytes();
          if (r.pos - start >= 2) samples += ((bytes[start] as number) << 8) | (bytes[start + 1] as number);
        });
        r.leave(rawEnd);
      });
      r.leave(aggrEnd);
    });
    return samples;
  }
}

/** Calls `read` at each field tagged `tag` of those from `r.pos` up to `end` (`read` moves `r` past it); skips the others. */
function eachField(r: ProtoReader, end: number, tag: number, read: () => void): void {
  while (r.pos < end) {
    const t = r.tag();
    if (t === tag) read();
    else r.skip(t & 7);
  }
}
