/**
 * The proof of compatibility: Debian's Prometheus 2.42 ingests integer and float native histograms by
 * remote write, persists them in a block (admin snapshot of the head), and Strata reads every chunk back
 * to what was written, and re-encodes the same samples (cut into chunks as the head does) into
 * byte-identical chunks.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPrometheus, type PrometheusHandle } from '@strata/testing/prometheus';
import { remoteWrite, type WrittenSeries } from '@strata/testing/remotewrite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlockReader } from '../block/reader.js';
import { Encoding, ValueType, type ChunkMeta } from './chunk.js';
import { cutFloatHistogramChunks, cutHistogramChunks } from './histogram-cutter.js';
import { normalized, seriesSpecs, toFloatHistogram, toHistogram, type Shape } from './histogram.testdata.js';
import type { FloatHistogram } from '../histogram/float.js';
import type { Histogram } from '../histogram/types.js';

// --- The test. ---

const N = 300;
const STEP = 2_000;
/** The head's chunk range with the default 2h blocks. */
const CHUNK_RANGE = 2 * 3600 * 1000;

interface Written {
  name: string;
  float: boolean;
  samples: { t: number; h: Histogram | FloatHistogram }[];
}

let prom: PrometheusHandle;
let dir: string;
const written: Written[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-histogram-'));
  prom = await startPrometheus({
    dir,
    extraArgs: ['--enable-feature=native-histograms', '--web.enable-remote-write-receiver', '--web.enable-admin-api'],
  });
  const start = Math.floor(Date.now() / 1000) * 1000 - N * STEP - 60_000;
  const series: WrittenSeries[] = [];
  for (const float of [false, true]) {
    for (const spec of seriesSpecs(N, float)) {
      const name = `${float ? 'fh' : 'h'}_${spec.name}`;
      const samples = spec.shapes.map((s: Shape, i) => ({ t: start + i * STEP + (i % 7) * 13, h: float ? toFloatHistogram(s) : toHistogram(s) }));
      written.push({ name, float, samples });
      series.push({ labels: { __name__: name }, histograms: samples, float });
    }
  }
  await remoteWrite(prom.url, series);
  // A float sample after each series' histograms makes the head cut an XOR chunk, so every histogram
  // chunk is complete: the snapshot copies complete chunks as they are, and re-encodes the open one.
  await remoteWrite(prom.url, written.map((w) => ({ labels: { __name__: w.name }, samples: [{ t: (w.samples[w.samples.length - 1] as { t: number }).t + STEP, v: 1 }] })));
});

afterAll(async () => {
  await prom?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('native histogram chunks written by Prometheus 2.42', () => {
  it('decode to what was written, and re-encode byte for byte', async () => {
    const res = await fetch(`${prom.url}/api/v1/admin/tsdb/snapshot`, { method: 'POST' });
    const answer = (await res.json()) as { data?: { name: string }; error?: string };
    if (answer.data === undefined) throw new Error(`snapshot: ${answer.error}`);
    const data = answer.data;
    const snap = join(prom.dataDir, 'snapshots', data.name);
    const blocks = await readdir(snap);
    expect(blocks).toHaveLength(1);
    const block = await BlockReader.openDir(join(snap, blocks[0] as string));
    const got = new Map<string, ChunkMeta[]>();
    for await (const s of block.chunkSeries([])) got.set(s.labels.get('__name__'), s.chunks.slice(0, -1));
    await block.close();
    expect([...got.keys()].sort()).toEqual(written.map((w) => w.name).sort());

    let chunks = 0;
    let identical = 0;
    const headers = new Set<number>();
    for (const w of written) {
      const theirs = got.get(w.name) as ChunkMeta[];
      // Decoding: every sample as written.
      const decoded: unknown[] = [];
      const ts: number[] = [];
      for (const c of theirs) {
        expect(c.chunk.encoding).toBe(w.float ? Encoding.FloatHistogram : Encoding.Histogram);
        headers.add((c.chunk.bytes[2] as number) & 0xc0);
        const it = c.chunk.iterator();
        for (let vt = it.next(); vt !== ValueType.None; vt = it.next()) {
          expect(vt).toBe(w.float ? ValueType.FloatHistogram : ValueType.Histogram);
          ts.push(it.atT());
          decoded.push(normalized(w.float ? it.atFloatHistogram!() : it.atHistogram!(), w.float));
        }
        expect(it.err()).toBeNull();
      }
      expect(ts, w.name).toEqual(w.samples.map((s) => s.t));
      expect(decoded, w.name).toEqual(w.samples.map((s) => normalized(s.h, w.float)));

      // Encoding: the same chunks, byte for byte.
      const ours = w.float
        ? cutFloatHistogramChunks(w.samples as { t: number; h: FloatHistogram }[], CHUNK_RANGE)
        : cutHistogramChunks(w.samples as { t: number; h: Histogram }[], CHUNK_RANGE);
      expect(ours.map((c) => [c.minTime, c.maxTime]), w.name).toEqual(theirs.map((c) => [c.minTime, c.maxTime]));
      for (let i = 0; i < ours.length; i++) {
        const a = Buffer.from((ours[i] as ChunkMeta).chunk.bytes).toString('hex');
        const b = Buffer.from((theirs[i] as ChunkMeta).chunk.bytes).toString('hex');
        expect(a, `${w.name} chunk ${i}`).toBe(b);
        chunks++;
        if (a === b) identical++;
      }
    }
    expect(identical).toBe(chunks);
    // The headers Prometheus wrote cover every hint: unknown, reset, not a reset, gauge.
    expect([...headers].sort((a, b) => a - b)).toEqual([0x00, 0x40, 0x80, 0xc0]);
  });
});
