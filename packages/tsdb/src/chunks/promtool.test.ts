/**
 * Real parts: promtool 2.42 writes blocks from OpenMetrics with awkward values and timestamps; every
 * chunk is read from its segment files without the index, decoded, re-encoded with our appender
 * (identical bytes required) and its samples compared with `promtool tsdb dump` of the same block.
 */
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '@strata/testing/process';
import { promtool } from '@strata/testing/prometheus';
import { formatGoFloat } from '../encoding/gofloat.js';
import { ValueType } from '../chunkenc/chunk.js';
import { XORChunk } from '../chunkenc/xor.js';
import { MemoryByteRange } from '../encoding/byterange.js';
import { CorruptionError } from '../encoding/decbuf.js';
import { ChunkSegmentReader } from './reader.js';
import { refOffset } from './segment.js';

const START_MS = 1_700_000_000_000;

/** OpenMetrics value text that Go's ParseFloat reads back to exactly `v`. */
function omValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return Object.is(v, -0) ? '-0' : String(v);
}

function line(name: string, labels: string, v: number, tMs: number): string {
  return `${name}{${labels}} ${omValue(v)} ${(tMs / 1000).toFixed(3)}`;
}

function generate(): string {
  let seed = 12345;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const out: string[] = [];

  out.push('# TYPE edge gauge');
  const edges = [NaN, Infinity, -Infinity, -0, 0, 1e308, -1e308, Number.MAX_VALUE, 5e-324, 2.2250738585072014e-308, 1e-300, 0.1, 1, 1.0000000000000002, 123456.789, -42];
  for (let i = 0; i < 700; i++) out.push(line('edge', 'kind="cycle"', edges[i % edges.length]!, START_MS + i * 15_000));
  // Every value after every other value, so every xor window transition occurs.
  let t = START_MS;
  for (const a of edges) {
    for (const b of edges) {
      out.push(line('edge', 'kind="pairs"', a, t), line('edge', 'kind="pairs"', b, t + 15_000));
      t += 30_000;
    }
  }

  // Delta-of-delta bucket edges: each step changes the delta by `dod`, the next changes it back.
  out.push('# TYPE dod gauge');
  const dods = [1, -1, 8192, -8191, 8193, -8192, 65536, -65535, 65537, -65536, 524288, -524287, 524289, -524288, 7_200_000];
  const base = 1_000_000;
  t = START_MS;
  for (let round = 0; round < 4; round++) {
    for (const d of dods) {
      for (const delta of [base, base + d, base, base]) {
        out.push(line('dod', 'kind="edges"', round + d / 1e6, t));
        t += delta;
      }
    }
  }

  out.push('# TYPE requests counter');
  for (let s = 0; s < 3; s++) {
    let v = 0;
    for (let i = 0; i < 1500; i++) {
      v = i % (170 + 50 * s) === 0 ? 0 : v + Math.floor(rnd() * 10);
      out.push(line('requests_total', `job="j${s}"`, v, START_MS + i * 15_000 + Math.floor(rnd() * 2000) - 1000));
    }
  }

  out.push('# TYPE walk gauge');
  for (let s = 0; s < 3; s++) {
    let v = 1000;
    for (let i = 0; i < 1500; i++) {
      // Gaps: missed scrapes (17- and 20-bit dods) and a two-hour hole.
      if (i % 97 === 5 || (i % 211 > 190 && s === 1) || (s === 2 && i > 500 && i < 980)) continue;
      v = s === 0 ? rnd() : v + Math.floor((rnd() - 0.5) * 200) / 4;
      out.push(line('walk', `s="${s}"`, v, START_MS + i * 15_000 + Math.floor(rnd() * 100)));
    }
  }

  out.push('# TYPE single gauge');
  for (let s = 0; s < 3; s++) out.push(line('single', `n="${s}"`, s === 0 ? -0 : s * 1e-310, START_MS + 3_600_000 * (2 * s + 1)));
  out.push('# EOF', '');
  return out.join('\n');
}

interface BlockCheck {
  chunks: number;
  samples: number;
  identical: number;
  mismatches: string[];
  lines: string[];
}

