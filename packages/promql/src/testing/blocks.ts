/**
 * A Queryable over the TSDB blocks of a directory (e.g. a Prometheus data directory), read with
 * @strata/tsdb's block reader: for comparing the engine with Prometheus over the very same blocks. The
 * files are loaded into memory first, as Prometheus maps them: a query pays index lookups and chunk
 * decoding, not disk reads.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BlockReader, ChunkSeriesSamples, MemoryByteRange, mergeByLabels, type ChunkMeta, type LabeledChunks, type Matcher,
} from '@strata/tsdb';
import type { Queryable, SelectHints } from '../storage.js';

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

export interface BlocksQueryable extends Queryable {
  close(): Promise<void>;
}

/** The blocks of `dir`; a series present in adjacent blocks is one series with the chunks of all. */
export async function openBlocksQueryable(dir: string): Promise<BlocksQueryable> {
  const names = (await readdir(dir)).filter((n) => ULID.test(n)).sort();
  const blocks = await Promise.all(names.map((n) => openInMemory(join(dir, n))));
  return {
    querier: (mint, maxt) => ({
      select: async (hints: SelectHints, matchers: readonly Matcher[]) => {
        const lists = await Promise.all(
          blocks
            .filter((b) => b.meta.minTime <= maxt && b.meta.maxTime > mint)
            .map(async (b) => {
              const list: LabeledChunks<ChunkMeta>[] = [];
              for await (const batch of b.chunkSeriesBatches(matchers, hints.start, hints.end)) for (const s of batch) list.push(s);
              return list;
            }),
        );
        // One block's series need no merging; blocks do not overlap, so a merged series only needs its
        // chunks back in time order.
        const series =
          lists.length === 1
            ? (lists[0] as LabeledChunks<ChunkMeta>[]).map((s) => new ChunkSeriesSamples(s.labels, s.chunks))
            : [...mergeByLabels(lists)].map(
                (s) => new ChunkSeriesSamples(s.labels, s.merged ? s.chunks.sort((a, b) => a.minTime - b.minTime) : s.chunks),
              );
        return { series };
      },
      close: () => undefined,
    }),
    close: async () => {
      await Promise.all(blocks.map((b) => b.close()));
    },
  };
}

async function openInMemory(dir: string): Promise<BlockReader> {
  const file = async (path: string): Promise<MemoryByteRange> => new MemoryByteRange(path, await readFile(join(dir, path)));
  const segments = (await readdir(join(dir, 'chunks'))).filter((n) => /^\d+$/.test(n)).sort();
  const tombstones = (await readdir(dir)).includes('tombstones') ? { tombstones: await file('tombstones') } : {};
  return BlockReader.open({
    meta: await readFile(join(dir, 'meta.json'), 'utf8'),
    name: dir,
    index: await file('index'),
    segments: await Promise.all(segments.map((n) => file(join('chunks', n)))),
    ...tombstones,
  });
}