/** Reads every chunk of a block in file order; re-encodes each and renders its samples as dump lines without labels. */
async function readBlockChunks(blockDir: string): Promise<BlockCheck> {
  const r = await ChunkSegmentReader.openDir(join(blockDir, 'chunks'));
  const res: BlockCheck = { chunks: 0, samples: 0, identical: 0, mismatches: [], lines: [] };
  try {
    for await (const { ref, chunk } of r.entries()) {
      res.chunks++;
      const again = new XORChunk();
      const app = again.appender();
      const it = chunk.iterator();
      while (it.next() === ValueType.Float) {
        res.samples++;
        app.append(it.atT(), it.atFloat());
        res.lines.push(`${formatGoFloat(it.atFloat())} ${it.atT()}`);
      }
      expect(it.err()).toBeNull();
      const a = Buffer.from(chunk.bytes).toString('hex');
      const b = Buffer.from(again.bytes).toString('hex');
      if (a === b) res.identical++;
      else res.mismatches.push(`ref 0x${ref.toString(16)}: promtool ${a} strata ${b}`);
    }
  } finally {
    await r.close();
  }
  return res;
}

describe('XOR chunks and segment files against promtool 2.42', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let blocks: string[];

  beforeAll(async () => {
    ({ path: dir, cleanup } = await tempDir('strata-promtool-chunks-'));
    await writeFile(join(dir, 'input.om'), generate());
    await promtool(['tsdb', 'create-blocks-from', 'openmetrics', join(dir, 'input.om'), join(dir, 'out')]);
    blocks = (await readdir(join(dir, 'out'))).sort();
    // promtool 2.42's dump needs a wal/ dir and writes chunks_head/: run it on a copy.
    await cp(join(dir, 'out'), join(dir, 'dump'), { recursive: true });
    await mkdir(join(dir, 'dump', 'wal'));
  });
  afterAll(async () => {
    await cleanup();
  });

  it('promtool made several blocks', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(3);
  });

  it('every chunk decodes to promtool dump\'s samples and re-encodes to identical bytes', async () => {
    let total = 0;
    for (const ulid of blocks) {
      const meta = JSON.parse(await readFile(join(dir, 'out', ulid, 'meta.json'), 'utf8')) as {
        minTime: number;
        maxTime: number;
        stats: { numSamples: number; numChunks: number };
      };
      const got = await readBlockChunks(join(dir, 'out', ulid));
      expect(got.mismatches).toEqual([]);
      expect(got.identical).toBe(meta.stats.numChunks);
      expect(got.samples).toBe(meta.stats.numSamples);

      // Chunks are stored series by series in label order, as dump prints them; blocks do not overlap.
      const dump = await promtool(['tsdb', 'dump', `--min-time=${meta.minTime}`, `--max-time=${meta.maxTime - 1}`, join(dir, 'dump')]);
      const want = dump
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => {
          const m = /^\{.*\} (\S+) (-?\d+)$/.exec(l);
          if (m === null) throw new Error(`unexpected dump line ${JSON.stringify(l)}`);
          return `${m[1]} ${m[2]}`;
        });
      expect(got.lines).toEqual(want);
      total += got.samples;
    }
    expect(total).toBeGreaterThan(8000);
  });

  it('a flipped byte or a cut in a promtool segment file is a CorruptionError naming the file and offset', async () => {
    const name = `${blocks[0]}/chunks/000001`;
    const good = await readFile(join(dir, 'out', name));
    const refs: number[] = [];
    const r = await ChunkSegmentReader.open([new MemoryByteRange(name, good)]);
    for await (const e of r.entries()) refs.push(e.ref);
    await r.close();
    expect(refs.length).toBeGreaterThan(3);

    const target = refOffset(refs[3]!);
    const flipped = Uint8Array.from(good);
    flipped[target + 12]! ^= 0x01;
    const scan = async (bytes: Uint8Array): Promise<unknown> => {
      const reader = await ChunkSegmentReader.open([new MemoryByteRange(name, bytes)]);
      try {
        for await (const _ of reader.entries());
        return null;
      } catch (err) {
        return err;
      } finally {
        await reader.close();
      }
    };
    const crcErr = await scan(flipped);
    expect(crcErr).toBeInstanceOf(CorruptionError);
    expect((crcErr as Error).message).toMatch(new RegExp(`^${name}: chunk 0x${target.toString(16)}: checksum mismatch: .* at offset ${target}$`));

    const last = refOffset(refs[refs.length - 1]!);
    const cutErr = await scan(good.subarray(0, good.length - 2));
    expect(cutErr).toBeInstanceOf(CorruptionError);
    expect((cutErr as Error).message).toMatch(new RegExp(`^${name}: chunk 0x${last.toString(16)}: chunk of \\d+ data bytes needs \\d+ bytes, only \\d+ left at offset ${last}$`));
  });
});
